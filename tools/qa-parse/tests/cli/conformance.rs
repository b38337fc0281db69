//! The reference parser's own test cases (sdg_hub's TextParserBlock), checked against
//! qa-parse: the pure core for `_extract_matches` / `_parse`, the binary for the rest.
//!
//! How rows compare: we run with `--keep-source --no-index`, so a kept row must equal the
//! reference's row exactly; rows the reference drops must not reach stdout and must be in
//! our rejects file. Configurations the reference refuses exit 2. A missing input column
//! is refused by the reference for the whole dataset; ours rejects each record instead
//! (we cannot know before reading). List-valued input: the reference keeps one row
//! holding lists; ours emits one record per parsed value (items parsed one by one), so
//! we compare the concatenation of our values with the reference's list.

use std::path::Path;

use qa_parse::{Method, Parser, Pattern, TagPair, tags};
use serde_json::{Value, json};

use crate::{records, run, stderr};

/// Cases with no qa-parse counterpart, and why.
const UNMAPPED: &[(&str, &str)] = &[
    (
        "tp-033",
        "an empty input column list; --from always names one field",
    ),
    (
        "tp-034",
        "several input columns; --from takes exactly one field",
    ),
    (
        "tp-035",
        "constructor normalising a string input_cols into a list; no CLI analogue",
    ),
    (
        "tp-036",
        "constructor normalising a string output_cols into a list; no CLI analogue",
    ),
];

fn cases() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/sdg_hub_parser_cases.json");
    let text = std::fs::read_to_string(&path).expect("conformance cases");
    let all: Vec<Value> = serde_json::from_str(&text).expect("cases are JSON");
    all.into_iter()
        .filter(|c| c["block"] == "TextParserBlock")
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().expect("string").to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// The flags a case's configuration becomes.
fn flags(config: &Value) -> Vec<String> {
    let mut args = vec!["--keep-source".to_string(), "--no-index".to_string()];
    let from = strings(&config["input_cols"]);
    args.extend(["--from".to_string(), from[0].clone()]);
    for (flag, key) in [
        ("--to", "output_cols"),
        ("--start", "start_tags"),
        ("--end", "end_tags"),
        ("--cleanup", "parser_cleanup_tags"),
    ] {
        for value in strings(&config[key]) {
            args.extend([flag.to_string(), value]);
        }
    }
    if let Some(pattern) = config["parsing_pattern"].as_str() {
        args.extend(["--regex".to_string(), pattern.to_string()]);
    }
    args
}

fn parser(config: &Value) -> Parser {
    let cleanup = strings(&config["parser_cleanup_tags"]);
    let method = match config["parsing_pattern"].as_str() {
        Some(p) => Method::Regex(Pattern::compile(p).expect("pattern compiles")),
        None => Method::Tags(
            strings(&config["start_tags"])
                .into_iter()
                .zip(strings(&config["end_tags"]))
                .map(|(start, end)| TagPair { start, end })
                .collect(),
        ),
    };
    Parser::new(method, cleanup)
}

fn check_extract(case: &Value) {
    let args = &case["method_args"];
    let text = args["text"].as_str().unwrap();
    let got = tags::extract(
        text,
        args["start_tag"].as_str().unwrap_or(""),
        args["end_tag"].as_str().unwrap_or(""),
    );
    assert_eq!(json!(got), case["expected_method_output"], "{}", case["id"]);
}

fn check_parse(case: &Value) {
    let text = case["method_args"]["text"].as_str().unwrap();
    let columns = parser(&case["config"]).columns(text).expect("parses");
    let mut got = serde_json::Map::new();
    for (i, col) in strings(&case["config"]["output_cols"])
        .into_iter()
        .enumerate()
    {
        // a column without a tag pair parses nothing (the reference's zip stops short)
        got.insert(col, json!(columns.get(i).cloned().unwrap_or_default()));
    }
    assert_eq!(
        Value::Object(got),
        case["expected_method_output"],
        "{}",
        case["id"]
    );
}

fn check_refused(case: &Value) {
    let out = run(
        &as_strs(&flags(&case["config"])),
        "{\"raw_output\":\"x\"}\n",
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}: {}",
        case["id"],
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn check_rows(case: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let mut args = flags(&case["config"]);
    args.extend(["--rejects".to_string(), rejects.display().to_string()]);
    let input: String = case["input_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{r}\n"))
        .collect();
    let out = run(&as_strs(&args), &input);
    assert!(out.status.success(), "{}: {}", case["id"], stderr(&out));
    let got = records(&out);
    let expected = case["expected_rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let source = strings(&case["config"]["input_cols"])[0].clone();
    if expected.iter().any(|row| row[&source].is_array()) {
        compare_list_rows(case, &got, &expected);
    } else {
        assert_eq!(got, expected, "{}", case["id"]);
    }
    let kept: Vec<&Value> = expected.iter().map(|row| &row[&source]).collect();
    let dropped = case["input_rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !kept.contains(&&r[&source]))
        .count();
    let rejected = std::fs::read_to_string(&rejects).unwrap().lines().count();
    assert_eq!(
        rejected, dropped,
        "{}: rows the reference drops are our rejects",
        case["id"]
    );
}

/// The reference's one row of lists against our one record per value.
fn compare_list_rows(case: &Value, got: &[Value], expected: &[Value]) {
    let targets = strings(&case["config"]["output_cols"]);
    for target in &targets {
        let want: Vec<Value> = expected
            .iter()
            .flat_map(|row| row[target].as_array().cloned().unwrap())
            .collect();
        let ours: Vec<Value> = got.iter().map(|r| r[target].clone()).collect();
        assert_eq!(ours, want, "{}", case["id"]);
    }
}

#[test]
fn every_text_parser_case_is_checked_or_listed() {
    let cases = cases();
    assert_eq!(cases.len(), 56);
    let mut checked = 0;
    for case in &cases {
        let id = case["id"].as_str().unwrap();
        let unmapped = UNMAPPED.iter().any(|(u, _)| *u == id);
        let entry = case["entry_point"].as_str().unwrap();
        let error = case["expected_error"]["type"].as_str();
        match (unmapped, entry, error) {
            (true, _, _) => continue,
            (_, "_extract_matches", None) => check_extract(case),
            (_, "_parse", None) => check_parse(case),
            // the reference refuses the whole dataset; we reject each record that lacks it
            (_, "__call__", Some("MissingColumnError")) => check_rows(&with_expected_rows(case)),
            (_, "constructor" | "__call__", Some(_)) => check_refused(case),
            (_, "generate" | "__call__", None) => check_rows(case),
            _ => panic!("{id}: entry point {entry} neither checked nor listed in UNMAPPED"),
        }
        checked += 1;
    }
    assert_eq!(checked + UNMAPPED.len(), cases.len());
}

fn with_expected_rows(case: &Value) -> Value {
    let mut case = case.clone();
    case["expected_rows"] = json!([]);
    case
}
