//! qa-parse: extracts tagged or regex-matched values from a text field, one record per value.

mod cli;
mod config;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    ktpipe_common::exit::main(
        |cli: &cli::Cli| cli.common.label("qa-parse"),
        |cli| run::run(&cli),
    )
}
