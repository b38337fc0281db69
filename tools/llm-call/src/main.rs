//! llm-call: sends each record's chat messages to an OpenAI-compatible teacher and writes
//! the replies, with bounded concurrency, retries, a response cache and ordered output.

mod budget;
mod cache;
mod call;
mod cli;
mod client;
mod commit;
mod config;
mod dotenv;
mod endpoints;
mod feed;
mod hedge;
mod inflight;
mod progress;
mod records;
mod reply;
mod request;
mod retry;
mod run;
mod sink;
mod sse;
mod stdout;
mod timefmt;

use std::process::ExitCode;

fn main() -> ExitCode {
    ktpipe_common::exit::main(|cli: &cli::Cli| cli.common.label("llm-call"), run::run)
}
