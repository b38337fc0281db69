//! qa-parse: extracts tagged or regex-matched values from a text field, one record per value.

mod cli;
mod config;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match ktpipe_common::exit::parse_cli::<cli::Cli>("qa-parse") {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let label = cli.common.label("qa-parse");
    ktpipe_common::exit_with(&label, run::run(&cli))
}
