//! CLI cases for seed-cat. Those that read as a command, its input and its exact output
//! (validation messages, the fields it adds, head and sample, exit codes) are files in
//! `tests/cmd`; here are the help, the rejects file, and the shared edge behaviour
//! (malformed lines, CRLF, closed stdout, streaming).

#[path = "cli/edges.rs"]
mod edges;

use std::path::PathBuf;

use assert_cmd::Command;
use ktpipe_testkit::{self as kit, parse_records, stderr};

const GOOD: &str = r#"{"document":"d","document_outline":"o","domain":"x"}"#;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("seed-cat")
}

fn seed_cat() -> Command {
    kit::assert_command(&bin())
}

fn row(n: usize) -> String {
    format!(r#"{{"document":"doc {n}","document_outline":"o","domain":"x"}}"#)
}

/// The cases in `tests/cmd`: each `.toml` holds the arguments and exit code, with the
/// stdin, the exact stdout and stderr, and the input files (`<case>.in/`) beside it.
#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .default_bin_path(bin())
        .case("tests/cmd/*.toml");
}

#[test]
fn help_has_summary_and_examples() {
    kit::check_help_mentions(
        &bin(),
        &[
            "Validate seed rows against the seed schema",
            "--schema",
            "--require",
            "--raw-field",
            "--check",
            "--head",
            "--sample",
            "Examples:\n  # Validate a seed file",
            "seed-cat --sample 100 --sample-seed 7",
        ],
    );
}

// Not a case in tests/cmd: trycmd compares the files a case writes with `\` read as `/`,
// and these reasons hold escaped quotes.
#[test]
fn invalid_rows_go_to_rejects_with_all_reasons_and_still_fail_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.jsonl");
    let out = seed_cat()
        .arg("--rejects")
        .arg(&rejects)
        .write_stdin(format!(
            "{GOOD}\n{{\"document\":\"\",\"document_outline\":\"o\"}}\n"
        ))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "a bad seed is an input error");
    let text = std::fs::read_to_string(&rejects).expect("rejects written");
    let rejected = parse_records(text.as_bytes());
    assert_eq!(rejected.len(), 1);
    let info = &rejected[0]["_reject"];
    assert_eq!(info["line"], 2);
    assert_eq!(
        info["reason"],
        "/: \"domain\" is a required property; /document: \"\" is shorter than 1 character"
    );
    assert!(stderr(&out).contains("<stdin>:2: /document: \"\" is shorter"));
}
