//! The command line of llm-call: one clap struct whose doc comments are the help text.

use std::path::PathBuf;

use clap::Parser;
use ktpipe_common::CommonArgs;

const AFTER_HELP: &str = "\
Endpoint settings come from the flags, else from TEACHER_MODEL_BASE_URL, TEACHER_MODEL_NAME
and TEACHER_MODEL_API_KEY in the environment, else from a '.env' file in the working
directory. An empty key or 'None' sends no Authorization header. The key is never printed
or stored.

Output records: every input field but the messages, then the reply in --to (default
'response'), its choice index in '<to>_index', the reasoning trace (if the teacher gave
one) in --reasoning-to, and '<to>_finish_reason' when the reply did not end with 'stop'.

Cache (SQLite, shared safely by several processes; query it with sqlite3):
  choices(key TEXT, idx INTEGER, content TEXT, reasoning TEXT, finish_reason TEXT,
          created_at TEXT, PRIMARY KEY(key, idx))
      one row per finished choice; key = sha256 of the canonical request (model, messages,
      temperature, max_tokens, top_p, seed, stop, extra body, salt), idx = choice index
  calls(id INTEGER PRIMARY KEY, at TEXT, stage TEXT, model TEXT, key TEXT, n INTEGER,
        status TEXT, attempts INTEGER, latency_ms REAL, prompt_tokens INTEGER,
        completion_tokens INTEGER, error TEXT)
      one row per HTTP request sent: status is the HTTP code or 'timeout', 'hung',
      'connect', 'transport', 'malformed', 'idle'; attempts is this request's attempt
      number; the token counts are NULL when the teacher reported none (a failed request,
      or a streamed reply from a server that sends no usage), never 0
  rejected(key TEXT, policy TEXT, reason TEXT, created_at TEXT, PRIMARY KEY(key, policy))
      requests whose replies all came back empty, cut or off-format: a rerun rejects their
      records again without asking (--cache-salt asks again)
  e.g. sqlite3 ktpipe-cache.sqlite \"SELECT stage, status, count(*), avg(latency_ms) FROM calls GROUP BY 1, 2\"

Examples:
  prompt-render --template prompts/summary.yaml seeds.jsonl | llm-call -n 5 --max-tokens 4096 --temperature 0.7 > summaries.jsonl
  llm-call --to answer --concurrency 50 --rejects failed.jsonl questions.jsonl > answers.jsonl
  llm-call --shared-budget /tmp/ktpipe-budget --concurrency 50 --stage answers < prompts.jsonl > out.jsonl
  llm-call --extra-body '{\"chat_template_kwargs\": {\"enable_thinking\": true}}' --keep-messages < in.jsonl";

