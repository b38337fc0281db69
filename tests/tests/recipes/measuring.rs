//! The measuring scripts run on the built tools and report every run they make. Their
//! figures belong in BENCHMARKS.md, not in a test; here they must run, count every request,
//! and do with the cache what their settings say. They run on demand, not in CI:
//! `cargo test -p ktpipe-tests --test recipes -- --ignored measuring`.

use std::path::Path;
use std::process::{Command, Output};

use super::harness::{DATASETS, bin_dir, files_under, path_with_just, root};

/// Runs `scripts/<script>` with only `env` and what finds `just` and a scratch folder: no
/// BENCH_* or teacher setting of the caller's leaks in.
fn run(script: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(root().join("scripts").join(script));
    cmd.args(args).env_clear().env("PATH", path_with_just());
    for name in ["HOME", "XDG_CACHE_HOME", "KTPIPE_CACHE_DIR", "TMPDIR"] {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    let out = cmd
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("running scripts/{script}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The cells of the table row whose first cell is `first` (a line `| a | b | … |`).
fn row(stdout: &str, first: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row '{first}' in:\n{stdout}"))
}

#[test]
#[ignore = "on demand: a measuring script"]
fn reply_cost_answers_every_request_with_and_without_the_cache() {
    let bin = bin_dir();
    for cache in ["on", "off"] {
        let out = run(
            "dev/reply-cost",
            &[
                ("REPLY_COST_BIN", bin.to_str().expect("utf-8 path")),
                ("REPLY_COST_N", "24"),
                ("REPLY_COST_CACHE", cache),
            ],
            &["3@5:0:0"],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find(|line| line.starts_with("3@5:0:0"))
            .unwrap_or_else(|| panic!("no result line in:\n{stdout}"));
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[1], cache, "{line}");
        assert_eq!(cells[2], "24", "requests answered: {line}");
        let per_request: f64 = cells[4].parse().expect("µs per request");
        assert!(per_request > 0.0, "{line}");
    }
}

/// The cache files a benchmark run left in its output folder.
fn cache_files(out: &Path) -> Vec<String> {
    files_under(out)
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .filter(|name| {
            name.starts_with("cache.sqlite") && !name.ends_with("-wal") && !name.ends_with("-shm")
        })
        .collect()
}

#[test]
#[ignore = "on demand: a measuring script"]
fn bench_runs_generate_all_with_the_cache_shared_per_process_or_left_out() {
    let bin = bin_dir();
    for mode in ["shared", "per-process", "none"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = run(
            "bench",
            &[
                ("BENCH_BIN", bin.to_str().expect("utf-8 path")),
                ("BENCH_DIR", dir.path().to_str().expect("utf-8 path")),
                ("BENCH_SIZES", "1"),
                ("BENCH_SUMMARIES", "1"),
                ("BENCH_ZERO_SIZE", "1"),
                ("BENCH_LATENCY", "20 0 0"),
                ("BENCH_CACHE", mode),
            ],
            &[],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let docs = row(&stdout, "docs-1");
        let requests: u64 = docs[2].parse().expect("requests");
        assert!(requests >= 10, "{mode}: {requests} requests");
        let ratio: f64 = docs[5].parse().expect("ratio");
        assert!(ratio >= 1.0, "{mode}: wall below the ideal bound: {ratio}");
        let peak_in_flight: u64 = docs[8].parse().expect("mock peak in flight");
        assert!(peak_in_flight >= 1, "{mode}");
        assert_eq!(row(&stdout, "zero-latency-1")[2], docs[2], "{mode}");
        let run_out = dir.path().join("docs-1").join("out");
        for dataset in DATASETS.iter() {
            assert!(
                run_out.join(dataset).join("gen.jsonl").is_file(),
                "{mode}: no {dataset}/gen.jsonl"
            );
        }
        let caches = cache_files(&run_out);
        match mode {
            "shared" => assert_eq!(caches, ["cache.sqlite"], "{mode}"),
            // One file per llm-call process: four in each summary dataset (summaries,
            // questions, answers, judgments), three in document-qa, two in key facts.
            "per-process" => assert_eq!(caches.len(), 13, "{mode}: {caches:?}"),
            _ => assert!(caches.is_empty(), "{mode}: {caches:?}"),
        }
    }
}
