//! The run report and the dataset cards, through `just generate-all` and `just report`
//! against the mock teacher: every number the page shows equals what the run's files hold,
//! counted here on their own; the page renders in a real browser; the same folder gives
//! the same bytes; a folder that is not a complete run is said to be so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::harness::{
    DATASETS, Mock, bin_dir, just, read_jsonl, root, sample_seed, stage_stats, stderr,
};

/// generate-all on the sample seed with a teacher that has habits and repeats itself, so
/// every kind of reject shows up.
fn run(out: &Path) -> Mock {
    let mock = Mock::start(&["--habits", "0.3", "--repeats", "0.3"]);
    let seed = sample_seed();
    let vars = [
        ("seed", seed.to_str().expect("utf8")),
        ("out", out.to_str().expect("utf8")),
        ("n_summaries", "3"),
        ("concurrency", "16"),
    ];
    let run = just(&mock, &vars, "generate-all");
    assert!(run.status.success(), "{}", stderr(&run));
    mock
}

/// The numbers the page marks with `data-k="NAME"`, by name.
fn marked(html: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for part in html.split("data-k=\"").skip(1) {
        let (name, rest) = part.split_once('"').expect("attribute ends");
        let value = rest
            .split_once('>')
            .and_then(|(_, v)| v.split_once('<'))
            .map(|(v, _)| v.trim().to_string())
            .expect("element text");
        found.insert(name.to_string(), value);
    }
    found
}

fn number(marks: &BTreeMap<String, String>, name: &str) -> u64 {
    let text = marks
        .get(name)
        .unwrap_or_else(|| panic!("the report shows no '{name}'"));
    text.parse()
        .unwrap_or_else(|_| panic!("'{name}' is '{text}', not a count"))
}

/// The stage a rejected record names (`jsonl-split[dataset/faithful]` → `faithful`).
fn reject_stage(record: &Value) -> String {
    let tool = record["_reject"]["tool"].as_str().expect("_reject.tool");
    let (_, stage) = tool.split_once('/').expect("a recipe stage");
    stage.trim_end_matches(']').to_string()
}

#[test]
fn the_report_shows_what_the_files_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let mock = run(&out);
    let html =
        std::fs::read_to_string(out.join("report.html")).expect("generate-all writes report.html");
    let marks = marked(&html);

    let mut requests = 0;
    for dataset in DATASETS.iter() {
        let dir = out.join(dataset);
        let kept = read_jsonl(&dir.join("gen.jsonl"));
        let rejected = read_jsonl(&dir.join("rejects.jsonl"));
        let key = |k: &str| format!("{dataset}.{k}");
        assert_eq!(marks[&key("state")], "complete", "{dataset}");
        assert_eq!(
            number(&marks, &key("kept")),
            kept.len() as u64,
            "{dataset} kept"
        );
        assert_eq!(
            number(&marks, &key("rejected")),
            rejected.len() as u64,
            "{dataset} rejected"
        );

        // Each stage's rejects, counted in rejects.jsonl, against the page's funnel.
        let mut by_stage: BTreeMap<String, u64> = BTreeMap::new();
        for record in &rejected {
            *by_stage.entry(reject_stage(record)).or_default() += 1;
        }
        let order = std::fs::read_to_string(dir.join(".stages/order")).expect("order");
        for stage in order
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(_, s)| s)
        {
            let shown = number(&marks, &key(&format!("stage.{stage}.rejected")));
            assert_eq!(
                shown,
                by_stage.get(stage).copied().unwrap_or(0),
                "{dataset}/{stage} rejected"
            );
            let stats = stage_stats(&out, dataset, stage);
            assert_eq!(
                number(&marks, &key(&format!("stage.{stage}.out"))),
                stats["out"].as_u64().expect("out")
            );
            requests += stats["requests"].as_u64().unwrap_or(0);
        }

        // Kept rows per seed document, and the seed documents that gave none.
        let mut per_seed: BTreeMap<String, u64> = BTreeMap::new();
        for row in &kept {
            *per_seed
                .entry(row["seed_id"].as_str().expect("seed_id").to_string())
                .or_default() += 1;
        }
        for (seed_id, n) in &per_seed {
            assert_eq!(
                number(&marks, &key(&format!("seed.{seed_id}.kept"))),
                *n,
                "{dataset} seed {seed_id}"
            );
        }
        let seeds = read_jsonl(&sample_seed()).len() as u64;
        assert_eq!(number(&marks, &key("seeds")), seeds);
        assert_eq!(
            number(&marks, &key("seeds_without_rows")),
            seeds - per_seed.len() as u64
        );

        // Repeats removed, and the judge's verdicts where the recipe has a judge.
        let repeats = rejected
            .iter()
            .filter(|r| {
                r["_reject"]["reason"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("near-duplicate"))
            })
            .count() as u64;
        assert!(
            repeats > 0,
            "{dataset}: the mock's repeats should leave near-duplicates"
        );
        assert_eq!(
            number(&marks, &key("repeats")),
            repeats,
            "{dataset} repeats"
        );
        let no = by_stage.get("faithful").copied().unwrap_or(0);
        if marks.contains_key(&key("judged")) {
            assert_eq!(number(&marks, &key("yes")), kept.len() as u64);
            assert_eq!(number(&marks, &key("judged")), kept.len() as u64 + no);
        } else {
            assert_eq!(dataset, "key_facts_to_qa", "only key facts has no judge");
        }
    }
    // Every request the teacher saw is in the report, once.
    assert_eq!(number(&marks, "run.requests"), mock.requests());
    assert_eq!(requests, mock.requests());
    assert!(
        html.contains("mock-teacher"),
        "the report names the teacher model"
    );
    assert!(
        !html.contains("<script") && !html.contains("http://") && !html.contains("https://"),
        "the page is self-contained: no scripts, no network assets"
    );
}

