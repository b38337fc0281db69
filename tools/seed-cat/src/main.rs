//! seed-cat: validates seed rows against the seed schema and emits them with `seed_id` and
//! `raw_document`, the first stage of every ktpipe recipe.

mod cli;
mod row;
mod run;
mod sample;
mod schema;

use std::process::ExitCode;

const TOOL: &str = "seed-cat";

fn main() -> ExitCode {
    ktpipe_common::exit::main(
        |cli: &cli::Cli| cli.common.label(TOOL),
        |cli| run::run(TOOL, &cli),
    )
}
