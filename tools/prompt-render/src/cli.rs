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
  prompt-render --template prompts/faithfulness.yaml --check

  # ask for Japanese replies, and check a template reads only what the records will carry
  prompt-render --template prompts/answer.yaml --set language=Japanese --check \\
    --fields document,document_outline,question --must-read question --must-read language";

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

    /// Give template variable VAR the value VALUE for every record (repeatable).
    ///
    /// It takes the place of a record field of that name. A VAR the template does not read
    /// is ignored, so one setting can go to every template of a pipeline.
    #[arg(long = "set", value_name = "VAR=VALUE")]
    pub set: Vec<String>,

    /// Only load and check the template (exit 0 if it is valid, 2 if not); read no input.
    #[arg(long)]
    pub check: bool,

    /// With --check: the fields the records will carry, comma-separated.
    ///
    /// A variable the template reads that is neither among them nor given by --set or
    /// --bind is an error naming it.
    #[arg(long, value_name = "LIST", requires = "check", value_delimiter = ',')]
    pub fields: Option<Vec<String>>,

    /// With --check: a variable the template must read (repeatable).
    ///
    /// A template that never reads it is an error: it would give every record the same
    /// prompt, or ignore a setting.
    #[arg(long, value_name = "VAR", requires = "check")]
    pub must_read: Vec<String>,

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
