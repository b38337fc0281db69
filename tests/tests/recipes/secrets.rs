//! The API key never leaves the request: not into gen.jsonl, rejects, stage summaries, the
//! cache database, or any message, even when the server echoes the request back in its
//! error body.

use std::path::Path;
use std::process::Output;

use super::harness::{Mock, Tools, files_under, just_cmd, sample_seed, small_vars, stderr};

const KEY: &str = "sk-ktpipe-SECRET-4f9c2a7e";

/// Fails if `KEY` occurs in any file under `out` (byte search: SQLite pages included) or in
/// what the run printed.
fn assert_key_absent(out: &Path, run: &Output, what: &str) {
    let needle = KEY.as_bytes();
    let found = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for file in files_under(out) {
        let bytes = std::fs::read(&file).expect("reading an output file");
        assert!(!found(&bytes), "{what}: the key is in {}", file.display());
    }
    assert!(!found(&run.stdout), "{what}: the key is on stdout");
    assert!(!found(&run.stderr), "{what}: the key is on stderr");
}

fn run_with_key(mock: &Mock, out: &Path, recipe: &str) -> Output {
    let tools = Tools::new(&["--timeout", "2", "--retry-base-ms", "20"]);
    let seed = sample_seed();
    let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
    just_cmd(&mock.base_url, tools.path(), &vars, recipe)
        .env("TEACHER_MODEL_API_KEY", KEY)
        .output()
        .expect("just")
}

#[test]
fn the_key_is_in_no_output_log_or_cache_row_of_a_faulty_run() {
    let mock = Mock::start(&[
        "--require-key",
        KEY,
        "--echo-request",
        "--seed",
        "3",
        "--fault-500",
        "0.1",
        "--fault-malformed",
        "0.1",
        "--fault-length",
        "0.1",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let run = run_with_key(&mock, &out, "generate-all");
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(out.join("cache.sqlite").exists());
    assert_key_absent(&out, &run, "accepted key");
}

#[test]
fn a_refused_key_echoed_back_by_the_server_is_not_repeated() {
    // The server wants another key and echoes the request, Authorization header and all,
    // in its 401 body: the run must stop with a message about the key, without the key.
    let mock = Mock::start(&["--require-key", "another-key", "--echo-request"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let run = run_with_key(&mock, &out, "generate-all");
    let err = stderr(&run);
    assert!(!run.status.success(), "a refused key must fail the run");
    assert!(
        err.to_lowercase().contains("key"),
        "say it is the key: {err}"
    );
    assert!(
        super::harness::count(&mock.stats(), "/faults/401") > 0,
        "the mock should have refused the key"
    );
    assert_key_absent(&out, &run, "refused key");
}
