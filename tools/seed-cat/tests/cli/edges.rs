//! The edges every ktpipe filter shares: malformed lines, a 10 MB line, CRLF and a missing
//! final newline, a closed stdout, and records flowing before input ends.

use super::*;

#[test]
fn malformed_lines_exit_1_naming_the_line_and_the_rest_flow() {
    let cases: [(&[u8], &str); 5] = [
        (b"not json", "not valid JSON"),
        (b"[1,2]", "expected a JSON object, found an array"),
        (b"42", "expected a JSON object, found a number"),
        (b"{\"document\":\"\xff\"}", "line is not valid UTF-8"),
        (b"", "empty line"),
    ];
    for (bad, message) in cases {
        let mut input = format!("{GOOD}\n").into_bytes();
        input.extend_from_slice(bad);
        input.extend_from_slice(format!("\n{}\n", row(3)).as_bytes());
        let out = seed_cat().write_stdin(input).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{message}");
        let err = stderr_of(&out);
        assert!(
            err.contains(&format!("seed-cat: <stdin>:2: {message}")),
            "{err}"
        );
        assert_eq!(lines(&out.stdout).len(), 2, "{message}");
    }
}

#[test]
fn a_10_mb_line_passes_and_its_value_is_not_echoed_in_errors() {
    let big = "x".repeat(10 * 1024 * 1024);
    let good = format!(r#"{{"document":"{big}","document_outline":"o","domain":"x"}}"#);
    let out = seed_cat()
        .write_stdin(format!("{good}\n"))
        .output()
        .expect("runs");
    assert!(out.status.success());
    let rows = lines(&out.stdout);
    assert_eq!(
        rows[0]["raw_document"].as_str().map(str::len),
        Some(big.len())
    );

    let bad = format!(r#"{{"document":["{big}"],"document_outline":"o","domain":"x"}}"#);
    let out = seed_cat()
        .write_stdin(format!("{bad}\n"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.len() < 1000, "long value echoed: {} bytes", err.len());
    assert!(err.contains("<stdin>:1: /document: "), "{err}");
}

#[test]
fn missing_final_newline_and_crlf_are_accepted() {
    let out = seed_cat()
        .write_stdin(format!("{GOOD}\r\n{}\r\n{}", row(2), row(3)))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let rows = lines(&out.stdout);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0]["seed_id"], "3c1e23ac07ccb32c",
        "CRLF does not change the id"
    );
    assert_eq!(rows[2]["document"], "doc 3");
}

#[test]
fn closed_stdout_exits_0_quietly() {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("seed-cat"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let chunk: String = (0..1000).map(|n| row(n) + "\n").collect();
        for _ in 0..50 {
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
        .expect("read stderr");
    let status = child.wait().expect("waits");
    let _ = writer.join();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(err, "");
}

#[test]
fn records_stream_before_input_ends() {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("seed-cat"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{GOOD}\n").as_bytes())
        .expect("write");
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
    let line = line.expect("a record arrived while stdin was still open");
    assert!(line.contains("\"seed_id\":\"3c1e23ac07ccb32c\""), "{line}");
}
