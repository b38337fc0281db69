//! The four dataset recipes end to end through `just`, against the mock teacher: row
//! counts implied by the mock's replies, no request paid twice on a rerun, columns the
//! mixing step's loaders need, bad seeds stopped before any request, off-format replies
//! rejected with reasons.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::harness::{
    DATASETS, Mock, count, json_kind, just, read_jsonl, sample_seed, stage_stats, stderr,
};

/// The datasets whose answers are judged for faithfulness.
const FILTERED: [&str; 3] = [
    "extractive_summary",
    "detailed_summary",
    "document_based_qa",
];

/// How many repeats a dedup stage of a dataset set aside, from its summary.
fn repeats(out: &Path, dataset: &str, stage: &str) -> u64 {
    stage_stats(out, dataset, stage)["repeats"]
        .as_u64()
        .expect("a repeats count")
}

fn rows(out: &Path, dataset: &str) -> Vec<Value> {
    read_jsonl(&out.join(dataset).join("gen.jsonl"))
}

#[test]
fn generate_all_matches_the_teachers_replies_and_reruns_for_free() {
    let mock = Mock::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = sample_seed();
    let vars = [
        ("seed", seed.to_str().expect("utf8 path")),
        ("out", out.to_str().expect("utf8 path")),
        ("n_summaries", "2"),
        ("concurrency", "8"),
    ];
    let first = just(&mock, &vars, "generate-all");
    assert!(
        first.status.success(),
        "generate-all failed: {}",
        stderr(&first)
    );
    let stats = mock.stats();
    let docs = read_jsonl(&seed).len() as u64;

    // Every count below follows from what the mock replied, not from fixed numbers.
    assert_eq!(count(&stats, "/kinds/extractive_summary/replies"), docs * 2);
    assert_eq!(count(&stats, "/kinds/detailed_summary/replies"), docs * 2);
    assert_eq!(count(&stats, "/kinds/key_facts/replies"), docs);
    assert_eq!(
        count(&stats, "/kinds/qa_pairs/replies"),
        count(&stats, "/kinds/key_facts/items")
    );
    // Repeats of an earlier question of the same document are set aside unanswered.
    assert_eq!(
        rows(&out, "key_facts_to_qa").len() as u64,
        count(&stats, "/kinds/qa_pairs/items") - repeats(&out, "key_facts_to_qa", "repeats")
    );
    assert_eq!(
        count(&stats, "/kinds/questions/replies"),
        docs * 2 + docs * 2 + docs
    );
    let question_repeats: u64 = FILTERED
        .iter()
        .map(|d| repeats(&out, d, "question-repeats"))
        .sum();
    assert_eq!(
        count(&stats, "/kinds/answer/replies"),
        count(&stats, "/kinds/questions/items") - question_repeats
    );
    assert_eq!(
        count(&stats, "/kinds/faithfulness/replies"),
        count(&stats, "/kinds/answer/replies")
    );
    let filtered: u64 = FILTERED.iter().map(|d| rows(&out, d).len() as u64).sum();
    assert_eq!(filtered, count(&stats, "/kinds/faithfulness/yes"));
    let rejected_by = |stage: &str| -> u64 {
        FILTERED
            .iter()
            .flat_map(|d| read_jsonl(&out.join(d).join("rejects.jsonl")))
            .filter(|r| {
                r.pointer("/_reject/tool")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with(&format!("/{stage}]")))
            })
            .count() as u64
    };
    assert_eq!(rejected_by("question-repeats"), question_repeats);
    let judged_no = rejected_by("faithful");
    assert_eq!(
        judged_no,
        count(&stats, "/kinds/faithfulness/replies") - filtered
    );

    for dataset in DATASETS.iter() {
        assert_mixing_ready(dataset, &rows(&out, dataset));
    }

    let before: Vec<Vec<u8>> = DATASETS
        .iter()
        .map(|d| std::fs::read(out.join(d).join("gen.jsonl")).expect("gen.jsonl"))
        .collect();
    let requests = mock.requests();
    let second = just(&mock, &vars, "generate-all");
    assert!(second.status.success(), "rerun failed: {}", stderr(&second));
    assert_eq!(
        mock.requests(),
        requests,
        "a rerun of a finished run must not call the teacher"
    );
    for (dataset, old) in DATASETS.iter().zip(before) {
        let new = std::fs::read(out.join(dataset).join("gen.jsonl")).expect("gen.jsonl");
        assert!(new == old, "{dataset}: rerun output differs");
    }
}

