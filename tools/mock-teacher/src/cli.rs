//! Command-line options of the `mock-teacher` binary and their translation to a [`Config`].

use crate::{Config, Faults};
use clap::Parser;
use ktpipe_common::UsageError;
use std::net::SocketAddr;

const EXAMPLES: &str = "\
Examples:
  # Serve on a fixed port and point the pipeline at it
  mock-teacher --addr 127.0.0.1:8099 &
  export TEACHER_MODEL_BASE_URL=http://127.0.0.1:8099/v1 TEACHER_MODEL_NAME=mock-teacher
  # A slow, flaky teacher to exercise retries
  mock-teacher --seed 7 --latency-base-ms 200 --fault-429 0.1 --fault-drop 0.05
  # A chatty teacher that repeats itself, as real ones do
  mock-teacher --seed 7 --habits 0.3 --repeats 0.2 --off-format 0.05
  # What it has served so far
  curl -s http://127.0.0.1:8099/stats";

/// A deterministic OpenAI-compatible teacher for tests and benchmarks.
///
/// Serves /v1/chat/completions with format-correct replies for each ktpipe prompt kind, a
/// pure function of the request, plus /v1/models and /stats. Latency and faults are
/// injected from a seed; a streamed reply spreads its latency over the events that carry
/// text, and the closing ones (finish reason, usage, [DONE]) follow the last at once, as a
/// server sends them when generation ends. Prints its base URL on stdout, then serves
/// until SIGTERM or Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "mock-teacher", version, after_help = EXAMPLES)]
pub struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Model name listed by /v1/models; any requested name is accepted.
    #[arg(long, default_value = "mock-teacher")]
    pub model: String,
    /// Seed for jitter and fault decisions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fixed latency of every reply, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0.0)]
    pub latency_base_ms: f64,
    /// Extra latency per completion token of the longest choice, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0.0)]
    pub latency_per_token_ms: f64,
    /// Uniform extra latency up to this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0.0)]
    pub jitter_ms: f64,
    /// Probability of a 429 with Retry-After.
    #[arg(long = "fault-429", value_name = "P", default_value_t = 0.0)]
    pub fault_429: f64,
    /// Retry-After seconds sent with a 429.
    #[arg(long = "retry-after", value_name = "SECS", default_value_t = 1)]
    pub retry_after: u64,
    /// Probability of a 500.
    #[arg(long = "fault-500", value_name = "P", default_value_t = 0.0)]
    pub fault_500: f64,
    /// Probability of a 503.
    #[arg(long = "fault-503", value_name = "P", default_value_t = 0.0)]
    pub fault_503: f64,
    /// Probability of closing the connection without a response.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_drop: f64,
    /// Probability of holding the request without a response.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_hang: f64,
    /// How long a hung request holds its connection, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub hang_secs: u64,
    /// Probability of a 200 whose body is not JSON.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_malformed: f64,
    /// Probability of a 200 with empty content.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_empty: f64,
    /// Probability of a 200 cut in half with finish_reason "length".
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fault_length: f64,
    /// After this many faults for one request body, that body is always answered.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_faults_per_request: u32,
    /// Reply with a single choice whatever n is (like llama.cpp).
    #[arg(long)]
    pub ignore_n: bool,
    /// End streams without a usage chunk, even when asked (like llama-cpp-python's server).
    #[arg(long)]
    pub no_stream_usage: bool,
    /// Refuse requests without "Authorization: Bearer KEY" (401).
    #[arg(long, value_name = "KEY")]
    pub require_key: Option<String>,
    /// Answer this share of choices in plain prose that ignores the asked-for format.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub off_format: f64,
    /// Wrap this share of choices in the habits of real instruction-tuned teachers.
    ///
    /// The values asked for stay recoverable by a careful parser: chatty preambles and
    /// closing remarks, numbered or labelled questions and answers, Markdown bold,
    /// lower-case or unclosed tags, verdicts in bold, in lower case, with a reason or
    /// alone on the last line. Counted per kind as `habits` in /stats.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub habits: f64,
    /// Take this share of questions from a pool of six per document, reworded.
    ///
    /// Like a sampling teacher that repeats itself: the pool is keyed on the document's
    /// title (or the prompt's longest paragraph when it names none) and a repeat differs
    /// in case, punctuation, a filler word, the name of the source or a few words at the
    /// end. Applies to question and Q&A pair prompts; counted per kind as `repeats` in
    /// /stats.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub repeats: f64,
    /// Echo a refused request's headers and body (the API key included) in its 401 error.
    #[arg(long)]
    pub echo_request: bool,
}

