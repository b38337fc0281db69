//! CLI cases for prompt-render: the stream contract, strict rendering, binds, and the
//! template checks that happen before any input is read.

#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is a failed case

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use ktpipe_testkit::{self as kit, records, stderr, stdout};
use serde_json::json;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("prompt-render")
}

fn run(args: &[&str], stdin: impl AsRef<[u8]>) -> Output {
    kit::run(&bin(), args, stdin)
}

fn exits_without_eof(args: &[&str]) -> Output {
    kit::exits_without_eof(&bin(), args, Duration::from_secs(10))
}

fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    path.display().to_string()
}

fn template(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn seed(question: &str) -> String {
    format!(
        "{}\n",
        json!({"document": "Water boils at 100 C.", "document_outline": "Water", "question": question})
    )
}

#[test]
fn help_has_summary_flags_and_examples() {
    kit::check_help_mentions(
        &bin(),
        &[
            "Renders a YAML chat template with each record's fields into OpenAI chat messages",
            "--template <FILE>",
            "--to <FIELD>",
            "--bind <VAR=FIELD>",
            "--check",
            "--set <VAR=VALUE>",
            "--fields <LIST>",
            "--must-read <VAR>",
            "--rejects <FILE>",
            "--stage <NAME>",
            "--stats <FILE>",
            "Examples:",
            "prompt-render --template prompts/answer.yaml",
        ],
    );
}

#[test]
fn sdg_hub_format_template_renders_messages() {
    let t = fixture("answer.yaml");
    let out = run(&["--template", &t], seed("When does water boil?"));
    assert!(out.status.success(), "{}", stderr(&out));
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    assert_eq!(
        recs[0]["question"], "When does water boil?",
        "fields pass through"
    );
    assert_eq!(
        recs[0]["messages"],
        json!([
            {"role": "system", "content": "You are a careful assistant who answers from the given document only."},
            {"role": "user", "content": "Answer the question using only the document below.\n\n[Start of Document]\nWater\nWater boils at 100 C.\n[End of Document]\n\nQuestion: When does water boil?"},
        ])
    );
    assert!(stdout(&out).starts_with(
        r#"{"document":"Water boils at 100 C.","document_outline":"Water","question""#
    ));
}

#[test]
fn to_names_the_field_and_an_existing_one_keeps_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let t = template(&dir, "t.yaml", "- role: user\n  content: '{{ a }}'\n");
    let out = run(
        &["--template", &t, "--to", "prompt"],
        "{\"prompt\":0,\"a\":\"x\"}\n",
    );
    assert_eq!(
        stdout(&out),
        "{\"prompt\":[{\"role\":\"user\",\"content\":\"x\"}],\"a\":\"x\"}\n"
    );
}

#[test]
fn a_missing_field_rejects_the_record_naming_variable_template_and_line() {
    let t = fixture("answer.yaml");
    let input = format!(
        "{}{}{}",
        seed("q1"),
        json!({"document": "d", "document_outline": "o"}),
        "\n"
    );
    let out = run(&["--template", &t], &input);
    assert_eq!(out.status.code(), Some(1));
    let want = format!(
        "prompt-render: <stdin>:2: template '{t}' needs field 'question', which the record lacks (user message 2, line 8)"
    );
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert_eq!(records(&out).len(), 1, "the good record still comes out");

    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let out = run(
        &["--template", &t, "--rejects", rejects.to_str().unwrap()],
        &input,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rejected: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&rejects).unwrap().trim()).unwrap();
    assert_eq!(rejected["document"], "d");
    assert_eq!(rejected["_reject"]["line"], 2);
    assert!(
        rejected["_reject"]["reason"]
            .as_str()
            .unwrap()
            .contains("needs field 'question'")
    );
}

#[test]
fn template_text_in_data_is_not_evaluated_and_values_keep_their_form() {
    let dir = tempfile::tempdir().unwrap();
    let t = template(
        &dir,
        "t.yaml",
        "- role: user\n  content: \"{{ q }} | {{ n }} | {{ f }} | {{ l }}\"\n",
    );
    let out = run(
        &["--template", &t],
        "{\"q\":\"{{ 7*7 }} {% if true %}x{% endif %}\",\"n\":3,\"f\":2.5,\"l\":[1,\"a\"]}\n",
    );
    assert_eq!(
        records(&out)[0]["messages"][0]["content"],
        "{{ 7*7 }} {% if true %}x{% endif %} | 3 | 2.5 | [1, \"a\"]"
    );
}

