//! jsonl-split: splits a JSONL stream by predicate, destination file, shard or list element.

mod cli;
mod dest;
mod explode;
mod outputs;
mod predicate;
mod run;

use std::process::ExitCode;

const TOOL: &str = "jsonl-split";

fn main() -> ExitCode {
    let cli = match ktpipe_common::exit::parse_cli::<cli::Cli>(TOOL) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let label = cli.common.label(TOOL);
    ktpipe_common::exit_with(&label, run::run(TOOL, &cli))
}
