//! Checks of the stream contract every ktpipe filter shares, each a whole test case:
//! help text, malformed lines, CRLF and a missing final newline, a closed stdout, and
//! records flowing before input ends.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::{records, run, spawn, stderr, tool_name};

/// One malformed line and the message a filter gives for it.
const MALFORMED: [(&[u8], &str); 7] = [
    (b"not json", "not valid JSON"),
    // Values no decoder takes (a lone surrogate escape is no character, no f64 holds
    // 1e400): refused where they are read.
    (b"{\"text\":\"\\ud800\"}", "not valid JSON"),
    (b"{\"text\":1e400}", "not valid JSON"),
    (b"[1,2]", "expected a JSON object, found an array"),
    (b"42", "expected a JSON object, found a number"),
    (b"{\"text\":\"\xff\"}", "line is not valid UTF-8"),
    (b"", "empty line"),
];

/// Runs `bin --help`, checks it succeeds and mentions every string in `wants`, and returns
/// the help text for further checks.
pub fn check_help_mentions(bin: &Path, wants: &[&str]) -> String {
    let out = run(bin, &["--help"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let help = String::from_utf8(out.stdout).expect("utf8 help");
    for want in wants {
        assert!(help.contains(want), "help lacks {want:?}:\n{help}");
    }
    help
}

/// For each malformed kind (not JSON, a JSON array, a number, invalid UTF-8, an empty
/// line) placed on line 2 between `first` and `last` (good lines without their newline,
/// each giving one record): the run exits 1, stderr names `<stdin>:2` with the tool's
/// message, and both good records still come out.
pub fn check_malformed_lines(bin: &Path, args: &[&str], first: &str, last: &str) {
    let name = tool_name(bin);
    for (bad, message) in MALFORMED {
        let input = [first.as_bytes(), b"\n", bad, b"\n", last.as_bytes(), b"\n"].concat();
        let out = run(bin, args, input);
        assert_eq!(out.status.code(), Some(1), "{message}: {}", stderr(&out));
        let want = format!("{name}: <stdin>:2: {message}");
        assert!(stderr(&out).contains(&want), "{want}: {}", stderr(&out));
        assert_eq!(
            records(&out).len(),
            2,
            "the good lines around '{message}' still come out"
        );
    }
}

/// Feeds `lines` (good lines without their newline, each giving one record) three ways: LF
/// with no final newline, CRLF with a final CRLF, and CRLF with no final newline. Each run
/// must succeed with one record per line; returns the records of the last run.
pub fn check_crlf_and_missing_final_newline(
    bin: &Path,
    args: &[&str],
    lines: &[&str],
) -> Vec<Value> {
    let inputs = [
        lines.join("\n"),
        format!("{}\r\n", lines.join("\r\n")),
        lines.join("\r\n"),
    ];
    let mut last = Vec::new();
    for input in inputs {
        let out = run(bin, args, &input);
        assert!(out.status.success(), "{input:?}: {}", stderr(&out));
        last = records(&out);
        assert_eq!(last.len(), lines.len(), "{input:?}");
    }
    last
}

/// Feeds `chunk` `repeats` times with the read end of stdout already closed: the tool must
/// exit 0 with an empty stderr, as a filter does when `head` stops reading.
pub fn check_closed_stdout_is_quiet(bin: &Path, args: &[&str], chunk: &str, repeats: usize) {
    let mut child = spawn(bin, args);
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().expect("stdin");
    let chunk = chunk.to_string();
    let writer = thread::spawn(move || {
        for _ in 0..repeats {
            if stdin.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err, "");
}

/// Writes `input` and keeps stdin open: the first line of output must arrive within 10 s,
/// before input ends. Returns that line (with its newline) for the caller to check.
pub fn check_streams_before_eof(bin: &Path, args: &[&str], input: &str) -> String {
    let mut child = spawn(bin, args);
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = tx.send(first);
    });
    stdin.write_all(input.as_bytes()).expect("write");
    stdin.flush().expect("flush");
    let got = rx.recv_timeout(Duration::from_secs(10));
    drop(stdin);
    let _ = child.wait();
    let line = got.expect("a record arrived while stdin was still open");
    assert!(
        line.ends_with('\n'),
        "no whole line before input ended: {line:?}"
    );
    line
}
