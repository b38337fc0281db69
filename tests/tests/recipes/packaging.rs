//! The Python wheel, as a user gets it: `pip wheel .` at the root, a fresh virtual
//! environment, `pip install` of the wheel, and `ktpipe` run from another folder against
//! the mock teacher it carries. Slow (a release build and two pip runs), so it runs on
//! demand: scripts/test runs it after the rest (`-- --ignored packaging`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use super::harness::{DATASETS, Mock, read_jsonl, root, sample_seed, stderr};

/// The wheel, built once for the tests of this file.
fn wheel() -> &'static Path {
    static WHEEL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = WHEEL.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = build_wheel(dir.path());
        (dir, path)
    });
    path
}

/// Builds the wheel into `dir` and returns its path.
fn build_wheel(dir: &Path) -> PathBuf {
    let out = Command::new("python3")
        .args(["-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir"])
        .arg(dir)
        .arg(root())
        .output()
        .expect("pip runs");
    assert!(out.status.success(), "pip wheel . failed: {}", stderr(&out));
    std::fs::read_dir(dir)
        .expect("wheel dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("a .whl")
}

/// A fresh virtual environment with `wheel` installed (with `extras`, e.g. "[kfp]");
/// returns its bin folder.
fn install(wheel: &Path, extras: &str, venv: &Path) -> PathBuf {
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .output()
        .expect("venv");
    assert!(made.status.success(), "{}", stderr(&made));
    let bin = venv.join("bin");
    let out = Command::new(bin.join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("{}{extras}", wheel.display()))
        .output()
        .expect("pip install");
    assert!(out.status.success(), "pip install failed: {}", stderr(&out));
    bin
}

/// `ktpipe ARGS` in `folder`, with only PATH and HOME from this environment.
fn ktpipe(bin: &Path, folder: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin.join("ktpipe"));
    cmd.args(args)
        .current_dir(folder)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default());
    cmd
}

/// `ktpipe mock-teacher` and the base URL it prints.
fn mock(bin: &Path, folder: &Path) -> (Child, String) {
    let mut child = ktpipe(bin, folder, &["mock-teacher"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ktpipe mock-teacher");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the mock's URL");
    (child, line.trim().to_string())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("ktpipe runs")
}

#[test]
#[ignore = "slow: a release build and pip; scripts/test runs it"]
fn packaging_the_wheel_runs_the_recipes_from_any_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let size = std::fs::metadata(wheel()).expect("wheel").len();
    assert!(size < 30 * 1024 * 1024, "the wheel is {size} bytes");
    let bin = install(wheel(), "", &dir.path().join("venv"));

    // A user's folder, with the seed and the endpoint in .env, nowhere near the checkout.
    let home = dir.path().join("project");
    std::fs::create_dir(&home).expect("mkdir");
    std::fs::copy(sample_seed(), home.join("seed.jsonl")).expect("seed");
    let (mut teacher, url) = mock(&bin, &home);
    std::fs::write(
        home.join(".env"),
        format!("TEACHER_MODEL_BASE_URL={url}\nTEACHER_MODEL_NAME=mock-teacher\n"),
    )
    .expect(".env");

    let version = run(&mut ktpipe(&bin, &home, &["--version"]));
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(
        version.starts_with("ktpipe 0.") && version.contains('(') && !version.contains("unknown"),
        "{version}"
    );
    let list = run(&mut ktpipe(&bin, &home, &["--list"]));
    assert!(String::from_utf8_lossy(&list.stdout).contains("generate-all"));

    let made = run(&mut ktpipe(
        &bin,
        &home,
        &[
            "generate-all",
            "seed=seed.jsonl",
            "out=output",
            "n_summaries=2",
        ],
    ));
    assert!(made.status.success(), "{}", stderr(&made));
    for dataset in DATASETS.iter() {
        let rows = read_jsonl(&home.join("output").join(dataset).join("gen.jsonl"));
        assert!(!rows.is_empty(), "{dataset}: no rows");
        assert!(
            home.join("output").join(dataset).join("README.md").exists(),
            "{dataset}: no card"
        );
    }
    assert!(home.join("output/report.html").exists());
    let said = stderr(&made);
    assert!(
        !said.contains("--check -q"),
        "recipe lines are echoed: {said}"
    );

    // A missing seed and a missing endpoint: the recipes' own errors, exit 2, nothing echoed.
    let missing = run(&mut ktpipe(
        &bin,
        &home,
        &["generate-all", "seed=nowhere.jsonl", "out=o2"],
    ));
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    let said = stderr(&missing);
    assert!(
        said.contains("nowhere.jsonl") && said.contains("does not exist"),
        "{said}"
    );
    assert!(
        !said.contains("seed-cat' --check"),
        "the check's command line is echoed: {said}"
    );
    std::fs::remove_file(home.join(".env")).expect("rm .env");
    let no_url = run(&mut ktpipe(
        &bin,
        &home,
        &["key-facts", "seed=seed.jsonl", "out=o3"],
    ));
    assert_eq!(no_url.status.code(), Some(2), "{}", stderr(&no_url));
    assert!(
        stderr(&no_url).contains("no teacher endpoint"),
        "{}",
        stderr(&no_url)
    );
    assert!(
        !home
            .join("o3")
            .join("key_facts_to_qa")
            .join("gen.jsonl")
            .exists()
    );
    let _ = teacher.kill();
    let _ = teacher.wait();
}

