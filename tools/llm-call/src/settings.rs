//! The command line resolved once, before any input is read, into the one [`Settings`]
//! value the rest of llm-call takes: the endpoint (flags, else environment, else `.env`),
//! the request spec, the cache path, and every other setting in the form its part uses.
//! Every problem here is a usage error (exit 2).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ktpipe_common::{CommonArgs, UsageError};

use crate::cli::Cli;
use crate::dotenv::Env;
use crate::progress::Mode;
use crate::records::Fields;
use crate::teacher::Transport;
use crate::teacher::request::{self, Spec};
use crate::teacher::retry::Backoff;

/// The default wait for a whole reply: long generations at a busy server take minutes.
const DEFAULT_REPLY_SECS: f64 = 600.0;
/// The default wait for a streamed reply to start; silence after that is the idle timeout.
const DEFAULT_STREAM_START_SECS: f64 = 120.0;

/// Where and how to reach the teacher: one or more replicas of the same model.
pub struct Endpoint {
    /// `<base>/chat/completions` of each replica, in the order given, without repeats.
    pub urls: Vec<reqwest::Url>,
    /// How messages name each replica (its base URL as given).
    pub names: Vec<String>,
    /// The tool's message label, for notes about replicas going out and coming back.
    pub label: String,
    /// The API key, when one is to be sent. Never printed.
    pub api_key: Option<String>,
    /// Per-request timeout: for the whole reply, or for a streamed one to start.
    pub timeout: Duration,
}

/// What each record is asked, which replies are kept and how often to try: the part of
/// the settings every call reads.
pub struct Ask {
    /// The request spec shared by all records.
    pub spec: Spec,
    /// The fields read and written.
    pub fields: Fields,
    /// Choices per input record.
    pub n: u32,
    /// Keep replies cut at max tokens.
    pub allow_truncated: bool,
    /// A pattern every kept reply must match (`--expect`); others are asked for again.
    pub expect: Option<fancy_regex::Regex>,
    /// The settings that decide whether a reply is usable, as remembered with a cached
    /// rejection.
    pub policy: Arc<str>,
    /// Consecutive failed attempts before a record is given up.
    pub max_attempts: u32,
    /// Attempts for a record whose replies keep coming back empty or cut: unlike an
    /// outage, asking again rarely helps, so it is given up sooner.
    pub max_content_attempts: u32,
    /// Retry delays.
    pub backoff: Backoff,
}

/// Everything resolved from the command line and the environment.
pub struct Settings {
    /// Message prefix: `llm-call`, or `llm-call[stage]`.
    pub label: String,
    /// Inputs, rejects file, stage name, stats file, quiet.
    pub common: CommonArgs,
    /// The endpoint.
    pub endpoint: Endpoint,
    /// How replies are read, and their bounds.
    pub transport: Transport,
    /// What each record is asked, and which replies are kept.
    pub ask: Ask,
    /// The cache database, unless `--no-cache`.
    pub cache: Option<PathBuf>,
    /// Requests in flight at once.
    pub concurrency: u32,
    /// The directory of a budget shared with other processes.
    pub shared_budget: Option<PathBuf>,
    /// The reorder window, in output records.
    pub window: usize,
    /// Output in input order.
    pub ordered: bool,
    /// Longest the oldest finished record waits in the output buffer while more come.
    pub flush: Duration,
    /// Progress on stderr.
    pub progress: Mode,
}

