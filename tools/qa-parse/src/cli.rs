//! The command line of qa-parse.

use clap::Parser;
use ktpipe_common::CommonArgs;

const EXAMPLES: &str = "\
Examples:
  # one record per question in a question-list reply
  qa-parse --from response --start '[QUESTION]' --end '[END]' --to question < replies.jsonl

  # question and answer pairs, zipped by position
  qa-parse --start '[QUESTION]' --end '[END]' --to question \\
           --start '[ANSWER]' --end '[END]' --to response < qa.jsonl

  # split a numbered list of key facts
  qa-parse --from document --keep-source --regex '(?:^|\\n)\\s*\\d+\\.\\s+(.*?)(?=\\n\\s*\\d+\\.\\s+|\\Z)' \\
           --to key_fact < facts.jsonl

  # a judge's verdict, normalised for jsonl-split --where 'faithfulness_judgment == \"YES\"'
  qa-parse --start '[Start of Answer]' --end '[End of Answer]' --to faithfulness_judgment \\
           --normalize faithfulness_judgment --no-index --rejects rejects.jsonl";

/// Extracts tagged or regex-matched values from a text field, one record per value.
///
/// Each record's text field (--from) is parsed with tag pairs (--start/--end/--to, zipped
/// by position up to the shortest list) or with one --regex whose capture groups fill the
/// --to fields. Every value is trimmed. Each parsed row becomes one output record: the
/// input record without the text field (unless --keep-source), the target fields, and
/// '<first --to>_index' counting from 0. A record from which nothing parses goes to
/// --rejects with the reason. A target that already exists is overwritten in place. A
/// list of strings in the text field is parsed item by item, all rows in turn. Patterns
/// use Python's syntax and meaning ('$', '\Z'), with dot matching newline.
#[derive(Debug, Parser)]
#[command(name = "qa-parse", version, after_help = EXAMPLES)]
pub struct Cli {
    /// The field holding the text to parse.
    #[arg(long, value_name = "FIELD", default_value = "response")]
    pub from: String,

    /// Start tag of a pair (repeatable; may be empty: start of text).
    #[arg(long, value_name = "TAG", allow_hyphen_values = true)]
    pub start: Vec<String>,

    /// End tag of a pair (repeatable; may be empty: end of text).
    #[arg(long, value_name = "TAG", allow_hyphen_values = true)]
    pub end: Vec<String>,

    /// Target field: one per tag pair, in order, or one per capture group of --regex.
    #[arg(long, value_name = "FIELD", required = true)]
    pub to: Vec<String>,

    /// Parse with a regular expression (Python syntax) instead of tag pairs.
    #[arg(long, value_name = "PATTERN", allow_hyphen_values = true, conflicts_with_all = ["start", "end"])]
    pub regex: Option<String>,

    /// When the tags (or --regex) find nothing, take the values this pattern matches.
    ///
    /// Its capture groups fill the --to fields like --regex does. Repeatable: tried in
    /// order until one matches. For teachers that forget the format: e.g. question lines
    /// ending in '?' when there is no [QUESTION] tag.
    #[arg(long, value_name = "PATTERN", allow_hyphen_values = true)]
    pub fallback_regex: Vec<String>,

    /// Remove TAG from every parsed value (repeatable).
    #[arg(long, value_name = "TAG", allow_hyphen_values = true)]
    pub cleanup: Vec<String>,

    /// Normalise target FIELD as a verdict: trim, strip emphasis, quotes and trailing
    /// punctuation, uppercase ("Yes." becomes "YES"). Repeatable.
    #[arg(long, value_name = "FIELD")]
    pub normalize: Vec<String>,

    /// Read through a teacher's habits: tags in any case, a missing last end tag,
    /// preambles and closing remarks, numbering and labels ('2)', 'Q1 -', 'A:'), markdown
    /// bold, and verdicts in their usual phrasings ('**Yes**, it is supported').
    ///
    /// Each value is cleaned of these; a value left empty is no value, and a record left
    /// with none goes to --rejects. With --normalize, a leading or lone yes or no is the
    /// verdict ("Verdict: No - it is not stated" becomes "NO").
    #[arg(long)]
    pub habits: bool,

    /// Keep the text field in the output records (it is removed by default).
    #[arg(long)]
    pub keep_source: bool,

    /// Do not add the '<first --to>_index' field.
    #[arg(long)]
    pub no_index: bool,

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
