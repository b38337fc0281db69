//! What the end-to-end tests stand on: the built binaries, a mock teacher process, a
//! scratch output folder, `just` with a clean environment, and JSONL helpers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;

use serde_json::Value;

/// The workspace root (where the Justfile is).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate sits in the workspace")
        .to_path_buf()
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
        let tools = [
            "seed-cat",
            "prompt-render",
            "llm-call",
            "qa-parse",
            "jsonl-split",
            "mock-teacher",
        ];
        if tools.iter().any(|t| !dir.join(t).exists()) {
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

fn path_with_just() -> String {
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