#[test]
fn every_dataset_gets_a_card_that_states_its_provenance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let _mock = run(&out);
    for dataset in DATASETS.iter() {
        let card = std::fs::read_to_string(out.join(dataset).join("README.md")).expect("a card");
        let (front, body) = card
            .strip_prefix("---\n")
            .and_then(|c| c.split_once("\n---\n"))
            .expect("YAML front matter");
        assert!(
            front.contains("license:"),
            "{dataset}: a license field to fill"
        );
        assert!(
            front.contains("path: gen.jsonl"),
            "{dataset}: the data file"
        );
        assert!(front.contains("- n<1K"), "{dataset}: the size category");
        assert!(front.contains("task_categories:"), "{dataset}");
        let first = &read_jsonl(&out.join(dataset).join("gen.jsonl"))[0];
        for column in first.as_object().expect("row").keys() {
            assert!(
                body.contains(&format!("| `{column}` |")),
                "{dataset}: column {column} described"
            );
        }
        let kept = read_jsonl(&out.join(dataset).join("gen.jsonl")).len();
        assert!(
            body.contains(&format!("| rows | {kept} kept")),
            "{dataset}: row count"
        );
        // The prompts the recipe rendered, with their hashes as the files have them now.
        let mut prompts = 0;
        for line in body.lines().filter(|l| l.starts_with("| `prompts/")) {
            let file = line.split('`').nth(1).expect("file");
            let sha = line.split('`').nth(3).expect("sha256");
            let bytes = std::fs::read(root().join(file)).expect("prompt file");
            let want: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(sha, want, "{dataset}: {file}");
            prompts += 1;
        }
        assert!(prompts >= 2, "{dataset}: its prompt files are named");
        assert!(
            body.contains("| teacher model | mock-teacher |"),
            "{dataset}"
        );
    }
}

#[test]
fn the_same_folder_gives_the_same_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let mock = run(&out);
    let files = |out: &Path| -> Vec<Vec<u8>> {
        let mut files = vec![std::fs::read(out.join("report.html")).expect("report")];
        for dataset in DATASETS.iter() {
            files.push(std::fs::read(out.join(dataset).join("README.md")).expect("card"));
        }
        files
    };
    let first = files(&out);
    let again = just(&mock, &[("out", out.to_str().expect("utf8"))], "report");
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(first == files(&out), "just report rewrote different bytes");
}

/// Runs run-report on `out`.
fn report(out: &Path) -> std::process::Output {
    let datasets = DATASETS.join(" ");
    Command::new(bin_dir().join("run-report"))
        .args(["--datasets", &datasets])
        .arg(out)
        .output()
        .expect("run-report runs")
}

#[test]
fn a_folder_that_is_not_a_complete_run_is_reported_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let _mock = run(&out);
    let [first, second, third, fourth] = [0, 1, 2, 3].map(|i| DATASETS[i].as_str());
    // One dataset never made, one whose last run failed, one being written, one whose
    // gen.jsonl is another run's.
    std::fs::remove_dir_all(out.join(first)).expect("remove");
    std::fs::write(
        out.join(second).join(".stages/failed"),
        "answers (exit 1)\n",
    )
    .expect("write");
    std::fs::write(out.join(third).join(".gen.jsonl.partial"), "").expect("write");
    let published = out.join(fourth).join("gen.jsonl");
    let text = std::fs::read_to_string(&published).expect("read");
    std::fs::write(
        &published,
        text.lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .expect("write");

    let run = report(&out);
    assert!(run.status.success(), "{}", stderr(&run));
    let marks = marked(&std::fs::read_to_string(out.join("report.html")).expect("report"));
    assert_eq!(marks[&format!("{first}.state")], "absent");
    assert_eq!(marks[&format!("{second}.state")], "failed");
    assert_eq!(marks[&format!("{third}.state")], "incomplete");
    assert_eq!(marks[&format!("{fourth}.state")], "incomplete");
    for dataset in [second, third, fourth] {
        assert!(
            !marks.contains_key(&format!("{dataset}.kept")),
            "{dataset} is shown as complete"
        );
    }
    let said = stderr(&run);
    assert!(said.contains("0 of 4 datasets complete"), "{said}");

    // A folder with none of the datasets is not a run's output: exit 2, naming them.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let run = report(&empty);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("not the output folder of a ktpipe run"),
        "{}",
        stderr(&run)
    );
    assert!(stderr(&run).contains(first), "{}", stderr(&run));
    assert!(!empty.join("report.html").exists());
}

/// Headless Chromium from Debian's packages (scripts/test installs it).
fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("Chromium is missing: scripts/test installs it (apt-get install chromium)")
}

fn browser(args: &[&str], page: &Path, profile: &Path) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

#[test]
fn the_report_renders_in_a_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let _mock = run(&out);
    let page = out.join("report.html");
    let profile = dir.path().join("profile");

    let dom = browser(&["--dump-dom"], &page, &profile);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    let marks = marked(&dom);
    for dataset in DATASETS.iter() {
        let kept = read_jsonl(&out.join(dataset).join("gen.jsonl")).len() as u64;
        assert_eq!(
            number(&marks, &format!("{dataset}.kept")),
            kept,
            "{dataset} in the DOM"
        );
        assert!(
            dom.contains(&format!("<section id=\"{dataset}\">")),
            "{dataset}"
        );
    }
    assert!(dom.contains("<svg"), "the charts are in the page");

    let shot = dir.path().join("report.png");
    let run = browser(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,2400",
        ],
        &page,
        &profile,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}
