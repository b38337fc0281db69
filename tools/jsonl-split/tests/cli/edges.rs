//! The edges every ktpipe filter shares: malformed lines, a 10 MB line, CRLF and a missing
//! final newline, a closed stdout, and records flowing before input ends.

use super::*;

#[test]
fn malformed_lines_exit_1_naming_the_line() {
    let cases: [(&[u8], &str); 5] = [
        (b"not json", "not valid JSON"),
        (b"[1]", "expected a JSON object, found an array"),
        (b"7", "expected a JSON object, found a number"),
        (b"{\"a\":\"\xfe\"}", "line is not valid UTF-8"),
        (b"", "empty line"),
    ];
    for (bad, message) in cases {
        let mut input = b"{\"a\":1}\n".to_vec();
        input.extend_from_slice(bad);
        input.extend_from_slice(b"\n{\"a\":3}\n");
        let out = split().write_stdin(input).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{message}");
        assert!(stderr_of(&out).contains(&format!("jsonl-split: <stdin>:2: {message}")));
        assert_eq!(lines(&out.stdout).len(), 2, "{message}");
    }
}

#[test]
fn a_10_mb_line_crlf_and_missing_final_newline_pass() {
    let big = "y".repeat(10 * 1024 * 1024);
    let input = format!("{{\"a\":1,\"t\":\"{big}\"}}\r\n{{\"a\":2}}\r\n{{\"a\":3}}");
    let out = split()
        .args(["--where", "a != 2"])
        .arg("--drop")
        .write_stdin(input)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let rows = lines(&out.stdout);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["t"].as_str().map(str::len), Some(big.len()));
    assert_eq!(rows[1]["a"], 3);
}

#[test]
fn closed_stdout_exits_0_quietly() {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("jsonl-split"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let chunk: String = (0..1000).map(|n| format!("{{\"n\":{n}}}\n")).collect();
        for _ in 0..100 {
            if stdin.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    let status = child.wait().expect("waits");
    let _ = writer.join();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(err, "");
}

#[test]
fn records_stream_before_input_ends() {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("jsonl-split"))
        .args(["--where", "n > 0", "--drop"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"{\"n\":0}\n{\"n\":1}\n").expect("write");
    stdin.flush().expect("flush");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10));
    drop(stdin);
    let _ = child.wait();
    assert_eq!(
        line.expect("a record arrived while stdin was open"),
        "{\"n\":1}\n"
    );
}
