//! CLI cases for run-report that need no run: its help, and the usage errors it gives
//! before reading anything. The report itself is tested on real runs in tests/.

use std::path::PathBuf;

use ktpipe_testkit as kit;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("run-report")
}

#[test]
fn help_has_summary_and_examples() {
    kit::check_help_mentions(
        &bin(),
        &[
            "Writes a run's report",
            "--datasets",
            "--sample",
            "Examples:\n  just report",
        ],
    );
}

#[test]
fn version_names_the_commit() {
    let out = kit::command(&bin(), &["--version"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.starts_with("run-report 0.") && text.contains('('),
        "{text}"
    );
}

#[test]
fn a_missing_folder_is_a_usage_error() {
    let out = kit::command(&bin(), &["/nonexistent/out"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        kit::stderr(&out),
        "run-report: '/nonexistent/out' is not a folder\n"
    );
}

#[test]
fn a_folder_without_datasets_is_not_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("notes")).expect("mkdir");
    let out = kit::command(&bin(), &[dir.path().to_str().expect("utf8")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        kit::stderr(&out).contains("holds no dataset folder"),
        "{}",
        kit::stderr(&out)
    );
    assert!(!dir.path().join("report.html").exists());
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let out = kit::command(&bin(), &["--colour", "x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
