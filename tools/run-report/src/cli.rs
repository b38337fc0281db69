//! The command line of run-report.

use std::path::PathBuf;

use clap::Parser;

/// Writes a run's report and a dataset card for each dataset.
///
/// Reads an output folder of `just generate-all` (or of one dataset recipe, or of
/// `generate-sharded`): each dataset's gen.jsonl, rejects.jsonl and .stages/ (the stages'
/// summaries and the run stamp). Writes OUT/report.html, one self-contained page (inline
/// SVG and CSS, no network assets), and OUT/<dataset>/README.md, a dataset card in the
/// Hugging Face format, for each complete dataset. A dataset that failed, is still being
/// written or is missing is reported as such, never as complete. The same folder always
/// gives the same bytes.
#[derive(Debug, Parser)]
#[command(
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("KTPIPE_COMMIT"), ")"),
    after_help = "Examples:\n  just report out=output/step_02\n  run-report output/step_02\n  \
                  run-report --datasets 'key_facts_to_qa document_based_qa' --sample 10 output/step_02"
)]
pub struct Cli {
    /// The output folder of a run (the Justfile's `out`).
    #[arg(value_name = "OUT")]
    pub out: PathBuf,

    /// The datasets the run should have made, space-separated (default: every dataset
    /// folder found); one that is missing is reported as absent.
    #[arg(long, value_name = "NAMES")]
    pub datasets: Option<String>,

    /// Kept rows shown per dataset, drawn with a fixed seed.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub sample: usize,

    /// Do not print where the report went.
    #[arg(short, long)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