/// Resolves the settings; errors are usage errors naming the flag and variable to set.
pub fn resolve(cli: Cli) -> anyhow::Result<Settings> {
    let env = Env::load()?;
    let pick = |flag: &Option<String>, var: &str| flag.clone().or_else(|| env.get(var));
    let base = pick(&cli.base_url, "TEACHER_MODEL_BASE_URL")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| missing("--base-url", "TEACHER_MODEL_BASE_URL"))?;
    let model = pick(&cli.model, "TEACHER_MODEL_NAME")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| missing("--model", "TEACHER_MODEL_NAME"))?;
    let api_key = pick(&cli.api_key, "TEACHER_MODEL_API_KEY")
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty() && k != "None");
    let (urls, names) = chat_urls(&base)?;
    let label = cli.common.label("llm-call");
    let endpoint = Endpoint {
        urls,
        names,
        label: label.clone(),
        api_key,
        timeout: request_timeout(&cli)?,
    };
    let mut spec = Spec {
        model,
        temperature: cli.temperature,
        max_tokens: cli.max_tokens,
        top_p: cli.top_p,
        seed: cli.seed,
        stop: cli.stop.clone(),
        extra: serde_json::Map::new(),
        salt: cli.cache_salt.clone(),
        stream: cli.stream,
    };
    if let Some(text) = &cli.extra_body {
        spec.extra = request::parse_extra(text, &spec).map_err(UsageError::new)?;
    }
    let cache = if cli.no_cache {
        None
    } else {
        Some(cli.cache.clone().unwrap_or_else(|| {
            env.get("KTPIPE_CACHE")
                .filter(|p| !p.is_empty())
                .map_or_else(|| PathBuf::from("ktpipe-cache.sqlite"), PathBuf::from)
        }))
    };
    check_fields(&cli)?;
    let fields = Fields::new(
        &cli.messages,
        cli.keep_messages,
        &cli.to,
        &cli.reasoning_field(),
    );
    Ok(Settings {
        label,
        endpoint,
        transport: Transport {
            stream: cli.stream,
            idle: seconds("--idle-timeout", cli.idle_timeout)?,
            hedge_after: hedge_after(cli.hedge_after)?,
            max_reply_bytes: usize::try_from(cli.max_reply_bytes).unwrap_or(usize::MAX),
        },
        ask: Ask {
            spec,
            fields: if cli.no_index {
                fields.without_index()
            } else {
                fields
            },
            n: cli.n,
            allow_truncated: cli.allow_truncated,
            expect: expect(cli.expect.as_deref())?,
            policy: Arc::from(format!(
                "allow_truncated={};expect={}",
                cli.allow_truncated,
                cli.expect.as_deref().unwrap_or("")
            )),
            max_attempts: cli.max_attempts,
            max_content_attempts: cli.max_content_attempts,
            backoff: Backoff {
                base: Duration::from_millis(cli.retry_base_ms),
                max: Duration::from_millis(cli.retry_max_ms),
            },
        },
        cache,
        concurrency: cli.concurrency,
        window: cli.window_size(),
        ordered: !cli.unordered,
        flush: Duration::from_millis(cli.flush_ms),
        progress: Mode::pick(cli.common.quiet, cli.progress_secs),
        shared_budget: cli.shared_budget,
        common: cli.common,
    })
}

fn missing(flag: &str, var: &str) -> anyhow::Error {
    UsageError::new(format!(
        "no teacher endpoint setting: pass {flag} or set {var} (in the environment or .env)"
    ))
    .into()
}

/// The chat URLs of a comma-separated list of base URLs (each trimmed and checked; empty
/// items skipped; a repeat of an earlier URL dropped), with the bases as given.
pub fn chat_urls(list: &str) -> anyhow::Result<(Vec<reqwest::Url>, Vec<String>)> {
    let mut urls: Vec<reqwest::Url> = Vec::new();
    let mut names = Vec::new();
    for base in list.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        let url = chat_url(base)?;
        if !urls.contains(&url) {
            urls.push(url);
            names.push(base.trim_end_matches('/').to_string());
        }
    }
    if urls.is_empty() {
        return Err(missing("--base-url", "TEACHER_MODEL_BASE_URL"));
    }
    Ok((urls, names))
}

/// `<base>/chat/completions` as a URL, checked to be http(s).
pub fn chat_url(base: &str) -> anyhow::Result<reqwest::Url> {
    let joined = format!("{}/chat/completions", base.trim_end_matches('/'));
    let url = reqwest::Url::parse(&joined)
        .map_err(|e| UsageError::new(format!("invalid teacher base URL '{base}': {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UsageError::new(format!(
            "invalid teacher base URL '{base}': expected http:// or https://"
        ))
        .into());
    }
    Ok(url)
}

/// `--timeout`, or its default for the way replies travel.
fn request_timeout(cli: &Cli) -> anyhow::Result<Duration> {
    let default = if cli.stream {
        DEFAULT_STREAM_START_SECS
    } else {
        DEFAULT_REPLY_SECS
    };
    timeout(cli.timeout.unwrap_or(default))
}

fn timeout(secs: f64) -> anyhow::Result<Duration> {
    seconds("--timeout", secs)
}

