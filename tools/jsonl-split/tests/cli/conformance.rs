//! sdg_hub's ColumnValueFilterBlock cases, replayed through `jsonl-split --where`.
//!
//! Each case's `operation` and `filter_value` become a Jinja expression (a list of values
//! means any of them); `convert_dtype` becomes the `int` / `float` filter on the column.
//! One difference is by design: jsonl-split filters, it does not rewrite records, so a kept
//! row keeps its original string ("30") where the reference stores the converted number (30);
//! the comparison converts our value with the case's dtype before comparing by value.
//! Rows the reference drops must not reach stdout: ours go to --rejects (a non-match, or a
//! value the conversion refuses, such as "forty").

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

/// Cases with no natural mapping, and why. Every other case of the block is checked.
const NOT_MAPPED: &[(&str, &str)] = &[
    (
        "cv-091",
        "an empty dataset is an error in the reference; in ktpipe empty input is empty \
         output with exit 0, like every filter (DESIGN.md section 3)",
    ),
    (
        "cv-094",
        "a filter on no column at all: a --where expression always names what it tests, so \
         there is no column-less configuration to refuse",
    ),
];

fn cases() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/sdg_hub_parser_cases.json");
    let text = std::fs::read_to_string(&path).expect("conformance cases are readable");
    let all: Vec<Value> = serde_json::from_str(&text).expect("conformance cases are JSON");
    all.into_iter()
        .filter(|c| c["block"] == "ColumnValueFilterBlock")
        .collect()
}

/// The --where expression for a case's configuration.
fn expression(config: &Value) -> String {
    let column = match &config["input_cols"] {
        Value::Array(cols) => cols[0].as_str().expect("column name"),
        col => col.as_str().expect("column name"),
    };
    let lhs = match config["convert_dtype"].as_str() {
        Some(dtype) => format!("({column} | {dtype})"),
        None => column.to_string(),
    };
    let values = match &config["filter_value"] {
        Value::Array(values) => values.clone(),
        value => vec![value.clone()],
    };
    let op = config["operation"].as_str().expect("operation");
    let tests: Vec<String> = values
        .iter()
        .map(|value| match op {
            "eq" => format!("({lhs} == {value})"),
            "ne" => format!("({lhs} != {value})"),
            "lt" => format!("({lhs} < {value})"),
            "le" => format!("({lhs} <= {value})"),
            "gt" => format!("({lhs} > {value})"),
            "ge" => format!("({lhs} >= {value})"),
            "contains" => format!("({value} in {lhs})"),
            "in" => format!("({lhs} in {value})"),
            // An operation the reference does not know becomes one Jinja does not know either.
            other => format!("({lhs} {other} {value})"),
        })
        .collect();
    tests.join(" or ")
}

fn jsonl(rows: &Value) -> String {
    rows.as_array()
        .map(|rows| rows.iter().map(|r| format!("{r}\n")).collect())
        .unwrap_or_default()
}

/// Our kept value against the reference's: converted with the case's dtype, by value.
fn same_value(ours: &Value, expected: &Value, dtype: Option<&str>) -> bool {
    let ours = match (ours, dtype) {
        (Value::String(s), Some("int" | "float")) => s
            .trim()
            .parse::<f64>()
            .map_or_else(|_| ours.clone(), Value::from),
        _ => ours.clone(),
    };
    match (ours.as_f64(), expected.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => ours == *expected,
    }
}

fn check_case(case: &Value) {
    let id = case["id"].as_str().expect("id");
    let config = &case["config"];
    let expr = expression(config);
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.jsonl");
    let mut cmd = Command::cargo_bin("jsonl-split").expect("binary built");
    cmd.args(["--where", &expr])
        .write_stdin(jsonl(&case["input_rows"]));
    let refused = case.get("expected_error").is_some();
    if !refused {
        cmd.arg("--rejects").arg(&rejects);
    }
    let out = cmd.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if refused {
        // A configuration the reference refuses is a usage error (exit 2); a column the rows
        // lack fails every row, naming the field (exit 1, nothing on stdout).
        let code = out.status.code();
        assert!(
            matches!(code, Some(1 | 2)),
            "{id}: {expr}: {code:?} {stderr}"
        );
        assert!(out.stdout.is_empty(), "{id}: output from a refused case");
        if case["entry_point"] == "constructor" {
            assert_eq!(code, Some(2), "{id}: {expr}: {stderr}");
        } else {
            let column = config["input_cols"].as_str().expect("column");
            assert!(
                stderr.contains(&format!("needs field '{column}'")),
                "{id}: {stderr}"
            );
        }
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{id}: {expr}: {stderr}");
    let ours: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSONL"))
        .collect();
    let expected = case["expected_rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(ours.len(), expected.len(), "{id}: {expr}: {ours:?}");
    let dtype = config["convert_dtype"].as_str();
    for (ours, expected) in ours.iter().zip(&expected) {
        let (ours, expected) = (
            ours.as_object().expect("row"),
            expected.as_object().expect("row"),
        );
        assert_eq!(ours.len(), expected.len(), "{id}: {ours:?} vs {expected:?}");
        for (key, value) in expected {
            assert!(
                same_value(&ours[key], value, dtype),
                "{id}: {key}: {ours:?} vs {expected:?}"
            );
        }
    }
    let inputs = case["input_rows"].as_array().map_or(0, Vec::len);
    let rejected = std::fs::read_to_string(&rejects).map_or(0, |t| t.lines().count());
    assert_eq!(rejected + ours.len(), inputs, "{id}: a row went missing");
}

#[test]
fn column_value_filter_cases_match_the_reference() {
    let cases = cases();
    assert!(!cases.is_empty(), "no ColumnValueFilterBlock cases found");
    for (id, _) in NOT_MAPPED {
        assert!(
            cases.iter().any(|c| c["id"] == *id),
            "listed case {id} is not in the data"
        );
    }
    let mut checked = 0;
    for case in &cases {
        let id = case["id"].as_str().expect("id");
        if NOT_MAPPED.iter().any(|(listed, _)| *listed == id) {
            continue;
        }
        check_case(case);
        checked += 1;
    }
    // Every case is checked or listed with a reason; the list cannot grow unnoticed.
    assert_eq!(checked + NOT_MAPPED.len(), cases.len());
    assert!(
        checked >= cases.len() - 2,
        "only {checked} of {} checked",
        cases.len()
    );
}

#[test]
fn the_mapping_builds_the_expected_expressions() {
    let config = serde_json::json!({"input_cols": ["age", "x"], "filter_value": [30, 35],
        "operation": "eq", "convert_dtype": "int"});
    assert_eq!(
        expression(&config),
        "((age | int) == 30) or ((age | int) == 35)"
    );
    let config =
        serde_json::json!({"input_cols": "text", "filter_value": "w", "operation": "contains"});
    assert_eq!(expression(&config), "(\"w\" in text)");
}
