//! The edges every ktpipe filter shares (malformed lines, CRLF and a missing final newline,
//! a closed stdout, records flowing before input ends) via ktpipe-testkit, plus seed-cat's
//! own 10 MB line case.

use super::*;

#[test]
fn malformed_lines_exit_1_naming_the_line_and_the_rest_flow() {
    kit::check_malformed_lines(&bin(), &[], GOOD, &row(3));
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
    let rows = parse_records(&out.stdout);
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
    let err = stderr(&out);
    assert!(err.len() < 1000, "long value echoed: {} bytes", err.len());
    assert!(err.contains("<stdin>:1: /document: "), "{err}");
}

#[test]
fn missing_final_newline_and_crlf_are_accepted() {
    let rows = kit::check_crlf_and_missing_final_newline(&bin(), &[], &[GOOD, &row(2), &row(3)]);
    assert_eq!(
        rows[0]["seed_id"], "3c1e23ac07ccb32c",
        "CRLF does not change the id"
    );
    assert_eq!(rows[2]["document"], "doc 3");
}

#[test]
fn closed_stdout_exits_0_quietly() {
    let chunk: String = (0..1000).map(|n| row(n) + "\n").collect();
    kit::check_closed_stdout_is_quiet(&bin(), &[], &chunk, 50);
}

#[test]
fn records_stream_before_input_ends() {
    let line = kit::check_streams_before_eof(&bin(), &[], &format!("{GOOD}\n"));
    assert!(line.contains("\"seed_id\":\"3c1e23ac07ccb32c\""), "{line}");
}