#[test]
#[ignore = "slow: a release build and pip; scripts/test runs it"]
fn packaging_the_kfp_pipeline_runs_with_the_local_runner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = install(wheel(), "[kfp]", &dir.path().join("venv"));
    let python = bin.join("python");

    // Compiled here, as CI compiles it: the key comes from a secret, never a parameter.
    let yaml = dir.path().join("pipeline.yaml");
    let out = Command::new(&python)
        .args(["-m", "ktpipe.pipeline", "compile"])
        .arg(&yaml)
        .output()
        .expect("compile");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&yaml).expect("pipeline YAML");
    assert!(
        text.contains("envVar: TEACHER_MODEL_API_KEY") && text.contains("secretKey: api_key"),
        "{text}"
    );
    assert!(
        !text.to_lowercase().contains("api_key:\n")
            && !text.contains("parameterType: STRING\n      api")
    );
    for dataset in DATASETS.iter() {
        assert!(
            text.contains(&format!("{dataset}:")),
            "the component returns {dataset}"
        );
    }

    // The pipeline on KFP's local runner, against the mock: its artifacts hold the datasets.
    let mock = Mock::start(&[]);
    let out = Command::new(&python)
        .args([
            "-m",
            "ktpipe.pipeline",
            "run-local",
            "--n-summaries",
            "2",
            "--model",
            "mock-teacher",
        ])
        .arg("--seed")
        .arg(sample_seed())
        .args(["--base-url", &mock.base_url])
        .arg("--root")
        .arg(dir.path().join("root"))
        .current_dir(dir.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("run-local");
    assert!(out.status.success(), "{}", stderr(&out));
    // KFP logs the run on stdout; the artifacts' paths are the last line.
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = said.lines().last().unwrap_or_default();
    let artifacts: Value = serde_json::from_str(last).expect("artifact paths as JSON");
    for dataset in DATASETS.iter() {
        let folder = PathBuf::from(artifacts[dataset.as_str()].as_str().expect("a path"));
        let rows = read_jsonl(&folder.join("gen.jsonl"));
        assert!(!rows.is_empty(), "{dataset}: no rows in the artifact");
        assert!(
            folder.join("rejects.jsonl").exists() && folder.join("README.md").exists(),
            "{dataset}"
        );
    }
    let report =
        std::fs::read_to_string(artifacts["report"].as_str().expect("a path")).expect("report");
    assert!(report.contains("ktpipe run report"));
    assert!(mock.requests() > 0);
}
