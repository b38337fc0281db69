//! CLI cases for jsonl-split: --where (with the sdg_hub conformance cases), --out with its
//! sanitising and all-or-nothing files, --shards, --explode, and the shared edge behaviour.

#[path = "cli/conformance.rs"]
mod conformance;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{Value, json};

fn split() -> Command {
    let mut cmd = Command::cargo_bin("jsonl-split").expect("binary built");
    cmd.env_remove("TEACHER_MODEL_BASE_URL")
        .env_remove("TEACHER_MODEL_NAME")
        .env_remove("TEACHER_MODEL_API_KEY");
    cmd
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSONL"))
        .collect()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir");
                found.push(rel.display().to_string());
            }
        }
    }
    found.sort();
    found
}

const JUDGED: &str = "{\"q\":1,\"j\":\"YES\"}\n{\"q\":2,\"j\":\"NO\"}\n{\"q\":3,\"j\":\"YES\"}\n";

#[test]
fn help_has_summary_and_examples() {
    let out = split().arg("--help").output().expect("runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Split a JSONL stream by predicate, destination file, shard or list element")
    );
    for flag in [
        "--where",
        "--drop",
        "--out",
        "--out-dir",
        "--shards",
        "--key",
        "--explode",
    ] {
        assert!(help.contains(flag), "missing {flag}");
    }
    assert!(
        help.contains("Examples:\n  # Keep faithful answers"),
        "{help}"
    );
    assert!(
        help.contains("jsonl-split --explode key_fact --shards 8"),
        "{help}"
    );
}

#[test]
fn where_keeps_matches_and_rejects_the_rest_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.jsonl");
    let out = split()
        .args(["--where", "j == \"YES\"", "--rejects"])
        .arg(&rejects)
        .write_stdin(JUDGED)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let kept: Vec<Value> = lines(&out.stdout).iter().map(|r| r["q"].clone()).collect();
    assert_eq!(kept, [json!(1), json!(3)]);
    let rejected = lines(&std::fs::read(&rejects).expect("rejects"));
    assert_eq!(rejected[0]["q"], 2);
    assert_eq!(
        rejected[0]["_reject"]["reason"],
        "did not match --where 'j == \"YES\"'"
    );
    assert_eq!(rejected[0]["_reject"]["line"], 2);
}

#[test]
fn where_without_rejects_reports_and_exits_1_and_drop_discards() {
    let out = split()
        .args(["--where", "j == 'YES'"])
        .write_stdin(JUDGED)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("jsonl-split: <stdin>:2: did not match --where 'j == 'YES''"));
    assert_eq!(lines(&out.stdout).len(), 2);

    let out = split()
        .args(["--where", "j == 'YES'", "--drop"])
        .write_stdin(JUDGED)
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert_eq!(lines(&out.stdout).len(), 2);
    assert!(
        stderr_of(&out).contains("3 in, 2 out, 0 rejected, 1 dropped"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_missing_field_rejects_the_record_naming_the_field() {
    let out = split()
        .args(["--where", "j == 'YES'", "--drop"])
        .write_stdin("{\"q\":1}\n{\"j\":\"YES\"}\n")
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error is not a non-match, even with --drop"
    );
    assert!(
        stderr_of(&out)
            .contains("<stdin>:1: --where 'j == 'YES'' needs field 'j', which the record lacks")
    );
    assert_eq!(lines(&out.stdout).len(), 1);
}

#[test]
fn a_bad_expression_exits_2_before_reading() {
    for expr in ["j ==", "j | no_such_filter"] {
        let out = split()
            .args(["--where", expr])
            .write_stdin("not json\n")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{expr}");
        let err = stderr_of(&out);
        assert!(
            err.starts_with(&format!("jsonl-split: --where '{expr}'")),
            "{err}"
        );
        assert!(!err.contains("<stdin>:1"), "input was read: {err}");
    }
}

#[test]
fn empty_input_gives_empty_output_and_0() {
    let out = split()
        .args(["--where", "x"])
        .write_stdin("")
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn unknown_flag_exits_2() {
    assert_eq!(
        split()
            .arg("--no-such-flag")
            .output()
            .expect("runs")
            .status
            .code(),
        Some(2)
    );
    let out = split().args(["--key", "k"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "--key without --shards");
}

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
fn out_writes_one_file_per_value_under_out_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input =
        "{\"d\":\"Finance\",\"n\":1}\n{\"d\":\"Law\",\"n\":2}\n{\"d\":\"Finance\",\"n\":3}\n";
    let out = split()
        .arg("--out-dir")
        .arg(dir.path())
        .args(["--out", "{d}/gen.jsonl"])
        .write_stdin(input)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty(), "records go to files, not stdout");
    assert_eq!(
        files_under(dir.path()),
        ["Finance/gen.jsonl", "Law/gen.jsonl"]
    );
    let finance = lines(&std::fs::read(dir.path().join("Finance/gen.jsonl")).expect("file"));
    assert_eq!(
        finance.iter().map(|r| r["n"].clone()).collect::<Vec<_>>(),
        [json!(1), json!(3)]
    );
    assert!(stderr_of(&out).contains("3 in, 3 out, 0 rejected, 2 files"));
}

#[test]
fn out_refuses_templates_that_escape() {
    for template in ["/tmp/x-{d}.jsonl", "../{d}.jsonl", "a/../../{d}", ""] {
        let out = split()
            .args(["--out", template])
            .write_stdin("{\"d\":\"x\"}\n")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{template:?}");
    }
    let out = split().args(["--out", "/abs/{d}"]).output().expect("runs");
    assert!(stderr_of(&out).contains("refusing an absolute path"));
}

#[test]
fn field_values_that_escape_are_rejected_and_nothing_lands_outside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inner = dir.path().join("inner");
    std::fs::create_dir(&inner).expect("mkdir");
    let rejects = dir.path().join("rejects.jsonl");
    let input = "{\"d\":\"../../etc\"}\n{\"d\":\"..\"}\n{\"d\":\"\"}\n{\"d\":[1]}\n{\"e\":1}\n{\"d\":\"ok\"}\n";
    let out = split()
        .current_dir(&inner)
        .args(["--out", "out/{d}.jsonl", "--rejects"])
        .arg(&rejects)
        .write_stdin(input)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(files_under(&inner), ["out/ok.jsonl"]);
    let rejected = lines(&std::fs::read(&rejects).expect("rejects"));
    assert_eq!(rejected.len(), 5);
    let first = rejected[0]["_reject"]["reason"].as_str().expect("reason");
    assert!(
        first.contains("'../../etc' cannot be part of a path"),
        "{first}"
    );
    let last = rejected[4]["_reject"]["reason"].as_str().expect("reason");
    assert_eq!(last, "--out field 'd' is missing");
}

