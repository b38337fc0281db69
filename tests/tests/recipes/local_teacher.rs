//! The slower suite: one recipe against the real local teacher (llama.cpp's server with
//! SmolLM2-135M), which answers off-format often. `scripts/test` installs and starts the
//! teacher, then runs these with `--ignored`, passing its URL in KTPIPE_LOCAL_TEACHER_URL.

use std::process::Command;

use serde_json::Value;

use super::harness::{bin_dir, read_jsonl, root, sample_seed, stderr};

#[test]
#[ignore = "slow: needs the local teacher; scripts/test starts it and runs this"]
fn document_qa_on_the_local_teacher_keeps_what_parses_and_explains_the_rest() {
    let url = std::env::var("KTPIPE_LOCAL_TEACHER_URL")
        .expect("KTPIPE_LOCAL_TEACHER_URL (scripts/local-teacher start prints it)");
    let model =
        std::env::var("KTPIPE_LOCAL_TEACHER_MODEL").unwrap_or_else(|_| "smollm2-135m".into());
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let run = Command::new("just")
        .current_dir(root())
        .env("KTPIPE_BIN", bin_dir())
        .env("TEACHER_MODEL_BASE_URL", &url)
        .env("TEACHER_MODEL_NAME", &model)
        .env("TEACHER_MODEL_API_KEY", "None")
        .arg(format!("seed={}", sample_seed().display()))
        .arg(format!("out={}", out.display()))
        // More tries per off-format reply than the demo gives: a sampling teacher gets the
        // format right often enough that the dataset is never empty.
        // One request per slot of the server (scripts/local-teacher slots).
        .args([
            "concurrency=4",
            "token_cap=256",
            "llm_flags=--max-content-attempts 8",
        ])
        .arg("document-qa")
        .output()
        .expect("just");
    assert!(run.status.success(), "document-qa failed: {}", stderr(&run));
    let dataset = out.join("document_based_qa");
    let rows = read_jsonl(&dataset.join("gen.jsonl"));
    let rejects = read_jsonl(&dataset.join("rejects.jsonl"));
    for reject in &rejects {
        let reason = reject.pointer("/_reject/reason").and_then(Value::as_str);
        assert!(
            reason.is_some_and(|r| !r.is_empty()),
            "a reject without a reason: {reject}"
        );
    }
    for row in &rows {
        assert_eq!(row["faithfulness_judgment"], "YES");
        assert!(row["question"].is_string() && row["response"].is_string());
        assert!(row["base_document"].is_string() && row.get("raw_document").is_none());
    }
    assert!(
        !rows.is_empty(),
        "the local teacher should yield some rows; rejects: {}",
        rejects.len()
    );
}
