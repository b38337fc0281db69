//! llm-call end to end: the binary against an in-process mock teacher (or a scripted one)
//! on loopback, in a temporary directory, with a clean environment.

#[path = "cli/support.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mock_teacher::{Config, Faults, MockServer};
use serde_json::{Value, json};
use support::*;

fn mock(config: Config) -> MockServer {
    MockServer::start(config).expect("mock teacher starts")
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// llm-call with `args` on `input` against a fault-free mock: the output a run with
/// faults, kills or hangs must come back to.
fn clean_run(args: &[&str], input: &str) -> std::process::Output {
    let server = mock(Config::default());
    let dir = tmp();
    let out = run(llm(dir.path(), &server.base_url()).args(args), input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

/// Fast retries, so fault tests take milliseconds.
const FAST: [&str; 4] = ["--retry-base-ms", "1", "--retry-max-ms", "5"];

#[test]
fn help_names_the_tool_its_cache_schema_and_examples() {
    let dir = tmp();
    let out = bare(dir.path()).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "Send each record's chat messages to an OpenAI-compatible teacher",
        "--shared-budget",
        "--allow-truncated",
        "TEACHER_MODEL_BASE_URL",
        "choices(key TEXT, idx INTEGER",
        "calls(id INTEGER PRIMARY KEY",
        "Examples:",
        "| llm-call -n 5",
    ] {
        assert!(help.contains(needle), "help lacks '{needle}'");
    }
}

#[test]
fn usage_errors_exit_2_before_reading_input() {
    let dir = tmp();
    let out = bare(dir.path())
        .arg("--no-such-flag")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = run(bare(dir.path()).arg("--model").arg("m"), records(0, 1));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--base-url") && err.contains("TEACHER_MODEL_BASE_URL"),
        "{err}"
    );
    let out = run(
        bare(dir.path()).args(["--base-url", "http://127.0.0.1:9/v1"]),
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("TEACHER_MODEL_NAME"));
    let out = run(
        llm(dir.path(), "http://127.0.0.1:9/v1").args(["--extra-body", "[1]"]),
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--extra-body must be a JSON object"));
}

#[test]
fn happy_path_writes_one_record_per_input_in_order() {
    let server = mock(Config::default());
    let dir = tmp();
    let out = run(&mut llm(dir.path(), &server.base_url()), records(0, 20));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = lines(&out);
    assert_eq!(lines.len(), 20);
    for (i, line) in lines.iter().enumerate() {
        let keys: Vec<&str> = line
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "response", "response_index"]);
        assert_eq!(line["id"], i);
        assert!(!line["response"].as_str().expect("text").is_empty());
    }
    assert_eq!(stat(&server, "requests"), 20);
    assert!(dir.path().join("ktpipe-cache.sqlite").exists());
}

