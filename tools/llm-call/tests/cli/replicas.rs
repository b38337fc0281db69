//! Several teacher replicas behind one llm-call: requests are spread over them, a replica
//! that dies mid-run is left out while the others finish the run with the same output, and
//! the cache does not care which replica answered.

use std::io::Write;
use std::time::{Duration, Instant};

use mock_teacher::{Config, MockServer};
use serde_json::Value;

use super::support::*;
use super::{FAST, mock, tmp};

/// A mock with some latency, so requests overlap and a replica can die with some in flight.
fn slow() -> MockServer {
    mock(Config {
        latency_base_ms: 15.0,
        ..Config::default()
    })
}

/// stdout of a clean run of `input` against one fresh replica: the expected output.
fn single_run(input: &str) -> Vec<u8> {
    let server = slow();
    let dir = tmp();
    let out = run(
        llm(dir.path(), &server.base_url()).args(["--concurrency", "8"]),
        input,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    out.stdout
}

fn stats_file(dir: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("s.json")).expect("stats")).expect("json")
}

/// A loopback URL nothing listens on.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/v1")
}

#[test]
fn requests_are_spread_over_the_replicas_and_the_output_is_unchanged() {
    let input = records(0, 60);
    let (a, b) = (slow(), slow());
    let dir = tmp();
    let bases = format!("{}, {}/", a.base_url(), b.base_url());
    let out = run(llm(dir.path(), &bases).args(["--concurrency", "8"]), &input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, single_run(&input));
    let (ra, rb) = (stat(&a, "requests"), stat(&b, "requests"));
    assert_eq!(ra + rb, 60);
    assert!(ra >= 15 && rb >= 15, "both replicas work: {ra} and {rb}");
    assert_eq!(text(&out.stderr), "", "no replica failed");
}

#[test]
fn a_replica_killed_mid_run_is_left_out_and_the_run_completes_with_the_same_output() {
    let input = records(0, 300);
    let expected = single_run(&input);
    let (a, b) = (slow(), slow());
    let dir = tmp();
    let mut child = spawn_piped(
        llm(dir.path(), &format!("{},{}", a.base_url(), b.base_url()))
            .args(["--concurrency", "8", "--stats", "s.json"])
            .args(FAST),
    );
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while stat(&b, "requests") < 40 {
        assert!(Instant::now() < deadline, "replica b never got 40 requests");
        std::thread::sleep(Duration::from_millis(2));
    }
    let served_by_b = stat(&b, "requests");
    b.shutdown();
    let out = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder");
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(out.stdout, expected, "same records, same order");
    assert!(err.contains("is failing"), "the outage is reported: {err}");
    let attempts = stats_file(dir.path())["requests"]
        .as_u64()
        .expect("requests");
    let served_by_a = stat(&a, "requests");
    assert!(
        served_by_a <= 300 - 30,
        "b answered part of the work: a served {served_by_a}"
    );
    // Attempts b got after the snapshot: those in flight when it died, the few that found
    // it dead before it was left out, and a probe now and then; without the breaker the
    // idle dead replica would draw about every other request.
    let after_death = attempts - served_by_a - served_by_b;
    eprintln!("a {served_by_a}, b {served_by_b}, attempts {attempts}");
    assert!(
        after_death <= 30,
        "the dead replica kept getting requests: {after_death}"
    );
}

#[test]
fn a_replica_dead_from_the_start_costs_a_few_attempts() {
    let input = records(0, 40);
    let a = slow();
    let dir = tmp();
    let bases = format!("{},{}", dead_url(), a.base_url());
    let out = run(
        llm(dir.path(), &bases)
            .args(["--concurrency", "4", "--stats", "s.json"])
            .args(FAST),
        &input,
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(out.stdout, single_run(&input));
    assert_eq!(err.matches("is failing").count(), 1, "{err}");
    let attempts = stats_file(dir.path())["requests"]
        .as_u64()
        .expect("requests");
    assert_eq!(stat(&a, "requests"), 40);
    assert!(attempts - 40 <= 6, "{attempts} attempts for 40 records");
}

#[test]
fn the_cache_does_not_depend_on_which_replica_answered() {
    let input = records(0, 10);
    let (a, b) = (slow(), slow());
    let dir = tmp();
    let first = run(&mut llm(dir.path(), &a.base_url()), &input);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let bases = format!("{},{}", b.base_url(), dead_url());
    let again = run(&mut llm(dir.path(), &bases), &input);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(again.stdout, first.stdout);
    assert_eq!(stat(&b, "requests"), 0, "every reply came from the cache");
}

#[test]
fn a_bad_url_in_the_list_is_a_usage_error() {
    let dir = tmp();
    let out = run(
        &mut llm(dir.path(), "http://127.0.0.1:9/v1, ftp://x/v1"),
        records(0, 1),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid teacher base URL 'ftp://x/v1'"),
        "{}",
        text(&out.stderr)
    );
}
