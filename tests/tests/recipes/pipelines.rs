//! Hand-built pipelines of the filters, as the README shows them.

use std::process::{Command, Stdio};

use super::harness::{Mock, bin_dir, read_jsonl, sample_seed};

#[test]
fn the_readme_pipeline_runs_by_hand() {
    let mock = Mock::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = bin_dir();
    let prompts = super::harness::root().join("prompts");
    let script = format!(
        "set -euo pipefail
        seed-cat --head 1 '{seed}' \
          | prompt-render --template '{p}/questions.yaml' \
          | llm-call --max-tokens 256 --to question_list --cache cache.sqlite \
          | qa-parse --from question_list --start '[QUESTION]' --end '[END]' --to question \
          | prompt-render --template '{p}/answer.yaml' \
          | llm-call --to response --cache cache.sqlite \
          > qa.jsonl",
        seed = sample_seed().display(),
        p = prompts.display(),
    );
    let status = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("TEACHER_MODEL_BASE_URL", &mock.base_url)
        .env("TEACHER_MODEL_NAME", "mock-teacher")
        .env_remove("TEACHER_MODEL_API_KEY")
        .stderr(Stdio::inherit())
        .status()
        .expect("bash");
    assert!(status.success());
    let rows = read_jsonl(&dir.path().join("qa.jsonl"));
    let questions = super::harness::count(&mock.stats(), "/kinds/questions/items");
    assert_eq!(rows.len() as u64, questions);
    for row in rows {
        assert!(row["question"].is_string() && row["response"].is_string());
        assert!(row.get("messages").is_none());
    }
}

#[test]
fn stages_keep_their_pipeline_order_across_a_pid_wrap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let order = dir.path().join("order");
    let lib = super::harness::root().join("scripts/recipe-lib.sh");
    let sorted = |lines: &str| {
        std::fs::write(&order, lines).expect("order");
        let out = Command::new("bash")
            .arg("-c")
            .arg(r#"source "$1" && ktp_stage_order "$2""#)
            .args([
                "bash",
                lib.to_str().expect("utf-8"),
                order.to_str().expect("utf-8"),
            ])
            .output()
            .expect("bash");
        assert!(out.status.success(), "{}", super::harness::stderr(&out));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert_eq!(sorted("900 c\n17 a\n512 b\n"), "a\nb\nc\n");
    // Forked across the wrap at 32,768: the stages after it have the lowest PIDs.
    assert_eq!(
        sorted("32760 seeds\n32767 prompts\n300 answers\n302 split\n"),
        "seeds\nprompts\nanswers\nsplit\n"
    );
}