/// Checks what the mixing step's loaders require of a gen.jsonl: the QA columns as strings
/// in every row, the original document under the name that loader expects (and only that
/// one), one JSON type per column (its dataframe reader infers one), and none of the
/// pipeline's scaffolding.
fn assert_mixing_ready(dataset: &str, rows: &[Value]) {
    assert!(!rows.is_empty(), "{dataset}: no rows");
    let mut types: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for row in rows {
        let row = row.as_object().expect("rows are objects");
        for field in [
            "question",
            "response",
            "document",
            "document_outline",
            "domain",
            "seed_id",
        ] {
            let value = row.get(field).and_then(Value::as_str);
            assert!(
                value.is_some_and(|v| !v.is_empty()),
                "{dataset}: '{field}' missing or empty in {row:?}"
            );
        }
        let (present, absent) = if dataset == "document_based_qa" {
            ("base_document", "raw_document")
        } else {
            ("raw_document", "base_document")
        };
        assert!(
            row.get(present).and_then(Value::as_str).is_some(),
            "{dataset}: no '{present}'"
        );
        assert!(
            !row.contains_key(absent),
            "{dataset}: has '{absent}', the loader refuses both"
        );
        if dataset == "key_facts_to_qa" {
            assert!(
                row.get("key_fact").and_then(Value::as_str).is_some(),
                "{dataset}: no key_fact"
            );
        } else {
            assert_eq!(
                row["faithfulness_judgment"], "YES",
                "{dataset}: unfaithful row kept"
            );
            assert!(row["faithfulness_explanation"].is_string());
        }
        for scaffolding in [
            "messages",
            "question_list",
            "judgment",
            "key_facts_reply",
            "qa_reply",
        ] {
            assert!(
                !row.contains_key(scaffolding),
                "{dataset}: '{scaffolding}' leaked into gen.jsonl"
            );
        }
        let response = row["response"].as_str().unwrap_or_default();
        assert!(!response.contains("[END]") && !response.contains("[ANSWER]"));
        for (key, value) in row {
            if !value.is_null() {
                types
                    .entry(key.clone())
                    .or_default()
                    .insert(json_kind(value));
            }
        }
    }
    for (key, kinds) in types {
        assert_eq!(
            kinds.len(),
            1,
            "{dataset}: column '{key}' has mixed types {kinds:?}"
        );
    }
}

#[test]
fn a_malformed_seed_row_stops_the_run_before_any_request() {
    let mock = Mock::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = dir.path().join("seed.jsonl");
    let good = std::fs::read_to_string(sample_seed()).expect("sample seed");
    let first = good.lines().next().expect("a row");
    std::fs::write(
        &seed,
        format!("{first}\n{{\"document_outline\":\"t\",\"domain\":\"d\"}}\n"),
    )
    .expect("write");
    let run = just(
        &mock,
        &[
            ("seed", seed.to_str().expect("utf8")),
            ("out", out.to_str().expect("utf8")),
        ],
        "generate-all",
    );
    assert!(!run.status.success());
    let err = stderr(&run);
    assert!(
        err.contains("seed.jsonl:2"),
        "error should name the line: {err}"
    );
    assert!(
        err.contains("document"),
        "error should name the field: {err}"
    );
    assert_eq!(mock.requests(), 0, "no request before the seed is valid");
    for dataset in DATASETS.iter() {
        assert!(!out.join(dataset).join("gen.jsonl").exists());
    }
}

#[test]
fn off_format_replies_become_rejects_with_reasons_and_the_rest_is_kept() {
    // Off-format replies here are prose with no question lines and no closing verdict, so
    // neither the tags nor the fallback patterns find anything in them.
    let mock = Mock::start(&["--off-format", "0.3", "--seed", "7"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = sample_seed();
    let run = just(
        &mock,
        &[
            ("seed", seed.to_str().expect("utf8")),
            ("out", out.to_str().expect("utf8")),
            ("n_summaries", "3"),
        ],
        "extractive-summary",
    );
    assert!(
        run.status.success(),
        "extractive-summary failed: {}",
        stderr(&run)
    );
    let kept = rows(&out, "extractive_summary");
    assert_mixing_ready("extractive_summary", &kept);
    let rejects = read_jsonl(&out.join("extractive_summary").join("rejects.jsonl"));
    let reasons: Vec<&str> = rejects
        .iter()
        .filter_map(|r| r.pointer("/_reject/reason").and_then(Value::as_str))
        .collect();
    assert_eq!(
        reasons.len(),
        rejects.len(),
        "every reject carries a reason"
    );
    assert!(
        reasons.iter().any(|r| r.contains("[QUESTION]")
            || r.contains("[Start of Answer]")
            || r.contains("does not match --expect")),
        "off-format replies should be named in the reasons: {reasons:?}"
    );
    let stats = mock.stats();
    let off = count(&stats, "/faults/off_format");
    assert!(off > 0, "the mock should have answered off-format: {stats}");
}

#[test]
fn records_lost_to_a_failing_teacher_fail_the_recipe_and_publish_nothing() {
    let mock = Mock::start(&["--fault-500", "1", "--max-faults-per-request", "1000"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = sample_seed();
    let run = just(
        &mock,
        &[
            ("seed", seed.to_str().expect("utf8")),
            ("out", out.to_str().expect("utf8")),
            (
                "llm_flags",
                "--retry-base-ms 1 --retry-max-ms 5 --max-attempts 3",
            ),
        ],
        "document-qa",
    );
    assert!(!run.status.success());
    let err = stderr(&run);
    assert!(
        err.contains("failed at stage questions"),
        "the stage should be named: {err}"
    );
    assert!(err.contains("HTTP 500"), "the cause should be shown: {err}");
    assert!(!out.join("document_based_qa/gen.jsonl").exists());
}
