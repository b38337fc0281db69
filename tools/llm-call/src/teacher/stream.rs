//! Streamed replies: assembles the server-sent events of a streamed chat completion
//! (`data: {chunk}` lines, `data: [DONE]` at the end) into the same [`Reply`] a whole
//! body gives. Pure; the client feeds it bytes as they arrive, which is what lets it tell
//! a silent server from a long generation.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::teacher::reply::{Choice, Reply, Tokens, split_reasoning};

/// Builds a reply from streamed chunks.
#[derive(Debug)]
pub struct Assembler {
    pending: Vec<u8>,
    choices: Vec<Partial>,
    tokens: Option<Tokens>,
    text_bytes: usize,
    limit: usize,
    done: bool,
}

#[derive(Debug, Default, Clone)]
struct Partial {
    content: String,
    reasoning: String,
    finish_reason: Option<String>,
}

// The event types borrow from the line: a streamed reply is many small events, and text
// without escapes needs no copy of its own before it joins the choice's text.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<ChunkChoice<'a>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(default)]
    index: usize,
    #[serde(default, borrow)]
    delta: Delta<'a>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// Most choices one stream may carry; an index past this is a malformed stream.
const MAX_CHOICES: usize = 4096;

impl Assembler {
    /// An assembler that refuses more than `limit` bytes of reply text in all.
    pub fn new(limit: usize) -> Self {
        Assembler {
            pending: Vec::new(),
            choices: Vec::new(),
            tokens: None,
            text_bytes: 0,
            limit,
            done: false,
        }
    }

