//! A record kept as the line it was read from. Its fields are located, not decoded, so a
//! stage that reads one field and sets a few others copies the rest through as bytes:
//! an llm-call stage carries every earlier field (the document, the examples, …) but
//! reads only the messages. Field order and the rules for setting and removing fields are
//! those of `Record`: a field set again keeps its place, a new one goes at the end, and
//! of two fields with the same name the later value wins in the first one's place.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::de::{
    self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::Record;
use crate::json::{write_str, write_value};
use crate::reader::{Malformed, line_text};

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
        crate::reader::parse_line(line)
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
    text: Arc<str>,
    fields: Vec<(Key, Slot)>,
}

#[derive(Debug, Clone)]
enum Key {
    /// A name without escapes, at this place in the text (quotes excluded).
    Plain(Range<usize>),
    /// A name that had escapes, or one set by the stage.
    Owned(String),
}

#[derive(Debug, Clone)]
enum Slot {
    /// The value's text, as read.
    Raw(Range<usize>),
    /// A value set by the stage.
    Set(Value),
}

impl RawRecord {
    /// Locates the fields of one JSONL line; malformed lines get the same errors as
    /// `reader::parse_line`.
    pub fn parse(line: &[u8]) -> Result<RawRecord, Malformed> {
        let text = line_text(line)?;
        let found = locate(text)?;
        let mut record = RawRecord {
            text: Arc::from(text),
            fields: Vec::with_capacity(found.len()),
        };
        for (key, value) in found {
            match record.position(record.key_of(&key)) {
                Some(i) => record.fields[i].1 = Slot::Raw(value),
                None => record.fields.push((key, Slot::Raw(value))),
            }
        }
        Ok(record)
    }

    /// `record` as it would be read back from the line ktpipe writes for it.
    pub fn from_record(record: &Record) -> RawRecord {
        let mut line = Vec::new();
        crate::writer::encode_record(record, &mut line);
        RawRecord::parse(&line).expect("an encoded record parses")
    }

    /// The value of field `name`, decoded.
    pub fn get(&self, name: &str) -> Option<Value> {
        let i = self.position(name)?;
        Some(match &self.fields[i].1 {
            Slot::Raw(range) => serde_json::from_str(&self.text[range.clone()])
                .expect("a located value is valid JSON"),
            Slot::Set(value) => value.clone(),
        })
    }

    /// Sets field `name`: in its place when the record has it, else at the end.
    pub fn insert(&mut self, name: &str, value: Value) {
        match self.position(name) {
            Some(i) => self.fields[i].1 = Slot::Set(value),
            None => self
                .fields
                .push((Key::Owned(name.to_string()), Slot::Set(value))),
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
        for (i, (key, slot)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match key {
                Key::Plain(range) => {
                    out.push(b'"');
                    out.extend_from_slice(self.text[range.clone()].as_bytes());
                    out.push(b'"');
                }
                Key::Owned(name) => write_str(name, out),
            }
            out.push(b':');
            match slot {
                Slot::Raw(range) => out.extend_from_slice(self.text[range.clone()].as_bytes()),
                Slot::Set(value) => write_value(value, out),
            }
        }
        out.extend_from_slice(b"}\n");
    }

    /// The record decoded, for the places that need every field (rejects).
    pub fn to_record(&self) -> Record {
        self.fields
            .iter()
            .map(|(key, _)| {
                let name = self.key_of(key);
                let value = self.get(name).expect("the field was just found");
                (name.to_string(), value)
            })
            .collect()
    }

    fn key_of<'a>(&'a self, key: &'a Key) -> &'a str {
        match key {
            Key::Plain(range) => &self.text[range.clone()],
            Key::Owned(name) => name,
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|(key, _)| self.key_of(key) == name)
    }
}

/// The fields of `text`: found by the fast scan, or by serde_json for what the scan leaves
/// to it, errors included.
fn locate(text: &str) -> Result<Vec<(Key, Range<usize>)>, Malformed> {
    if let Some(fields) = crate::scan::object_fields(text) {
        return Ok(fields
            .into_iter()
            .map(|(name, value)| (Key::Plain(name), value))
            .collect());
    }
    locate_with_serde(text)
}

fn locate_with_serde(text: &str) -> Result<Vec<(Key, Range<usize>)>, Malformed> {
    let mut de = serde_json::Deserializer::from_str(text);
    let located = de
        .deserialize_any(Fields { base: text })
        .and_then(|fields| de.end().map(|()| fields))
        .map_err(|err| Malformed::NotJson(err.to_string()))?;
    let fields = located.map_err(Malformed::NotObject)?;
    // Skipping values, serde_json lets by what decoding them refuses (a lone surrogate
    // escape, a number beyond an f64): such a line is malformed here, where its place is
    // known, not in the stage that reads the field. Only the lines the scan leaves come here.
    serde_json::from_str::<Value>(text).map_err(|err| Malformed::NotJson(err.to_string()))?;
    Ok(fields)
}

/// Where `part` lies in `base`, which it was borrowed from.
fn range_in(base: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - base.as_ptr() as usize;
    start..start + part.len()
}

/// Locates an object's fields; any other value is reported by its type name.
struct Fields<'a> {
    base: &'a str,
}

