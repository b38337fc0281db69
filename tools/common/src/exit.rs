//! Maps a tool's result to its exit status and its last words on stderr.
//!
//! 0: every record handled; 1: a runtime failure or records rejected without a rejects
//! file; 2: a usage or configuration error found before any input was read; 130: stopped
//! by Ctrl-C. A broken pipe anywhere in the error chain is the reader downstream going
//! away (`| head`) and ends the tool quietly with 0.

use std::io::{self, Write};
use std::process::ExitCode;

/// How a run that did not fail outright ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every record was handled (rejects written to a rejects file count as handled).
    Success,
    /// The run finished but some records failed; the reasons are already on stderr.
    RecordsFailed,
    /// The run was stopped by Ctrl-C after writing what it had finished.
    Interrupted,
}

/// A usage or configuration error: bad flags, a template or schema that does not load.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    /// Wraps any displayable message as a usage error.
    pub fn new(msg: impl Into<String>) -> Self {
        UsageError(msg.into())
    }
}

/// The whole `main` of a tool: parses the command line (clap's own `--help`, `--version`
/// and usage errors keep their output and get our exit codes), runs the tool, and hands
/// the result to [`exit_with`] under the label `label` derives from the parsed options.
pub fn main<C: clap::Parser>(
    label: impl FnOnce(&C) -> String,
    run: impl FnOnce(C) -> anyhow::Result<Outcome>,
) -> ExitCode {
    let cli = match C::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` print to stdout; a failed print there is a closed pipe.
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    let label = label(&cli);
    exit_with(&label, run(cli))
}

/// Reports `result` on stderr as `label: message` and returns the exit status.
pub fn exit_with(label: &str, result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::RecordsFailed) => ExitCode::from(1),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let code = if err.chain().any(|e| e.is::<UsageError>()) {
                2
            } else {
                1
            };
            let _ = writeln!(io::stderr().lock(), "{label}: {err:#}");
            ExitCode::from(code)
        }
    }
}

/// True when the error, or any error it wraps, is a write to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn broken_pipe_is_found_under_context() {
        let err = Err::<(), _>(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing stdout")
            .unwrap_err();
        assert!(is_broken_pipe(&err));
        assert_eq!(exit_with("t", Err(err)), ExitCode::SUCCESS);
    }

    #[test]
    fn usage_errors_exit_2_and_others_1() {
        let usage = anyhow::Error::new(UsageError::new("bad template")).context("loading");
        assert_eq!(exit_with("t", Err(usage)), ExitCode::from(2));
        assert_eq!(
            exit_with("t", Err(anyhow::anyhow!("io"))),
            ExitCode::from(1)
        );
    }
}
