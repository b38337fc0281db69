//! How replies travel: whole replies that never come are abandoned and sent again after
//! the hang bound, streamed replies that fall silent after the idle timeout, tokens a
//! stream does not report are unknown rather than 0, oversized replies are refused, and a
//! teacher that is down from the start stops the run within seconds.

use super::*;

/// The `--stats` summary a run wrote to `dir/s.json`.
fn summary(dir: &std::path::Path) -> Value {
    let text = std::fs::read(dir.join("s.json")).expect("stats file");
    serde_json::from_slice(&text).expect("stats JSON")
}

/// `SELECT …` on the run's cache, one integer.
fn query(dir: &std::path::Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("ktpipe-cache.sqlite")).expect("open cache");
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[test]
fn a_whole_reply_that_never_comes_is_abandoned_and_sent_again() {
    let input = records(0, 40);
    let clean = clean_run(&[], &input);

    // Hung requests would hold their connection for an hour, past the 10-minute timeout:
    // only the hang bound (here its floor, lowered to keep the test short) saves the run.
    let hung = mock(Config {
        seed: 3,
        faults: Faults {
            rate_hang: 0.05,
            ..Faults::default()
        },
        hang_secs: 3600,
        ..Config::default()
    });
    let dir = tmp();
    let out = run(
        llm(dir.path(), &hung.base_url())
            .args(["--hedge-after", "0.5", "--stats", "s.json"])
            .args(FAST),
        &input,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), text(&clean.stdout));
    let stats = hung.stats();
    let hangs = stats["faults"]["hang"].as_u64().unwrap_or(0);
    assert!(
        hangs > 0,
        "the mock should have hung some requests: {stats}"
    );
    // Every record answered once; every other request was a hang, sent again.
    assert_eq!(stats["ok"], 40, "{stats}");
    assert_eq!(stats["requests"], 40 + hangs, "{stats}");
    let summary = summary(dir.path());
    assert_eq!(summary["hung"], hangs, "{summary}");
    assert_eq!(summary["retries"], hangs, "{summary}");
    assert_eq!(summary["requests"], 40 + hangs, "{summary}");
    let logged = query(
        dir.path(),
        "SELECT count(*) FROM calls WHERE status = 'hung' AND prompt_tokens IS NULL",
    );
    assert_eq!(logged, hangs as i64);
}

