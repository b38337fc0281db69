//! One HTTP request to the teacher and what became of it: a parsed reply, or a failure
//! classified as retryable or not. The API key goes only into the Authorization header,
//! never into a URL, and every text shown from the server or the network stack is scrubbed
//! of it.

pub mod endpoints;
pub mod hedge;
pub mod reply;
pub mod request;
pub mod retry;
pub mod stream;

use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ktpipe_common::UsageError;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};

use crate::settings::Endpoint;
use crate::teacher::endpoints::Endpoints;
use crate::teacher::hedge::Hedge;
use crate::teacher::retry::parse_retry_after;
use crate::teacher::stream::Assembler;
use reply::Reply;

/// Longest server error text shown or logged.
const MAX_ERROR_CHARS: usize = 500;

/// Why a request produced no usable reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// No reply within the timeout.
    Timeout,
    /// No whole reply within the hang bound (see `crate::teacher::hedge`): abandoned, to be sent again.
    Hung(Duration),
    /// A streamed reply went silent for longer than the idle timeout.
    Silent(Duration),
    /// The connection could not be made.
    Connect(String),
    /// The connection broke or the body could not be read.
    Transport(String),
    /// A non-success HTTP status, with the (scrubbed, shortened) body.
    Status {
        /// HTTP status code.
        code: u16,
        /// Response body.
        body: String,
        /// The server's Retry-After, if any.
        retry_after: Option<Duration>,
    },
    /// A 2xx body that is not a chat completion.
    Malformed(String),
    /// Every choice was empty.
    Empty,
    /// Every usable-looking choice was cut at the token limit.
    Truncated,
    /// Every reply missed the format the caller expects (`--expect`).
    OffFormat(String),
}

impl Failure {
    /// True when trying again may help.
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Status { code, .. } => matches!(code, 408 | 429) || *code >= 500,
            _ => true,
        }
    }

    /// True when the reply came but its content is unusable (a data problem, not a
    /// teacher outage).
    pub fn is_content(&self) -> bool {
        matches!(
            self,
            Failure::Empty | Failure::Truncated | Failure::OffFormat(_)
        )
    }

    /// The server's requested delay.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The `status` column of the call log.
    pub fn status(&self) -> String {
        match self {
            Failure::Timeout => "timeout".into(),
            Failure::Hung(_) => "hung".into(),
            Failure::Silent(_) => "idle".into(),
            Failure::Connect(_) => "connect".into(),
            Failure::Transport(_) => "transport".into(),
            Failure::Status { code, .. } => code.to_string(),
            Failure::Malformed(_) => "malformed".into(),
            Failure::Empty => "empty".into(),
            Failure::Truncated => "length".into(),
            Failure::OffFormat(_) => "off-format".into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout => write!(f, "timeout"),
            Failure::Hung(bound) => write!(f, "no reply after {} s", bound.as_secs_f64()),
            Failure::Silent(idle) => write!(f, "no data for {} s", idle.as_secs_f64()),
            Failure::Connect(msg) => write!(f, "cannot connect: {msg}"),
            Failure::Transport(msg) => write!(f, "connection failed: {msg}"),
            Failure::Status { code, body, .. } if !self.retryable() && !body.is_empty() => {
                write!(f, "HTTP {code}: {body}")
            }
            Failure::Status { code, .. } => write!(f, "HTTP {code}"),
            Failure::Malformed(msg) => write!(f, "malformed reply: {msg}"),
            Failure::Empty => write!(f, "empty reply"),
            Failure::Truncated => write!(f, "reply cut at max tokens"),
            Failure::OffFormat(pattern) => write!(f, "reply does not match --expect '{pattern}'"),
        }
    }
}

/// How replies are read: streamed or whole, and the bounds on both.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    /// Ask for server-sent events, so a silent server can be told from a long reply.
    pub stream: bool,
    /// Longest silence within a streamed reply before it is abandoned and retried.
    pub idle: Duration,
    /// The least hang bound of a whole reply (`crate::teacher::hedge`); None: only the timeout.
    pub hedge_after: Option<Duration>,
    /// Most bytes of reply (text in a stream, body otherwise) one request may bring.
    pub max_reply_bytes: usize,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            stream: false,
            idle: Duration::from_secs(30),
            hedge_after: Some(Duration::from_secs(5)),
            max_reply_bytes: 16 << 20,
        }
    }
}

/// The HTTP client: one connection pool for the whole run.
pub struct Client {
    transport: Transport,
    hedge: Hedge,
    http: reqwest::Client,
    endpoints: Endpoints,
    auth: Option<HeaderValue>,
    key: Option<String>,
    timeout: Duration,
}

impl Client {
    /// A client for `endpoint` keeping up to `pool` idle connections.
    pub fn new(endpoint: &Endpoint, pool: usize) -> anyhow::Result<Self> {
        let auth = match &endpoint.api_key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    UsageError::new("the API key contains characters not allowed in an HTTP header")
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .tcp_nodelay(true)
            .connect_timeout(endpoint.timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("ktpipe-llm-call/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot start the HTTP client: {e}"))?;
        let transport = Transport::default();
        Ok(Client {
            transport,
            hedge: Hedge::new(transport.hedge_after),
            http,
            endpoints: Endpoints::new(
                endpoint.urls.clone(),
                endpoint
                    .names
                    .iter()
                    .map(|n| scrub(n, endpoint.api_key.as_deref()))
                    .collect(),
                endpoint.label.clone(),
            ),
            auth,
            key: endpoint.api_key.clone(),
            timeout: endpoint.timeout,
        })
    }

