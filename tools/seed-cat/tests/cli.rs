//! CLI cases for seed-cat: validation messages, the fields it adds, head and sample, the
//! shared edge behaviour (empty input, malformed lines, closed stdout, streaming).

#[path = "cli/edges.rs"]
mod edges;

use std::path::PathBuf;

use assert_cmd::Command;
use ktpipe_testkit::{self as kit, parse_records, stderr};
use serde_json::{Value, json};

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

#[test]
fn happy_path_adds_seed_id_and_raw_document_at_the_end() {
    let out = seed_cat()
        .write_stdin(format!("{GOOD}\n"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = parse_records(&out.stdout);
    assert_eq!(rows.len(), 1);
    let keys: Vec<&String> = rows[0].as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "document",
            "document_outline",
            "domain",
            "seed_id",
            "raw_document"
        ]
    );
    // Pinned: the first 16 hex digits of SHA-256 over the row with sorted keys. A change
    // would give every user's seeds new ids and orphan their caches.
    assert_eq!(rows[0]["seed_id"], "3c1e23ac07ccb32c");
    assert_eq!(rows[0]["raw_document"], "d");
    assert!(stderr(&out).contains("seed-cat: 1 in, 1 out, 0 rejected"));
}

#[test]
fn seed_id_does_not_depend_on_key_order_and_existing_fields_are_kept() {
    let reordered = r#"{"domain":"x","document":"d","document_outline":"o"}"#;
    let own = r#"{"document":"d","document_outline":"o","domain":"x","seed_id":"mine","raw_document":"orig"}"#;
    let out = seed_cat()
        .write_stdin(format!("{reordered}\n{own}\n"))
        .output()
        .expect("runs");
    assert!(out.status.success());
    let rows = parse_records(&out.stdout);
    assert_eq!(rows[0]["seed_id"], "3c1e23ac07ccb32c");
    assert_eq!(rows[1]["seed_id"], "mine");
    assert_eq!(rows[1]["raw_document"], "orig");
    assert_eq!(rows[1].as_object().expect("object").len(), 5);
}

#[test]
fn raw_field_renames_the_copy() {
    let out = seed_cat()
        .args(["--raw-field", "base_document"])
        .write_stdin(format!("{GOOD}\n"))
        .output()
        .expect("runs");
    let rows = parse_records(&out.stdout);
    assert_eq!(rows[0]["base_document"], "d");
    assert!(rows[0].get("raw_document").is_none());
}

#[test]
fn every_violation_is_reported_with_file_line_and_pointer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeds = dir.path().join("seeds.jsonl");
    let bad = r#"{"document":"","domain":3,"icl_document":["a",2]}"#;
    std::fs::write(&seeds, format!("{GOOD}\n{GOOD}\n{bad}\n")).expect("write");
    let out = seed_cat().arg(&seeds).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let place = format!("seed-cat: {}:3: ", seeds.display());
    for expected in [
        "/: \"document_outline\" is a required property",
        "/document: \"\" is shorter than 1 character",
        "/domain: 3 is not of type \"string\"",
        "/icl_document/1: 2 is not of type \"string\"",
    ] {
        assert!(
            err.contains(&format!("{place}{expected}\n")),
            "{expected}\n{err}"
        );
    }
    assert_eq!(parse_records(&out.stdout).len(), 2, "valid rows still flow");
    assert!(err.contains("3 in, 2 out, 1 rejected"), "{err}");
}

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

