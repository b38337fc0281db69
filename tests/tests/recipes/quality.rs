//! Data quality through `just generate-all` against the mock teacher: replies wrapped in a
//! teacher's habits yield every value they carry, clean; reworded repeats of a question
//! within one seed document are set aside before an answer or a judgment is paid for.

use std::collections::{BTreeMap, BTreeSet};

use super::harness::{DATASETS, Mock, count, just, read_jsonl, sample_seed, stage_stats, stderr};

fn vars<'a>(seed: &'a str, out: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars = vec![
        ("seed", seed),
        ("out", out),
        ("n_summaries", "4"),
        ("concurrency", "16"),
    ];
    vars.extend_from_slice(extra);
    vars
}

/// A label, numbering, markdown or a preamble at the start of a value, or bold anywhere.
fn has_habit(text: &str) -> bool {
    let lower = text.trim_start().to_lowercase();
    let starts = [
        "q:",
        "q1",
        "q2",
        "q3",
        "question:",
        "question 1",
        "question 2",
        "question 3",
        "a:",
        "answer:",
        "sure!",
        "certainly!",
        "here is",
        "here are",
        "great question",
        "1)",
        "2)",
        "1. ",
        "2. ",
        "3. ",
    ];
    text.contains("**") || starts.iter().any(|s| lower.starts_with(s)) || lower.contains("i hope")
}

#[test]
fn replies_with_habits_give_every_value_clean() {
    let mock = Mock::start(&["--habits", "0.5"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = sample_seed();
    let vars = vars(
        seed.to_str().expect("utf8"),
        out.to_str().expect("utf8"),
        &[("dedup", "off")],
    );
    let run = just(&mock, &vars, "generate-all");
    assert!(run.status.success(), "{}", stderr(&run));
    let stats = mock.stats();
    assert!(count(&stats, "/kinds/questions/habits") > 0, "{stats}");

    // Every question the teacher wrote, and every Q&A pair, is read: none is lost to a habit.
    let split_out: u64 = [
        "extractive_summary",
        "detailed_summary",
        "document_based_qa",
    ]
    .iter()
    .map(|d| {
        stage_stats(&out, d, "question-split")["out"]
            .as_u64()
            .expect("out")
    })
    .sum();
    assert_eq!(split_out, count(&stats, "/kinds/questions/items"));
    assert_eq!(
        read_jsonl(&out.join("key_facts_to_qa/gen.jsonl")).len() as u64,
        count(&stats, "/kinds/qa_pairs/items")
    );
    // Every verdict is read: the faithfulness filter is the only stage that sets rows aside.
    let kept: u64 = [
        "extractive_summary",
        "detailed_summary",
        "document_based_qa",
    ]
    .iter()
    .map(|d| read_jsonl(&out.join(d).join("gen.jsonl")).len() as u64)
    .sum();
    assert_eq!(kept, count(&stats, "/kinds/faithfulness/yes"));

    for dataset in DATASETS.iter() {
        for row in read_jsonl(&out.join(dataset).join("gen.jsonl")) {
            for field in ["question", "response"] {
                let text = row[field].as_str().expect("a string");
                assert!(
                    !text.is_empty() && !has_habit(text),
                    "{dataset}: {field} {text:?}"
                );
            }
        }
    }
}

/// The words of a question without case, punctuation, plural 's' and the rewordings the
/// mock's repeats make: an independent check on ktpipe's own measure.
fn repeat_key(question: &str) -> String {
    const REWORDING: [&str; 12] = [
        "exactly",
        "actually",
        "really",
        "fact",
        "in",
        "document",
        "text",
        "passage",
        "as",
        "says",
        "according",
        "this",
    ];
    let words: BTreeSet<String> = question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = w.to_lowercase();
            match w.strip_suffix('s') {
                Some(stem) if stem.len() > 2 => stem.to_string(),
                _ => w,
            }
        })
        .filter(|w| !REWORDING.contains(&w.as_str()))
        .collect();
    words.into_iter().collect::<Vec<_>>().join(" ")
}

#[test]
fn reworded_repeats_are_set_aside_before_answers_are_paid_for() {
    let seed = sample_seed();
    let seed = seed.to_str().expect("utf8");
    let run_with = |dedup: &str| {
        let mock = Mock::start(&["--repeats", "0.5"]);
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let vars = vars(seed, out.to_str().expect("utf8"), &[("dedup", dedup)]);
        let run = just(&mock, &vars, "generate-all");
        assert!(run.status.success(), "{}", stderr(&run));
        (mock.stats(), dir)
    };
    let (off, off_dir) = run_with("off");
    let (on, on_dir) = run_with("0.7");
    let out = on_dir.path().join("out");
    assert!(count(&on, "/kinds/questions/repeats") > 0, "{on}");
    assert_eq!(
        count(&on, "/kinds/questions/items"),
        count(&off, "/kinds/questions/items")
    );

    // Each repeat costs neither an answer nor a judgment.
    let stage_in = |dir: &tempfile::TempDir, dataset: &str, stage: &str| {
        stage_stats(&dir.path().join("out"), dataset, stage)["in"]
            .as_u64()
            .expect("in")
    };
    let mut repeats = 0;
    for dataset in [
        "extractive_summary",
        "detailed_summary",
        "document_based_qa",
    ] {
        let removed = stage_stats(&out, dataset, "question-repeats")["repeats"]
            .as_u64()
            .expect("repeats");
        for stage in ["answers", "judgments"] {
            assert_eq!(
                stage_in(&on_dir, dataset, stage),
                stage_in(&off_dir, dataset, stage) - removed,
                "{dataset}/{stage}"
            );
        }
        repeats += removed;
    }
    assert!(repeats > 0);
    assert!(count(&on, "/kinds/answer/replies") < count(&off, "/kinds/answer/replies"));

    for dataset in DATASETS.iter() {
        let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for row in read_jsonl(&out.join(dataset).join("gen.jsonl")) {
            let seed_id = row["seed_id"].as_str().expect("seed_id").to_string();
            let key = repeat_key(row["question"].as_str().expect("question"));
            assert!(
                seen.entry(seed_id).or_default().insert(key.clone()),
                "{dataset}: a repeat was kept: {}",
                row["question"]
            );
        }
        for reject in read_jsonl(&out.join(dataset).join("rejects.jsonl")) {
            let reason = reject["_reject"]["reason"].as_str().expect("reason");
            if reason.starts_with("near-duplicate") {
                assert!(reason.contains("): '"), "the kept twin is named: {reason}");
            }
        }
    }
}

#[test]
fn a_bad_dedup_setting_stops_the_run_before_any_request() {
    let mock = Mock::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = sample_seed();
    for bad in ["1.5", "0", "maybe"] {
        let vars = vars(
            seed.to_str().expect("utf8"),
            out.to_str().expect("utf8"),
            &[("dedup", bad)],
        );
        let run = just(&mock, &vars, "generate-all");
        assert_eq!(run.status.code(), Some(2), "{bad}: {}", stderr(&run));
        assert!(stderr(&run).contains(&format!(
            "dedup must be 'off' or a similarity above 0 and at most 1, not '{bad}'"
        )));
    }
    assert_eq!(mock.requests(), 0);
}
