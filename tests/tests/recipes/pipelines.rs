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

/// The stages widen the pipes between them (ktpipe_common::pipe): a busy stage's flush is
/// larger than the kernel's 64 KiB, and each round through a narrow pipe wakes both ends.
#[test]
fn the_filters_widen_the_pipe_they_write() {
    let mock = Mock::start(&[]);
    let bin = bin_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let prompt = dir.path().join("prompt.jsonl");
    std::fs::write(
        &prompt,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Say hi.\"}]}\n",
    )
    .expect("write prompt");
    let seed = sample_seed();
    let runs: [(&str, Vec<&std::ffi::OsStr>); 3] = [
        (
            "seed-cat",
            vec![seed.as_os_str(), "--head".as_ref(), "1".as_ref()],
        ),
        ("jsonl-split", vec![seed.as_os_str()]),
        (
            "llm-call",
            vec![prompt.as_os_str(), "--to".as_ref(), "reply".as_ref()],
        ),
    ];
    for (tool, args) in runs {
        let mut child = Command::new(bin.join(tool))
            .args(args)
            .arg("-q")
            .env("TEACHER_MODEL_BASE_URL", &mock.base_url)
            .env("TEACHER_MODEL_NAME", "mock-teacher")
            .env_remove("TEACHER_MODEL_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        // Small outputs, so the child never waits on a full pipe: it ends, the pipe stays.
        assert!(child.wait().expect("wait").success(), "{tool} failed");
        let size = rustix::pipe::fcntl_getpipe_size(&stdout).expect("pipe size");
        assert_eq!(
            size,
            256 * 1024,
            "{tool} left its stdout pipe at {size} bytes"
        );
    }
}
