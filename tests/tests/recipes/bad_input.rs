//! Bad seed files through `just generate-all`: each is a clear error naming the file and
//! line (before any request is paid for), or a documented acceptance; never a panic and
//! never a partial gen.jsonl. The corpus lives in tests/fixtures/bad_seeds/; the huge lines
//! are made at test time.

use std::path::{Path, PathBuf};

use super::harness::{DATASETS, Mock, Tools, just_cmd, read_jsonl, root, small_vars, stderr};

/// Seed file → the `line: message` fragment its error must contain.
const REFUSED: [(&str, &str); 11] = [
    (
        "wrong_types.jsonl",
        ":2: /document: 5 is not of type \"string\"",
    ),
    (
        "wrong_types_lists.jsonl",
        ":1: /domain: [\"Finance\"] is not of type",
    ),
    (
        "missing_fields.jsonl",
        ":2: /: \"domain\" is a required property",
    ),
    ("empty_document.jsonl", ":1: /document"),
    (
        "json_array.jsonl",
        ":1: expected a JSON object, found an array",
    ),
    (
        "json_scalar.jsonl",
        ":2: expected a JSON object, found a number",
    ),
    ("not_json.jsonl", ":2: not valid JSON"),
    ("truncated_row.jsonl", ":1: not valid JSON"),
    ("blank_line.jsonl", ":2: empty line"),
    ("invalid_utf8.jsonl", ":2: line is not valid UTF-8"),
    ("huge_garbage.jsonl", ":1: not valid JSON"),
];

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/bad_seeds").join(name)
}

/// Asserts no dataset folder holds a gen.jsonl or a partial one.
fn assert_no_output(out: &Path, what: &str) {
    for dataset in DATASETS.iter() {
        for file in ["gen.jsonl", ".gen.jsonl.partial"] {
            let path = out.join(dataset).join(file);
            assert!(!path.exists(), "{what}: {} was written", path.display());
        }
    }
}

/// The first sample row, with `document` replaced.
fn row_with_document(document: &str) -> String {
    let sample = std::fs::read_to_string(root().join("tests/fixtures/sample_seed.jsonl"))
        .expect("sample seed");
    let mut row: serde_json::Value =
        serde_json::from_str(sample.lines().next().expect("a row")).expect("JSON");
    row["document"] = document.into();
    row.to_string()
}

