//! A flaky teacher must cost time, never rows: generate-all through `just` against a mock
//! that injects every fault it knows writes the same four gen.jsonl as a fault-free run,
//! byte for byte; replies cut short or empty never pass as data; a teacher that is down
//! fails the run quickly and cleanly; a teacher that goes silent costs a retry, and does
//! not hold the run hostage.

use serde_json::Value;

use super::harness::{
    DATASETS, Mock, Tools, assert_same_outputs, count, just_cmd, outputs, read_jsonl,
    reference_outputs, refused_base_url, sample_seed, small_vars, stderr,
};

/// Quick retries and a short request timeout, so injected faults cost milliseconds.
const FAST_RETRIES: [&str; 6] = [
    "--timeout",
    "2",
    "--retry-base-ms",
    "20",
    "--retry-max-ms",
    "200",
];

/// The fault mix of the issue: 5 % 429 with Retry-After, 3 % 500/503, 1 % each of dropped
/// connections, hangs past the client's timeout, malformed bodies and empty content.
const FAULT_MIX: [&str; 18] = [
    "--fault-429",
    "0.05",
    "--retry-after",
    "1",
    "--fault-500",
    "0.015",
    "--fault-503",
    "0.015",
    "--fault-drop",
    "0.01",
    "--fault-hang",
    "0.01",
    "--hang-secs",
    "60",
    "--fault-malformed",
    "0.01",
    "--fault-empty",
    "0.01",
];

/// The mock's seed for the runs with silent replies.
const HANG_SEED: &str = "4";

/// The mock's seed for the fault-mix run.
const FAULT_SEED: &str = "8";

fn generate_all(mock: &Mock, tools: &Tools, vars: &[(&str, &str)]) -> std::process::Output {
    just_cmd(&mock.base_url, tools.path(), vars, "generate-all")
        .output()
        .expect("just")
}

#[test]
fn every_injected_fault_costs_time_not_rows() {
    let reference = reference_outputs();
    // The fault draw is a function of the seed and each request body, so this seed draws
    // every kind of fault at least once for today's prompts; a change to the prompts may
    // need another seed (the assertion below says so).
    let fault_seed = std::env::var("KTPIPE_FAULT_SEED").unwrap_or_else(|_| FAULT_SEED.into());
    let mut flags = vec!["--seed", fault_seed.as_str()];
    flags.extend(FAULT_MIX);
    let mock = Mock::start(&flags);
    let tools = Tools::new(&FAST_RETRIES);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = sample_seed();
    let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
    let run = generate_all(&mock, &tools, &vars);
    assert!(run.status.success(), "faulty run failed: {}", stderr(&run));
    let stats = mock.stats();
    eprintln!("seed {fault_seed}, mock stats: {stats}");
    for kind in ["429", "500", "503", "drop", "hang", "malformed", "empty"] {
        assert!(
            count(&stats, &format!("/faults/{kind}")) > 0,
            "seed {fault_seed} should inject a '{kind}' fault (prompts changed? try other seeds with KTPIPE_FAULT_SEED): {stats}"
        );
    }
    assert_same_outputs(&reference, &outputs(&out), "with faults");
    assert_eq!(
        count(&stats, "/repeated_ok"),
        0,
        "a request answered once was asked again: {stats}"
    );
}

#[test]
fn replies_cut_short_or_empty_are_retried_and_never_kept() {
    let reference = reference_outputs();
    // A fifth of replies cut at "max tokens", a fifth empty: each is retried until whole.
    let mock = Mock::start(&[
        "--seed",
        "5",
        "--fault-length",
        "0.2",
        "--fault-empty",
        "0.2",
    ]);
    let tools = Tools::new(&FAST_RETRIES);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = sample_seed();
    let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
    let run = generate_all(&mock, &tools, &vars);
    assert!(run.status.success(), "run failed: {}", stderr(&run));
    let stats = mock.stats();
    assert!(count(&stats, "/faults/length") > 0 && count(&stats, "/faults/empty") > 0);
    assert_same_outputs(&reference, &outputs(&out), "with cut and empty replies");
}

#[test]
fn replies_that_stay_cut_or_empty_are_rejected_with_the_reason() {
    // Every reply is cut or empty, more times than llm-call tries: each record must be
    // rejected, named, and nothing may reach gen.jsonl.
    for (fault, reason) in [("--fault-length", "cut"), ("--fault-empty", "empty")] {
        let mock = Mock::start(&[fault, "1", "--max-faults-per-request", "100"]);
        let mut flags = FAST_RETRIES.to_vec();
        flags.extend(["--max-attempts", "2"]);
        let tools = Tools::new(&flags);
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let seed = sample_seed();
        let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
        let run = just_cmd(&mock.base_url, tools.path(), &vars, "key-facts")
            .output()
            .expect("just");
        let dataset = out.join("key_facts_to_qa");
        let rejects = read_jsonl(&dataset.join("rejects.jsonl"));
        assert_eq!(
            rejects.len(),
            3,
            "{fault}: every seed row is a reject: {}",
            stderr(&run)
        );
        for reject in &rejects {
            let why = reject
                .pointer("/_reject/reason")
                .and_then(Value::as_str)
                .unwrap_or_default();
            assert!(why.contains(reason), "{fault}: reason '{why}'");
        }
        let kept = std::fs::read_to_string(dataset.join("gen.jsonl")).unwrap_or_default();
        assert_eq!(kept, "", "{fault}: nothing may pass as data");
    }
}

