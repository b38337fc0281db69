//! prompt-render: renders a YAML chat template with each record's fields into OpenAI chat
//! messages.

mod cli;
mod render;
mod run;
mod template;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match ktpipe_common::exit::parse_cli::<cli::Cli>("prompt-render") {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let label = cli.common.label("prompt-render");
    ktpipe_common::exit_with(&label, run::run(&cli))
}