impl Cli {
    /// The server configuration, or a usage error for out-of-range values.
    pub fn config(&self) -> Result<Config, UsageError> {
        let faults = Faults {
            rate_429: self.fault_429,
            rate_500: self.fault_500,
            rate_503: self.fault_503,
            rate_drop: self.fault_drop,
            rate_hang: self.fault_hang,
            rate_malformed: self.fault_malformed,
            rate_empty: self.fault_empty,
            rate_length: self.fault_length,
        };
        let rates = [
            ("--fault-429", faults.rate_429),
            ("--fault-500", faults.rate_500),
            ("--fault-503", faults.rate_503),
            ("--fault-drop", faults.rate_drop),
            ("--fault-hang", faults.rate_hang),
            ("--fault-malformed", faults.rate_malformed),
            ("--fault-empty", faults.rate_empty),
            ("--fault-length", faults.rate_length),
        ];
        for (flag, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(UsageError::new(format!(
                    "{flag} must be between 0 and 1, not '{rate}'"
                )));
            }
        }
        let shares = [
            ("--off-format", self.off_format),
            ("--habits", self.habits),
            ("--repeats", self.repeats),
        ];
        for (flag, share) in shares {
            if !(0.0..=1.0).contains(&share) {
                return Err(UsageError::new(format!(
                    "{flag} must be between 0 and 1, not '{share}'"
                )));
            }
        }
        let total: f64 = rates.iter().map(|(_, r)| r).sum();
        if total > 1.0 + 1e-9 {
            return Err(UsageError::new(format!(
                "fault rates add up to '{total}', more than 1"
            )));
        }
        let latencies = [
            ("--latency-base-ms", self.latency_base_ms),
            ("--latency-per-token-ms", self.latency_per_token_ms),
            ("--jitter-ms", self.jitter_ms),
        ];
        for (flag, ms) in latencies {
            if !(ms.is_finite() && ms >= 0.0) {
                return Err(UsageError::new(format!(
                    "{flag} must be a non-negative number, not '{ms}'"
                )));
            }
        }
        Ok(Config {
            model: self.model.clone(),
            seed: self.seed,
            latency_base_ms: self.latency_base_ms,
            latency_per_token_ms: self.latency_per_token_ms,
            jitter_ms: self.jitter_ms,
            faults,
            retry_after_secs: self.retry_after,
            hang_secs: self.hang_secs,
            max_faults_per_request: self.max_faults_per_request,
            ignore_n: self.ignore_n,
            no_stream_usage: self.no_stream_usage,
            require_key: self.require_key.clone(),
            off_format: self.off_format,
            habits: self.habits,
            repeats: self.repeats,
            echo_request: self.echo_request,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_map_to_config_and_bad_rates_are_refused() {
        let cli = Cli::parse_from([
            "mock-teacher",
            "--fault-429",
            "0.25",
            "--ignore-n",
            "--require-key",
            "k",
        ]);
        let config = cli.config().unwrap();
        assert_eq!(config.faults.rate_429, 0.25);
        assert!(config.ignore_n);
        assert!(!config.no_stream_usage);
        assert_eq!(config.require_key.as_deref(), Some("k"));
        assert_eq!(config.hang_secs, 3600);
        let cli = Cli::parse_from(["mock-teacher", "--fault-500", "0.7", "--fault-503", "0.7"]);
        assert!(cli.config().is_err());
        let cli = Cli::parse_from(["mock-teacher", "--fault-drop", "1.5"]);
        assert!(
            cli.config()
                .unwrap_err()
                .to_string()
                .contains("--fault-drop")
        );
    }

    #[test]
    fn habits_and_repeats_are_shares() {
        let cli = Cli::parse_from(["mock-teacher", "--habits", "0.3", "--repeats", "1"]);
        let config = cli.config().unwrap();
        assert_eq!((config.habits, config.repeats), (0.3, 1.0));
        for (flag, value) in [
            ("--habits", "1.5"),
            ("--repeats", "-0.1"),
            ("--habits", "NaN"),
        ] {
            let err = Cli::parse_from(["mock-teacher", &format!("{flag}={value}")])
                .config()
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("{flag} must be between 0 and 1")),
                "{err}"
            );
        }
    }
}
