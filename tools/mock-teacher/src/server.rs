//! The HTTP side: the accept loop, routing, authentication and the small endpoints
//! (`/v1/models`, `/stats`). Chat completions are answered in `reply`.

use crate::body::{Aborted, ReplyBody};
use crate::faults::Ledger;
use crate::stats::Stats;
use crate::{Config, reply};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Everything the request handlers share.
pub struct State {
    /// The configuration the server was started with.
    pub config: Config,
    /// The counters.
    pub stats: Arc<Stats>,
    /// Per-body attempt and fault history.
    pub ledger: Ledger,
}

impl State {
    /// Fresh state for `config`.
    pub fn new(config: Config) -> State {
        State {
            stats: Arc::new(Stats::showing(config.habits > 0.0, config.repeats > 0.0)),
            config,
            ledger: Ledger::default(),
        }
    }

    /// Zeroes the counters and forgets every request seen so far.
    pub fn reset(&self) {
        self.stats.reset();
        self.ledger.clear();
    }
}

/// Accepts connections until `stop` fires; dropping the runtime afterwards closes them.
pub async fn serve(
    listener: std::net::TcpListener,
    state: Arc<State>,
    mut stop: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors or a connection reset before accept: back off briefly.
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| route(Arc::clone(&state), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(state: Arc<State>, req: Request<Incoming>) -> Result<Response<ReplyBody>, Aborted> {
    let path = req.uri().path().trim_end_matches('/');
    match (req.method(), path) {
        (&Method::POST, "/v1/chat/completions") => {
            let guard = state.stats.arrive();
            if !authorized(&state.config, &req) {
                state.stats.unauthorized();
                let message = if state.config.echo_request {
                    echo(req).await
                } else {
                    "invalid api key".to_string()
                };
                let body = error_body(&message, "authentication_error");
                return Ok(json_response(StatusCode::UNAUTHORIZED, body).map(|b| b.guarded(guard)));
            }
            reply::chat(state, req, guard).await
        }
        (&Method::GET, "/v1/models") => {
            let models =
                json!({"object": "list", "data": [{"id": state.config.model, "object": "model"}]});
            Ok(json_response(StatusCode::OK, models))
        }
        (&Method::GET, "/stats") => Ok(json_response(StatusCode::OK, state.stats.to_json())),
        (&Method::POST, "/stats/reset") => {
            state.reset();
            Ok(json_response(StatusCode::OK, state.stats.to_json()))
        }
        _ => Ok(json_response(
            StatusCode::NOT_FOUND,
            error_body("no such endpoint", "not_found_error"),
        )),
    }
}

fn authorized(config: &Config, req: &Request<Incoming>) -> bool {
    let Some(key) = &config.require_key else {
        return true;
    };
    req.headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| given == key)
}

/// "invalid api key" followed by the request's headers and body, as a careless server
/// echoes them.
async fn echo(req: Request<Incoming>) -> String {
    let mut text = String::from("invalid api key; request was:");
    for (name, value) in req.headers() {
        text.push_str(&format!(
            " {name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    if let Ok(body) = req.into_body().collect().await {
        text.push(' ');
        text.push_str(&String::from_utf8_lossy(&body.to_bytes()));
    }
    text
}

/// An OpenAI-style error object.
pub fn error_body(message: &str, kind: &str) -> Value {
    json!({"error": {"message": message, "type": kind}})
}

/// A JSON response with `status`.
pub fn json_response(status: StatusCode, value: Value) -> Response<ReplyBody> {
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    bytes_response(status, "application/json", ReplyBody::full(bytes))
}

/// A response with `status`, content type and body.
pub fn bytes_response(
    status: StatusCode,
    content_type: &'static str,
    body: ReplyBody,
) -> Response<ReplyBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
