//! The options every ktpipe tool shares, as one clap struct each tool flattens into its own.

use std::path::PathBuf;

use clap::Args;

/// Inputs, side outputs and verbosity, common to all five filters.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// JSONL files to read, in order; none or '-' reads stdin.
    #[arg(value_name = "FILE")]
    pub inputs: Vec<PathBuf>,

    /// Write records this tool cannot use to FILE (the record plus a '_reject' object).
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,

    /// Name this stage in messages and logs (e.g. 'answers'), to tell stages of one tool apart.
    #[arg(long, value_name = "NAME")]
    pub stage: Option<String>,

    /// Write the end-of-run summary as a JSON object to FILE.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,

    /// Do not print the end-of-run summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

impl CommonArgs {
    /// The label messages start with: the tool name, or `tool[stage]` when a stage is named.
    pub fn label(&self, tool: &str) -> String {
        match &self.stage {
            Some(stage) => format!("{tool}[{stage}]"),
            None => tool.to_string(),
        }
    }
}
