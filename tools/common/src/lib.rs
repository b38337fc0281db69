//! Shared plumbing for the ktpipe filters: the options every tool takes, the JSONL reader
//! and writer, the rejects file, the end-of-run summary and the exit helper. Tools stand
//! on these so that every filter behaves the same at its edges (DESIGN.md section 3).

pub mod cli;
pub mod exit;
pub mod hash;
pub mod input;
pub mod jinja;
pub mod raw;
pub mod reader;
pub mod rejects;
pub mod stream;
pub mod summary;
pub mod usage;
pub mod writer;

pub use cli::CommonArgs;
pub use exit::{Outcome, UsageError, exit_with};
pub use reader::{Located, ReadError, Reader, Record};
pub use rejects::Rejects;
pub use summary::Summary;
pub use writer::Writer;
