//! prompt-render: renders a YAML chat template with each record's fields into OpenAI chat
//! messages.

mod check;
mod cli;
mod render;
mod run;
mod template;

use std::process::ExitCode;

fn main() -> ExitCode {
    ktpipe_common::exit::main(
        |cli: &cli::Cli| cli.common.label("prompt-render"),
        |cli| run::run(&cli),
    )
}