#[test]
fn a_teacher_that_is_down_fails_the_run_within_seconds_and_writes_nothing() {
    let base_url = refused_base_url();
    let tools = Tools::new(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = sample_seed();
    let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
    let run = just_cmd(&base_url, tools.path(), &vars, "generate-all")
        .output()
        .expect("just");
    let err = stderr(&run);
    assert!(!run.status.success(), "a down teacher must fail the run");
    // The run gives up in each dataset's first teacher stage, each seed row after at most
    // its attempts (8 by default), and asks nothing more.
    let db = rusqlite::Connection::open(out.join("cache.sqlite")).expect("the call log");
    let mut calls = db
        .prepare("SELECT stage, status, count(*) FROM calls GROUP BY 1, 2")
        .expect("query");
    let rows: Vec<(String, String, u64)> = calls
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    let seeds = read_jsonl(&seed).len() as u64;
    for (stage, status, n) in &rows {
        assert_eq!(status, "connect", "{stage}: {rows:?}");
        assert!(
            *n <= seeds * 8,
            "{stage}: {n} attempts for {seeds} seed rows"
        );
        let first = ["summaries", "facts", "questions"]
            .iter()
            .any(|s| stage.ends_with(&format!("/{s}")));
        assert!(
            first,
            "{stage} was asked although the teacher was down: {rows:?}"
        );
    }
    assert!(!rows.is_empty(), "no attempt was logged");
    assert!(
        err.contains("cannot reach the teacher") && err.contains("TEACHER_MODEL_BASE_URL"),
        "the message should say the teacher is unreachable and where it is set: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    for dataset in DATASETS.iter() {
        let folder = out.join(dataset);
        assert!(!folder.join("gen.jsonl").exists(), "{dataset}: gen.jsonl");
        assert!(
            !folder.join(".gen.jsonl.partial").exists(),
            "{dataset}: partial"
        );
    }
}

/// Requests the call log in `cache` records with `status`.
fn logged(cache: &std::path::Path, status: &str) -> u64 {
    let db = rusqlite::Connection::open(cache).expect("opening the cache");
    db.query_row(
        "SELECT count(*) FROM calls WHERE status = ?1",
        [status],
        |row| row.get(0),
    )
    .expect("querying the call log")
}

#[test]
fn a_teacher_that_goes_silent_costs_a_retry_not_the_run() {
    // Replies take long enough that the stages overlap as in a real run.
    let latency = ["--latency-base-ms", "250"];
    let clean_mock = Mock::start(&latency);
    // As with the fault mix, the seed is chosen so that today's prompts draw a hang, with
    // whole replies and with streamed ones. A hung request holds its connection for an
    // hour: only the hang bound (whole replies) or the idle timeout (streamed) can end it.
    let hang_seed = std::env::var("KTPIPE_HANG_SEED").unwrap_or_else(|_| HANG_SEED.into());
    let mut flags = vec![
        "--seed",
        hang_seed.as_str(),
        "--fault-hang",
        "0.003",
        "--hang-secs",
        "3600",
    ];
    flags.extend(latency);
    // Every setting but the retry delays at its default (whole replies, hang hedging after
    // the longer of 5 s and 4 × the slowest reply), then streamed replies with a short idle
    // timeout (which whole replies do not use).
    let tools = Tools::new(&["--retry-base-ms", "20", "--retry-max-ms", "200"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = sample_seed();
    let runs = [
        ("clean", None),
        ("whole", Some(("off", "hung"))),
        ("streamed", Some(("on", "idle"))),
    ];
    for (name, hangs) in runs {
        let out = dir.path().join(name);
        let mut vars = vec![
            ("seed", seed.to_str().expect("utf8")),
            ("out", out.to_str().expect("utf8")),
            ("n_summaries", "6"),
            ("concurrency", "8"),
        ];
        let Some((stream, status)) = hangs else {
            let run = generate_all(&clean_mock, &tools, &vars);
            assert!(run.status.success(), "clean run failed: {}", stderr(&run));
            continue;
        };
        vars.extend([("stream", stream), ("idle_timeout", "2")]);
        let mock = Mock::start(&flags);
        let run = generate_all(&mock, &tools, &vars);
        assert!(run.status.success(), "{name} run failed: {}", stderr(&run));
        let stats = mock.stats();
        let hung = count(&stats, "/faults/hang");
        assert!(
            hung > 0,
            "seed {hang_seed} should hang at least one {name} request (prompts changed? try other seeds with KTPIPE_HANG_SEED): {stats}"
        );
        // Each hung request was abandoned by the bound for its transport and sent again;
        // none was waited out to the timeout.
        let cache = out.join("cache.sqlite");
        assert_eq!(logged(&cache, status), hung, "{name}: {stats}");
        assert_eq!(logged(&cache, "timeout"), 0, "{name}");
        assert_eq!(
            count(&stats, "/requests"),
            count(&stats, "/ok") + hung,
            "{name}: every other request was answered: {stats}"
        );
        assert_same_outputs(
            &outputs(&dir.path().join("clean")),
            &outputs(&out),
            &format!("{name} replies, some hung"),
        );
    }
}
