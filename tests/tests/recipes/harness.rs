//! What the end-to-end tests stand on: the built binaries, a mock teacher process, a
//! scratch output folder, `just` with a clean environment, and JSONL helpers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{LazyLock, Once};

use serde_json::Value;

/// The workspace root (where the Justfile is).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate sits in the workspace")
        .to_path_buf()
}

/// Every binary the recipes run.
pub const TOOLS: [&str; 8] = [
    "seed-cat",
    "prompt-render",
    "llm-call",
    "qa-parse",
    "jsonl-split",
    "mock-teacher",
    "stage-report",
    "run-report",
];

/// A folder of links to this build's tools, but for `llm-call`: an executable script that
/// `wrapper` writes, given the folder and the real llm-call. Pass it as `KTPIPE_BIN`.
pub fn tools_with_llm_call(wrapper: impl FnOnce(&Path, &Path) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = bin_dir();
    for tool in TOOLS.iter().filter(|t| **t != "llm-call") {
        std::os::unix::fs::symlink(bin.join(tool), dir.path().join(tool)).expect("symlink");
    }
    let script = wrapper(dir.path(), &bin.join("llm-call"));
    let path = dir.path().join("llm-call");
    std::fs::write(&path, script).expect("writing the llm-call wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// The folder of the binaries built with this test (target/debug), built if missing.
pub fn bin_dir() -> PathBuf {
    static BUILD: Once = Once::new();
    let dir = std::env::current_exe()
        .expect("test executable path")
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf();
    BUILD.call_once(|| {
        if TOOLS.iter().any(|t| !dir.join(t).exists()) {
            let cargo = option_env!("CARGO").unwrap_or("cargo");
            let status = Command::new(cargo)
                .args(["build", "--workspace", "--bins"])
                .current_dir(root())
                .status()
                .expect("running cargo build");
            assert!(status.success(), "building the tools failed");
        }
    });
    dir
}

/// A mock teacher process on a free loopback port, killed when dropped.
pub struct Mock {
    child: Child,
    /// `http://127.0.0.1:PORT/v1`
    pub base_url: String,
}

impl Mock {
    /// Starts `mock-teacher` with extra flags and waits for its URL line.
    pub fn start(flags: &[&str]) -> Mock {
        let mut child = Command::new(bin_dir().join("mock-teacher"))
            .args(["--addr", "127.0.0.1:0"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mock-teacher");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("reading the mock's URL");
        Mock {
            child,
            base_url: line.trim().to_string(),
        }
    }

    /// The mock's `/stats` counters.
    pub fn stats(&self) -> Value {
        let url = self.base_url.trim_end_matches("/v1").to_string() + "/stats";
        serde_json::from_str(&http_get(&url)).expect("stats are JSON")
    }

    /// Requests the mock received so far.
    pub fn requests(&self) -> u64 {
        self.stats()["requests"].as_u64().expect("requests counter")
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET on loopback, returning the body.
pub fn http_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host).expect("connecting to the mock");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("sending");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reading");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// Runs `just VAR=VALUE… RECIPE` in the workspace against `mock`, with a clean environment
/// apart from PATH and HOME, and the binaries of this build.
pub fn just(mock: &Mock, vars: &[(&str, &str)], recipe: &str) -> Output {
    let mut cmd = Command::new("just");
    cmd.current_dir(root())
        .env_clear()
        .env("PATH", path_with_just())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("KTPIPE_BIN", bin_dir())
        .env("TEACHER_MODEL_BASE_URL", &mock.base_url)
        .env("TEACHER_MODEL_NAME", "mock-teacher")
        .env("TEACHER_MODEL_API_KEY", "None")
        .arg("--justfile")
        .arg(root().join("Justfile"));
    for (name, value) in vars {
        cmd.arg(format!("{name}={value}"));
    }
    cmd.arg(recipe)
        .output()
        .expect("running just (scripts/test installs it)")
}

/// PATH with the folders `just` is installed in (scripts/common.sh) in front.
pub fn path_with_just() -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let cache = std::env::var("XDG_CACHE_HOME").unwrap_or_else(|_| format!("{home}/.cache"));
    format!(
        "{cache}/ktpipe/tools/bin:{home}/.cargo/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Reads a JSONL file into its records.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}: {line}", path.display()))
        })
        .collect()
}

/// A teacher URL where every connection is refused. Port 1 is never handed out as a free
/// port, so, unlike a port found free and released, no mock of a test running alongside
/// can come to listen there.
pub fn refused_base_url() -> String {
    "http://127.0.0.1:1/v1".to_string()
}

/// The sample seed shipped with ktpipe.
pub fn sample_seed() -> PathBuf {
    root().join("tests/fixtures/sample_seed.jsonl")
}

/// A counter from the mock's stats, by JSON pointer.
pub fn count(stats: &Value, pointer: &str) -> u64 {
    stats
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("mock stats lack {pointer}: {stats}"))
}

/// stderr of a finished command, for assertion messages.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON type of a value, as a dataframe reader would see the column.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "struct",
    }
}

/// A folder of this build's tools for one test: links to the binaries, except `llm-call`,
/// which is a wrapper that appends `llm_flags` to every call (the test's timeouts and
/// retry pacing, which the recipes do not set) and notes its PID in `llm-call.pids`, so a
/// test can kill one stage. Pass its path as `KTPIPE_BIN`.
pub struct Tools {
    dir: tempfile::TempDir,
}

