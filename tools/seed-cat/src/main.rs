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
    let cli = match ktpipe_common::exit::parse_cli::<cli::Cli>(TOOL) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let label = cli.common.label(TOOL);
    ktpipe_common::exit_with(&label, run::run(TOOL, &cli))
}
