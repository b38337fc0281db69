//! A record kept as the line it was read from. Its fields are located, not decoded, so a
//! stage that reads one field and sets a few others copies the rest through as bytes:
//! an llm-call stage carries every earlier field (the document, the examples, …) but
//! reads only the messages. Field order and the rules for setting and removing fields are
//! those of `Record`: a field set again keeps its place, a new one goes at the end, and
//! of two fields with the same name the later value wins in the first one's place.
//! serde_json does all of it: it checks the line, finds each value's text (`RawValue`)
//! and writes names and the values a stage sets.

use std::ops::Range;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::Record;
use crate::reader::{Malformed, line_text, parse_line, parse_text};

/// What the record loops read and write: a record decoded (`Record`) or kept as the line
/// it was read from (`RawRecord`).
pub trait LineRecord: Sized {
    /// One JSONL line as a record, or what is wrong with it.
    fn parse(line: &[u8]) -> Result<Self, Malformed>;
    /// Appends the record as one JSONL line.
    fn encode(&self, out: &mut Vec<u8>);
    /// The record decoded, for the rejects file.
    fn into_record(self) -> Record;
}

impl LineRecord for Record {
    fn parse(line: &[u8]) -> Result<Self, Malformed> {
        parse_line(line)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        crate::writer::encode_record(self, out);
    }

    fn into_record(self) -> Record {
        self
    }
}

impl LineRecord for RawRecord {
    fn parse(line: &[u8]) -> Result<Self, Malformed> {
        RawRecord::parse(line)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.write_line(out);
    }

    fn into_record(self) -> Record {
        self.to_record()
    }
}

/// A JSON object line, its fields found but left as text until asked for.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// The line as read, shared by the copies llm-call makes of a record for each choice.
    text: Arc<str>,
    /// In line order; a record has at most a few dozen fields, so a search finds one.
    fields: Vec<(String, Slot)>,
}

#[derive(Debug, Clone)]
enum Slot {
    /// The value's text, at this place in the line.
    Read(Range<usize>),
    /// A value set by the stage.
    Set(Value),
}

impl RawRecord {
    /// Locates the fields of one JSONL line; malformed lines get the errors of
    /// `reader::parse_line`.
    pub fn parse(line: &[u8]) -> Result<RawRecord, Malformed> {
        // Skipping over a value, serde_json lets by what decoding it refuses (a lone
        // surrogate escape, a number beyond an f64, deep nesting): decoding the line once
        // makes such a line malformed here, where its place is known, not in the stage
        // that reads the field.
        let text = line_text(line)?;
        parse_text(text)?;
        // A map keeps a repeated name in its first place with the later value, as `Record`.
        let found: IndexMap<String, &RawValue> =
            serde_json::from_str(text).map_err(|err| Malformed::NotJson(err.to_string()))?;
        let fields = found
            .into_iter()
            .map(|(name, value)| (name, Slot::Read(range_in(text, value.get()))))
            .collect();
        Ok(RawRecord {
            text: Arc::from(text),
            fields,
        })
    }

    /// `record` as it would be read back from the line ktpipe writes for it.
    pub fn from_record(record: &Record) -> RawRecord {
        RawRecord {
            text: Arc::from(""),
            fields: record
                .iter()
                .map(|(name, value)| (name.clone(), Slot::Set(value.clone())))
                .collect(),
        }
    }

    /// The value of field `name`, decoded.
    pub fn get(&self, name: &str) -> Option<Value> {
        let i = self.position(name)?;
        Some(self.decode(&self.fields[i].1))
    }

    /// Sets field `name`: in its place when the record has it, else at the end.
    pub fn insert(&mut self, name: &str, value: Value) {
        match self.position(name) {
            Some(i) => self.fields[i].1 = Slot::Set(value),
            None => self.fields.push((name.to_string(), Slot::Set(value))),
        }
    }

    /// Removes field `name`, keeping the order of the others.
    pub fn remove(&mut self, name: &str) {
        if let Some(i) = self.position(name) {
            self.fields.remove(i);
        }
    }

