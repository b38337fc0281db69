//! `--out` and `--shards`: paths from fields, field values that would escape, all-or-nothing
//! files, and shards that keep a key together and always exist. (The templates refused up
//! front are cases in `tests/cmd`.)

use super::*;

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
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "records go to files, not stdout");
    assert_eq!(
        files_under(dir.path()),
        ["Finance/gen.jsonl", "Law/gen.jsonl"]
    );
    let finance =
        parse_records(&std::fs::read(dir.path().join("Finance/gen.jsonl")).expect("file"));
    assert_eq!(
        finance.iter().map(|r| r["n"].clone()).collect::<Vec<_>>(),
        [json!(1), json!(3)]
    );
    assert!(stderr(&out).contains("3 in, 3 out, 0 rejected, 2 files"));
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
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files_under(&inner), ["out/ok.jsonl"]);
    let rejected = parse_records(&std::fs::read(&rejects).expect("rejects"));
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
    assert!(stderr(&out).contains("<stdin>:3: not valid JSON"));
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
    assert!(out.status.success(), "{}", stderr(&out));
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
        for row in parse_records(&std::fs::read(dir.path().join(name)).expect("shard")) {
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
    assert!(stderr(&out).contains("<stdin>:1: shard key field 'k' is missing or null"));

    let out = split()
        .args(["--shards", "3", "--out", "no-shard.jsonl"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