#[test]
fn bind_reads_another_field() {
    let t = fixture("answer.yaml");
    let line =
        json!({"document": "raw", "summary": "short", "document_outline": "o", "question": "q"});
    let out = run(
        &["--template", &t, "--bind", "document=summary"],
        format!("{line}\n"),
    );
    let content = records(&out)[0]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(content.contains("o\nshort\n"), "{content}");
    let out = run(&["--template", &t, "--bind", "document=summary"], seed("q"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("needs field 'summary' (bound to variable 'document')"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_templates_and_flags_exit_2_without_reading_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            template(
                &dir,
                "syntax.yaml",
                "- role: user\n  content: |\n    ok\n    {{ x\n",
            ),
            "message 1 (user), line 2: syntax error",
        ),
        (
            template(&dir, "yaml.yaml", "- role: user\n  content: [oops\n"),
            "invalid YAML",
        ),
        (
            template(
                &dir,
                "role.yaml",
                "- role: system\n  content: a\n- role: bot\n  content: b\n",
            ),
            "message 2: unknown role 'bot'",
        ),
        (
            template(&dir, "content.yaml", "- role: user\n  content:\n    - a\n"),
            "message 1: 'content' must be a string",
        ),
        (
            template(&dir, "map.yaml", "system: hi\n"),
            "expected a list",
        ),
        (
            "/nonexistent/t.yaml".to_string(),
            "cannot read template '/nonexistent/t.yaml'",
        ),
    ];
    for (path, want) in &cases {
        let out = exits_without_eof(&["--template", path]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        assert!(stderr(&out).contains(want), "{path}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("prompt-render: "),
            "{}",
            stderr(&out)
        );
    }
    let t = fixture("answer.yaml");
    for args in [
        &["--template", &t, "--bind", "nonsense"][..],
        &["--template", &t, "--bind", "typo=summary"],
        &["--template", &t, "--bogus"],
        &[],
    ] {
        let out = exits_without_eof(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn check_validates_without_reading_input() {
    let t = fixture("answer.yaml");
    let out = exits_without_eof(&["--template", &t, "--check"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("variables: document, document_outline, question"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn set_gives_every_record_a_value_and_check_holds_a_template_to_its_stage() {
    let dir = tempfile::tempdir().unwrap();
    let t = template(
        &dir,
        "lang.yaml",
        "- role: user\n  content: |\n    {{ question }}\n    {% if language %}Reply in {{ language }}.{% endif %}\n",
    );
    let out = run(
        &["--template", &t, "--set", "language=Japanese"],
        seed("Why?"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        records(&out)[0]["messages"][0]["content"],
        "Why?\nReply in Japanese."
    );
    let out = run(&["--template", &t, "--set", "language="], seed("Why?"));
    assert_eq!(records(&out)[0]["messages"][0]["content"], "Why?");

    let fields = "document,document_outline,question";
    let ok = exits_without_eof(&[
        "--template",
        &t,
        "--set",
        "language=",
        "--check",
        "--fields",
        fields,
        "--must-read",
        "question",
        "--must-read",
        "language",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let cases: [(&[&str], &str); 4] = [
        (
            &["--check", "--fields", fields],
            "reads 'language', which the records of this stage do not carry",
        ),
        (
            &["--set", "language=", "--check", "--fields", "document"],
            "reads 'question', which the records of this stage do not carry (they carry: document)",
        ),
        (
            &["--check", "--must-read", "document"],
            "never reads 'document', which this stage needs",
        ),
        (&["--set", "=x"], "--set '=x' must look like VAR=VALUE"),
    ];
    for (args, want) in cases {
        let mut all = vec!["--template", t.as_str()];
        all.extend_from_slice(args);
        let out = exits_without_eof(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
        if !want.starts_with("--set") {
            assert!(stderr(&out).contains("lang.yaml"), "{}", stderr(&out));
        }
    }
    // --fields and --must-read only make sense with --check.
    let out = exits_without_eof(&["--template", &t, "--fields", fields]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn empty_input_gives_empty_output() {
    let out = run(&["--template", &fixture("answer.yaml")], "");
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
}

#[test]
fn malformed_lines_are_named_and_fail_the_run() {
    let good = seed("q");
    kit::check_malformed_lines(
        &bin(),
        &["--template", &fixture("answer.yaml")],
        good.trim_end(),
        good.trim_end(),
    );
}

#[test]
fn missing_final_newline_and_crlf_are_accepted() {
    let good = seed("q");
    kit::check_crlf_and_missing_final_newline(
        &bin(),
        &["--template", &fixture("answer.yaml")],
        &[good.trim_end(), good.trim_end()],
    );
}

#[test]
fn closed_stdout_ends_quietly() {
    kit::check_closed_stdout_is_quiet(
        &bin(),
        &["--template", &fixture("answer.yaml")],
        &seed("q"),
        200_000,
    );
}

#[test]
fn records_stream_before_input_ends() {
    let got =
        kit::check_streams_before_eof(&bin(), &["--template", &fixture("answer.yaml")], &seed("q"));
    assert!(got.contains("\"messages\":[{\"role\":\"system\""), "{got}");
}
