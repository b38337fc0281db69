//! The command line of seed-cat.

use std::path::PathBuf;

use clap::Parser;
use ktpipe_common::CommonArgs;

const EXAMPLES: &str = "\
Examples:
  # Validate a seed file before paying for any request (exit 1 names every bad row)
  seed-cat --check output/step_01/seed_data.jsonl

  # Ten rows for a trial run, rows the question prompts cannot use set aside
  seed-cat --head 10 --require icl_document --require icl_query_1 \\
      --rejects rejects.jsonl seed_data.jsonl | prompt-render --template prompts/questions.yaml

  # A reproducible sample of 100 rows
  seed-cat --sample 100 --sample-seed 7 seed_data.jsonl > sample.jsonl";

/// Validate seed rows against the seed schema and emit them with a seed_id and raw_document.
///
/// Every row is checked against the JSON Schema of seed rows (document, document_outline and
/// domain required; icl_document a string or a list of strings; icl_query_1..3 strings; other
/// fields allowed). Every violation is reported on stderr as 'file:line: /pointer: message';
/// an invalid row goes to --rejects (its reason lists all violations) and makes the run exit 1,
/// even with --rejects, because a bad seed is an input error.
///
/// A valid row gets 'seed_id' (the first 16 hex digits of the SHA-256 of the row as read, keys
/// sorted) and 'raw_document' (a copy of 'document'), each only when not already present and
/// appended at the end. A list-valued icl_document is joined with a blank line (one warning per
/// run). Rows with the same seed_id are kept; a warning at the end says how many repeat an earlier
/// row (remembering seen ids costs about 16 bytes per row).
#[derive(Debug, Parser)]
#[command(name = "seed-cat", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Validate against this JSON Schema file instead of the built-in seed schema.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,

    /// Also require FIELD in every row (repeatable), e.g. the icl_* fields for question prompts.
    #[arg(long, value_name = "FIELD")]
    pub require: Vec<String>,

    /// Name of the field that keeps a copy of 'document'.
    #[arg(long, value_name = "NAME", default_value = "raw_document")]
    pub raw_field: String,

    /// Validate only: report every invalid row, emit nothing.
    #[arg(long, conflicts_with_all = ["head", "sample"])]
    pub check: bool,

    /// Emit only the first N valid rows. Later rows are still read and validated, so a bad row
    /// anywhere fails the run, but they are not emitted (counted as 'skipped').
    #[arg(long, value_name = "N", conflicts_with = "sample")]
    pub head: Option<u64>,

    /// Emit a uniform random sample of N valid rows, in input order (reservoir sampling: memory
    /// holds N rows; output comes at the end of input).
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,

    /// Seed of --sample: the same input and seed give the same sample.
    #[arg(long, value_name = "S", default_value_t = 42, requires = "sample")]
    pub sample_seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
