//! What is sent to the teacher: the request body of each call, serialised once per request
//! straight from the record's messages, and the cache key that identifies a request whatever
//! its `n` (so raising `-n` finds the choices already paid for).

use serde_json::{Map, Value};

/// Request fields the tool sets itself; `--extra-body` may not set them.
const RESERVED: [&str; 4] = ["model", "messages", "n", "stream"];

/// The request settings shared by every record.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Model name.
    pub model: String,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Reply length bound.
    pub max_tokens: Option<u64>,
    /// Nucleus sampling mass.
    pub top_p: Option<f64>,
    /// The user's seed.
    pub seed: Option<u64>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Extra body fields.
    pub extra: Map<String, Value>,
    /// Cache salt.
    pub salt: Option<String>,
    /// Ask for a streamed reply (how the reply travels, so not part of the cache key).
    pub stream: bool,
}

/// Parses `--extra-body`: a JSON object that does not set what the tool or a given flag sets.
pub fn parse_extra(text: &str, spec: &Spec) -> Result<Map<String, Value>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("--extra-body is not valid JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("--extra-body must be a JSON object".to_string());
    };
    let flagged = [
        ("temperature", spec.temperature.is_some()),
        ("max_tokens", spec.max_tokens.is_some()),
        ("top_p", spec.top_p.is_some()),
        ("seed", spec.seed.is_some()),
        ("stop", !spec.stop.is_empty()),
    ];
    for key in map.keys() {
        if RESERVED.contains(&key.as_str()) {
            return Err(format!(
                "--extra-body may not set '{key}': llm-call sets it"
            ));
        }
        if flagged.iter().any(|(name, given)| *given && name == key) {
            return Err(format!(
                "'{key}' is given both as a flag and in --extra-body; keep one"
            ));
        }
    }
    Ok(map)
}

impl Spec {
    /// The JSON body of one request for `n` choices with the given seed, written straight
    /// from the record's messages.
    pub fn body(&self, messages: &Value, n: u32, seed: Option<u64>) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + messages_len(messages));
        let mut field = |name: &str, value: &Value| {
            out.push(if out.is_empty() { b'{' } else { b',' });
            serde_json::to_writer(&mut out, name).expect("a string writes to a Vec");
            out.push(b':');
            serde_json::to_writer(&mut out, value).expect("a Value writes to a Vec");
        };
        field("model", &Value::from(self.model.as_str()));
        field("messages", messages);
        field("n", &Value::from(n));
        if let Some(t) = self.temperature {
            field("temperature", &Value::from(t));
        }
        if let Some(m) = self.max_tokens {
            field("max_tokens", &Value::from(m));
        }
        if let Some(p) = self.top_p {
            field("top_p", &Value::from(p));
        }
        if let Some(s) = seed {
            field("seed", &Value::from(s));
        }
        if !self.stop.is_empty() {
            field("stop", &Value::from(self.stop.clone()));
        }
        if self.stream {
            field("stream", &Value::Bool(true));
            // Token counts come in a last chunk only when asked for.
            field(
                "stream_options",
                &serde_json::json!({"include_usage": true}),
            );
        }
        for (key, value) in &self.extra {
            field(key, value);
        }
        out.push(b'}');
        out
    }

    /// The cache key of a request: SHA-256 of the canonical JSON of
    /// `{extra, max_tokens, messages, model, salt, seed, stop, temperature, top_p}`
    /// (absent settings are null; `n` and the API key are not part of it). Written field by
    /// field so the messages are never copied; equal to `content_hash` of that object.
    pub fn cache_key(&self, messages: &Value) -> String {
        use ktpipe_common::hash::canonical_json;
        let mut buf = Vec::with_capacity(1024);
        let field = |buf: &mut Vec<u8>, name: &str, value: &Value| {
            buf.push(if buf.is_empty() { b'{' } else { b',' });
            canonical_json(&Value::String(name.to_string()), buf);
            buf.push(b':');
            canonical_json(value, buf);
        };
        let opt_f64 = |v: Option<f64>| v.map_or(Value::Null, Value::from);
        field(&mut buf, "extra", &Value::Object(self.extra.clone()));
        field(
            &mut buf,
            "max_tokens",
            &self.max_tokens.map_or(Value::Null, Value::from),
        );
        field(&mut buf, "messages", messages);
        field(&mut buf, "model", &Value::from(self.model.as_str()));
        field(
            &mut buf,
            "salt",
            &self.salt.as_deref().map_or(Value::Null, Value::from),
        );
        field(
            &mut buf,
            "seed",
            &self.seed.map_or(Value::Null, Value::from),
        );
        field(&mut buf, "stop", &Value::from(self.stop.clone()));
        field(&mut buf, "temperature", &opt_f64(self.temperature));
        field(&mut buf, "top_p", &opt_f64(self.top_p));
        buf.push(b'}');
        ktpipe_common::hash::bytes_hash(&buf)
    }
}

/// About how many bytes `messages` take as JSON, so the body is allocated once.
fn messages_len(messages: &Value) -> usize {
    messages.as_array().map_or(0, |list| {
        list.iter()
            .filter_map(|m| m.get("content").and_then(Value::as_str))
            .map(|text| text.len() + 32)
            .sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Spec {
        Spec {
            model: "m".into(),
            temperature: Some(0.7),
            max_tokens: Some(256),
            stop: vec!["[END]".into()],
            extra: json!({"chat_template_kwargs": {"x": true}})
                .as_object()
                .cloned()
                .expect("object"),
            ..Spec::default()
        }
    }

    #[test]
    fn body_carries_messages_sampling_and_extra_fields() {
        let messages = json!([{"role": "user", "content": "hi"}]);
        let body: Value =
            serde_json::from_slice(&spec().body(&messages, 3, Some(9))).expect("json");
        assert_eq!(
            body,
            json!({"model": "m", "messages": messages, "n": 3, "temperature": 0.7,
                   "max_tokens": 256, "seed": 9, "stop": ["[END]"],
                   "chat_template_kwargs": {"x": true}})
        );
    }

    #[test]
    fn cache_key_is_the_content_hash_of_the_canonical_request() {
        let messages = json!([{"role": "user", "content": "hi"}]);
        let spec = spec();
        let expected = ktpipe_common::hash::content_hash(&json!({
            "model": "m", "messages": messages, "temperature": 0.7, "max_tokens": 256,
            "top_p": null, "seed": null, "stop": ["[END]"], "salt": null,
            "extra": {"chat_template_kwargs": {"x": true}},
        }));
        assert_eq!(spec.cache_key(&messages), expected);
        let salted = Spec {
            salt: Some("again".into()),
            ..spec.clone()
        };
        assert_ne!(salted.cache_key(&messages), expected);
    }

    #[test]
    fn extra_body_must_be_an_object_without_reserved_or_flagged_keys() {
        let spec = spec();
        assert!(parse_extra("{\"top_k\": 5}", &spec).is_ok());
        assert!(
            parse_extra("[1]", &spec)
                .unwrap_err()
                .contains("JSON object")
        );
        assert!(
            parse_extra("{oops", &spec)
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            parse_extra("{\"n\": 2}", &spec)
                .unwrap_err()
                .contains("'n'")
        );
        assert!(
            parse_extra("{\"temperature\": 1}", &spec)
                .unwrap_err()
                .contains("both")
        );
        assert!(parse_extra("{\"top_p\": 1}", &spec).is_ok());
    }
}
