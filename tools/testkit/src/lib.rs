//! Dev-only helpers for the CLI tests of the ktpipe filters.
//!
//! Every filter is tested the same way: run its binary with some stdin, read the JSONL it
//! writes, and check the stream contract all filters share (malformed lines, CRLF, a closed
//! stdout, records flowing before input ends). This crate holds that plumbing once, so each
//! tool's `tests/cli.rs` keeps only its own cases. Functions take the binary path (a tool's
//! tests pass `assert_cmd::cargo::cargo_bin("<tool>")`) and the arguments to run it with.
//!
//! Commands start with the `TEACHER_MODEL_*` variables cleared, so a developer's endpoint
//! settings never leak into a test. Helpers panic on failure: they only run inside tests,
//! where a panic is a failed case.

pub mod checks;

pub use checks::{
    check_closed_stdout_is_quiet, check_crlf_and_missing_final_newline, check_help_mentions,
    check_malformed_lines, check_streams_before_eof,
};

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The environment variables that point a tool at a teacher; tests always clear them.
const TEACHER_VARS: [&str; 3] = [
    "TEACHER_MODEL_BASE_URL",
    "TEACHER_MODEL_NAME",
    "TEACHER_MODEL_API_KEY",
];

/// A [`Command`] for `bin` with `args` and the teacher variables cleared.
pub fn command(bin: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    for var in TEACHER_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// An [`assert_cmd::Command`] for `bin` with the teacher variables cleared, for tests that
/// prefer its builder (`write_stdin`, `current_dir`, ...).
pub fn assert_command(bin: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin);
    for var in TEACHER_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// The name a tool uses in its messages: the file name of its binary.
pub fn tool_name(bin: &Path) -> String {
    bin.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs `bin` with `args`, feeds it `stdin` from a separate thread (so a tool that writes
/// while reading cannot deadlock), and returns everything it wrote.
pub fn run(bin: &Path, args: &[&str], stdin: impl AsRef<[u8]>) -> Output {
    let mut child = spawn(bin, args);
    let mut input = child.stdin.take().expect("stdin");
    let bytes = stdin.as_ref().to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    out
}

/// Spawns `bin` with `args` and stdin, stdout and stderr all piped.
pub fn spawn(bin: &Path, args: &[&str]) -> Child {
    command(bin, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Stdout as text; panics if the tool wrote invalid UTF-8.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf8 stdout")
}

/// Stderr as text, with invalid UTF-8 replaced.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stdout parsed as JSONL, one value per line; panics on a line that is not JSON.
pub fn records(out: &Output) -> Vec<Value> {
    parse_records(&out.stdout)
}

/// `bytes` parsed as JSONL, one value per line; panics on a line that is not JSON.
pub fn parse_records(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout line is JSON"))
        .collect()
}

/// Runs `bin` with stdin left open and waits for it to exit by itself, as a tool must when
/// it fails on its flags or config before reading input; panics if it is still running
/// after `limit`. The returned output holds the exit status and stderr (stdout is empty).
pub fn exits_without_eof(bin: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = spawn(bin, args);
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
