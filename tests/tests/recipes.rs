//! End-to-end tests: the Justfile recipes and hand-built pipelines, driven through `just`
//! and the built binaries against the mock teacher on loopback, as a user runs them.

mod recipes {
    mod bad_input;
    mod crashes;
    mod datasets;
    pub mod harness;
    mod hostile;
    mod local_teacher;
    mod measuring;
    mod packaging;
    mod pipelines;
    mod quality;
    mod reliability;
    mod report;
    mod secrets;
    mod sharded;
    mod switches;
}
