//! CLI cases for qa-parse: the stream contract, parsing, rejects, normalisation, and the
//! reference parser's conformance cases.

#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is a failed case

mod cli {
    pub mod conformance;
    mod habits;
    mod properties;
}

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use ktpipe_testkit::{self as kit, records, stderr, stdout};
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
fn question_answer_pairs_become_records_in_order() {
    let out = run(QA, qa_line(2));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        records(&out),
        [
            json!({"seed_id": "s1", "key_fact": "k", "question": "q0?", "response": "a0.", "question_index": 0}),
            json!({"seed_id": "s1", "key_fact": "k", "question": "q1?", "response": "a1.", "question_index": 1}),
        ]
    );
    // 'response' is both the source and a target: overwritten in place, not removed
    assert!(stdout(&out).starts_with(
        r#"{"seed_id":"s1","key_fact":"k","response":"a0.","question":"q0?","question_index":0}"#
    ));
}

#[test]
fn five_questions_and_four_answers_make_four_records() {
    let reply = "[QUESTION] 1 [END] [QUESTION] 2 [END] [QUESTION] 3 [END] [QUESTION] 4 [END] [QUESTION] 5 [END] \
                 [ANSWER] a [END] [ANSWER] b [END] [ANSWER] c [END] [ANSWER] d [END]";
    let out = run(QA, format!("{}\n", json!({"response": reply})));
    let recs = records(&out);
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[3]["question"], "4");
    assert_eq!(recs[3]["response"], "d");
}

#[test]
fn source_is_removed_unless_kept_and_index_can_be_dropped() {
    let line = r#"{"a":1,"raw":"<t> x </t>","t":"old"}"#;
    let out = run(
        &[
            "--from", "raw", "--start", "<t>", "--end", "</t>", "--to", "t",
        ],
        line,
    );
    assert_eq!(stdout(&out), "{\"a\":1,\"t\":\"x\",\"t_index\":0}\n");
    let out = run(
        &[
            "--from",
            "raw",
            "--start",
            "<t>",
            "--end",
            "</t>",
            "--to",
            "t",
            "--keep-source",
            "--no-index",
        ],
        line,
    );
    assert_eq!(
        stdout(&out),
        "{\"a\":1,\"raw\":\"<t> x </t>\",\"t\":\"x\"}\n"
    );
}

#[test]
fn key_facts_regex_splits_a_numbered_list() {
    let doc = "1. Water boils at 100 C.\n2. Ice floats\n   on water.\n3. Steam is hot.\n";
    let args = [
        "--from",
        "document",
        "--keep-source",
        "--to",
        "key_fact",
        "--regex",
        r"(?:^|\n)\s*\d+\.\s+(.*?)(?=\n\s*\d+\.\s+|\Z)",
    ];
    let out = run(&args, format!("{}\n", json!({"document": doc})));
    let facts: Vec<_> = records(&out)
        .iter()
        .map(|r| r["key_fact"].clone())
        .collect();
    assert_eq!(
        facts,
        [
            json!("Water boils at 100 C."),
            json!("Ice floats\n   on water."),
            json!("Steam is hot.")
        ]
    );
    assert_eq!(records(&out)[2]["key_fact_index"], 2);
}

#[test]
fn text_after_a_start_tag_runs_to_the_end() {
    let text = "Intro\n### Key Facts With Context\n1. a\n2. b\n";
    let args = [
        "--from",
        "response",
        "--start",
        "### Key Facts With Context",
        "--end",
        "",
        "--to",
        "document",
        "--no-index",
    ];
    let out = run(&args, format!("{}\n", json!({"response": text})));
    assert_eq!(records(&out), [json!({"document": "1. a\n2. b"})]);
}

