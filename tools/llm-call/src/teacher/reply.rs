//! What comes back from the teacher: the choices of a chat completion, their finish reasons,
//! token usage (when the teacher reports it), and the reasoning trace split off the content (`reasoning_content`,
//! `reasoning`, or an inline `<think>…</think>`). Pure; no I/O.

use serde::Deserialize;
use serde_json::Value;

/// One finished choice, as written out and cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The reply text, reasoning removed.
    pub content: String,
    /// The reasoning trace, when there was one.
    pub reasoning: Option<String>,
    /// The server's finish reason (`stop`, `length`, …), when given.
    pub finish_reason: Option<String>,
}

impl Choice {
    /// True when the reply has no text to use.
    pub fn is_empty(&self) -> bool {
        self.content.trim().is_empty()
    }

    /// True when the reply was cut at the token limit.
    pub fn is_truncated(&self) -> bool {
        self.finish_reason.as_deref() == Some("length")
    }
}

/// A parsed chat completion.
#[derive(Debug, Default)]
pub struct Reply {
    /// Choices in the order the server sent them.
    pub choices: Vec<Choice>,
    /// The token counts the server reported; None when it sent none (llama.cpp's server
    /// in a stream), which is unknown, not zero.
    pub tokens: Option<Tokens>,
}

/// Token counts the teacher reported for one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    /// Prompt tokens.
    pub prompt: u64,
    /// Completion tokens.
    pub completion: u64,
}

impl Tokens {
    /// The counts of a `usage` object, when it gives both.
    pub fn from_usage(prompt: Option<u64>, completion: Option<u64>) -> Option<Tokens> {
        Some(Tokens {
            prompt: prompt?,
            completion: completion?,
        })
    }
}

