//! CLI cases for jsonl-split: --where (with the sdg_hub conformance cases), --out with its
//! sanitising and all-or-nothing files, --shards, --explode, and the shared edge behaviour.

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
use serde_json::{Value, json};

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

const JUDGED: &str = "{\"q\":1,\"j\":\"YES\"}\n{\"q\":2,\"j\":\"NO\"}\n{\"q\":3,\"j\":\"YES\"}\n";

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
fn where_keeps_matches_and_rejects_the_rest_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.jsonl");
    let out = split()
        .args(["--where", "j == \"YES\"", "--rejects"])
        .arg(&rejects)
        .write_stdin(JUDGED)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let kept: Vec<Value> = parse_records(&out.stdout)
        .iter()
        .map(|r| r["q"].clone())
        .collect();
    assert_eq!(kept, [json!(1), json!(3)]);
    let rejected = parse_records(&std::fs::read(&rejects).expect("rejects"));
    assert_eq!(rejected[0]["q"], 2);
    assert_eq!(
        rejected[0]["_reject"]["reason"],
        "did not match --where 'j == \"YES\"'"
    );
    assert_eq!(rejected[0]["_reject"]["line"], 2);
}

#[test]
fn where_without_rejects_reports_and_exits_1_and_drop_discards() {
    let out = split()
        .args(["--where", "j == 'YES'"])
        .write_stdin(JUDGED)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("jsonl-split: <stdin>:2: did not match --where 'j == 'YES''"));
    assert_eq!(parse_records(&out.stdout).len(), 2);

    let out = split()
        .args(["--where", "j == 'YES'", "--drop"])
        .write_stdin(JUDGED)
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert_eq!(parse_records(&out.stdout).len(), 2);
    assert!(
        stderr(&out).contains("3 in, 2 out, 0 rejected, 1 dropped"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_field_rejects_the_record_naming_the_field() {
    let out = split()
        .args(["--where", "j == 'YES'", "--drop"])
        .write_stdin("{\"q\":1}\n{\"j\":\"YES\"}\n")
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error is not a non-match, even with --drop"
    );
    assert!(
        stderr(&out)
            .contains("<stdin>:1: --where 'j == 'YES'' needs field 'j', which the record lacks")
    );
    assert_eq!(parse_records(&out.stdout).len(), 1);
}

#[test]
fn a_bad_expression_exits_2_before_reading() {
    for expr in ["j ==", "j | no_such_filter"] {
        let out = split()
            .args(["--where", expr])
            .write_stdin("not json\n")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{expr}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("jsonl-split: --where '{expr}'")),
            "{err}"
        );
        assert!(!err.contains("<stdin>:1"), "input was read: {err}");
    }
}

#[test]
fn empty_input_gives_empty_output_and_0() {
    let out = split()
        .args(["--where", "x"])
        .write_stdin("")
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn unknown_flag_exits_2() {
    assert_eq!(
        split()
            .arg("--no-such-flag")
            .output()
            .expect("runs")
            .status
            .code(),
        Some(2)
    );
    let out = split().args(["--key", "k"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "--key without --shards");
}

#[test]
fn explode_then_where_with_index_empty_lists_and_non_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.jsonl");
    let input = "{\"id\":1,\"facts\":[\"a\",\"bb\",\"ccc\"],\"z\":0}\n{\"id\":2,\"facts\":[]}\n{\"id\":3,\"facts\":\"x\"}\n";
    let out = split()
        .args([
            "--explode",
            "facts",
            "--where",
            "facts | length > 1",
            "--rejects",
        ])
        .arg(&rejects)
        .write_stdin(input)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = parse_records(&out.stdout);
    assert_eq!(
        rows,
        [
            json!({"id":1,"facts":"bb","z":0,"facts_index":1}),
            json!({"id":1,"facts":"ccc","z":0,"facts_index":2}),
        ]
    );
    let keys: Vec<&String> = rows[0].as_object().expect("row").keys().collect();
    assert_eq!(
        keys,
        ["id", "facts", "z", "facts_index"],
        "element in place, index last"
    );
    let rejected = parse_records(&std::fs::read(&rejects).expect("rejects"));
    let reasons: Vec<&str> = rejected
        .iter()
        .map(|r| r["_reject"]["reason"].as_str().expect("r"))
        .collect();
    assert_eq!(
        reasons,
        [
            "did not match --where 'facts | length > 1'",
            "--explode field 'facts' is a string, not a list"
        ]
    );
    assert_eq!(
        rejected[0]["facts_index"], 0,
        "the element record is what is rejected"
    );
    assert!(
        stderr(&out).contains("3 in, 2 out, 2 rejected, 1 empty lists"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn dedup_keeps_the_first_of_each_repeat_within_its_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("repeats.jsonl");
    let input = [
        r#"{"seed_id":"a","question":"What causes the tides?"}"#,
        r#"{"seed_id":"a","question":"what exactly causes the tides, according to the text"}"#,
        r#"{"seed_id":"a","question":"Who first linked the tides to the Moon?"}"#,
        r#"{"seed_id":"b","question":"What causes the tides?"}"#,
        r#"{"question":"What causes the tides?"}"#,
        r#"{"seed_id":"b","answer":"no question"}"#,
    ]
    .join("\n");
    let out = split()
        .args(["--dedup", "question", "--rejects"])
        .arg(&rejects)
        .write_stdin(input + "\n")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let kept: Vec<String> = kit::records(&out)
        .iter()
        .map(|r| format!("{} {}", r["seed_id"], r["question"]))
        .collect();
    assert_eq!(
        kept,
        [
            r#""a" "What causes the tides?""#,
            r#""a" "Who first linked the tides to the Moon?""#,
            r#""b" "What causes the tides?""#,
        ]
    );
    let reasons: Vec<String> = parse_records(&std::fs::read(&rejects).expect("rejects"))
        .iter()
        .map(|r| r["_reject"]["reason"].as_str().expect("reason").to_string())
        .collect();
    assert_eq!(
        reasons,
        [
            "near-duplicate of the question kept before it in its seed_id (similarity 1.00): 'What causes the tides?'",
            "--dedup-by needs field 'seed_id', which the record lacks",
            "--dedup needs field 'question', which the record lacks",
        ]
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