type Found = Result<Vec<(Key, Range<usize>)>, &'static str>;

impl<'de> Visitor<'de> for Fields<'de> {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed { base: self.base })? {
            let value: &'de RawValue = map.next_value()?;
            fields.push((key, range_in(self.base, value.get())));
        }
        Ok(Ok(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("an array"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Found, E> {
        Ok(Err("null"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Found, E> {
        Ok(Err("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Found, E> {
        Ok(Err("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Found, E> {
        Ok(Err("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Found, E> {
        Ok(Err("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Found, E> {
        Ok(Err("a string"))
    }
}

/// A field name: borrowed from the line when it has no escapes.
struct KeySeed<'a> {
    base: &'a str,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'de> {
    type Value = Key;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Key, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'de> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Key, E> {
        Ok(Key::Plain(range_in(self.base, name)))
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        Ok(Key::Owned(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::parse_line;
    use crate::writer::encode_record;
    use proptest::prelude::*;

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

    /// The fast scan against serde_json on one text: what the scan accepts, serde_json
    /// accepts with the same fields; what serde_json refuses, the scan leaves to it.
    fn scan_agrees(text: &str) -> Result<(), String> {
        let slow = locate_with_serde(text);
        match crate::scan::object_fields(text) {
            None => Ok(()),
            Some(fast) => {
                let Ok(slow) = slow else {
                    return Err(format!("scan accepted {text:?}; serde_json: {slow:?}"));
                };
                let slow: Vec<_> = slow
                    .into_iter()
                    .map(|(key, value)| match key {
                        Key::Plain(name) => Ok((name, value)),
                        Key::Owned(_) => Err(format!("scan accepted an escaped name in {text:?}")),
                    })
                    .collect::<Result<_, _>>()?;
                if fast == slow {
                    Ok(())
                } else {
                    Err(format!("{text:?}: scan {fast:?}, serde_json {slow:?}"))
                }
            }
        }
    }

    #[test]
    fn the_scan_takes_plain_lines_and_leaves_the_rest_to_serde_json() {
        let taken = [
            r#"{}"#,
            r#" { "a" : 1 , "b":[true,false,null,{"c":"d\"e\\f\/\b\f\n\r\t\u00e9"}] } "#,
            r#"{"n":[0,-0,1.5,-2e10,3E+2,4e-2,12345678901234567890123]}"#,
            r#"{"doc":"ünï ✓ 🦀","a":"x","a":"dup"}"#,
            r#"{"s":"\ud83d\ude00 \u00e9"}"#,
        ];
        for text in taken {
            assert!(crate::scan::object_fields(text).is_some(), "{text}");
            scan_agrees(text).expect("agrees");
        }
        let left = [
            r#"{"k\n":1}"#,
            r#"{"s":"\uD800"}"#,
            r#"{"s":"\udc00x"}"#,
            r#"{"s":"\ud800\u0041"}"#,
            r#"{"n":01}"#,
            r#"{"n":1.}"#,
            r#"{"n":-}"#,
            r#"{"n":1e}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            "{\"s\":\"tab\there\"}",
            r#"{"a":1}x"#,
            r#"[1]"#,
            r#"{"a":tru}"#,
            r#"{"s":"\x"}"#,
            r#"{"s":"\u12g4"}"#,
        ];
        for text in left {
            assert!(crate::scan::object_fields(text).is_none(), "{text}");
            scan_agrees(text).expect("agrees");
        }
        // What decoding refuses is malformed, with the error parse_line gives (such lines
        // used to pass here and fail the stage that read the field).
        let huge = format!(r#"{{"n":1{}}}"#, "0".repeat(400));
        let undecodable = [
            r#"{"s":"\ud800"}"#,
            r#"{"s":"\udc00x"}"#,
            r#"{"s":"\ud800\u0041"}"#,
            r#"{"n":1e309}"#,
            r#"{"n":-2E+400}"#,
            &huge,
        ];
        for text in undecodable {
            let raw = RawRecord::parse(text.as_bytes()).map(|r| r.to_record());
            assert!(matches!(raw, Err(Malformed::NotJson(_))), "{text}");
            assert_eq!(raw, parse_line(text.as_bytes()));
        }
        // Near the limit, what fits is taken: by the scan, or by serde_json past 300 digits.
        for text in [
            r#"{"n":1e300}"#,
            r#"{"n":1e308}"#,
            r#"{"n":1e-400}"#,
            r#"{"n":0.0001e310}"#,
        ] {
            assert!(RawRecord::parse(text.as_bytes()).is_ok(), "{text}");
            scan_agrees(text).expect("agrees");
        }
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        assert!(crate::scan::object_fields(&deep).is_none());
        assert!(RawRecord::parse(deep.as_bytes()).is_ok());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let text = proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('\n'),
                Just('\u{1}'),
                Just('/'),
                Just('a'),
                Just('é'),
                Just('🦀'),
            ],
            0..12,
        )
        .prop_map(|chars| chars.into_iter().collect::<String>());
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            // Numbers with a 0 before the edits: 01 and 0. are near misses.
            (0i64..3).prop_map(Value::from),
            Just(Value::from(0.25)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            text.clone().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::vec((text.clone(), inner), 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    /// JSON text of `value`, compact or pretty, then edited to make near misses: at each
    /// place given, a character cut out (None) or one put in.
    fn text_of(value: &Value, pretty: bool, edits: &[(usize, Option<char>)]) -> String {
        let text = if pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        }
        .expect("json");
        let mut chars: Vec<char> = text.chars().collect();
        for &(at, put) in edits {
            let at = at % (chars.len() + 1);
            match put {
                Some(c) => chars.insert(at, c),
                None if at < chars.len() => drop(chars.remove(at)),
                None => {}
            }
        }
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_scan_agrees_with_serde_json(
            fields in proptest::collection::vec(("[a-z\"\\\\]{0,4}", json_value()), 0..6),
            pretty in any::<bool>(),
            edits in proptest::collection::vec((any::<usize>(), proptest::option::of(prop_oneof![
                Just('"'), Just('\\'), Just(','), Just(':'), Just('{'), Just('}'), Just('['),
                Just(']'), Just('0'), Just('1'), Just('-'), Just('.'), Just('e'), Just(' '),
                Just('\t'), Just('\u{1}'), Just('u'), Just('n'),
            ])), 0..3),
        ) {
            let value = Value::Object(fields.into_iter().collect());
            let text = text_of(&value, pretty, &edits);
            prop_assert!(scan_agrees(&text).is_ok(), "{}", scan_agrees(&text).unwrap_err());
        }

        #[test]
        fn numbers_and_escapes_agree_with_serde_json(
            number in "-?[0-9]{0,3}(\\.[0-9]{0,2})?([eE][-+]?[0-9]{0,2})?[0-9.eE+-]?",
            pieces in proptest::collection::vec(prop_oneof![
                Just("a"), Just("é"), Just("\\\""), Just("\\\\"), Just("\\/"), Just("\\n"),
                Just("\\u00e9"), Just("\\ud83d"), Just("\\ude00"), Just("\\uDBFF"),
                Just("\\udc00"), Just("\\u12"), Just("\\x"), Just("\u{1}"), Just("\t"),
                Just("\\"), Just("\""),
            ], 0..6),
        ) {
            let string = pieces.concat();
            for text in [format!("{{\"n\":{number}}}"), format!("{{\"s\":\"{string}\"}}")] {
                prop_assert!(scan_agrees(&text).is_ok(), "{}", scan_agrees(&text).unwrap_err());
            }
        }
    }
}
