//! A deterministic OpenAI-compatible teacher on loopback, as a library so tests can run it
//! in-process. Replies are format-correct for each ktpipe prompt kind (or, on request,
//! off-format, in a real teacher's habits, or repeating questions) and a pure function of
//! the request and the seed; latency and faults (429, 500, 503, dropped connections, hangs,
//! malformed bodies, empty content, `finish_reason: "length"`) are injected from a seed.
//! It serves on one thread with a current-thread runtime, so thousands of requests per
//! second cost little CPU.

pub mod chat;
pub mod choice;
pub mod cli;
pub mod content;
pub mod faults;
pub mod habits;
pub mod kind;
pub mod repeats;
pub mod run;
pub mod stats;

mod body;
mod reply;
mod server;
mod words;

use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// How the mock teacher behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Model name listed by `/v1/models`; any requested model name is accepted.
    pub model: String,
    /// Seeds jitter and fault decisions.
    pub seed: u64,
    /// Fixed latency of every reply, in milliseconds.
    pub latency_base_ms: f64,
    /// Extra latency per completion token of the longest choice, in milliseconds.
    pub latency_per_token_ms: f64,
    /// Uniform extra latency in `[0, jitter_ms)`, from the seed and the request hash.
    pub jitter_ms: f64,
    /// Fault rates.
    pub faults: Faults,
    /// `Retry-After` seconds sent with 429.
    pub retry_after_secs: u64,
    /// How long a hung request holds its connection, in seconds.
    pub hang_secs: u64,
    /// After this many faults for one request body, that body is always answered.
    pub max_faults_per_request: u32,
    /// Reply with a single choice whatever `n` is (like llama.cpp).
    pub ignore_n: bool,
    /// End streams without a usage chunk even when `stream_options.include_usage` asks for
    /// one, as llama-cpp-python's server does: the client cannot know the token counts.
    pub no_stream_usage: bool,
    /// When set, requests without `Authorization: Bearer <key>` get 401.
    pub require_key: Option<String>,
    /// Share of choices answered in plain prose that ignores the requested format, like a
    /// weak teacher. Decided per prompt and choice, so a retry or a rerun gets the same.
    pub off_format: f64,
    /// Share of choices wrapped in the habits of real instruction-tuned teachers
    /// (preambles, labels, bold, loose tags) around the values asked for. Decided per
    /// prompt and choice, apart from `off_format`.
    pub habits: f64,
    /// Share of questions (questions and Q&A pair prompts) taken, reworded, from a pool of
    /// six per document keyed on its title, as a sampling teacher repeats itself.
    pub repeats: f64,
    /// When set, a refused request (401) gets its own headers and body echoed in the error
    /// message, as careless servers and proxies do: a client must not pass that on.
    pub echo_request: bool,
}

/// Probability of each fault per request, each in `[0, 1]`; they are tried in field order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// 429 with `Retry-After`.
    pub rate_429: f64,
    /// 500.
    pub rate_500: f64,
    /// 503.
    pub rate_503: f64,
    /// Connection closed without a response.
    pub rate_drop: f64,
    /// Request held for `hang_secs` without a response.
    pub rate_hang: f64,
    /// 200 with a body that is not JSON.
    pub rate_malformed: f64,
    /// 200 with empty content.
    pub rate_empty: f64,
    /// 200 with content cut in half and `finish_reason: "length"`.
    pub rate_length: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            model: "mock-teacher".into(),
            seed: 0,
            latency_base_ms: 0.0,
            latency_per_token_ms: 0.0,
            jitter_ms: 0.0,
            faults: Faults::default(),
            retry_after_secs: 1,
            hang_secs: 3600,
            max_faults_per_request: 3,
            ignore_n: false,
            no_stream_usage: false,
            require_key: None,
            off_format: 0.0,
            habits: 0.0,
            repeats: 0.0,
            echo_request: false,
        }
    }
}

/// A running mock teacher; dropping it stops the server and closes its connections.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<server::State>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Starts a server on a free loopback port.
    pub fn start(config: Config) -> anyhow::Result<MockServer> {
        MockServer::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Starts a server on `addr`, serving on its own thread and runtime.
    pub fn start_on(config: Config, addr: SocketAddr) -> anyhow::Result<MockServer> {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("cannot listen on '{addr}'"))?;
        listener
            .set_nonblocking(true)
            .context("cannot make the listener non-blocking")?;
        let addr = listener
            .local_addr()
            .context("cannot read the listening address")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the server runtime")?;
        let state = Arc::new(server::State::new(config));
        let (stop, stopped) = oneshot::channel();
        let serving = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("mock-teacher".into())
            .spawn(move || runtime.block_on(server::serve(listener, serving, stopped)))
            .context("cannot start the server thread")?;
        Ok(MockServer {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI base URL, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The counters, as `GET /stats` returns them.
    pub fn stats(&self) -> serde_json::Value {
        self.state.stats.to_json()
    }

    /// Zeroes the counters and forgets past requests, as `POST /stats/reset` does.
    pub fn reset_stats(&self) {
        self.state.reset();
    }

    /// Stops serving and closes every connection, hung ones included.
    pub fn shutdown(self) {}
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