#[test]
fn unparseable_records_are_rejected_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let input = [
        json!({"id": 1, "response": "no tags here"}),
        json!({"id": 2, "response": "[QUESTION] a [END] [QUESTION] b [END]"}),
        json!({"id": 3}),
        json!({"id": 4, "response": 7}),
        json!({"id": 5, "response": ""}),
    ]
    .iter()
    .map(|v| format!("{v}\n"))
    .collect::<String>();
    let mut args = QA.to_vec();
    args.extend(["--rejects", rejects.to_str().unwrap()]);
    let out = run(&args, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let reasons: Vec<String> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| {
            format!(
                "{}: {}",
                r["_reject"]["line"],
                r["_reject"]["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "1: in 'response': '[QUESTION]'…'[END]' matched 0, '[ANSWER]'…'[END]' matched 0",
            "2: in 'response': '[QUESTION]'…'[END]' matched 2, '[ANSWER]'…'[END]' matched 0",
            "3: record has no field 'response'",
            "4: field 'response' holds a number, expected a string",
            "5: field 'response' is empty",
        ]
    );
    // without --rejects the same records are reported on stderr and the run fails
    let out = run(
        &[
            "--start",
            "[QUESTION]",
            "--end",
            "[END]",
            "--to",
            "question",
        ],
        &input,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("qa-parse: <stdin>:1: no '[QUESTION]'…'[END]' match in 'response'"),
        "{}",
        stderr(&out)
    );
    assert_eq!(records(&out).len(), 2);
}

#[test]
fn regex_rejects_say_the_pattern_found_nothing() {
    let out = run(
        &["--regex", "Answer: (.*)", "--to", "a", "--stage", "answers"],
        "{\"response\":\"none\"}\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("qa-parse[answers]: <stdin>:1: the pattern found no match in 'response'")
    );
}

#[test]
fn normalize_turns_verdicts_into_comparable_values() {
    let args = [
        "--start",
        "[Start of Explanation]",
        "--end",
        "[End of Explanation]",
        "--to",
        "faithfulness_explanation",
        "--start",
        "[Start of Answer]",
        "--end",
        "[End of Answer]",
        "--to",
        "faithfulness_judgment",
        "--normalize",
        "faithfulness_judgment",
        "--no-index",
    ];
    let input: String = ["Yes.", " **no** ", "YES"]
        .iter()
        .map(|v| format!("{}\n", json!({"response": format!("[Start of Explanation] Fine. [End of Explanation]\n[Start of Answer] {v} [End of Answer]")})))
        .collect();
    let out = run(&args, input);
    let got: Vec<_> = records(&out)
        .iter()
        .map(|r| r["faithfulness_judgment"].clone())
        .collect();
    assert_eq!(got, [json!("YES"), json!("NO"), json!("YES")]);
    assert_eq!(records(&out)[0]["faithfulness_explanation"], "Fine.");
}

#[test]
fn cleanup_strings_are_removed() {
    let out = run(
        &[
            "--regex",
            "A: (.*)",
            "--to",
            "a",
            "--cleanup",
            "<br>",
            "--no-index",
        ],
        "{\"response\":\"A: x<br>y <br>\"}\n",
    );
    assert_eq!(stdout(&out), "{\"a\":\"xy\"}\n");
}

#[test]
fn fallback_patterns_are_tried_in_order() {
    let out = run(
        &[
            "--start",
            "<v>",
            "--end",
            "</v>",
            "--to",
            "v",
            "--no-index",
            "--fallback-regex",
            r"(?i)verdict: (yes|no)",
            "--fallback-regex",
            r"(?im)^\W*(yes|no)\W*$",
        ],
        "{\"response\":\"<v>NO</v> verdict: yes\"}\n{\"response\":\"It is fine. Verdict: yes\"}\n{\"response\":\"fine\\n[YES]\\nok\"}\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "{\"v\":\"NO\"}\n{\"v\":\"yes\"}\n{\"v\":\"YES\"}\n"
    );
}

#[test]
fn the_fallback_pattern_applies_only_when_the_tags_find_nothing() {
    let args = [
        "--start",
        "[QUESTION]",
        "--end",
        "[END]",
        "--to",
        "question",
        "--fallback-regex",
        r"(?m)^[ \t]*(?:\d+[.)][ \t]+)?([^\n]+\?)[ \t]*$",
        "--rejects",
        "rejects.jsonl",
    ];
    let input = [
        json!({"response": "[QUESTION] Tagged? [END] 1. Not taken?"}),
        json!({"response": "Here you go:\n1. Why do tides rise?\n2) When is slack water?\nThanks."}),
        json!({"response": "No questions at all."}),
    ]
    .iter()
    .map(|r| format!("{r}\n"))
    .collect::<String>();
    let dir = tempfile::tempdir().unwrap();
    let out = kit::assert_command(&bin())
        .current_dir(dir.path())
        .args(args)
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success());
    let got: Vec<_> = records(&out)
        .iter()
        .map(|r| r["question"].clone())
        .collect();
    assert_eq!(
        got,
        [
            json!("Tagged?"),
            json!("Why do tides rise?"),
            json!("When is slack water?")
        ]
    );
    let rejects = std::fs::read_to_string(dir.path().join("rejects.jsonl")).unwrap();
    assert!(
        rejects.contains("nor any --fallback-regex match"),
        "{rejects}"
    );
    // A fallback whose groups do not fit the --to fields is refused up front.
    let bad = kit::assert_command(&bin())
        .args([
            "--start",
            "a",
            "--end",
            "b",
            "--to",
            "x",
            "--fallback-regex",
            "(a)(b)",
        ])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
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
fn empty_input_gives_empty_output() {
    let out = run(QA, "");
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
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

#[test]
fn files_are_read_in_order_and_missing_ones_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    std::fs::write(&a, qa_line(1)).unwrap();
    let a = a.to_str().unwrap();
    let mut args = QA.to_vec();
    args.extend([a, "-", a]);
    let out = run(&args, qa_line(2));
    assert_eq!(records(&out).len(), 4);
    let mut args = QA.to_vec();
    args.push("/nonexistent/x.jsonl");
    assert_eq!(run(&args, "").status.code(), Some(2));
}
