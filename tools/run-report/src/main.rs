//! run-report: the report of a run (`report.html`) and a dataset card for each dataset,
//! from the files the recipes leave in an output folder.

mod card;
mod charts;
mod cli;
mod folder;
mod html;
mod lines;
mod rejects;
mod rows;
mod run;
mod run_view;
mod seeds;
mod view;

use std::process::ExitCode;

const TOOL: &str = "run-report";

fn main() -> ExitCode {
    ktpipe_common::exit::main(|_: &cli::Cli| TOOL.to_string(), |cli| run::run(&cli))
}
