//! A deterministic OpenAI-compatible teacher on loopback, with latency and fault injection, for tests and benchmarks.

use mock_teacher::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match ktpipe_common::exit::parse_cli::<Cli>("mock-teacher") {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    ktpipe_common::exit_with("mock-teacher", mock_teacher::run::run(&cli))
}
