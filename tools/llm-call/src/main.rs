//! llm-call: sends each record's chat messages to an OpenAI-compatible teacher and writes
//! the replies, with bounded concurrency, retries, a response cache and ordered output.

mod budget;
mod cache;
mod call;
mod cli;
mod dotenv;
mod feed;
mod output;
mod progress;
mod records;
mod run;
mod settings;
mod stop;
mod teacher;

use std::process::ExitCode;

fn main() -> ExitCode {
    ktpipe_common::exit::main(
        |cli: &cli::Cli| cli.common.label("llm-call"),
        |cli| settings::resolve(cli).and_then(run::run),
    )
}
