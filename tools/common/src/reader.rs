//! The JSONL reader: yields every record with the input name and line number it came from,
//! and turns every kind of malformed line into an error naming that place.

use std::fmt;
use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;

use crate::input::{self, Input};

/// A record: one JSON object, fields in input order.
pub type Record = serde_json::Map<String, Value>;

/// Lines longer than this are refused instead of growing memory without bound.
pub const MAX_LINE_BYTES: u64 = 256 * 1024 * 1024;

/// A record with the place it was read from.
#[derive(Debug, Clone)]
pub struct Located<R = Record> {
    /// Input name (`<stdin>` or the path).
    pub source: Arc<str>,
    /// 1-based line number within that input.
    pub line: u64,
    /// The record itself.
    pub record: R,
}

impl<R> Located<R> {
    /// `source:line`, the prefix of every message about this record.
    pub fn place(&self) -> String {
        format!("{}:{}", self.source, self.line)
    }
}

/// What is wrong with a malformed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// The line is not UTF-8.
    InvalidUtf8,
    /// The line is empty or only whitespace.
    Empty,
    /// The line is not JSON; the parser's message.
    NotJson(String),
    /// The line is JSON but not an object; the JSON type found.
    NotObject(&'static str),
    /// The line exceeds [`MAX_LINE_BYTES`].
    TooLong,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::InvalidUtf8 => write!(f, "line is not valid UTF-8"),
            Malformed::Empty => write!(f, "empty line, expected a JSON object"),
            Malformed::NotJson(msg) => write!(f, "not valid JSON: {msg}"),
            Malformed::NotObject(kind) => write!(f, "expected a JSON object, found {kind}"),
            Malformed::TooLong => write!(f, "line longer than {MAX_LINE_BYTES} bytes"),
        }
    }
}

/// A malformed line: where it was, what is wrong, and its text (lossily decoded), so it
/// can go to the rejects file instead of vanishing.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{input}:{line}: {kind}")]
pub struct ReadError {
    /// Input name.
    pub input: Arc<str>,
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub kind: Malformed,
    /// The line as text, invalid bytes replaced.
    pub raw: String,
}

/// Reads records from the inputs in order.
pub struct Reader {
    pending: std::vec::IntoIter<PathBuf>,
    current: Option<(Arc<str>, Input)>,
    line: u64,
    buf: Vec<u8>,
}

impl Reader {
    /// A reader over `paths` (stdin when empty). Files are opened lazily, in order.
    pub fn new(paths: &[PathBuf]) -> Self {
        Reader {
            pending: input::paths_or_stdin(paths).into_iter(),
            current: None,
            line: 0,
            buf: Vec::new(),
        }
    }

    /// The next record, a malformed line (`Ok(Some(Err(..)))`, recoverable), or the end.
    /// I/O errors are fatal and come back as `Err`.
    pub fn next_record(&mut self) -> anyhow::Result<Option<Result<Located, ReadError>>> {
        self.next_parsed(parse_line)
    }

    /// As `next_record`, with the record made by `parse` (for example
    /// `RawRecord::parse`), which gets the line and names what is wrong with it.
    pub fn next_parsed<R>(
        &mut self,
        parse: fn(&[u8]) -> Result<R, Malformed>,
    ) -> anyhow::Result<Option<Result<Located<R>, ReadError>>> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.pending.next() else {
                    return Ok(None);
                };
                let input = input::open(&path)?;
                self.current = Some((Arc::from(input.name.as_str()), input));
                self.line = 0;
            }
            let (name, input) = self.current.as_mut().expect("current input was just set");
            let available = input
                .stream
                .fill_buf()
                .with_context(|| format!("reading '{name}'"))?;
            if available.is_empty() {
                self.current = None;
                continue;
            }
            self.line += 1;
            let source = Arc::clone(name);
            self.buf.clear();
            let n = (&mut input.stream)
                .take(MAX_LINE_BYTES + 1)
                .read_until(b'\n', &mut self.buf)
                .with_context(|| format!("reading '{source}'"))?;
            if n as u64 > MAX_LINE_BYTES {
                input
                    .stream
                    .skip_until(b'\n')
                    .with_context(|| format!("reading '{source}'"))?;
                return Ok(Some(Err(malformed(
                    source,
                    self.line,
                    Malformed::TooLong,
                    &[],
                ))));
            }
            return Ok(Some(located(parse, &self.buf, source, self.line)));
        }
    }

    /// True when the next read would have to wait on the input: the moment to flush
    /// output, so a downstream stage is never kept waiting for a record we hold.
    pub fn would_block(&self) -> bool {
        self.current
            .as_ref()
            .is_none_or(|(_, input)| input.stream.buffer().is_empty())
    }
}

/// `line` parsed by `parse`, with its place, or the error naming that place.
fn located<R>(
    parse: fn(&[u8]) -> Result<R, Malformed>,
    line: &[u8],
    source: Arc<str>,
    number: u64,
) -> Result<Located<R>, ReadError> {
    match parse(line) {
        Ok(record) => Ok(Located {
            source,
            line: number,
            record,
        }),
        Err(kind) => Err(malformed(source, number, kind, line)),
    }
}