    /// Takes the next bytes of the stream; the error says what is wrong with it.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.pending.extend_from_slice(bytes);
        // Whole lines are read where they lie; the unfinished rest moves to the front once.
        let pending = std::mem::take(&mut self.pending);
        let mut start = 0;
        let mut result = Ok(());
        while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
            result = self.line(&pending[start..start + end + 1]);
            start += end + 1;
            if result.is_err() {
                break;
            }
        }
        self.pending = pending;
        self.pending.drain(..start);
        result?;
        // A single unterminated line may not grow without bound either.
        if self.pending.len() > self.limit {
            return Err(format!("stream line longer than {} bytes", self.limit));
        }
        Ok(())
    }

    fn line(&mut self, line: &[u8]) -> Result<(), String> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return Ok(()); // comments, `event:`, `id:` and blank separators
        };
        let data = data.trim_ascii();
        if data == b"[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Chunk =
            serde_json::from_slice(data).map_err(|e| format!("bad stream event: {e}"))?;
        if let Some(error) = chunk.error {
            return Err(format!("server error in stream: {error}"));
        }
        // Asked for with `stream_options.include_usage`; a server that ignores it leaves
        // the counts unknown. A later usage chunk (sent with every chunk by some) wins.
        if let Some(usage) = chunk.usage
            && let Some(tokens) = Tokens::from_usage(usage.prompt_tokens, usage.completion_tokens)
        {
            self.tokens = Some(tokens);
        }
        for c in chunk.choices {
            if c.index >= MAX_CHOICES {
                return Err(format!("choice index {} out of range", c.index));
            }
            if self.choices.len() <= c.index {
                self.choices.resize(c.index + 1, Partial::default());
            }
            let partial = &mut self.choices[c.index];
            for (piece, into) in [
                (c.delta.content, &mut partial.content),
                (
                    c.delta.reasoning_content.or(c.delta.reasoning),
                    &mut partial.reasoning,
                ),
            ] {
                if let Some(piece) = piece {
                    self.text_bytes += piece.len();
                    into.push_str(&piece);
                }
            }
            if let Some(reason) = c.finish_reason {
                partial.finish_reason = Some(reason.into_owned());
            }
        }
        if self.text_bytes > self.limit {
            return Err(format!("reply longer than {} bytes", self.limit));
        }
        Ok(())
    }

    /// True once `data: [DONE]` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The reply, once the stream ended. A stream cut before `[DONE]` whose choices all
    /// carry a finish reason is complete; otherwise it is an error.
    pub fn finish(mut self) -> Result<Reply, String> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.line(&rest)?;
        }
        if self.choices.is_empty() {
            return Err("stream carried no choices".to_string());
        }
        if !self.done && self.choices.iter().any(|c| c.finish_reason.is_none()) {
            return Err("stream ended before the reply was complete".to_string());
        }
        let choices = self
            .choices
            .into_iter()
            .map(|p| {
                let field = Some(p.reasoning).filter(|r| !r.is_empty());
                let (content, reasoning) = split_reasoning(&p.content, field);
                Choice {
                    content,
                    reasoning,
                    finish_reason: p.finish_reason,
                }
            })
            .collect();
        Ok(Reply {
            choices,
            tokens: self.tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> String {
        format!("data: {json}\n\n")
    }

    #[test]
    fn chunks_split_anywhere_assemble_into_choices() {
        let stream = [
            event(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#),
            event(r#"{"choices":[{"index":1,"delta":{"content":"<think>hm</think> B"}}]}"#),
            event(r#"{"choices":[{"index":0,"delta":{"reasoning_content":"why"}}]}"#),
            event(r#"{"choices":[{"index":0,"delta":{"content":"Hé"},"finish_reason":null}]}"#),
            event(r#"{"choices":[{"index":0,"delta":{"content":"llo"},"finish_reason":"stop"}]}"#),
            event(r#"{"choices":[{"index":1,"delta":{},"finish_reason":"length"}]}"#),
            event(r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":5}}"#),
            "data: [DONE]\n\n".to_string(),
        ]
        .concat();
        let mut asm = Assembler::new(1 << 20);
        // Feed in 3-byte pieces: events and UTF-8 characters split across reads.
        for piece in stream.as_bytes().chunks(3) {
            asm.feed(piece).unwrap();
        }
        assert!(asm.is_done());
        let reply = asm.finish().unwrap();
        assert_eq!(reply.choices.len(), 2);
        assert_eq!(reply.choices[0].content, "Héllo");
        assert_eq!(reply.choices[0].reasoning.as_deref(), Some("why"));
        assert_eq!(reply.choices[1].content, "B");
        assert_eq!(reply.choices[1].reasoning.as_deref(), Some("hm"));
        assert_eq!(reply.choices[1].finish_reason.as_deref(), Some("length"));
        assert_eq!(
            reply.tokens,
            Some(Tokens {
                prompt: 7,
                completion: 5
            })
        );
    }

    #[test]
    fn a_stream_without_a_usage_chunk_has_unknown_tokens() {
        let stream = [
            event(r#"{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}"#),
            "data: [DONE]\n\n".to_string(),
        ]
        .concat();
        let mut asm = Assembler::new(1 << 20);
        asm.feed(stream.as_bytes()).unwrap();
        let reply = asm.finish().unwrap();
        assert_eq!(reply.choices[0].content, "hi");
        assert_eq!(reply.tokens, None);
    }

    #[test]
    fn cut_streams_bad_events_and_oversize_replies_are_errors() {
        let mut asm = Assembler::new(1 << 20);
        asm.feed(event(r#"{"choices":[{"index":0,"delta":{"content":"half"}}]}"#).as_bytes())
            .unwrap();
        assert!(
            asm.finish()
                .unwrap_err()
                .contains("before the reply was complete")
        );

        let mut asm = Assembler::new(1 << 20);
        assert!(asm.feed(b"data: {not json\n").is_err());

        let mut asm = Assembler::new(8);
        let big = event(r#"{"choices":[{"index":0,"delta":{"content":"0123456789"}}]}"#);
        assert!(
            asm.feed(big.as_bytes())
                .unwrap_err()
                .contains("longer than 8")
        );

        let mut asm = Assembler::new(8);
        assert!(asm.feed(&[b'x'; 9]).unwrap_err().contains("line longer"));
        assert!(Assembler::new(8).finish().is_err());
    }
}