impl Tools {
    /// Builds the folder; `llm_flags` are appended to every llm-call command line.
    pub fn new(llm_flags: &[&str]) -> Tools {
        let quoted: Vec<String> = llm_flags.iter().map(|f| shell_quote(f)).collect();
        let dir = tools_with_llm_call(|dir, real| {
            format!(
                "#!/bin/sh\necho $$ >> {pids}\nexec {real} \"$@\" {flags}\n",
                pids = shell_quote(&dir.join("llm-call.pids").to_string_lossy()),
                real = shell_quote(&real.to_string_lossy()),
                flags = quoted.join(" "),
            )
        });
        Tools { dir }
    }

    /// The folder to use as `KTPIPE_BIN`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// PIDs of the llm-call processes started so far.
    pub fn llm_pids(&self) -> Vec<u32> {
        std::fs::read_to_string(self.dir.path().join("llm-call.pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

/// `'text'` with single quotes escaped, for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The `just VAR=VALUE… RECIPE` command of [`just`], against any base URL and tool folder,
/// not yet started (so a test can spawn it, time it, or signal it). It runs in its own
/// process group, so a test can signal the whole recipe as a terminal would.
pub fn just_cmd(base_url: &str, tools: &Path, vars: &[(&str, &str)], recipe: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("just");
    cmd.current_dir(root())
        .env_clear()
        .env("PATH", path_with_just())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("KTPIPE_BIN", tools)
        .env("TEACHER_MODEL_BASE_URL", base_url)
        .env("TEACHER_MODEL_NAME", "mock-teacher")
        .env("TEACHER_MODEL_API_KEY", "None")
        .arg("--justfile")
        .arg(root().join("Justfile"))
        .process_group(0);
    for (name, value) in vars {
        cmd.arg(format!("{name}={value}"));
    }
    cmd.arg(recipe);
    cmd
}

/// The dataset folders of generate-all, as the Justfile's one list names them.
pub static DATASETS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let out = Command::new("just")
        .env("PATH", path_with_just())
        .env_remove("datasets")
        .arg("--justfile")
        .arg(root().join("Justfile"))
        .args(["--evaluate", "datasets"])
        .output()
        .expect("just runs");
    assert!(out.status.success(), "just --evaluate datasets failed");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
});

/// The bytes of every dataset's gen.jsonl under `out` (None where it does not exist).
pub fn outputs(out: &Path) -> Vec<Option<Vec<u8>>> {
    DATASETS
        .iter()
        .map(|d| std::fs::read(out.join(d).join("gen.jsonl")).ok())
        .collect()
}

/// Asserts two runs wrote the same four gen.jsonl, byte for byte.
pub fn assert_same_outputs(expected: &[Option<Vec<u8>>], actual: &[Option<Vec<u8>>], what: &str) {
    for ((dataset, want), got) in DATASETS.iter().zip(expected).zip(actual) {
        assert!(
            want.is_some(),
            "{dataset}: the reference run wrote no gen.jsonl"
        );
        assert!(
            want == got,
            "{what}: {dataset}/gen.jsonl differs from the reference run ({} vs {} bytes)",
            want.as_ref().map_or(0, Vec::len),
            got.as_ref().map_or(0, Vec::len)
        );
    }
}

/// Small, fast settings for generate-all on the sample seed: two summaries per document,
/// and, once the Justfile has it, a 2 s idle timeout on streamed replies.
pub fn small_vars<'a>(seed: &'a str, out: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut vars = vec![
        ("seed", seed),
        ("out", out),
        ("n_summaries", "2"),
        ("concurrency", "8"),
    ];
    if justfile_has("idle_timeout") {
        vars.push(("idle_timeout", "2"));
    }
    vars
}

/// True when the Justfile defines the variable `name` (some land while this suite grows).
pub fn justfile_has(name: &str) -> bool {
    std::fs::read_to_string(root().join("Justfile"))
        .expect("reading the Justfile")
        .lines()
        .any(|l| l.starts_with(&format!("{name} :=")))
}

/// generate-all on the sample seed against a fault-free mock: the reference outputs.
pub fn reference_outputs() -> Vec<Option<Vec<u8>>> {
    static REFERENCE: std::sync::OnceLock<Vec<Option<Vec<u8>>>> = std::sync::OnceLock::new();
    REFERENCE
        .get_or_init(|| {
            let mock = Mock::start(&[]);
            let dir = tempfile::tempdir().expect("tempdir");
            let out = dir.path().join("out");
            let seed = sample_seed();
            let tools = Tools::new(&[]);
            let vars = small_vars(seed.to_str().expect("utf8"), out.to_str().expect("utf8"));
            let run = just_cmd(&mock.base_url, tools.path(), &vars, "generate-all")
                .output()
                .expect("just");
            assert!(
                run.status.success(),
                "reference run failed: {}",
                stderr(&run)
            );
            outputs(&out)
        })
        .clone()
}
/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The `--stats` summary a recipe stage wrote under `out/<dataset>/.stages/`.
pub fn stage_stats(out: &Path, dataset: &str, stage: &str) -> Value {
    let path = out
        .join(dataset)
        .join(".stages")
        .join(format!("{stage}.stats.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("stage summary")).expect("JSON")
}
