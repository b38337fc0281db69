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
