//! The chat-completions wire format: parsing a request into what the mock needs, and
//! building the reply bodies (whole or as server-sent events). Pure, no I/O.

use crate::faults::mix;
use crate::kind::Kind;
use bytes::Bytes;
use ktpipe_common::hash::{canonical_json, hash_u64};
use serde_json::{Value, json};

// Choices are built in their own module; their old path here stays public.
pub use crate::choice::{Choice, choice, halve};

/// Most choices one request may ask for.
const MAX_N: u64 = 1024;

/// Sampling fields that, with the messages, decide the reply text; sorted, as canonical
/// JSON orders keys.
const CONTENT_FIELDS: [&str; 6] = [
    "max_tokens",
    "messages",
    "seed",
    "stop",
    "temperature",
    "top_p",
];

/// What the mock needs from one chat-completions request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The requested model name, echoed back.
    pub model: Option<String>,
    /// Number of choices asked for.
    pub n: u64,
    /// Reply length cap in tokens.
    pub max_tokens: Option<u64>,
    /// Whether the reply is streamed as server-sent events.
    pub stream: bool,
    /// `stream_options.include_usage`: a streamed reply ends with a usage chunk.
    pub include_usage: bool,
    /// The prompt kind.
    pub kind: Kind,
    /// Text of the last user message (the source of reply words).
    pub last_user: String,
    /// Prompt size in approximate tokens.
    pub prompt_tokens: u64,
    /// Hash of the whole body: the fault ledger's key.
    pub body_key: u64,
    /// Hash of the messages and sampling fields: the seed of the reply text.
    pub content_key: u64,
}

/// Approximate token count: one token per four characters, rounded up.
pub fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Parses a request body; the error is a message for a 400 reply.
pub fn parse(body: &[u8]) -> Result<ChatRequest, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("request body is not JSON: {e}"))?;
    let obj = value
        .as_object()
        .ok_or("request body must be a JSON object")?;
    let messages = obj
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or("'messages' must be a non-empty array")?;
    let n = match obj.get("n") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_N).contains(n))
            .ok_or("'n' must be an integer from 1 to 1024")?,
    };
    let mut all_text = String::new();
    let mut last_user = None;
    for message in messages {
        let text = message_text(message);
        if message.get("role").and_then(Value::as_str) == Some("user") {
            last_user = Some(text.clone());
        }
        all_text.push_str(&text);
        all_text.push('\n');
    }
    let last_user =
        last_user.unwrap_or_else(|| messages.last().map(message_text).unwrap_or_default());
    let mut buf = Vec::with_capacity(body.len());
    canonical_json(&value, &mut buf);
    let body_key = hash_u64(&buf);
    // The canonical JSON of the object of these fields, written without cloning them.
    buf.clear();
    buf.push(b'{');
    for key in CONTENT_FIELDS {
        if let Some(value) = obj.get(key) {
            if buf.len() > 1 {
                buf.push(b',');
            }
            buf.extend_from_slice(format!("\"{key}\":").as_bytes());
            canonical_json(value, &mut buf);
        }
    }
    buf.push(b'}');
    Ok(ChatRequest {
        model: obj.get("model").and_then(Value::as_str).map(str::to_string),
        n,
        max_tokens: obj.get("max_tokens").and_then(Value::as_u64),
        stream: obj.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: obj
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        kind: Kind::detect(&all_text),
        prompt_tokens: tokens(&all_text),
        last_user,
        body_key,
        content_key: hash_u64(&buf),
    })
}

/// The text of a message whose content is a string or a list of text parts.
fn message_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The reply id: a function of the text seed, so equal replies are byte-for-byte equal.
pub fn reply_id(req: &ChatRequest, first_index: u64) -> String {
    format!("chatcmpl-{:016x}", mix(req.content_key ^ first_index))
}

/// A whole `chat.completion` body.
pub fn completion_body(id: &str, model: &str, choices: &[Choice], prompt_tokens: u64) -> Bytes {
    let completion_tokens: u64 = choices.iter().map(|c| tokens(&c.content)).sum();
    let choices: Vec<Value> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "index": i,
                "message": {"role": "assistant", "content": c.content},
                "finish_reason": c.finish_reason,
            })
        })
        .collect();
    let body = json!({
        "id": id,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    });
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

/// The server-sent events of a streamed reply: per choice, a few content chunks and a
/// finishing chunk, then `[DONE]`. Content chunks are the events latency is spread over.
pub fn stream_events(id: &str, model: &str, choices: &[Choice]) -> Vec<Bytes> {
    let mut events = Vec::new();
    for (i, c) in choices.iter().enumerate() {
        for (j, piece) in split_pieces(&c.content, 4).into_iter().enumerate() {
            let delta = if j == 0 {
                json!({"role": "assistant", "content": piece})
            } else {
                json!({"content": piece})
            };
            events.push(chunk(id, model, i, delta, Value::Null));
        }
        events.push(chunk(id, model, i, json!({}), json!(c.finish_reason)));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

/// The last chunk of a stream asked to include usage: no choices, the token counts.
pub fn usage_event(id: &str, model: &str, prompt_tokens: u64, choices: &[Choice]) -> Bytes {
    let completion_tokens: u64 = choices.iter().map(|c| tokens(&c.content)).sum();
    let body = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    });
    let mut event = b"data: ".to_vec();
    event.extend_from_slice(&serde_json::to_vec(&body).unwrap_or_default());
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}

