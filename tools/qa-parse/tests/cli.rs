//! CLI cases for qa-parse. Those that read as a command, its input and its exact output
//! (parsing by tags and patterns, fallbacks, cleanup, normalisation, rejects, files) are
//! files in `tests/cmd`; here are the help, flags refused before any input, the shared
//! stream contract, the reference parser's conformance cases, the habits corpus and the
//! property tests.

#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is a failed case

mod cli {
    pub mod conformance;
    mod habits;
    mod properties;
}

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use ktpipe_testkit::{self as kit, records, stderr};
use serde_json::json;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("qa-parse")
}

fn run(args: &[&str], stdin: impl AsRef<[u8]>) -> Output {
    kit::run(&bin(), args, stdin)
}

const QA: &[&str] = &[
    "--start",
    "[QUESTION]",
    "--end",
    "[END]",
    "--to",
    "question",
    "--start",
    "[ANSWER]",
    "--end",
    "[END]",
    "--to",
    "response",
];

fn qa_line(n: usize) -> String {
    let mut reply = String::new();
    for i in 0..n {
        reply.push_str(&format!("[QUESTION] q{i}? [END]\n[ANSWER] a{i}. [END]\n"));
    }
    format!(
        "{}\n",
        json!({"seed_id": "s1", "key_fact": "k", "response": reply})
    )
}

/// The cases in `tests/cmd`: each `.toml` holds the arguments and exit code, with the
/// stdin, the exact stdout and stderr, the input files (`<case>.in/`) and the files the case
/// writes (`<case>.out/`).
#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .default_bin_path(bin())
        .case("tests/cmd/*.toml");
}

#[test]
fn help_has_summary_flags_and_examples() {
    kit::check_help_mentions(
        &bin(),
        &[
            "Extracts tagged or regex-matched values from a text field",
            "--start <TAG>",
            "--end <TAG>",
            "--to <FIELD>",
            "--regex <PATTERN>",
            "--cleanup <TAG>",
            "--normalize <FIELD>",
            "--keep-source",
            "--no-index",
            "--from <FIELD>",
            "--rejects <FILE>",
            "Examples:",
            "qa-parse --from response --start '[QUESTION]'",
        ],
    );
}

#[test]
fn inconsistent_flags_exit_2_before_reading_input() {
    for args in [
        &["--start", "a", "--to", "x"][..],
        &["--start", "a", "--end", "b", "--to", "x", "--to", "y"],
        &["--to", "x"],
        &["--regex", "(a)(b)", "--to", "x"],
        &["--regex", "(unclosed", "--to", "x"],
        &["--regex", "a", "--start", "s", "--to", "x"],
        &[
            "--start",
            "a",
            "--end",
            "b",
            "--to",
            "x",
            "--normalize",
            "y",
        ],
        &["--start", "a", "--end", "b", "--to", "x", "--bogus"],
        &["--start", "a", "--end", "b"],
    ] {
        let out = kit::exits_without_eof(&bin(), args, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("qa-parse") || stderr(&out).contains("error:"),
            "{args:?}"
        );
    }
}

#[test]
fn malformed_lines_are_named_and_fail_the_run() {
    let good = qa_line(1);
    kit::check_malformed_lines(&bin(), QA, good.trim_end(), good.trim_end());
}

#[test]
fn a_10_mb_line_passes() {
    let long = format!(
        "{}\n",
        json!({"response": format!("[QUESTION] {} [END][ANSWER] a [END]", "x".repeat(10 << 20))})
    );
    let out = run(QA, &long);
    assert!(out.status.success());
    assert_eq!(
        records(&out)[0]["question"].as_str().unwrap().len(),
        10 << 20
    );
}

#[test]
fn missing_final_newline_and_crlf_are_accepted() {
    let one = qa_line(1);
    kit::check_crlf_and_missing_final_newline(&bin(), QA, &[one.trim_end()]);
    kit::check_crlf_and_missing_final_newline(&bin(), QA, &[one.trim_end(), one.trim_end()]);
}

#[test]
fn closed_stdout_ends_quietly() {
    kit::check_closed_stdout_is_quiet(&bin(), QA, &qa_line(3), 200_000);
}

#[test]
fn records_stream_before_input_ends() {
    let got = kit::check_streams_before_eof(&bin(), QA, &qa_line(1));
    assert!(got.contains("\"question\":\"q0?\""), "{got}");
}
