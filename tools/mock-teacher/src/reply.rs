//! Answers one chat-completions request: decides between a normal reply and a fault,
//! waits out the simulated latency, and sends the body whole or as server-sent events.

use crate::body::{Aborted, ReplyBody};
use crate::chat::{self, ChatRequest, Choice};
use crate::choice::{self, Quirks};
use crate::faults::{Decision, Fault, unit};
use crate::habits;
use crate::server::{State, bytes_response, error_body, json_response};
use crate::stats::InFlight;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, HeaderValue, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Salt that keeps the jitter draw apart from the fault draws.
const JITTER_SALT: u64 = 0x6a69_7474_6572;
/// Salt of the off-format draw, apart from jitter and faults.
const OFF_FORMAT_SALT: u64 = 0x006f_6666_5f66_6d74;

/// A body that starts like a completion and stops mid-string: not JSON.
const MALFORMED: &[u8] = br#"{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"The answer is"#;

type Reply = Result<Response<ReplyBody>, Aborted>;

/// Answers a chat-completions request that passed authentication.
pub async fn chat(state: Arc<State>, req: Request<Incoming>, guard: InFlight) -> Reply {
    let bytes = req
        .into_body()
        .collect()
        .await
        .map_err(|_| Aborted)?
        .to_bytes();
    let parsed = match chat::parse(&bytes) {
        Ok(parsed) => parsed,
        Err(msg) => {
            let body = error_body(&msg, "invalid_request_error");
            return Ok(json_response(StatusCode::BAD_REQUEST, body).map(|b| b.guarded(guard)));
        }
    };
    let cfg = &state.config;
    let decision = state.ledger.arrive(
        parsed.body_key,
        cfg.seed,
        &cfg.faults,
        cfg.max_faults_per_request,
    );
    let reply = Replier {
        state: Arc::clone(&state),
        jitter: cfg.jitter_ms * unit(cfg.seed, parsed.body_key, JITTER_SALT),
        req: parsed,
    };
    match decision {
        Decision::Serve { serial } => reply.normal(serial, guard).await,
        Decision::Fault(fault) => reply.fault(fault, guard).await,
    }
}

struct Replier {
    state: Arc<State>,
    req: ChatRequest,
    jitter: f64,
}

impl Replier {
    /// The choices of a reply; `served` says whether this is a normal reply, which alone
    /// moves an `ignore_n` server on to its next text (faults leave the sequence alone).
    fn choices(&self, served: bool) -> Vec<Choice> {
        if self.state.config.ignore_n {
            // Like a sampling server asked again: each repeat gets the next text.
            let draw = self.state.ledger.draw(self.req.content_key, served);
            vec![self.choice(draw)]
        } else {
            (0..self.req.n).map(|i| self.choice(i)).collect()
        }
    }

    /// Text `index`, or its off-format stand-in for the share `off_format` asks for; in
    /// habits for the share `habits` asks for, with the share `repeats` of its questions
    /// repeated.
    fn choice(&self, index: u64) -> Choice {
        let cfg = &self.state.config;
        let key = self.req.content_key ^ index;
        let quirks = Quirks {
            seed: cfg.seed,
            habits: habits::chosen(cfg.habits, cfg.seed, key),
            repeats: cfg.repeats,
        };
        let draw = unit(cfg.seed, key, OFF_FORMAT_SALT);
        if cfg.off_format > 0.0 && draw < cfg.off_format {
            choice::off_format(&self.req, index, quirks)
        } else {
            choice::with_quirks(&self.req, index, quirks)
        }
    }

    /// Base latency plus jitter, plus per-token time for the longest choice.
    fn latency(&self, choices: &[Choice]) -> Duration {
        let cfg = &self.state.config;
        let longest = choices
            .iter()
            .map(|c| chat::tokens(&c.content))
            .max()
            .unwrap_or(0);
        let ms = cfg.latency_base_ms + cfg.latency_per_token_ms * longest as f64 + self.jitter;
        Duration::from_secs_f64((ms / 1000.0).max(0.0))
    }

    fn model(&self) -> String {
        self.req
            .model
            .clone()
            .unwrap_or_else(|| self.state.config.model.clone())
    }

    async fn normal(self, serial: u64, guard: InFlight) -> Reply {
        let choices = self.choices(true);
        let latency = self.latency(&choices);
        let stats = Arc::clone(&self.state.stats);
        let kind = self.req.kind;
        let prompt_tokens = self.req.prompt_tokens;
        let count = move |choices: &[Choice]| {
            let completion: u64 = choices.iter().map(|c| chat::tokens(&c.content)).sum();
            stats.ok(serial > 0, prompt_tokens, completion);
            stats.latency(kind, latency);
            for c in choices {
                stats.choice(kind, c.items, c.yes, c.off_format);
                stats.quirks(kind, c.habits, c.repeats);
            }
        };
        if self.req.stream {
            let events = self.events(&choices);
            return Ok(stream(
                events,
                latency,
                None,
                move || count(&choices),
                guard,
            ));
        }
        sleep(latency).await;
        count(&choices);
        Ok(self.whole(&choices, guard))
    }

    async fn fault(self, fault: Fault, guard: InFlight) -> Reply {
        let stats = Arc::clone(&self.state.stats);
        let cfg = &self.state.config;
        match fault {
            Fault::TooMany | Fault::Internal | Fault::Unavailable => {
                sleep(self.latency(&[])).await;
                stats.fault(fault);
                Ok(status_reply(fault, cfg.retry_after_secs).map(|b| b.guarded(guard)))
            }
            Fault::Drop => {
                stats.fault(fault);
                Err(Aborted)
            }
            Fault::Hang => {
                stats.fault(fault);
                let hang = Duration::from_secs(cfg.hang_secs);
                if self.req.stream {
                    let events = self.events(&self.choices(false));
                    return Ok(stream(events, Duration::ZERO, Some(hang), || {}, guard));
                }
                sleep(hang).await;
                drop(guard);
                Err(Aborted)
            }
            Fault::Malformed => self.malformed(guard).await,
            Fault::Empty | Fault::Length => self.degraded(fault, guard).await,
        }
    }