fn chunk(id: &str, model: &str, index: usize, delta: Value, finish: Value) -> Bytes {
    let body = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    });
    let mut out = b"data: ".to_vec();
    out.extend(serde_json::to_vec(&body).unwrap_or_default());
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// Splits `text` into at most `parts` pieces of about equal length, on char boundaries;
/// always at least one piece, so an empty reply still sends its role.
fn split_pieces(text: &str, parts: usize) -> Vec<&str> {
    let size = text.len().div_ceil(parts).max(1);
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = size.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (head, tail) = rest.split_at(cut);
        pieces.push(head);
        rest = tail;
    }
    if pieces.is_empty() {
        pieces.push("");
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: Value) -> ChatRequest {
        parse(&serde_json::to_vec(&body).unwrap()).unwrap()
    }

    fn messages() -> Value {
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is in the text?"}])
    }

    #[test]
    fn content_key_ignores_n_stream_and_model_but_not_sampling() {
        let base = req(json!({"model": "a", "messages": messages(), "temperature": 0.7}));
        let other = req(
            json!({"model": "b", "messages": messages(), "temperature": 0.7, "n": 3, "stream": true}),
        );
        assert_eq!(base.content_key, other.content_key);
        assert_ne!(base.body_key, other.body_key);
        let hotter = req(json!({"model": "a", "messages": messages(), "temperature": 1.0}));
        assert_ne!(base.content_key, hotter.content_key);
        assert_eq!(other.n, 3);
        assert!(other.stream);
        assert_eq!(base.last_user, "What is in the text?");
        assert_eq!(base.kind, Kind::Answer);
    }

    #[test]
    fn content_key_is_the_hash_of_the_canonical_sampling_object() {
        let r = req(json!({"top_p": 0.9, "n": 2, "messages": messages(), "max_tokens": 7}));
        let mut buf = Vec::new();
        canonical_json(
            &json!({"messages": messages(), "max_tokens": 7, "top_p": 0.9}),
            &mut buf,
        );
        assert_eq!(r.content_key, hash_u64(&buf));
    }

    #[test]
    fn bad_requests_are_explained() {
        for (body, needle) in [
            (&b"{"[..], "not JSON"),
            (b"[1]", "JSON object"),
            (br#"{"messages": []}"#, "messages"),
            (
                br#"{"messages": [{"role":"user","content":"x"}], "n": 0}"#,
                "'n'",
            ),
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn content_parts_are_joined() {
        let r = req(
            json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}]}),
        );
        assert_eq!(r.last_user, "one\ntwo");
    }

    #[test]
    fn max_tokens_truncates_with_length() {
        let full = choice(&req(json!({"messages": messages()})), 0);
        assert_eq!(full.finish_reason, "stop");
        let r = req(json!({"messages": messages(), "max_tokens": 5}));
        let cut = choice(&r, 0);
        assert_eq!(cut.finish_reason, "length");
        assert_eq!(cut.content.chars().count(), 20);
        let mut halved = full.clone();
        halve(&mut halved);
        assert_eq!(
            halved.content.chars().count(),
            full.content.chars().count() / 2
        );
        assert_eq!(tokens("abcde"), 2);
        assert_eq!(tokens(""), 0);
    }

    #[test]
    fn stream_events_reassemble_the_content() {
        let r = req(json!({"messages": messages(), "n": 2}));
        let choices: Vec<Choice> = (0..2).map(|i| choice(&r, i)).collect();
        let events = stream_events("id", "m", &choices);
        assert_eq!(events.last().unwrap().as_ref(), b"data: [DONE]\n\n");
        let mut text = [String::new(), String::new()];
        let mut finished = [None, None];
        for event in &events[..events.len() - 1] {
            let json = std::str::from_utf8(event)
                .unwrap()
                .strip_prefix("data: ")
                .unwrap();
            let v: Value = serde_json::from_str(json.trim_end()).unwrap();
            let c = &v["choices"][0];
            let i = c["index"].as_u64().unwrap() as usize;
            text[i].push_str(c["delta"]["content"].as_str().unwrap_or(""));
            if let Some(f) = c["finish_reason"].as_str() {
                finished[i] = Some(f.to_string());
            }
        }
        assert_eq!(text[0], choices[0].content);
        assert_eq!(text[1], choices[1].content);
        assert_eq!(
            finished,
            [Some("stop".to_string()), Some("stop".to_string())]
        );
    }

    #[test]
    fn pieces_respect_char_boundaries() {
        assert_eq!(split_pieces("", 4), vec![""]);
        let text = "éééééé ab";
        assert_eq!(split_pieces(text, 4).concat(), text);
        assert!(split_pieces(text, 4).len() <= 4);
    }
}