#[test]
fn require_adds_fields_and_check_emits_nothing() {
    let args = [
        "--check",
        "--require",
        "icl_document",
        "--require",
        "icl_query_1",
    ];
    let out = seed_cat()
        .args(args)
        .write_stdin(format!("{GOOD}\n"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("<stdin>:1: /: \"icl_document\" is a required property"),
        "{err}"
    );
    assert!(
        err.contains("<stdin>:1: /: \"icl_query_1\" is a required property"),
        "{err}"
    );

    let out = seed_cat()
        .arg("--check")
        .write_stdin(format!("{GOOD}\n"))
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn a_schema_that_does_not_load_exits_2_before_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, r#"{"type": 12}"#).expect("write");
    // The input is not JSON either: the schema is refused first, before any line is read.
    let out = seed_cat()
        .arg("--schema")
        .arg(&schema)
        .write_stdin("not json\n")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("seed-cat: schema '"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    let out = seed_cat()
        .args(["--schema", "/no/such/schema.json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_custom_schema_replaces_the_built_in_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, r#"{"type":"object","required":["text"]}"#).expect("write");
    let out = seed_cat()
        .arg("--schema")
        .arg(&schema)
        .write_stdin("{\"text\":\"t\"}\n")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = parse_records(&out.stdout);
    assert!(
        rows[0].get("raw_document").is_none(),
        "no document, no copy"
    );
    assert_eq!(rows[0]["seed_id"].as_str().map(str::len), Some(16));
}

#[test]
fn list_icl_document_is_joined_with_one_warning() {
    let list = r#"{"document":"d","document_outline":"o","domain":"x","icl_document":["a","b"]}"#;
    let out = seed_cat()
        .write_stdin(format!("{GOOD}\n{list}\n{list}\n"))
        .output()
        .expect("runs");
    assert!(out.status.success());
    let rows = parse_records(&out.stdout);
    assert_eq!(rows[1]["icl_document"], "a\n\nb");
    assert_eq!(rows[2]["icl_document"], "a\n\nb");
    let keys: Vec<&String> = rows[1].as_object().expect("object").keys().collect();
    assert_eq!(keys[3], "icl_document", "joined in place");
    let err = stderr(&out);
    assert_eq!(
        err.matches("warning: <stdin>:2: 'icl_document' is a list")
            .count(),
        1,
        "{err}"
    );
    assert_eq!(err.matches("is a list").count(), 1, "{err}");
    // The two identical rows share a seed_id: kept, and said once.
    assert!(err.contains("1 row(s) repeat the seed_id of an earlier row (first at <stdin>:3)"));
}

#[test]
fn head_emits_the_first_valid_rows_only() {
    let input = format!(
        "{}\n{{\"document\":\"\"}}\n{}\n{}\n",
        row(1),
        row(2),
        row(3)
    );
    let out = seed_cat()
        .args(["--head", "2"])
        .write_stdin(input)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the invalid row still fails the run"
    );
    let docs: Vec<Value> = parse_records(&out.stdout)
        .iter()
        .map(|r| r["document"].clone())
        .collect();
    assert_eq!(docs, [json!("doc 1"), json!("doc 2")]);
    assert!(stderr(&out).contains("1 skipped"));
}

#[test]
fn sample_is_reproducible_in_input_order_and_seeded() {
    let input: String = (0..200).map(|n| row(n) + "\n").collect();
    let sample = |seed: &str| {
        let out = seed_cat()
            .args(["--sample", "10", "--sample-seed", seed])
            .write_stdin(input.clone())
            .output()
            .expect("runs");
        assert!(out.status.success());
        parse_records(&out.stdout)
            .iter()
            .map(|r| {
                r["document"].as_str().expect("doc")[4..]
                    .parse::<u32>()
                    .expect("n")
            })
            .collect::<Vec<u32>>()
    };
    let a = sample("42");
    assert_eq!(a.len(), 10);
    assert!(a.windows(2).all(|w| w[0] < w[1]), "input order: {a:?}");
    assert_eq!(a, sample("42"));
    assert_ne!(a, sample("7"));
    let default_seed = seed_cat()
        .args(["--sample", "10"])
        .write_stdin(input.clone())
        .output()
        .expect("runs");
    let default_docs: Vec<u32> = parse_records(&default_seed.stdout)
        .iter()
        .map(|r| {
            r["document"].as_str().expect("doc")[4..]
                .parse()
                .expect("n")
        })
        .collect();
    assert_eq!(default_docs, a, "the default seed is 42");
}

#[test]
fn empty_input_gives_empty_output_and_0() {
    let out = seed_cat().write_stdin("").output().expect("runs");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn unknown_flag_exits_2() {
    let out = seed_cat().arg("--no-such-flag").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
