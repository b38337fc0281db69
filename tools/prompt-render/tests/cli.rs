//! CLI cases for prompt-render. Those that read as a command, its input and its exact output
//! (rendering, --to, --bind, --set, a missing field with and without --rejects, --check)
//! are files in `tests/cmd`; here are the help, the template and flag checks that end the
//! run before any input is read, and the shared stream contract.

#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is a failed case

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use ktpipe_testkit::{self as kit, stderr};
use serde_json::json;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("prompt-render")
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

/// The cases in `tests/cmd`: each `.toml` holds the arguments and exit code, with the
/// stdin, the exact stdout and stderr, the templates it reads (`<case>.in/`, or
/// `tests/fixtures`) and the files it writes (`<case>.out/`).
#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .default_bin_path(bin())
        .case("tests/cmd/*.toml");
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

/// `--check` ends without waiting for stdin; what it says is `tests/cmd/check.toml`.
#[test]
fn check_validates_without_reading_input() {
    let t = fixture("answer.yaml");
    let out = exits_without_eof(&["--template", &t, "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn check_holds_a_template_to_its_stage() {
    let t = fixture("lang.yaml");
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
