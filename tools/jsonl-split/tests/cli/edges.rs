//! The edges every ktpipe filter shares (malformed lines, CRLF and a missing final newline,
//! a closed stdout, records flowing before input ends) via ktpipe-testkit, plus a 10 MB
//! line through a filter.

use super::*;

#[test]
fn malformed_lines_exit_1_naming_the_line() {
    kit::check_malformed_lines(&bin(), &[], "{\"a\":1}", "{\"a\":3}");
}

#[test]
fn crlf_and_missing_final_newline_pass() {
    let rows = kit::check_crlf_and_missing_final_newline(
        &bin(),
        &["--where", "a != 2"],
        &["{\"a\":1}", "{\"a\":3}"],
    );
    assert_eq!(rows[1]["a"], 3);
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
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = parse_records(&out.stdout);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["t"].as_str().map(str::len), Some(big.len()));
    assert_eq!(rows[1]["a"], 3);
}

#[test]
fn closed_stdout_exits_0_quietly() {
    let chunk: String = (0..1000).map(|n| format!("{{\"n\":{n}}}\n")).collect();
    kit::check_closed_stdout_is_quiet(&bin(), &[], &chunk, 100);
}

#[test]
fn records_stream_before_input_ends() {
    let line = kit::check_streams_before_eof(
        &bin(),
        &["--where", "n > 0", "--drop"],
        "{\"n\":0}\n{\"n\":1}\n",
    );
    assert_eq!(line, "{\"n\":1}\n");
}