    /// Appends the record as one compact JSONL line; fields as read are copied as read.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        out.reserve(self.text.len() + 2);
        out.push(b'{');
        for (i, (name, slot)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json(out, name);
            out.push(b':');
            match slot {
                Slot::Read(range) => out.extend_from_slice(self.text[range.clone()].as_bytes()),
                Slot::Set(value) => write_json(out, value),
            }
        }
        out.extend_from_slice(b"}\n");
    }

    /// The record decoded, for the places that need every field (rejects).
    pub fn to_record(&self) -> Record {
        self.fields
            .iter()
            .map(|(name, slot)| (name.clone(), self.decode(slot)))
            .collect()
    }

    fn decode(&self, slot: &Slot) -> Value {
        match slot {
            Slot::Read(range) => serde_json::from_str(&self.text[range.clone()])
                .expect("a value of a line that decoded decodes"),
            Slot::Set(value) => value.clone(),
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|(field, _)| field == name)
    }
}

/// Appends `value` as compact JSON.
fn write_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    serde_json::to_writer(out, value).expect("a string or a Value writes to a Vec");
}

/// Where `part` lies in `base`, which it was borrowed from.
fn range_in(base: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - base.as_ptr() as usize;
    start..start + part.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::encode_record;

    fn line(record: &RawRecord) -> String {
        let mut out = Vec::new();
        record.write_line(&mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn fields_read_are_written_as_read_and_edits_follow_record_rules() {
        let text = br#"{"a": [1, 2], "k\u00e9y": "v", "b": {"x": 1e2}, "a": "again", "c": 3}"#;
        let mut raw = RawRecord::parse(text).expect("parses");
        let mut record = parse_line(text).expect("parses");
        assert_eq!(raw.to_record(), record);
        assert_eq!(
            line(&raw),
            "{\"a\":\"again\",\"k\u{e9}y\":\"v\",\"b\":{\"x\": 1e2},\"c\":3}\n"
        );
        record.insert("b".into(), Value::from("set"));
        record.insert("new".into(), Value::from(1));
        record.shift_remove("a");
        raw.insert("b", Value::from("set"));
        raw.insert("new", Value::from(1));
        raw.remove("a");
        raw.remove("missing");
        assert_eq!(raw.to_record(), record);
        let mut expected = Vec::new();
        encode_record(&record, &mut expected);
        assert_eq!(line(&raw).into_bytes(), expected);
        assert_eq!(raw.get("c"), Some(Value::from(3)));
        assert_eq!(raw.get("b"), Some(Value::from("set")));
        assert_eq!(raw.get("a"), None);
    }

    #[test]
    fn malformed_lines_get_the_errors_of_parse_line() {
        for text in [
            &b"\n"[..],
            b"  \r\n",
            b"[1,2]",
            b"3",
            b"null",
            b"true",
            b"\"s\"",
            b"{\"a\":\xff}",
            b"{oops",
            b"not json",
            b"{\"a\":1} x",
            b"{\"a\":1",
            b"{\"a\":[1,}",
        ] {
            assert_eq!(
                RawRecord::parse(text).map(|r| r.to_record()),
                parse_line(text),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn records_written_by_ktpipe_come_back_byte_for_byte() {
        let record = parse_line(
            "{\"document\":\"line\\none \\\"quoted\\\"\",\"n\":[1,2.5,null],\"o\":{\"t\":true}}"
                .as_bytes(),
        )
        .expect("parses");
        let mut text = Vec::new();
        encode_record(&record, &mut text);
        let raw = RawRecord::parse(&text).expect("parses");
        assert_eq!(line(&raw).into_bytes(), text);
    }

    #[test]
    fn what_decoding_refuses_is_malformed_with_the_error_of_parse_line() {
        let huge = format!(r#"{{"n":1{}}}"#, "0".repeat(400));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        for text in [
            r#"{"s":"\ud800"}"#,
            r#"{"s":"\udc00x"}"#,
            r#"{"s":"\ud800\u0041"}"#,
            r#"{"n":1e309}"#,
            r#"{"n":-2E+400}"#,
            &huge,
            &deep,
        ] {
            let raw = RawRecord::parse(text.as_bytes()).map(|r| r.to_record());
            assert!(matches!(raw, Err(Malformed::NotJson(_))), "{text}");
            assert_eq!(raw, parse_line(text.as_bytes()));
        }
        // Near the limits, what fits is taken.
        let nested = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        for text in [
            r#"{"n":1e308}"#,
            r#"{"n":1e-400}"#,
            r#"{"n":0.0001e310}"#,
            &nested,
        ] {
            let raw = RawRecord::parse(text.as_bytes()).expect("parses");
            assert_eq!(line(&raw), format!("{text}\n"));
        }
    }
}