#[test]
fn a_failing_run_leaves_no_destination_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = "{\"d\":\"a\"}\n{\"d\":\"b\"}\nnot json\n{\"d\":\"c\"}\n";
    let out = split()
        .arg("--out-dir")
        .arg(dir.path())
        .args(["--out", "{d}.jsonl"])
        .write_stdin(input)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("<stdin>:3: not valid JSON"));
    assert_eq!(
        files_under(dir.path()),
        Vec::<String>::new(),
        "no file, not even a temporary one"
    );

    // The same input without the bad line writes all three.
    let out = split()
        .arg("--out-dir")
        .arg(dir.path())
        .args(["--out", "{d}.jsonl"])
        .write_stdin(input.replace("not json\n", ""))
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert_eq!(files_under(dir.path()), ["a.jsonl", "b.jsonl", "c.jsonl"]);
}

#[test]
fn shards_hold_every_row_once_keep_keys_together_and_all_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input: String = (0..200)
        .map(|n| format!("{{\"seed_id\":\"s{}\",\"n\":{n}}}\n", n % 37))
        .collect();
    let out = split()
        .arg("--out-dir")
        .arg(dir.path())
        .args(["--shards", "4", "--out", "part-{shard}.jsonl"])
        .write_stdin(input)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let names = files_under(dir.path());
    assert_eq!(
        names,
        [
            "part-0.jsonl",
            "part-1.jsonl",
            "part-2.jsonl",
            "part-3.jsonl"
        ]
    );
    let mut seen_n = Vec::new();
    let mut shard_of_key: HashMap<String, usize> = HashMap::new();
    for (shard, name) in names.iter().enumerate() {
        for row in lines(&std::fs::read(dir.path().join(name)).expect("shard")) {
            seen_n.push(row["n"].as_u64().expect("n"));
            let key = row["seed_id"].as_str().expect("key").to_string();
            let first = *shard_of_key.entry(key.clone()).or_insert(shard);
            assert_eq!(first, shard, "{key} split over shards");
        }
    }
    seen_n.sort_unstable();
    assert_eq!(
        seen_n,
        (0..200).collect::<Vec<u64>>(),
        "every row exactly once"
    );
    assert!(
        shard_of_key
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 1
    );
}

#[test]
fn shards_exist_for_empty_input_and_a_missing_key_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = split()
        .arg("--out-dir")
        .arg(dir.path())
        .args(["--shards", "3", "--key", "k", "--out", "s{shard}.jsonl"])
        .write_stdin("")
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert_eq!(
        files_under(dir.path()),
        ["s0.jsonl", "s1.jsonl", "s2.jsonl"]
    );

    let out = split()
        .arg("--out-dir")
        .arg(dir.path())
        .args(["--shards", "3", "--key", "k", "--out", "s{shard}.jsonl"])
        .write_stdin("{\"x\":1}\n")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("<stdin>:1: shard key field 'k' is missing or null"));

    let out = split()
        .args(["--shards", "3", "--out", "no-shard.jsonl"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explode_then_where_with_index_empty_lists_and_non_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.jsonl");
    let input = "{\"id\":1,\"facts\":[\"a\",\"bb\",\"ccc\"],\"z\":0}\n{\"id\":2,\"facts\":[]}\n{\"id\":3,\"facts\":\"x\"}\n";
    let out = split()
        .args([
            "--explode",
            "facts",
            "--where",
            "facts | length > 1",
            "--rejects",
        ])
        .arg(&rejects)
        .write_stdin(input)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let rows = lines(&out.stdout);
    assert_eq!(
        rows,
        [
            json!({"id":1,"facts":"bb","z":0,"facts_index":1}),
            json!({"id":1,"facts":"ccc","z":0,"facts_index":2}),
        ]
    );
    let keys: Vec<&String> = rows[0].as_object().expect("row").keys().collect();
    assert_eq!(
        keys,
        ["id", "facts", "z", "facts_index"],
        "element in place, index last"
    );
    let rejected = lines(&std::fs::read(&rejects).expect("rejects"));
    let reasons: Vec<&str> = rejected
        .iter()
        .map(|r| r["_reject"]["reason"].as_str().expect("r"))
        .collect();
    assert_eq!(
        reasons,
        [
            "did not match --where 'facts | length > 1'",
            "--explode field 'facts' is a string, not a list"
        ]
    );
    assert_eq!(
        rejected[0]["facts_index"], 0,
        "the element record is what is rejected"
    );
    assert!(
        stderr_of(&out).contains("3 in, 2 out, 2 rejected, 1 empty lists"),
        "{}",
        stderr_of(&out)
    );
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