fn malformed(source: Arc<str>, line: u64, kind: Malformed, text: &[u8]) -> ReadError {
    let raw = if kind == Malformed::TooLong {
        String::new()
    } else {
        String::from_utf8_lossy(trim_newline(text)).into_owned()
    };
    ReadError {
        input: source,
        line,
        kind,
        raw,
    }
}

/// The text of one line without its newline; an error when it is not UTF-8 or blank.
pub(crate) fn line_text(line: &[u8]) -> Result<&str, Malformed> {
    let text = std::str::from_utf8(trim_newline(line)).map_err(|_| Malformed::InvalidUtf8)?;
    if text.trim().is_empty() {
        return Err(Malformed::Empty);
    }
    Ok(text)
}

fn trim_newline(mut line: &[u8]) -> &[u8] {
    if let Some(rest) = line.strip_suffix(b"\n") {
        line = rest;
    }
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses one line (with or without its `\n` / `\r\n`) into a record.
pub fn parse_line(line: &[u8]) -> Result<Record, Malformed> {
    parse_text(line_text(line)?)
}

/// Decodes the text of one line, checked by `line_text`, into a record.
pub(crate) fn parse_text(text: &str) -> Result<Record, Malformed> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Malformed::NotObject(json_type(&other))),
        Err(err) => Err(Malformed::NotJson(err.to_string())),
    }
}

/// The JSON type name of a value, for messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parse_line_names_each_kind_of_malformed_line() {
        assert_eq!(parse_line(b"\n"), Err(Malformed::Empty));
        assert_eq!(
            parse_line(b"[1,2]\n"),
            Err(Malformed::NotObject("an array"))
        );
        assert_eq!(parse_line(b"3"), Err(Malformed::NotObject("a number")));
        assert_eq!(parse_line(b"{\"a\":\xff}"), Err(Malformed::InvalidUtf8));
        assert!(matches!(parse_line(b"{oops"), Err(Malformed::NotJson(_))));
        let rec = parse_line(b"{\"b\":1,\"a\":2}\r\n").expect("crlf line parses");
        assert_eq!(rec.keys().collect::<Vec<_>>(), ["b", "a"]);
    }

    #[test]
    fn reader_counts_lines_across_files_and_handles_missing_final_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.jsonl");
        let b = dir.path().join("b.jsonl");
        std::fs::write(&a, "{\"x\":1}\nnot json\n").expect("write");
        std::fs::File::create(&b)
            .and_then(|mut f| f.write_all(b"{\"x\":2}"))
            .expect("write");
        let mut reader = Reader::new(&[a, b]);
        let first = reader
            .next_record()
            .expect("io")
            .expect("some")
            .expect("ok");
        assert_eq!(first.line, 1);
        let bad = reader
            .next_record()
            .expect("io")
            .expect("some")
            .unwrap_err();
        assert_eq!(bad.line, 2);
        assert!(
            bad.to_string()
                .ends_with("a.jsonl:2: not valid JSON: expected ident at line 1 column 2")
        );
        assert_eq!(bad.raw, "not json");
        let third = reader
            .next_record()
            .expect("io")
            .expect("some")
            .expect("ok");
        assert_eq!((third.line, third.record["x"].as_i64()), (1, Some(2)));
        assert!(reader.next_record().expect("io").is_none());
    }

    #[test]
    fn lines_cut_by_the_read_buffer_come_whole_and_in_order() {
        // Lines of many sizes, so that some lie whole in the 256 KiB read buffer and
        // others run past its end; a malformed one among each kind.
        let mut text = String::new();
        let mut expected = Vec::new();
        for i in 0..400usize {
            if i % 97 == 3 {
                text.push_str("{\"broken\": \n");
                expected.push(None);
            } else {
                let pad = "y".repeat((i * 7919) % 9000);
                text.push_str(&format!("{{\"i\":{i},\"pad\":\"{pad}\"}}\n"));
                expected.push(Some(i));
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.jsonl");
        std::fs::write(&path, &text).expect("write");
        let mut reader = Reader::new(&[path]);
        for (n, want) in expected.iter().enumerate() {
            let got = reader.next_record().expect("io").expect("some");
            match (want, got) {
                (Some(i), Ok(located)) => {
                    assert_eq!(located.line, n as u64 + 1);
                    assert_eq!(located.record["i"].as_u64(), Some(*i as u64));
                }
                (None, Err(bad)) => {
                    assert_eq!(bad.line, n as u64 + 1);
                    assert_eq!(bad.raw, "{\"broken\": ");
                }
                (want, got) => panic!("line {}: wanted {want:?}, got {got:?}", n + 1),
            }
        }
        assert!(reader.next_record().expect("io").is_none());
        assert!(
            text.len() > 4 * input::BUF_SIZE,
            "the file spans several buffers"
        );
    }
}
