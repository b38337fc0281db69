//! Running the tool under test: with stdin bytes, streaming, with a closed stdout.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub const TOOL: &str = env!("CARGO_PKG_NAME");

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin(TOOL)
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("TEACHER_MODEL_BASE_URL")
        .env_remove("TEACHER_MODEL_NAME")
        .env_remove("TEACHER_MODEL_API_KEY");
    cmd
}

/// Runs the tool with `stdin` and returns its output.
pub fn run(args: &[&str], stdin: impl AsRef<[u8]>) -> Output {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    let bytes = stdin.as_ref().to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf8 stdout")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Parses stdout as JSONL.
pub fn records(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout line is JSON"))
        .collect()
}

/// Spawns the tool with piped stdin and stdout.
pub fn spawn(args: &[&str]) -> Child {
    command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Writes one line, expects one line back before stdin is closed, then closes it.
pub fn first_line_arrives_before_eof(args: &[&str], line: &str) -> String {
    let mut child = spawn(args);
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = tx.send(first);
    });
    stdin.write_all(line.as_bytes()).expect("write");
    stdin.flush().expect("flush");
    let got = rx.recv_timeout(Duration::from_secs(10));
    drop(stdin);
    let _ = child.wait();
    got.expect("a record arrived while stdin was still open")
}

/// Feeds lots of input with the read end of stdout closed: the tool must exit 0 quietly.
pub fn closed_stdout(args: &[&str], line: &str) -> Output {
    let mut child = spawn(args);
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().expect("stdin");
    let line = line.to_string();
    let writer = thread::spawn(move || {
        for _ in 0..200_000 {
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    out
}

/// Waits for a child with stdin still open; panics if it does not exit within `limit`.
pub fn exits_without_eof(args: &[&str], limit: Duration) -> Output {
    let mut child = spawn(args);
    let stdin = child.stdin.take().expect("stdin");
    let started = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the tool waited on stdin instead of exiting");
        }
        thread::sleep(Duration::from_millis(20));
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    drop(stdin);
    let status = child.wait().expect("wait");
    Output {
        status,
        stdout: Vec::new(),
        stderr: err.into_bytes(),
    }
}