    /// A 200 whose body (or stream event) is not JSON.
    async fn malformed(self, guard: InFlight) -> Reply {
        sleep(self.latency(&self.choices(false))).await;
        self.state.stats.fault(Fault::Malformed);
        let (body, content_type) = if self.req.stream {
            let mut event = b"data: ".to_vec();
            event.extend_from_slice(MALFORMED);
            event.extend_from_slice(b"\n\ndata: [DONE]\n\n");
            (event, "text/event-stream")
        } else {
            (MALFORMED.to_vec(), "application/json")
        };
        let body = ReplyBody::full(body).guarded(guard);
        Ok(bytes_response(StatusCode::OK, content_type, body))
    }

    /// A well-formed 200 whose content is empty or cut in half.
    async fn degraded(self, fault: Fault, guard: InFlight) -> Reply {
        let mut choices = self.choices(false);
        let latency = self.latency(&choices);
        for choice in &mut choices {
            if fault == Fault::Empty {
                choice.content.clear();
            } else {
                chat::halve(choice);
            }
        }
        let stats = Arc::clone(&self.state.stats);
        if self.req.stream {
            let events = self.events(&choices);
            let done = move || stats.fault(fault);
            return Ok(stream(events, latency, None, done, guard));
        }
        sleep(latency).await;
        stats.fault(fault);
        Ok(self.whole(&choices, guard))
    }

    fn id(&self) -> String {
        chat::reply_id(&self.req, 0)
    }

    fn whole(&self, choices: &[Choice], guard: InFlight) -> Response<ReplyBody> {
        let body =
            chat::completion_body(&self.id(), &self.model(), choices, self.req.prompt_tokens);
        bytes_response(
            StatusCode::OK,
            "application/json",
            ReplyBody::full(body).guarded(guard),
        )
    }

    /// The stream's events and how many of them close it: the last finish reason, the
    /// usage when asked for (unless the server is set to send none), and `[DONE]`.
    fn events(&self, choices: &[Choice]) -> Events {
        let mut events = chat::stream_events(&self.id(), &self.model(), choices);
        let mut closing = 2;
        if self.req.include_usage && !self.state.config.no_stream_usage {
            let usage =
                chat::usage_event(&self.id(), &self.model(), self.req.prompt_tokens, choices);
            events.insert(events.len() - 1, usage);
            closing += 1;
        }
        Events { events, closing }
    }
}

async fn sleep(duration: Duration) {
    if !duration.is_zero() {
        tokio::time::sleep(duration).await;
    }
}

fn status_reply(fault: Fault, retry_after: u64) -> Response<ReplyBody> {
    let (status, message, kind) = match fault {
        Fault::TooMany => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate limit reached, retry later",
            "rate_limit_error",
        ),
        Fault::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the model is overloaded",
            "server_error",
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal server error",
            "server_error",
        ),
    };
    let mut response = json_response(status, error_body(message, kind));
    if fault == Fault::TooMany {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after));
    }
    response
}

/// A streamed reply: the events, of which the last `closing` end it.
struct Events {
    events: Vec<Bytes>,
    closing: usize,
}

/// The wait before each event: `latency` spread evenly over the events that carry
/// generated text, while the closing ones follow the last of them at once, as a server
/// sends them when generation ends (a reply of one event waits the whole latency).
fn pacing(events: usize, closing: usize, latency: Duration) -> Vec<Duration> {
    let paced = events.saturating_sub(closing).max(1).min(events);
    let step = latency / u32::try_from(paced.max(1)).unwrap_or(u32::MAX);
    (0..events)
        .map(|i| if i < paced { step } else { Duration::ZERO })
        .collect()
}

/// A server-sent-events response fed by a task, paced by [`pacing`]; with `hang`, only
/// the first event is sent, then the stream goes silent and aborts. `done` runs once
/// every event has been handed to the connection.
fn stream(
    Events { events, closing }: Events,
    latency: Duration,
    hang: Option<Duration>,
    done: impl FnOnce() + Send + 'static,
    guard: InFlight,
) -> Response<ReplyBody> {
    let (tx, rx) = mpsc::channel(4);
    let waits = pacing(events.len(), closing, latency);
    tokio::spawn(async move {
        for (event, wait) in events.into_iter().zip(waits) {
            sleep(wait).await;
            if tx.send(Ok(event)).await.is_err() {
                return;
            }
            if let Some(hang) = hang {
                sleep(hang).await;
                let _ = tx.send(Err(Aborted)).await;
                return;
            }
        }
        done();
    });
    let mut response = bytes_response(
        StatusCode::OK,
        "text/event-stream",
        ReplyBody::events(rx).guarded(guard),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_spread_over_the_text_and_the_closing_events_follow_at_once() {
        let ms = Duration::from_millis;
        // Four pieces of text, then the finish reason, the usage and [DONE].
        let waits = pacing(7, 3, ms(400));
        assert_eq!(
            waits,
            [ms(100), ms(100), ms(100), ms(100), ms(0), ms(0), ms(0)]
        );
        assert_eq!(waits.iter().sum::<Duration>(), ms(400));
        // Nothing but closing events: the first still waits for the whole reply.
        assert_eq!(pacing(2, 2, ms(50)), [ms(50), ms(0)]);
        assert_eq!(pacing(1, 3, ms(50)), [ms(50)]);
        assert!(pacing(0, 2, ms(50)).is_empty());
    }
}
