//! The habits corpus: teacher replies wrapped in preambles, labels, numbering, markdown,
//! lower-case or missing tags and verdict phrasings, each with the values qa-parse must
//! recover with the flags the Justfile's recipes give it, or the reason it must reject.
//! `written.json` holds cases written by hand, `local_teacher.json` replies captured from
//! the embedded local teacher's response cache.

use std::path::Path;

use ktpipe_testkit::records;
use serde_json::{Value, json};

/// A single-quoted variable of the Justfile, so the fallback patterns tested are the ones
/// the recipes use.
fn justfile_pattern(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Justfile");
    let text = std::fs::read_to_string(path).unwrap();
    let prefix = format!("{name} := '");
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap();
    line[prefix.len()..line.len() - 1].to_string()
}

/// The recipe's qa-parse flags for each prompt kind, reading the field `reply`.
fn flags(kind: &str) -> Vec<String> {
    let tags = |pairs: &[(&str, &str, &str)]| -> Vec<String> {
        pairs
            .iter()
            .flat_map(|(s, e, t)| ["--start", s, "--end", e, "--to", t].map(String::from))
            .collect()
    };
    let mut args = match kind {
        "questions" => {
            let mut a = tags(&[("[QUESTION]", "[END]", "question")]);
            a.extend([
                "--fallback-regex".into(),
                justfile_pattern("_question_lines"),
            ]);
            a
        }
        "qa_pairs" => tags(&[
            ("[QUESTION]", "[END]", "question"),
            ("[ANSWER]", "[END]", "response"),
        ]),
        "answer" => tags(&[("", "", "response")]),
        "judgment" => {
            let mut a = tags(&[
                (
                    "[Start of Explanation]",
                    "[End of Explanation]",
                    "faithfulness_explanation",
                ),
                (
                    "[Start of Answer]",
                    "[End of Answer]",
                    "faithfulness_judgment",
                ),
            ]);
            for pattern in ["_verdict_line", "_verdict_alone", "_verdict_said"] {
                a.extend(["--fallback-regex".into(), justfile_pattern(pattern)]);
            }
            for tag in ["[Start of Explanation]", "[End of Explanation]"] {
                a.extend(["--cleanup".into(), tag.into()]);
            }
            a.extend(["--normalize".into(), "faithfulness_judgment".into()]);
            a
        }
        "key_facts" => [
            "--regex",
            r"(?:^|\n)\s*\d+\.\s+(.*?)(?=\n\s*\d+\.\s+|\Z)",
            "--to",
            "key_fact",
        ]
        .map(String::from)
        .to_vec(),
        other => panic!("unknown kind '{other}'"),
    };
    args.extend(["--from", "reply", "--habits", "--no-index"].map(String::from));
    args
}

fn check_corpus(file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/habits")
        .join(file);
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(!cases.is_empty());
    let dir = tempfile::tempdir().unwrap();
    for (i, case) in cases.iter().enumerate() {
        let kind = case["kind"].as_str().unwrap();
        let note = case["note"].as_str().unwrap_or("");
        let rejects = dir.path().join(format!("{i}.jsonl"));
        let mut args = flags(kind);
        args.extend(["--rejects".into(), rejects.to_str().unwrap().into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let input = format!("{}\n", json!({ "reply": case["reply"] }));
        let out = super::super::run(&args, input);
        assert!(out.status.success(), "{file} case {i} ({note}): {out:?}");
        let rows = records(&out);
        if let Some(reason) = case["reject"].as_str() {
            assert!(rows.is_empty(), "{file} case {i} ({note}): kept {rows:?}");
            let text = std::fs::read_to_string(&rejects).unwrap();
            assert!(text.contains(reason), "{file} case {i} ({note}): {text}");
            continue;
        }
        let got: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                row.as_object()
                    .unwrap()
                    .iter()
                    .map(|(_, v)| v.as_str().unwrap().to_string())
                    .collect()
            })
            .collect();
        let want: Vec<Vec<String>> = serde_json::from_value(case["want"].clone()).unwrap();
        assert_eq!(got, want, "{file} case {i} ({note})");
    }
}

#[test]
fn written_replies_yield_their_values() {
    check_corpus("written.json");
}

#[test]
fn local_teacher_replies_yield_their_values() {
    check_corpus("local_teacher.json");
}
