//! A deterministic OpenAI-compatible teacher on loopback, with latency and fault injection, for tests and benchmarks.

use mock_teacher::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    ktpipe_common::exit::main(
        |_: &Cli| "mock-teacher".to_string(),
        |cli| mock_teacher::run::run(&cli),
    )
}
