//! CLI cases for jsonl-split. Those that read as a command, its input and its exact output
//! (--where, --explode, --dedup, with their rejects; the --out templates refused; usage
//! errors) are files in `tests/cmd`; here are the help, the sdg_hub conformance cases,
//! the files --out and --shards write, and the shared edge behaviour.

#[path = "cli/conformance.rs"]
mod conformance;
#[path = "cli/edges.rs"]
mod edges;
#[path = "cli/files.rs"]
mod files;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ktpipe_testkit::{self as kit, parse_records, stderr};
use serde_json::json;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("jsonl-split")
}

fn split() -> Command {
    kit::assert_command(&bin())
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir");
                found.push(rel.display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// The cases in `tests/cmd`: each `.toml` holds the arguments and exit code, with the
/// stdin, the exact stdout and stderr, and the files the case writes (`<case>.out/`).
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
            "Split a JSONL stream by predicate, destination file, shard or list element",
            "--where",
            "--drop",
            "--out",
            "--out-dir",
            "--shards",
            "--key",
            "--explode",
            "Examples:\n  # Keep faithful answers",
            "jsonl-split --explode key_fact --shards 8",
        ],
    );
}

#[test]
fn a_dedup_threshold_out_of_range_exits_2_before_reading() {
    for threshold in ["0", "1.5", "-1", "high"] {
        let out = split()
            .args(["--dedup", "question", "--dedup-threshold", threshold])
            .write_stdin("not json\n")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{threshold}");
        assert!(
            stderr(&out).contains("above 0 and at most 1"),
            "{}",
            stderr(&out)
        );
    }
}