#[test]
fn a_hang_before_any_reply_is_bounded_by_a_share_of_the_timeout() {
    // The only request hangs, so no reply ever shows a bound: a tenth of --timeout does.
    let hung = mock(Config {
        faults: Faults {
            rate_hang: 1.0,
            ..Faults::default()
        },
        hang_secs: 3600,
        max_faults_per_request: 1,
        ..Config::default()
    });
    let dir = tmp();
    let out = run(
        llm(dir.path(), &hung.base_url())
            .args(["--hedge-after", "0.1", "--timeout", "5"])
            .args(FAST),
        records(0, 1),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(lines(&out).len(), 1);
    let stats = hung.stats();
    assert_eq!(stats["faults"]["hang"], 1, "{stats}");
    assert_eq!(stats["requests"], 2, "{stats}");
    assert_eq!(
        query(
            dir.path(),
            "SELECT count(*) FROM calls WHERE status = 'hung'"
        ),
        1
    );
    assert_eq!(
        query(
            dir.path(),
            "SELECT count(*) FROM calls WHERE status = 'timeout'"
        ),
        0
    );
}

#[test]
fn tokens_a_stream_does_not_report_are_unknown_not_zero() {
    for no_stream_usage in [false, true] {
        let server = mock(Config {
            no_stream_usage,
            ..Config::default()
        });
        let dir = tmp();
        let out = run(
            llm(dir.path(), &server.base_url()).args(["--stream", "--stats", "s.json"]),
            records(0, 3),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(lines(&out).len(), 3);
        let summary = summary(dir.path());
        let unknown_rows = query(
            dir.path(),
            "SELECT count(*) FROM calls WHERE prompt_tokens IS NULL AND completion_tokens IS NULL",
        );
        if no_stream_usage {
            assert_eq!(summary["tokens_unknown"], 3, "{summary}");
            assert!(summary["prompt_tokens"].is_null(), "{summary}");
            assert!(summary["completion_tokens"].is_null(), "{summary}");
            assert!(summary["tokens_per_sec"].is_null(), "{summary}");
            assert_eq!(unknown_rows, 3);
        } else {
            assert_eq!(summary["tokens_unknown"], 0, "{summary}");
            assert_eq!(
                summary["prompt_tokens"].as_u64(),
                server.stats()["prompt_tokens"].as_u64()
            );
            assert!(summary["completion_tokens"].as_u64() > Some(0), "{summary}");
            assert_eq!(unknown_rows, 0);
        }
    }
}

#[test]
fn a_stream_that_falls_silent_is_retried_after_the_idle_timeout() {
    let input = records(0, 16);
    let clean = clean_run(&[], &input);

    // Hung requests hold their connection for a minute; only silence detection saves the run.
    let hung = mock(Config {
        faults: Faults {
            rate_hang: 0.4,
            ..Faults::default()
        },
        hang_secs: 60,
        ..Config::default()
    });
    let dir = tmp();
    let started = Instant::now();
    let out = run(
        llm(dir.path(), &hung.base_url())
            .args(["--stream", "--idle-timeout", "0.3", "--concurrency", "16"])
            .args(FAST),
        &input,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hangs = hung.stats()["faults"]["hang"].as_u64().unwrap_or(0);
    assert!(hangs > 0, "the mock should have hung some requests");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(text(&out.stdout), text(&clean.stdout));
}

/// Nothing listens on port 1, and it is never handed out as a free port to a test running
/// alongside.
const REFUSED: &str = "http://127.0.0.1:1/v1";

#[test]
fn a_teacher_down_from_the_start_stops_the_run_within_seconds() {
    let dir = tmp();
    let started = Instant::now();
    let out = run(
        llm(dir.path(), REFUSED).args(["--retry-base-ms", "100", "--rejects", "rejects.jsonl"]),
        records(0, 50),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    let err = text(&out.stderr);
    assert!(err.contains("cannot reach the teacher"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_teacher_down_fails_the_run_when_its_only_record_ends_the_output_too() {
    // With one record, the failure that raises the alarm also finishes the output, in the
    // same turn of the runtime: the run must fail whichever it sees first. Eight runs side
    // by side, since either order may come first.
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let dir = tmp();
                    run(
                        llm(dir.path(), REFUSED).args([
                            "-n",
                            "2",
                            "--concurrency",
                            "8",
                            "--rejects",
                            "rejects.jsonl",
                        ]),
                        records(0, 1),
                    )
                })
            })
            .collect();
        for out in runs.into_iter().map(|r| r.join().expect("run")) {
            assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
            assert!(out.stdout.is_empty());
        }
    });
}

#[test]
fn replies_larger_than_the_limit_are_refused_streamed_or_whole() {
    let server = mock(Config::default());
    for mode in [None, Some("--stream")] {
        let dir = tmp();
        let out = run(
            llm(dir.path(), &server.base_url())
                .args([
                    "--max-reply-bytes",
                    "20",
                    "--max-attempts",
                    "2",
                    "--rejects",
                    "r.jsonl",
                ])
                .args(FAST)
                .args(mode),
            records(0, 2),
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{mode:?}: {}",
            text(&out.stderr)
        );
        let rejects = std::fs::read_to_string(dir.path().join("r.jsonl")).expect("rejects");
        assert_eq!(rejects.lines().count(), 2, "{mode:?}");
        assert!(
            rejects.contains("longer than 20 bytes") || rejects.contains("larger than 20 bytes"),
            "{mode:?}: {rejects}"
        );
    }
}

#[test]
fn replies_off_the_expected_format_are_asked_again_then_rejected() {
    let server = mock(Config::default());
    let dir = tmp();
    let out = run(
        llm(dir.path(), &server.base_url())
            .args(["--expect", "never-in-a-reply", "--rejects", "r.jsonl"])
            .args(FAST),
        records(0, 3),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let rejects = std::fs::read_to_string(dir.path().join("r.jsonl")).expect("rejects");
    assert_eq!(rejects.lines().count(), 3);
    assert!(
        rejects.contains("reply does not match --expect 'never-in-a-reply'"),
        "{rejects}"
    );
    // Asked again up to --max-content-attempts (4) times each.
    assert_eq!(stat(&server, "requests"), 12);
    // A rerun on the same cache rejects them again without asking.
    let again = run(
        llm(dir.path(), &server.base_url())
            .args(["--expect", "never-in-a-reply", "--rejects", "r.jsonl"])
            .args(FAST),
        records(0, 3),
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(
        stat(&server, "requests"),
        12,
        "a rerun paid for the same replies"
    );
    let rejects = std::fs::read_to_string(dir.path().join("r.jsonl")).expect("rejects");
    assert_eq!(
        rejects.matches("(cached; --cache-salt asks again)").count(),
        3
    );

    let dir = tmp();
    let kept = run(
        llm(dir.path(), &server.base_url()).args(["--expect", r"\w"]),
        records(0, 3),
    );
    assert!(kept.status.success());
    assert_eq!(lines(&kept).len(), 3);
    let bad = run(
        llm(dir.path(), &server.base_url()).args(["--expect", "("]),
        "",
    );
    assert_eq!(bad.status.code(), Some(2));
}
