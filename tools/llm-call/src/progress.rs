//! Live figures of a run and how they are shown: one line rewritten in place when stderr is
//! a terminal, a line every few seconds otherwise, and the end-of-run summary figures.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use ktpipe_common::Summary;

use crate::teacher::reply::Tokens;

/// Counters shared by every part of the run.
#[derive(Debug, Default)]
pub struct Counters {
    /// Input records read.
    pub read: AtomicU64,
    /// Input records finished (written, rejected or abandoned).
    pub done: AtomicU64,
    /// Output records written.
    pub out: AtomicU64,
    /// Records sent to rejects (any reason).
    pub rejected: AtomicU64,
    /// Records rejected because the teacher failed them (these fail the run).
    pub failed: AtomicU64,
    /// Malformed input lines.
    pub malformed: AtomicU64,
    /// Requests in flight now.
    pub in_flight: AtomicU64,
    /// Requests sent.
    pub requests: AtomicU64,
    /// Choices found in the cache.
    pub cache_hits: AtomicU64,
    /// Prompt tokens reported by the teacher.
    pub prompt_tokens: AtomicU64,
    /// Completion tokens reported by the teacher.
    pub completion_tokens: AtomicU64,
    /// Replies that came with token counts.
    pub tokens_reported: AtomicU64,
    /// Replies that came without token counts: unknown, so left out of the sums.
    pub tokens_unknown: AtomicU64,
    /// Requests sent again after a failure.
    pub retries: AtomicU64,
    /// Requests abandoned for want of a reply within the hang bound (each also a retry,
    /// unless it was the last attempt).
    pub hung: AtomicU64,
}

/// Adds one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

impl Counters {
    /// Adds a reply's token counts, or counts it among the replies without any.
    pub fn count_tokens(&self, tokens: Option<Tokens>) {
        match tokens {
            Some(tokens) => {
                self.prompt_tokens.fetch_add(tokens.prompt, Relaxed);
                self.completion_tokens.fetch_add(tokens.completion, Relaxed);
                bump(&self.tokens_reported);
            }
            None => bump(&self.tokens_unknown),
        }
    }

    fn line(&self, started: Instant) -> String {
        let rate = self
            .tokens_per_sec(started)
            .map_or_else(|| "?".to_string(), |r| format!("{r:.0}"));
        format!(
            "{}/{} records, {} in flight, {} retries, {} failed, {rate} tok/s",
            self.done.load(Relaxed),
            self.read.load(Relaxed),
            self.in_flight.load(Relaxed),
            self.retries.load(Relaxed),
            self.failed.load(Relaxed) + self.malformed.load(Relaxed),
        )
    }

    /// False when replies came but none said what it cost: a sum would read 0, which it
    /// is not.
    fn tokens_known(&self) -> bool {
        self.tokens_reported.load(Relaxed) > 0 || self.tokens_unknown.load(Relaxed) == 0
    }

    fn tokens_per_sec(&self, started: Instant) -> Option<f64> {
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        self.tokens_known()
            .then(|| self.completion_tokens.load(Relaxed) as f64 / secs)
    }

    /// Copies the counts into the end-of-run summary. Token sums cover the replies that
    /// reported counts, `tokens_unknown` says how many did not, and a sum over none is
    /// null.
    pub fn fill(&self, summary: &mut Summary, started: Instant) {
        summary.records_in = self.read.load(Relaxed);
        summary.records_out = self.out.load(Relaxed);
        summary.rejected = self.rejected.load(Relaxed);
        summary.set("requests", self.requests.load(Relaxed));
        summary.set("cache_hits", self.cache_hits.load(Relaxed));
        let known = self.tokens_known();
        let sum = |counter: &AtomicU64| known.then(|| counter.load(Relaxed));
        summary.set("prompt_tokens", sum(&self.prompt_tokens));
        summary.set("completion_tokens", sum(&self.completion_tokens));
        summary.set("tokens_unknown", self.tokens_unknown.load(Relaxed));
        summary.set("retries", self.retries.load(Relaxed));
        summary.set("hung", self.hung.load(Relaxed));
        let rate = self
            .tokens_per_sec(started)
            .map(|r| (r * 10.0).round() / 10.0);
        summary.set("tokens_per_sec", rate);
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing.
    Off,
    /// One line rewritten in place.
    Terminal,
    /// A line every so often.
    Log(Duration),
}

impl Mode {
    /// The mode for this stderr and these flags.
    pub fn pick(quiet: bool, every_secs: u64) -> Mode {
        if quiet {
            Mode::Off
        } else if io::stderr().is_terminal() {
            Mode::Terminal
        } else if every_secs == 0 {
            Mode::Off
        } else {
            Mode::Log(Duration::from_secs(every_secs))
        }
    }
}

/// Shows progress until the task is dropped.
pub async fn report(
    label: String,
    counters: std::sync::Arc<Counters>,
    mode: Mode,
    started: Instant,
) {
    let period = match mode {
        Mode::Off => return,
        Mode::Terminal => Duration::from_millis(250),
        Mode::Log(every) => every,
    };
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticks.tick().await;
        let line = counters.line(started);
        let mut err = io::stderr().lock();
        let _ = match mode {
            Mode::Terminal => write!(err, "\r{label}: {line}\x1b[K"),
            _ => writeln!(err, "{label}: {line}"),
        };
    }
}

/// Clears the in-place progress line, before other output goes to stderr.
pub fn clear(mode: Mode) {
    if mode == Mode::Terminal {
        let _ = write!(io::stderr().lock(), "\r\x1b[K");
    }
}

/// A warning on stderr.
pub fn warn(label: &str, message: &str) {
    let _ = writeln!(io::stderr().lock(), "{label}: warning: {message}");
}