#[test]
fn endpoint_comes_from_dot_env_and_the_summary_from_stats() {
    let server = mock(Config::default());
    let dir = tmp();
    std::fs::write(
        dir.path().join(".env"),
        format!("# teacher\nTEACHER_MODEL_BASE_URL=\"{}\"\nTEACHER_MODEL_NAME=m\nTEACHER_MODEL_API_KEY=None\n", server.base_url()),
    )
    .expect("write .env");
    let out = run(
        bare(dir.path()).args(["--stats", "s.json", "--stage", "answers"]),
        records(0, 3),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(lines(&out).len(), 3);
    assert!(text(&out.stderr).starts_with("llm-call[answers]: 3 in, 3 out, 0 rejected"));
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).expect("stats"))
            .expect("json");
    assert_eq!(
        (stats["requests"].as_u64(), stats["cache_hits"].as_u64()),
        (Some(3), Some(0))
    );
    let again = run(bare(dir.path()).args(["--stats", "s.json"]), records(0, 3));
    assert_eq!(again.stdout, out.stdout, "a rerun reads the cache");
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).expect("stats"))
            .expect("json");
    assert_eq!(
        (stats["requests"].as_u64(), stats["cache_hits"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(stat(&server, "requests"), 3);
}

#[test]
fn empty_input_gives_empty_output() {
    let dir = tmp();
    let out = run(&mut llm(dir.path(), "http://127.0.0.1:9/v1"), "");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn malformed_lines_exit_1_naming_the_line() {
    let server = mock(Config::default());
    let long = format!("{}\n", "x".repeat(10 << 20));
    let cases: [(&[u8], &str); 5] = [
        (b"not json\n", "<stdin>:2: not valid JSON"),
        (
            b"[1,2]\n",
            "<stdin>:2: expected a JSON object, found an array",
        ),
        (b"42\n", "<stdin>:2: expected a JSON object, found a number"),
        (b"{\"a\":\"\xff\"}\n", "<stdin>:2: line is not valid UTF-8"),
        (b"\n", "<stdin>:2: empty line"),
    ];
    let cases = cases
        .iter()
        .map(|(l, m)| (l.to_vec(), *m))
        .chain([(long.into_bytes(), "<stdin>:2: not valid JSON")]);
    for (line, message) in cases {
        let dir = tmp();
        let mut input = records(0, 1).into_bytes();
        input.extend_from_slice(&line);
        input.extend_from_slice(records(1, 1).as_bytes());
        let out = run(&mut llm(dir.path(), &server.base_url()), &input);
        assert_eq!(out.status.code(), Some(1), "{message}");
        assert!(
            text(&out.stderr).contains(message),
            "{message}: {}",
            text(&out.stderr)
        );
        assert_eq!(lines(&out).len(), 2, "the good records still come out");
    }
}

#[test]
fn crlf_and_a_missing_final_newline_are_fine_and_records_without_messages_are_rejected() {
    let server = mock(Config::default());
    let dir = tmp();
    let input = records(0, 2).replace('\n', "\r\n")
        + "{\"id\":9}\n{\"id\":10,\"messages\":\"hi\"}\n"
        + records(2, 1).trim_end();
    let out = run(
        llm(dir.path(), &server.base_url()).args(["--rejects", "rej.jsonl"]),
        &input,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        lines(&out)
            .iter()
            .map(|l| l["id"].clone())
            .collect::<Vec<_>>(),
        [json!(0), json!(1), json!(2)]
    );
    let rejects = std::fs::read_to_string(dir.path().join("rej.jsonl")).expect("rejects");
    let rejects: Vec<Value> = rejects
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(
        rejects[0]["_reject"]["reason"],
        "record has no 'messages' field"
    );
    assert_eq!(rejects[0]["_reject"]["line"], 3);
    assert_eq!(
        rejects[1]["_reject"]["reason"],
        "field 'messages' is a string, expected an array of chat messages"
    );
    let out = run(&mut llm(dir.path(), &server.base_url()), "{\"id\":9}\n");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a reject without a rejects file fails the run"
    );
    assert!(text(&out.stderr).contains("<stdin>:1: record has no 'messages' field"));
}

#[test]
fn closed_stdout_ends_quietly_with_0() {
    let server = mock(Config::default());
    let dir = tmp();
    let mut child = spawn_piped(llm(dir.path(), &server.base_url()).arg("--no-cache"));
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(records(0, 5000).as_bytes());
    });
    let out = child.wait_with_output().expect("wait");
    let _ = feeder.join();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn records_stream_out_before_input_ends_whatever_flush_ms() {
    // A lone finished record goes out while stdin is open: --flush-ms bounds how long one
    // waits while others keep finishing, never how long a lone one waits.
    for flush_ms in ["0", "200", "600000"] {
        let server = mock(Config::default());
        let dir = tmp();
        let mut child =
            spawn_piped(llm(dir.path(), &server.base_url()).args(["--flush-ms", flush_ms]));
        let mut stdin = child.stdin.take().expect("stdin");
        feed(&mut stdin, 0);
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a record arrives while stdin is open");
        assert!(line.contains("\"response_index\":0"), "{flush_ms}: {line}");
        drop(stdin);
        assert!(child.wait().expect("wait").success());
    }
}

#[test]
fn a_burst_of_records_larger_than_the_buffer_comes_out_whole_and_in_order() {
    let server = mock(Config::default());
    let dir = tmp();
    let input = records(0, 3000);
    let out = run(
        llm(dir.path(), &server.base_url()).args(["--flush-ms", "600000"]),
        &input,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ids: Vec<usize> = text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["id"].as_u64().expect("id") as usize
        })
        .collect();
    assert_eq!(ids, (0..3000).collect::<Vec<_>>());
}

/// Writes record `i` to a running llm-call and flushes it.
fn feed(stdin: &mut impl Write, i: usize) {
    stdin.write_all(records(i, 1).as_bytes()).expect("write");
    stdin.flush().expect("flush");
}

#[path = "cli/faults.rs"]
mod faults;
#[path = "cli/replicas.rs"]
mod replicas;
#[path = "cli/runs.rs"]
mod runs;
#[path = "cli/transport.rs"]
mod transport;