#[test]
fn every_bad_seed_file_is_refused_before_any_request_with_its_line() {
    let mock = Mock::start(&[]);
    let tools = Tools::new(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    // A 13 MB line that never closes its string: made here, not committed.
    let huge = dir.path().join("huge_garbage.jsonl");
    std::fs::write(
        &huge,
        format!("{{\"document\": \"{}\n", "x".repeat(13 << 20)),
    )
    .expect("write");
    for (name, expected) in REFUSED {
        let seed = if name == "huge_garbage.jsonl" {
            huge.clone()
        } else {
            fixture(name)
        };
        let out = dir.path().join(name.replace('.', "_"));
        let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
        let run = just_cmd(&mock.base_url, tools.path(), &vars, "generate-all")
            .output()
            .expect("just");
        let err = stderr(&run);
        assert!(!run.status.success(), "{name}: accepted");
        assert!(
            err.contains(&format!("{name}{expected}")),
            "{name}: expected '{name}{expected}' in: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_no_output(&out, name);
    }
    assert_eq!(mock.requests(), 0, "a bad seed must cost no request");
}

#[test]
fn an_empty_seed_file_makes_empty_datasets_and_no_request() {
    let mock = Mock::start(&[]);
    let tools = Tools::new(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let seed = fixture("empty.jsonl");
    let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
    let run = just_cmd(&mock.base_url, tools.path(), &vars, "generate-all")
        .output()
        .expect("just");
    let err = stderr(&run);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(mock.requests(), 0);
    // Documented: an empty seed is no error; every dataset is written, whole and empty.
    assert!(run.status.success(), "{err}");
    for dataset in DATASETS.iter() {
        let rows = read_jsonl(&out.join(dataset).join("gen.jsonl"));
        assert!(rows.is_empty(), "{dataset}: rows from nothing");
    }
}

fn run_duplicates() -> (Mock, tempfile::TempDir, std::process::Output) {
    let mock = Mock::start(&[]);
    let tools = Tools::new(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let row = row_with_document("The tide rises twice a day because the Moon pulls the sea.");
    let seed = dir.path().join("dupes.jsonl");
    std::fs::write(&seed, format!("{row}\n{row}\n")).expect("write");
    let out = dir.path().join("out");
    let mut vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
    // The copy's questions repeat the first row's: dedup would set them aside.
    vars.push(("dedup", "off"));
    let run = just_cmd(&mock.base_url, tools.path(), &vars, "key-facts")
        .output()
        .expect("just");
    (mock, dir, run)
}

#[test]
fn duplicate_rows_are_kept_with_a_warning() {
    let (_mock, dir, run) = run_duplicates();
    let out = dir.path().join("out");
    let err = stderr(&run);
    assert!(run.status.success(), "{err}");
    assert!(
        err.contains("repeat the seed_id of an earlier row"),
        "duplicates should be named: {err}"
    );
    let rows = read_jsonl(&out.join("key_facts_to_qa/gen.jsonl"));
    assert!(
        !rows.is_empty() && rows.len().is_multiple_of(2),
        "{} rows",
        rows.len()
    );
}

/// Found by this suite: identical requests in flight at the same time are each sent, as
/// the cache only answers once the first reply is stored. See RELIABILITY.md.
#[test]
fn duplicate_rows_cost_one_set_of_requests() {
    let (mock, _dir, run) = run_duplicates();
    assert!(run.status.success(), "{}", stderr(&run));
    let stats = mock.stats();
    // The second copy is answered from the cache or shares the first one's requests.
    assert_eq!(
        super::harness::count(&stats, "/repeated_ok"),
        0,
        "a duplicate row paid twice: {stats}"
    );
}

#[test]
fn template_syntax_in_a_seed_field_is_data_never_evaluated() {
    let mock = Mock::start(&[]);
    let tools = Tools::new(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let hostile = "Tides {{ 7 * 7 }} {% for i in range(99999999) %}x{% endfor %} \
                   {{ raise_exception('boom') }} {# hidden #} {{ messages }} ${HOME} $(id)";
    let row = row_with_document(hostile);
    let seed = dir.path().join("injection.jsonl");
    std::fs::write(&seed, format!("{row}\n")).expect("write");
    // prompt-render straight after seed-cat: the rendered prompt must carry the text as is.
    let bin = super::harness::bin_dir();
    let rendered = std::process::Command::new(bin.join("prompt-render"))
        .arg("--template")
        .arg(root().join("prompts/key_facts.yaml"))
        .arg(&seed)
        .output()
        .expect("prompt-render");
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let text = String::from_utf8(rendered.stdout).expect("utf8");
    let record: serde_json::Value = serde_json::from_str(text.trim()).expect("one record");
    let prompt = record["messages"].to_string();
    assert!(
        prompt.contains("{{ 7 * 7 }}") && !prompt.contains(" 49 "),
        "{prompt}"
    );
    assert!(
        prompt.contains("{% for i in range(99999999) %}"),
        "{prompt}"
    );
    assert!(prompt.contains("$(id)") && prompt.contains("${HOME}"));
    // And through the recipe: the row is processed, its text kept verbatim.
    let out = dir.path().join("out");
    let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
    let run = just_cmd(&mock.base_url, tools.path(), &vars, "key-facts")
        .output()
        .expect("just");
    assert!(run.status.success(), "{}", stderr(&run));
    let rows = read_jsonl(&out.join("key_facts_to_qa/gen.jsonl"));
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["raw_document"] == hostile));
}

#[test]
fn a_huge_valid_row_is_accepted_and_processed() {
    let mock = Mock::start(&[]);
    let tools = Tools::new(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    // An 11 MB document: within the reader's 256 MB line cap, so it is data, not an error.
    let seed = dir.path().join("huge.jsonl");
    let document = "The sea rises and falls. ".repeat(440_000);
    std::fs::write(&seed, format!("{}\n", row_with_document(&document))).expect("write");
    let out = dir.path().join("out");
    let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
    let run = just_cmd(&mock.base_url, tools.path(), &vars, "key-facts")
        .output()
        .expect("just");
    let err = stderr(&run);
    assert!(!err.contains("panicked"), "{err}");
    assert!(run.status.success(), "{err}");
    let rows = read_jsonl(&out.join("key_facts_to_qa/gen.jsonl"));
    assert!(!rows.is_empty());
}
