//! jsonl-split: splits a JSONL stream by predicate, destination file, shard or list element.

mod cli;
mod dedup;
mod dest;
mod explode;
mod outputs;
mod predicate;
mod run;
mod similarity;

use std::process::ExitCode;

const TOOL: &str = "jsonl-split";

fn main() -> ExitCode {
    ktpipe_common::exit::main(
        |cli: &cli::Cli| cli.common.label(TOOL),
        |cli| run::run(TOOL, &cli),
    )
}