/// Send each record's chat messages to an OpenAI-compatible teacher and write the replies.
///
/// Reads JSONL records carrying OpenAI chat messages, posts them to '<base-url>/chat/completions'
/// with bounded concurrency, retries and a response cache, and writes one record per choice,
/// in input order. Rerunning with the same cache pays only for the choices not yet finished.
#[derive(Debug, Parser)]
#[command(name = "llm-call", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Teacher endpoint base URL (e.g. http://127.0.0.1:8000/v1); else TEACHER_MODEL_BASE_URL.
    ///
    /// A comma-separated list spreads requests over replicas of the same model, least busy
    /// first; a replica that keeps failing is left out and retried later.
    #[arg(long, value_name = "URL", help_heading = "Endpoint")]
    pub base_url: Option<String>,

    /// Model name sent in each request; else TEACHER_MODEL_NAME.
    #[arg(long, value_name = "NAME", help_heading = "Endpoint")]
    pub model: Option<String>,

    /// API key sent as a bearer token; else TEACHER_MODEL_API_KEY ('' or 'None': no key).
    #[arg(long, value_name = "KEY", help_heading = "Endpoint")]
    pub api_key: Option<String>,

    /// Seconds to wait for a whole reply (default 600), or with --stream for the reply to
    /// start (default 120), before the request counts as a timeout and is retried.
    ///
    /// A whole reply that hangs is retried sooner, after the hang bound (--hedge-after).
    #[arg(long, value_name = "SECS", help_heading = "Endpoint")]
    pub timeout: Option<f64>,

    /// Abandon and resend a whole reply that has not come after the longer of SECS and
    /// 4 × the slowest reply so far (0: only --timeout).
    ///
    /// The bound doubles with each retry of the same request, so a long generation that is
    /// merely slow gets its time on the next try; until a first reply has come, it is a
    /// tenth of --timeout (at least SECS). Streamed replies have --idle-timeout instead.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 5.0,
        help_heading = "Endpoint"
    )]
    pub hedge_after: f64,

    /// Ask for streamed replies: one that sends nothing for --idle-timeout is retried at
    /// once, however long it has run.
    ///
    /// Whole replies are the default, cheaper for the client and the teacher; one that
    /// never comes is abandoned after the hang bound (--hedge-after). Streaming tells a silent teacher
    /// from a long generation within --idle-timeout, however slow the stage's replies; a
    /// long generation that keeps sending is never cut.
    #[arg(long, overrides_with = "no_stream", help_heading = "Endpoint")]
    pub stream: bool,

    /// Ask for whole replies (the default).
    #[arg(long, overrides_with = "stream", help_heading = "Endpoint")]
    pub no_stream: bool,

    /// With --stream: abandon and retry a reply that sends nothing for SECS.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30.0,
        help_heading = "Endpoint"
    )]
    pub idle_timeout: f64,

    /// Refuse a reply with more than BYTES of text (default 16 MiB), as a failed attempt.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20,
          value_parser = clap::value_parser!(u64).range(1..), help_heading = "Endpoint")]
    pub max_reply_bytes: u64,

    /// Choices (output records) per input record; missing ones are topped up by further requests.
    #[arg(short = 'n', long = "choices", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "Sampling")]
    pub n: u32,

    /// Sampling temperature.
    #[arg(long, value_name = "F", help_heading = "Sampling")]
    pub temperature: Option<f64>,

    /// Upper bound on the tokens of each reply.
    #[arg(long, value_name = "N", help_heading = "Sampling")]
    pub max_tokens: Option<u64>,

    /// Nucleus sampling probability mass.
    #[arg(long, value_name = "F", help_heading = "Sampling")]
    pub top_p: Option<f64>,

    /// Sampling seed; top-up requests for choices k.. carry seed + k so they differ.
    #[arg(long, value_name = "N", help_heading = "Sampling")]
    pub seed: Option<u64>,

    /// Stop sequence (repeatable).
    #[arg(long, value_name = "STR", help_heading = "Sampling")]
    pub stop: Vec<String>,

    /// JSON object merged into every request body, for server-specific options.
    #[arg(long, value_name = "JSON", help_heading = "Sampling")]
    pub extra_body: Option<String>,

    /// Keep only replies matching PATTERN (a regex); others are asked for again, like
    /// empty ones, and the record is rejected if none matches.
    ///
    /// A cheap format check before paying for the stages downstream: e.g. '\[QUESTION\]|\?'
    /// for a question list. A sampling teacher often gets the format right on a new try.
    #[arg(long, value_name = "PATTERN", help_heading = "Sampling")]
    pub expect: Option<String>,

    /// Keep replies cut at --max-tokens (finish_reason 'length') instead of retrying them.
    ///
    /// By default such a reply is retried and, if every attempt is cut, the record is
    /// rejected with the reason 'reply cut at max tokens'. Empty replies are always retried.
    #[arg(long, help_heading = "Sampling")]
    pub allow_truncated: bool,

    /// Field holding the chat messages of each record.
    #[arg(
        long,
        value_name = "FIELD",
        default_value = "messages",
        help_heading = "Fields"
    )]
    pub messages: String,

    /// Field the reply is written to; '<FIELD>_index' gets the choice index.
    #[arg(
        long,
        value_name = "FIELD",
        default_value = "response",
        help_heading = "Fields"
    )]
    pub to: String,

    /// Field for the reasoning trace, when the teacher gives one [default: <to>_reasoning].
    #[arg(long, value_name = "FIELD", help_heading = "Fields")]
    pub reasoning_to: Option<String>,

    /// Leave out the '<to>_index' field (for stages that ask for one choice).
    #[arg(long, help_heading = "Fields")]
    pub no_index: bool,

    /// Keep the messages field in the output records.
    #[arg(long, help_heading = "Fields")]
    pub keep_messages: bool,

    /// Requests in flight at once (the total across processes with --shared-budget).
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "Concurrency")]
    pub concurrency: u32,

    /// Share the --concurrency budget with every llm-call using DIR (created if missing).
    ///
    /// The budget is a set of lock files that the kernel releases when a process dies, so
    /// a crashed stage never keeps requests from the others; a freed slot goes to the
    /// waiting processes in turn. Give every process sharing DIR the same --concurrency.
    #[arg(long, value_name = "DIR", help_heading = "Concurrency")]
    pub shared_budget: Option<PathBuf>,

    /// Output records held while waiting for the oldest to finish [default: 4 × concurrency, min 16].
    ///
    /// A record asking for -n choices takes n places (at most the whole window), so the
    /// memory held stays the same whatever -n is.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
          help_heading = "Concurrency")]
    pub window: Option<u32>,

    /// Write records as they finish instead of in input order.
    #[arg(long, help_heading = "Concurrency")]
    pub unordered: bool,

    /// Longest a finished record waits in the output buffer while more keep finishing, in ms.
    ///
    /// Whenever no further record is ready, everything finished goes out at once; so does
    /// a full buffer (256 KiB, what the pipe to the next stage holds).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 200,
        help_heading = "Concurrency"
    )]
    pub flush_ms: u64,

    /// Attempts per request before its record is rejected.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "Retries")]
    pub max_attempts: u32,

    /// Attempts for a request whose replies come back empty or cut at max tokens.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "Retries")]
    pub max_content_attempts: u32,

    /// First retry delay in milliseconds; doubles per attempt, with full jitter.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 500,
        help_heading = "Retries"
    )]
    pub retry_base_ms: u64,

    /// Longest retry delay in milliseconds (a server's Retry-After is honoured up to 300 s).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 30_000,
        help_heading = "Retries"
    )]
    pub retry_max_ms: u64,

    /// Response cache database [default: $KTPIPE_CACHE, else ./ktpipe-cache.sqlite].
    #[arg(long, value_name = "FILE", help_heading = "Cache")]
    pub cache: Option<PathBuf>,

    /// Neither read nor write the cache (and keep no call log).
    #[arg(long, conflicts_with = "cache", help_heading = "Cache")]
    pub no_cache: bool,

    /// Mixed into every cache key, to ask again for requests already answered.
    #[arg(long, value_name = "STR", help_heading = "Cache")]
    pub cache_salt: Option<String>,

    /// Seconds between progress lines when stderr is not a terminal (0: none).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 10,
        help_heading = "Progress"
    )]
    pub progress_secs: u64,
}

impl Cli {
    /// The field the reasoning trace goes to.
    pub fn reasoning_field(&self) -> String {
        self.reasoning_to
            .clone()
            .unwrap_or_else(|| format!("{}_reasoning", self.to))
    }

    /// The reorder window in output records.
    pub fn window_size(&self) -> usize {
        self.window
            .map_or_else(|| (self.concurrency as usize * 4).max(16), |w| w as usize)
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
    fn defaults_follow_the_flags() {
        let cli = Cli::try_parse_from(["llm-call", "--to", "answer"]).expect("parses");
        assert_eq!(cli.reasoning_field(), "answer_reasoning");
        assert_eq!(cli.window_size(), 32);
        let cli = Cli::try_parse_from(["llm-call", "--concurrency", "2"]).expect("parses");
        assert_eq!(cli.window_size(), 16);
        assert!(Cli::try_parse_from(["llm-call", "-n", "0"]).is_err());
    }
}
