//! The command line of jsonl-split.

use std::path::PathBuf;

use clap::Parser;
use ktpipe_common::CommonArgs;

/// The most files one run may write; every destination stays open (as a temporary file)
/// until the run ends, so that all of them appear at once or none do.
pub const MAX_OUTPUTS: usize = 1024;

const EXAMPLES: &str = "\
Examples:
  # Keep faithful answers, set the rest aside with the reason
  jsonl-split --where 'faithfulness_judgment == \"YES\"' --rejects unfaithful.jsonl < judged.jsonl

  # One file per domain under out/ (written whole at the end of the run)
  jsonl-split --out-dir out --out '{domain}/gen.jsonl' gen.jsonl

  # Eight shards by seed, one row per key fact, for eight machines
  jsonl-split --explode key_fact --shards 8 --out 'shards/{shard}.jsonl' facts.jsonl

  # Drop short answers silently (counted in the summary)
  jsonl-split --where 'response | length > 20' --drop < answers.jsonl

  # Set aside questions that repeat an earlier one of the same seed document
  jsonl-split --dedup question --rejects repeats.jsonl < questions.jsonl";

/// Split a JSONL stream by predicate, destination file, shard or list element.
///
/// Each record goes through four optional steps, in this order: --explode turns a list field
/// into one record per element; --where keeps the records its Jinja expression finds true;
/// --dedup sets aside near-duplicates of an earlier record of the same group; --out writes
/// each kept record to the file its template names (with --shards, a shard number from a hash
/// of --key). Without --out, kept records go to stdout.
///
/// Records that fail a step go to --rejects with the reason: a non-list --explode field, a
/// --where expression that cannot be evaluated (a missing field names the field), a record that
/// does not match --where (unless --drop), a --dedup repeat (naming the line and text of the
/// kept twin) or a record without the --dedup or --dedup-by field, a --shards key or template field that is missing or
/// unusable as a file name. An empty list under --explode gives no record and is counted in
/// the summary ('empty lists').
///
/// Files are written to temporary names beside their destinations and renamed only when the run
/// succeeds (exit 0): a failed run, including one that meets a malformed line or rejects records
/// without --rejects, leaves no destination file behind. At most 1024 files per run.
#[derive(Debug, Parser)]
#[command(name = "jsonl-split", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Turn the list in FIELD into one record per element, adding '<FIELD>_index'.
    ///
    /// The element takes the list's place in the record; '<FIELD>_index' (0-based) is appended.
    /// A value that is not a list is rejected; an empty list gives no record.
    #[arg(long, value_name = "FIELD")]
    pub explode: Option<String>,

    /// Keep records for which the Jinja expression EXPR is true; the rest go to --rejects.
    ///
    /// The record's fields are the expression's variables (strict: a missing field rejects the
    /// record, naming the field). An expression that does not compile, or uses an unknown
    /// filter, test or function, is a usage error (exit 2).
    #[arg(long = "where", value_name = "EXPR")]
    pub where_expr: Option<String>,

    /// Discard records that do not match --where instead of rejecting them (counted as 'dropped').
    #[arg(long, requires = "where_expr")]
    pub drop: bool,

    /// Set aside a record whose FIELD is a near-duplicate of an earlier kept record's.
    ///
    /// Near-duplicate: the Jaccard similarity of the two texts' content words reaches
    /// --dedup-threshold. Words are lowercased, with a plural 's' dropped; CJK text is cut
    /// into character pairs; function words, words pointing at the source ('document',
    /// 'passage', 'according') and filler ('exactly', 'really') do not count. Records are
    /// compared within groups of equal --dedup-by, which must arrive one group after the
    /// other (a group that comes back starts afresh); the first record seen is kept.
    #[arg(long, value_name = "FIELD")]
    pub dedup: Option<String>,

    /// The field whose equal values make a --dedup group.
    #[arg(
        long,
        value_name = "FIELD",
        default_value = "seed_id",
        requires = "dedup"
    )]
    pub dedup_by: String,

    /// The similarity from which a record counts as a repeat, above 0 and at most 1.
    #[arg(long, value_name = "X", default_value_t = crate::similarity::DEFAULT_THRESHOLD,
          value_parser = threshold, allow_negative_numbers = true, requires = "dedup")]
    pub dedup_threshold: f64,

    /// Write each record to the file named by TEMPLATE instead of stdout.
    ///
    /// '{field}' is replaced by the record's field (a string as it is, a number or boolean as
    /// text); '{shard}' by the shard number (needs --shards); '{{' and '}}' are literal braces.
    /// The template must be relative and free of '..'; a value that is empty, '.', '..', or
    /// contains '/' or NUL rejects the record. Directories are created as needed.
    #[arg(long, value_name = "TEMPLATE")]
    pub out: Option<String>,

    /// Directory the --out paths are relative to (may be absolute; default: the current one).
    #[arg(long, value_name = "DIR", requires = "out")]
    pub out_dir: Option<PathBuf>,

    /// Spread records over N shards (1 to 1024) by a hash of --key; --out must contain '{shard}'.
    ///
    /// The same key always lands in the same shard. All N files are created, even empty ones
    /// (when the template names only '{shard}'; otherwise all N per distinct other value).
    #[arg(long, value_name = "N", requires = "out",
          value_parser = clap::value_parser!(u64).range(1..=MAX_OUTPUTS as u64))]
    pub shards: Option<u64>,

    /// The field whose value picks the shard (a record without it, or with null, is rejected).
    #[arg(
        long,
        value_name = "FIELD",
        default_value = "seed_id",
        requires = "shards"
    )]
    pub key: String,
}

fn threshold(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        _ => Err(format!("'{text}' is not a number above 0 and at most 1")),
    }
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