/// `--hedge-after`: the least hang bound of a whole reply, or None (0) for none.
fn hedge_after(secs: f64) -> anyhow::Result<Option<Duration>> {
    if secs == 0.0 {
        return Ok(None);
    }
    seconds("--hedge-after", secs).map(Some)
}

/// The `--expect` pattern, compiled; a bad one is a usage error.
fn expect(pattern: Option<&str>) -> anyhow::Result<Option<fancy_regex::Regex>> {
    pattern
        .map(|p| {
            fancy_regex::Regex::new(p)
                .map_err(|e| UsageError::new(format!("invalid --expect '{p}': {e}")).into())
        })
        .transpose()
}

/// A duration flag's value: a positive number of seconds, else a usage error naming `flag`.
fn seconds(flag: &str, secs: f64) -> anyhow::Result<Duration> {
    if secs.is_finite() && secs > 0.0 {
        Ok(Duration::from_secs_f64(secs.min(1e7)))
    } else {
        Err(UsageError::new(format!(
            "{flag} must be a positive number of seconds, not '{secs}'"
        ))
        .into())
    }
}

fn check_fields(cli: &Cli) -> anyhow::Result<()> {
    let reasoning = cli.reasoning_field();
    let owned = [
        cli.to.clone(),
        format!("{}_index", cli.to),
        format!("{}_finish_reason", cli.to),
        reasoning,
    ];
    for (i, field) in owned.iter().enumerate() {
        if field.is_empty() || field == &cli.messages || owned[..i].contains(field) {
            return Err(UsageError::new(format!(
                "output field '{field}' is empty or clashes with another field llm-call reads or writes"
            ))
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_url_joins_and_checks_the_base() {
        assert_eq!(
            chat_url("http://127.0.0.1:8000/v1/")
                .expect("valid")
                .as_str(),
            "http://127.0.0.1:8000/v1/chat/completions"
        );
        assert!(chat_url("ftp://x/v1").is_err());
        assert!(chat_url("not a url").is_err());
    }

    #[test]
    fn a_list_of_bases_is_trimmed_checked_and_deduplicated() {
        let (urls, names) =
            chat_urls(" http://a:1/v1 ,http://b:2/v1/,, http://a:1/v1/ ,").expect("valid");
        let urls: Vec<&str> = urls.iter().map(reqwest::Url::as_str).collect();
        assert_eq!(
            urls,
            [
                "http://a:1/v1/chat/completions",
                "http://b:2/v1/chat/completions"
            ]
        );
        assert_eq!(names, ["http://a:1/v1", "http://b:2/v1"]);
        let err = chat_urls("http://a:1/v1,ftp://b/v1").expect_err("one bad item");
        assert!(err.to_string().contains("'ftp://b/v1'"), "{err}");
        assert!(chat_urls(" , ").is_err());
    }

    #[test]
    fn replies_are_whole_by_default_and_the_timeout_follows_the_transport() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["llm-call"], args].concat()).expect("parses");
            (cli.stream, request_timeout(&cli).expect("valid").as_secs())
        };
        assert_eq!(parse(&[]), (false, 600));
        assert_eq!(parse(&["--stream"]), (true, 120));
        assert_eq!(parse(&["--stream", "--no-stream"]), (false, 600));
        assert_eq!(parse(&["--no-stream", "--stream"]), (true, 120));
        assert_eq!(parse(&["--stream", "--timeout", "7"]), (true, 7));
        assert_eq!(parse(&["--timeout", "9"]), (false, 9));
    }

    #[test]
    fn timeouts_must_be_positive() {
        assert!(timeout(0.0).is_err());
        assert!(timeout(f64::NAN).is_err());
        assert_eq!(timeout(1.5).expect("ok"), Duration::from_millis(1500));
    }

    #[test]
    fn hang_hedging_is_on_by_default_and_0_turns_it_off() {
        use clap::Parser;
        let cli = Cli::try_parse_from(["llm-call"]).expect("parses");
        assert_eq!(
            hedge_after(cli.hedge_after).expect("valid"),
            Some(Duration::from_secs(5))
        );
        assert_eq!(hedge_after(0.0).expect("valid"), None);
        assert!(hedge_after(-1.0).is_err());
        assert!(hedge_after(f64::NAN).is_err());
    }
}
