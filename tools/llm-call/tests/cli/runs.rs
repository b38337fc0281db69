//! Whole runs: resuming after kill -9 and after Ctrl-C without paying twice, raising -n,
//! concurrency budgets (one process and several sharing one), output order, and memory.

use super::*;
use std::io::Read;
use std::process::Child;

fn spawn(cmd: &mut std::process::Command, input: String) -> Child {
    let mut child = spawn_piped(cmd);
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    child
}

/// Reads `count` lines of the child's stdout; the reader is returned to keep the pipe open.
fn read_lines(
    child: &mut Child,
    count: usize,
) -> (Vec<String>, BufReader<std::process::ChildStdout>) {
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let lines = (0..count)
        .map(|_| {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read");
            line
        })
        .collect();
    (lines, reader)
}

fn latency(ms: f64) -> Config {
    Config {
        latency_base_ms: ms,
        ..Config::default()
    }
}

#[test]
fn a_run_killed_mid_way_is_resumed_without_asking_twice() {
    let input = records(0, 40);
    let clean = clean_run(&[], &input);
    // Waves of 4 replies a second apart; the cache commits a wave within 500 ms when no
    // reply follows it, and each reply goes out at once, so the 8th line comes with the
    // second wave.
    let server = mock(latency(1000.0));
    let dir = tmp();
    let mut child = spawn(
        llm(dir.path(), &server.base_url()).args(["--concurrency", "4", "--flush-ms", "0"]),
        input.clone(),
    );
    let (first, _stdout) = read_lines(&mut child, 8);
    assert!(first[7].contains("\"id\":7"));
    // After the second wave's commit and before the third wave, so no reply is half
    // received and the second wave is committed.
    std::thread::sleep(Duration::from_millis(700));
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    while stat(&server, "in_flight") > 0 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let cached = cached_choices(&dir.path().join("ktpipe-cache.sqlite"));
    assert!(
        (8..40).contains(&cached),
        "killed with {cached} replies cached"
    );
    let before = stat(&server, "requests");
    let rerun = run(
        llm(dir.path(), &server.base_url()).args(["--concurrency", "40"]),
        &input,
    );
    assert!(rerun.status.success(), "{}", text(&rerun.stderr));
    assert_eq!(text(&rerun.stdout), text(&clean.stdout));
    assert_eq!(
        stat(&server, "requests") - before,
        40 - cached,
        "the rerun asks exactly for what the killed run had not received"
    );
    // The mock counts a body as answered when it arrives, so only the requests in flight
    // at the kill (never received by llm-call) may show as repeats.
    assert!(stat(&server, "repeated_ok") <= 4);
}

fn cached_choices(path: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(path).expect("open cache");
    conn.query_row("SELECT count(*) FROM choices", [], |r| r.get(0))
        .expect("count")
}

#[test]
fn ctrl_c_writes_the_finished_prefix_and_exits_130() {
    let input = records(0, 40);
    let clean = text(&clean_run(&[], &input).stdout);
    let server = mock(latency(150.0));
    let dir = tmp();
    let mut child = spawn(
        llm(dir.path(), &server.base_url()).args(["--concurrency", "4"]),
        input.clone(),
    );
    let (first, mut stdout) = read_lines(&mut child, 4);
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read the rest");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let written = first.concat() + &rest;
    assert!(
        clean.starts_with(&written),
        "the output is a prefix of the full output"
    );
    assert!(written.lines().count() < 40);
    let rerun = run(&mut llm(dir.path(), &server.base_url()), &input);
    assert_eq!(text(&rerun.stdout), clean);
    assert_eq!(stat(&server, "repeated_ok"), 0);
}

#[test]
fn raising_n_asks_only_for_the_extra_choices() {
    let server = mock(Config::default());
    let dir = tmp();
    let input = records(0, 5);
    let two = run(
        llm(dir.path(), &server.base_url()).args(["-n", "2"]),
        &input,
    );
    assert!(two.status.success());
    assert_eq!(
        (stat(&server, "requests"), stat(&server, "choices")),
        (5, 10)
    );
    let three = run(
        llm(dir.path(), &server.base_url()).args(["-n", "3"]),
        &input,
    );
    assert!(three.status.success());
    assert_eq!(
        (stat(&server, "requests"), stat(&server, "choices")),
        (10, 15),
        "one more choice per record"
    );
    let three = lines(&three);
    let kept: Vec<&Value> = three.iter().filter(|l| l["response_index"] != 2).collect();
    assert_eq!(kept, lines(&two).iter().collect::<Vec<_>>());
}