    /// The same client reading replies as `transport` says.
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self.hedge = Hedge::new(transport.hedge_after);
        self
    }

    /// Sends one request body, after `failures` failed attempts of the same request, and
    /// reads the reply. A whole reply must arrive within the timeout, and within the hang
    /// bound once this stage's replies have shown it; a streamed one must start within the
    /// timeout and then never fall silent for longer than the idle timeout, however long it
    /// runs.
    pub async fn send(&self, body: Bytes, failures: u32) -> Result<Reply, Failure> {
        let mut lease = self.endpoints.pick();
        let result = self.send_to(lease.url(), body, failures).await;
        lease.report(result.as_ref().err());
        result
    }

    /// [`Client::send`] to the replica at `url`.
    async fn send_to(
        &self,
        url: &reqwest::Url,
        body: Bytes,
        failures: u32,
    ) -> Result<Reply, Failure> {
        let mut request = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        if self.transport.stream {
            // A stream may run long: only its start is bounded here, then the idle timeout.
            let response = match tokio::time::timeout(self.timeout, request.send()).await {
                Ok(sent) => sent.map_err(|e| self.network(e))?,
                Err(_) => return Err(Failure::Timeout),
            };
            return self.read(response).await;
        }
        // Headers and body under one timer: the timeout, or the hang bound once known.
        let started = tokio::time::Instant::now();
        let exchange = async {
            let response = request.send().await.map_err(|e| self.network(e))?;
            self.read(response).await
        };
        let reply = self
            .hedge
            .bounded(exchange, started, self.timeout, failures)
            .await?;
        self.hedge.observe(started.elapsed());
        Ok(reply)
    }

    /// Reads a response: a failure for an error status, else the reply, streamed or whole.
    async fn read(&self, response: reqwest::Response) -> Result<Reply, Failure> {
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let body = response.bytes().await.unwrap_or_default();
            return Err(Failure::Status {
                code: status.as_u16(),
                body: self.scrub(&String::from_utf8_lossy(&body)),
                retry_after,
            });
        }
        let is_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_stream {
            return self.read_stream(response).await;
        }
        let body = self.read_body(response).await?;
        reply::parse(&body).map_err(|e| Failure::Malformed(self.scrub(&e)))
    }

    /// Reads a streamed reply, chunk by chunk, each within the idle timeout.
    async fn read_stream(&self, mut response: reqwest::Response) -> Result<Reply, Failure> {
        let idle = self.transport.idle;
        let mut assembler = Assembler::new(self.transport.max_reply_bytes);
        loop {
            match tokio::time::timeout(idle, response.chunk()).await {
                Err(_) => return Err(Failure::Silent(idle)),
                Ok(Err(e)) => return Err(self.network(e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(bytes))) => assembler
                    .feed(&bytes)
                    .map_err(|e| Failure::Malformed(self.scrub(&e)))?,
            }
            if assembler.is_done() {
                break;
            }
        }
        assembler
            .finish()
            .map_err(|e| Failure::Malformed(self.scrub(&e)))
    }

    /// Reads a whole body, refusing one larger than the reply limit.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
        let limit = self.transport.max_reply_bytes;
        let mut body = Vec::new();
        while let Some(bytes) = response.chunk().await.map_err(|e| self.network(e))? {
            if body.len() + bytes.len() > limit {
                return Err(Failure::Malformed(format!(
                    "reply larger than {limit} bytes"
                )));
            }
            body.extend_from_slice(&bytes);
        }
        Ok(body)
    }

    fn network(&self, err: reqwest::Error) -> Failure {
        if err.is_timeout() {
            return Failure::Timeout;
        }
        let connect = err.is_connect();
        let err = err.without_url();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        let text = self.scrub(&text);
        if connect {
            Failure::Connect(text)
        } else {
            Failure::Transport(text)
        }
    }

    /// Removes the key from `text` and shortens it for messages.
    pub fn scrub(&self, text: &str) -> String {
        scrub(text, self.key.as_deref())
    }
}

/// `text` with every occurrence of `key` replaced, cut to [`MAX_ERROR_CHARS`] characters,
/// on one line.
pub fn scrub(text: &str, key: Option<&str>) -> String {
    let text = match key {
        Some(key) if !key.is_empty() => text.replace(key, "[api key]"),
        _ => text.to_string(),
    };
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_the_key_and_shortens() {
        let text = "bad key sk-secret in\n header Bearer sk-secret";
        assert_eq!(
            scrub(text, Some("sk-secret")),
            "bad key [api key] in header Bearer [api key]"
        );
        let long = "é".repeat(600);
        let cut = scrub(&long, None);
        assert_eq!(cut.chars().count(), MAX_ERROR_CHARS + 1);
    }

    #[test]
    fn classification_follows_the_status() {
        let status = |code| Failure::Status {
            code,
            body: "b".into(),
            retry_after: None,
        };
        assert!(status(429).retryable() && status(503).retryable() && status(408).retryable());
        assert!(!status(400).retryable() && !status(404).retryable());
        assert!(!status(401).retryable() && !status(403).retryable());
        assert_eq!(status(503).to_string(), "HTTP 503");
        assert_eq!(status(400).to_string(), "HTTP 400: b");
        assert_eq!(Failure::Truncated.to_string(), "reply cut at max tokens");
        assert_eq!(Failure::Truncated.status(), "length");
    }
}
