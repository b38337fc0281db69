//! Helpers for the llm-call CLI tests: the binary in a clean environment, input records,
//! and a tiny TCP teacher whose replies a test scripts itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The llm-call binary with no inherited environment, run in `dir`.
pub fn llm(dir: &Path, base_url: &str) -> Command {
    let mut cmd = bare(dir);
    cmd.args(["--base-url", base_url, "--model", "mock", "-q"]);
    cmd
}

/// The binary with no settings at all.
pub fn bare(dir: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("llm-call"));
    cmd.env_clear().current_dir(dir);
    cmd
}

/// `count` records, ids from `first`, each with a distinct question.
pub fn records(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"messages\":[{{\"role\":\"user\",\"content\":\"Write a short answer about item {i}.\"}}]}}\n"
            )
        })
        .collect()
}

/// Starts `cmd` with its stdin, stdout and stderr piped to the test.
pub fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn llm-call")
}

/// Runs `cmd` with `stdin` and collects its output.
pub fn run(cmd: &mut Command, stdin: impl AsRef<[u8]>) -> Output {
    let mut child = spawn_piped(cmd);
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.as_ref().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let output = child.wait_with_output().expect("wait");
    let _ = writer.join();
    output
}

/// stdout as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The output lines parsed as JSON.
pub fn lines(output: &Output) -> Vec<serde_json::Value> {
    text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout line is JSON"))
        .collect()
}

/// A stats counter of the mock teacher.
pub fn stat(server: &mock_teacher::MockServer, name: &str) -> u64 {
    server.stats()[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no stat '{name}'"))
}

/// A scripted HTTP/1.1 teacher: each request (head and body as text) is answered with the
/// status and body `reply` returns. Counts the requests it served.
pub struct Scripted {
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    /// Requests served.
    pub requests: Arc<AtomicU64>,
}

/// Starts a scripted teacher on a free loopback port.
pub fn scripted(reply: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base_url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let requests = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&requests);
    let reply = Arc::new(reply);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let reply = Arc::clone(&reply);
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut request = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    request.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                request.push_str(&String::from_utf8_lossy(&body));
                counter.fetch_add(1, Ordering::Relaxed);
                let (status, body) = reply(&request);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = reader.get_mut().write_all(response.as_bytes());
            });
        }
    });
    Scripted { base_url, requests }
}

/// A chat completion body with one choice.
pub fn completion(message: serde_json::Value, finish: &str) -> String {
    serde_json::json!({
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4}
    })
    .to_string()
}