#[test]
fn requests_in_flight_stay_within_the_concurrency() {
    let server = mock(Config {
        latency_base_ms: 20.0,
        jitter_ms: 10.0,
        ..Config::default()
    });
    let dir = tmp();
    let out = run(
        llm(dir.path(), &server.base_url()).args(["--concurrency", "3", "-n", "2"]),
        records(0, 30),
    );
    assert!(out.status.success());
    assert_eq!(stat(&server, "peak_in_flight"), 3);
}

#[test]
fn processes_sharing_a_budget_stay_within_it_together() {
    let server = mock(Config {
        latency_base_ms: 20.0,
        jitter_ms: 20.0,
        ignore_n: true,
        ..Config::default()
    });
    let dir = tmp();
    let children: Vec<Child> = (0..3)
        .map(|p| {
            spawn(
                llm(dir.path(), &server.base_url()).args([
                    "--concurrency",
                    "4",
                    "--shared-budget",
                    "budget",
                    "-n",
                    "2",
                ]),
                records(p * 100, 25),
            )
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).lines().count(), 50);
    }
    let peak = stat(&server, "peak_in_flight");
    assert!(
        (2..=4).contains(&peak),
        "peak in flight {peak} with a shared budget of 4"
    );
    assert_eq!(stat(&server, "requests"), 150);
}

#[test]
fn stdout_to_a_file_gets_the_same_records_as_a_pipe() {
    // A pipe is written without blocking, anything else on a blocking thread: both must
    // carry every record, in order. 4,000 records overflow the 256 KiB buffer several times.
    let server = mock(Config::default());
    let input = records(0, 4000);
    let dir = tmp();
    let piped = run(
        llm(dir.path(), &server.base_url()).args(["--no-cache"]),
        &input,
    );
    assert_eq!(piped.status.code(), Some(0));
    let path = dir.path().join("out.jsonl");
    let file = std::fs::File::create(&path).expect("create");
    let mut child = llm(dir.path(), &server.base_url())
        .arg("--no-cache")
        .stdin(Stdio::piped())
        .stdout(file)
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write");
    drop(stdin);
    assert!(child.wait().expect("wait").success());
    let written = std::fs::read_to_string(&path).expect("read");
    assert_eq!(written.lines().count(), 4000);
    assert_eq!(written, text(&piped.stdout));
}

#[test]
fn output_keeps_input_order_under_jitter_and_unordered_keeps_the_records() {
    let server = mock(Config {
        latency_base_ms: 1.0,
        jitter_ms: 30.0,
        ..Config::default()
    });
    let input = records(0, 200);
    let dir = tmp();
    let ordered = run(
        llm(dir.path(), &server.base_url()).args(["--concurrency", "16", "--no-cache"]),
        &input,
    );
    let ids: Vec<u64> = lines(&ordered)
        .iter()
        .map(|l| l["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, (0..200).collect::<Vec<_>>());
    let unordered = run(
        llm(dir.path(), &server.base_url()).args([
            "--concurrency",
            "16",
            "--no-cache",
            "--unordered",
        ]),
        &input,
    );
    let mut a: Vec<&str> = text(&ordered.stdout).leak().lines().collect();
    let mut b: Vec<&str> = text(&unordered.stdout).leak().lines().collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
}

/// Peak resident memory of a run over `count` records, sampled from /proc while it runs.
fn peak_rss_kb(server: &MockServer, count: usize) -> u64 {
    let dir = tmp();
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, records(0, count)).expect("input");
    let mut child = llm(dir.path(), &server.base_url())
        .args(["--no-cache", "--concurrency", "32"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let status = format!("/proc/{}/status", child.id());
    let stdout = child.stdout.take().expect("stdout");
    let counter = std::thread::spawn(move || BufReader::new(stdout).lines().count());
    let mut peak = 0;
    while child.try_wait().expect("poll").is_none() {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            peak = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(peak);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(counter.join().expect("count"), count);
    peak
}

#[test]
fn memory_stays_flat_as_the_input_grows() {
    let server = mock(Config {
        latency_base_ms: 1.0,
        ..Config::default()
    });
    let small = peak_rss_kb(&server, 1_000);
    // 30 times the records: a leak of 600 bytes a record would double the peak (16 MB).
    let large = peak_rss_kb(&server, 30_000);
    assert!(small > 0 && large > 0, "no samples");
    assert!(large < 64 * 1024, "peak {large} kB on 30k records");
    assert!(
        large < small * 2,
        "peak {large} kB on 30k records vs {small} kB on 1k"
    );
}
