//! The command line of prompt-render.

use std::path::PathBuf;

use clap::Parser;
use ktpipe_common::CommonArgs;

const EXAMPLES: &str = "\
Examples:
  # render the answer prompt for every question
  prompt-render --template prompts/answer.yaml < questions.jsonl | llm-call --to response

  # the template says {{ document }}, the records hold the summary in 'summary'
  prompt-render --template prompts/questions.yaml --bind document=summary --rejects rejects.jsonl

  # check a template before a long run (exit 0 if it loads, 2 if not)
  prompt-render --template prompts/faithfulness.yaml --check";

/// Renders a YAML chat template with each record's fields into OpenAI chat messages.
///
/// The template is a YAML list of {role, content} items (roles system, user, assistant),
/// each content a Jinja template: the format of sdg_hub's prompt files, loaded unchanged.
/// It is loaded and compiled before any input is read. Each record's fields are the
/// template's variables; a variable the record lacks rejects the record, naming the
/// variable, template and line (it never renders as an empty string). Field values are
/// data: template syntax inside them is not evaluated. Rendered contents are trimmed and
/// written as [{"role": …, "content": …}, …] into the --to field.
#[derive(Debug, Parser)]
#[command(name = "prompt-render", version, after_help = EXAMPLES)]
pub struct Cli {
    /// The chat template, a YAML file.
    #[arg(long, value_name = "FILE")]
    pub template: PathBuf,

    /// The field the messages are written to.
    #[arg(long, value_name = "FIELD", default_value = "messages")]
    pub to: String,

    /// Make template variable VAR read the record's field FIELD (repeatable). VAR must be a
    /// variable the template reads.
    #[arg(long, value_name = "VAR=FIELD")]
    pub bind: Vec<String>,

    /// Only load and check the template (exit 0 if it is valid, 2 if not); read no input.
    #[arg(long)]
    pub check: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