#[derive(Deserialize)]
struct RawReply {
    choices: Vec<RawChoice>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct RawChoice {
    message: RawMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    content: Value,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
}

#[derive(Deserialize)]
struct RawUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// Parses a chat completion body; the error says what is wrong with it.
pub fn parse(body: &[u8]) -> Result<Reply, String> {
    let raw: RawReply = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if raw.choices.is_empty() {
        return Err("reply has no choices".to_string());
    }
    let tokens = raw
        .usage
        .and_then(|u| Tokens::from_usage(u.prompt_tokens, u.completion_tokens));
    let choices = raw
        .choices
        .into_iter()
        .map(|c| {
            let field = c.message.reasoning_content.or(c.message.reasoning);
            let (content, reasoning) = split_reasoning(&content_text(c.message.content), field);
            Choice {
                content,
                reasoning,
                finish_reason: c.finish_reason,
            }
        })
        .collect();
    Ok(Reply { choices, tokens })
}

/// Content as text: a string, or the text parts of a list of content parts.
fn content_text(content: Value) -> String {
    match content {
        Value::String(s) => s,
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// Splits the reasoning trace off `content`. A trace given in its own field wins; otherwise
/// a leading `<think>…</think>` block (an unclosed one takes everything), or text before a
/// lone `</think>` (the template opened the block in the prompt), is the trace. When a trace
/// is removed the rest is trimmed; an empty trace counts as none.
pub fn split_reasoning(content: &str, field: Option<String>) -> (String, Option<String>) {
    let (rest, inline) = match inline_think(content) {
        Some((rest, trace)) => (rest.trim().to_string(), Some(trace.trim().to_string())),
        None => (content.to_string(), None),
    };
    let field = field.filter(|r| !r.trim().is_empty());
    let reasoning = field.or(inline).filter(|r| !r.is_empty());
    (rest, reasoning)
}

/// `(rest, trace)` when `content` carries an inline think block.
fn inline_think(content: &str) -> Option<(&str, &str)> {
    const OPEN: &str = "<think>";
    const CLOSE: &str = "</think>";
    let start = content.trim_start();
    if let Some(after) = start.strip_prefix(OPEN) {
        return Some(match after.find(CLOSE) {
            Some(end) => (&after[end + CLOSE.len()..], &after[..end]),
            None => ("", after),
        });
    }
    let end = content.find(CLOSE)?;
    if content[..end].contains(OPEN) {
        return None;
    }
    Some((&content[end + CLOSE.len()..], &content[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(content: &str, field: Option<&str>) -> (String, Option<String>) {
        split_reasoning(content, field.map(str::to_string))
    }

    #[test]
    fn inline_think_blocks_are_split_off() {
        assert_eq!(
            split("<think>plan it</think>\n\nThe answer.", None),
            ("The answer.".into(), Some("plan it".into()))
        );
        assert_eq!(
            split("  \n<think>\nstep\n</think>answer ", None),
            ("answer".into(), Some("step".into()))
        );
        assert_eq!(
            split("<think>never finished", None),
            (String::new(), Some("never finished".into()))
        );
        assert_eq!(
            split("opened by the template</think>\nanswer", None),
            ("answer".into(), Some("opened by the template".into()))
        );
        assert_eq!(
            split("<think>\n\n</think>\n\nanswer", None),
            ("answer".into(), None)
        );
    }

    #[test]
    fn text_without_a_leading_block_is_left_alone() {
        assert_eq!(split(" plain \n", None), (" plain \n".into(), None));
        assert_eq!(
            split("see <think>x</think> here", None),
            ("see <think>x</think> here".into(), None)
        );
    }

    #[test]
    fn field_reasoning_wins_and_inline_is_still_removed() {
        assert_eq!(
            split("answer", Some("why")),
            ("answer".into(), Some("why".into()))
        );
        assert_eq!(
            split("<think>inline</think>answer", Some("field")),
            ("answer".into(), Some("field".into()))
        );
        assert_eq!(split("answer", Some("  ")), ("answer".into(), None));
    }

    #[test]
    fn parses_choices_usage_and_reasoning_fields() {
        let body = br#"{"choices":[
            {"index":0,"message":{"role":"assistant","content":"a","reasoning_content":"r"},"finish_reason":"stop"},
            {"index":1,"message":{"content":"b","reasoning":"s"},"finish_reason":"length"},
            {"index":2,"message":{"content":null}}],
            "usage":{"prompt_tokens":7,"completion_tokens":5}}"#;
        let reply = parse(body).expect("parses");
        assert_eq!(reply.choices.len(), 3);
        assert_eq!(reply.choices[0].reasoning.as_deref(), Some("r"));
        assert_eq!(reply.choices[1].reasoning.as_deref(), Some("s"));
        assert!(reply.choices[1].is_truncated());
        assert!(reply.choices[2].is_empty());
        assert_eq!(
            reply.tokens,
            Some(Tokens {
                prompt: 7,
                completion: 5
            })
        );
    }

    #[test]
    fn a_reply_without_usage_has_unknown_tokens_not_zero() {
        let bare = br#"{"choices":[{"message":{"content":"a"},"finish_reason":"stop"}]}"#;
        assert_eq!(parse(bare).expect("parses").tokens, None);
        let half = br#"{"choices":[{"message":{"content":"a"}}],"usage":{"prompt_tokens":7}}"#;
        assert_eq!(parse(half).expect("parses").tokens, None);
        let zero = br#"{"choices":[{"message":{"content":""}}],"usage":{"prompt_tokens":0,"completion_tokens":0}}"#;
        assert_eq!(
            parse(zero).expect("parses").tokens,
            Some(Tokens {
                prompt: 0,
                completion: 0
            })
        );
    }

    #[test]
    fn malformed_bodies_say_why() {
        assert!(
            parse(b"{\"choices\":[]}")
                .unwrap_err()
                .contains("no choices")
        );
        assert!(parse(b"<html>").is_err());
        assert!(parse(b"{\"error\":{\"message\":\"x\"}}").is_err());
        let parts = br#"{"choices":[{"message":{"content":[{"type":"text","text":"hi"}]}}]}"#;
        assert_eq!(parse(parts).expect("parts").choices[0].content, "hi");
    }
}
