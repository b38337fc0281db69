//! Hostile record values: a field used in an output path cannot put a file outside the
//! output folder.

use std::process::{Command, Stdio};

use super::harness::{bin_dir, files_under};

#[test]
fn field_values_in_output_paths_stay_inside_the_output_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("a/b/work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let hostile = [
        "../../../escaped",
        "/tmp/absolute-escape",
        "..",
        "a/../../../../up",
        "~/home-escape",
        "nul\u{0}byte",
        "dots/./../..",
        "",
    ];
    let input: String = hostile
        .iter()
        .map(|d| format!("{}\n", serde_json::json!({"domain": d, "question": "q"})))
        .collect();
    let mut child = Command::new(bin_dir().join("jsonl-split"))
        .args(["--out", "out/{domain}/gen.jsonl", "-q"])
        .current_dir(&work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jsonl-split");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes())
        .expect("feeding");
    let run = child.wait_with_output().expect("jsonl-split");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let inside = work.join("out");
    for file in files_under(dir.path()) {
        assert!(
            file.starts_with(&inside),
            "{} escaped the output folder ({err})",
            file.display()
        );
    }
    assert!(!std::path::Path::new("/tmp/absolute-escape").exists());
    let written: usize = files_under(&inside)
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("read").lines().count())
        .sum();
    let rejected = err.lines().filter(|l| l.contains("jsonl-split")).count();
    assert!(
        written + rejected >= hostile.len() || !run.status.success(),
        "records vanished: {written} written, stderr: {err}"
    );
}
