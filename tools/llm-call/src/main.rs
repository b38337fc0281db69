//! llm-call: sends each record's chat messages to an OpenAI-compatible teacher and writes
//! the replies, with bounded concurrency, retries, a response cache and ordered output.

mod budget;
mod cache;
mod call;
mod cli;
mod client;
mod config;
mod dotenv;
mod endpoints;
mod feed;
mod inflight;
mod progress;
mod records;
mod reply;
mod request;
mod retry;
mod run;
mod sink;
mod sse;
mod timefmt;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: cli::Cli = match ktpipe_common::exit::parse_cli("llm-call") {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let label = cli.common.label("llm-call");
    ktpipe_common::exit_with(&label, run::run(cli))
}
