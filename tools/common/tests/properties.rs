//! Property tests of the JSONL reader over arbitrary bytes: it never panics, every line is
//! either a record or an error naming its line, and valid objects read back unchanged;
//! a `RawRecord` of any line, near misses of JSON among them, says what `parse_line` says,
//! and writes back what it read.
//! `scripts/fuzz` runs these with many more cases.

#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is a failed case

use std::io::Write;

use ktpipe_common::raw::RawRecord;
use ktpipe_common::reader::{Malformed, Reader, parse_line};
use ktpipe_common::writer::encode_record;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Bytes that look like JSONL often enough to reach the parser's deeper paths.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"\"a\":".to_vec()),
        Just(b"[1,".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\\u00".to_vec()),
        Just(vec![0xff, 0xfe]),
        Just("é".as_bytes().to_vec()),
        Just(b"{\"k\":\"v\"}\n".to_vec()),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|v| v.concat())
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    prop::collection::btree_map(".*", leaf, 0..6).prop_map(|m| m.into_iter().collect())
}

/// Any JSON value, with strings and numbers near the edges of the grammar.
fn json_value() -> impl Strategy<Value = Value> {
    let text = prop::collection::vec(
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
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((text.clone(), inner), 0..6)
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
    .unwrap();
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

/// A `RawRecord` of `text` against serde_json: the same record or the same error, and a
/// line serde_json wrote (compact, no repeated name) comes back byte for byte.
fn raw_agrees(text: &str) -> Result<(), TestCaseError> {
    let raw = RawRecord::parse(text.as_bytes());
    let decoded = parse_line(text.as_bytes());
    prop_assert_eq!(
        raw.as_ref().map(RawRecord::to_record).map_err(Clone::clone),
        decoded.clone()
    );
    if let (Ok(raw), Ok(record)) = (raw, decoded) {
        let mut written = Vec::new();
        raw.write_line(&mut written);
        if serde_json::to_string(&record).unwrap() == text {
            prop_assert_eq!(written, format!("{text}\n").into_bytes());
        } else {
            // Values keep their text as read; the line still reads as the same record.
            prop_assert_eq!(parse_line(&written).unwrap(), record);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn parse_line_never_panics(line in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_line(&line);
    }

    #[test]
    fn parse_line_on_jsonish_bytes_returns_an_object_or_a_reason(line in jsonish()) {
        match parse_line(&line) {
            Ok(map) => prop_assert!(serde_json::to_string(&map).is_ok()),
            Err(Malformed::NotJson(msg)) => prop_assert!(!msg.is_empty()),
            Err(_) => {}
        }
    }

    #[test]
    fn raw_records_agree_with_parse_line(line in jsonish()) {
        let line = line.split(|b| *b == b'\n').next().unwrap_or_default();
        prop_assert_eq!(RawRecord::parse(line).map(|r| r.to_record()), parse_line(line));
    }

    #[test]
    fn raw_records_write_back_the_line_they_read(obj in object()) {
        let mut line = Vec::new();
        encode_record(&obj, &mut line);
        let mut again = Vec::new();
        RawRecord::parse(&line).unwrap().write_line(&mut again);
        prop_assert_eq!(again, line);
    }

    #[test]
    fn objects_read_back_unchanged(obj in object(), crlf in any::<bool>()) {
        let mut line = serde_json::to_vec(&obj).unwrap();
        line.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        prop_assert_eq!(parse_line(&line).unwrap(), obj);
    }

    #[test]
    fn the_reader_accounts_for_every_line(bytes in jsonish()) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        let mut reader = Reader::new(&[file.path().to_path_buf()]);
        let expected_lines = bytes.split(|b| *b == b'\n').count()
            - usize::from(bytes.is_empty() || bytes.ends_with(b"\n"));
        let mut seen = 0u64;
        while let Some(item) = reader.next_record().unwrap() {
            seen += 1;
            match item {
                Ok(located) => prop_assert_eq!(located.line, seen),
                Err(err) => {
                    prop_assert_eq!(err.line, seen);
                    let message = err.to_string();
                    let place = format!(":{seen}: ");
                    prop_assert!(message.contains(&place), "{}", message);
                }
            }
        }
        prop_assert_eq!(seen as usize, expected_lines);
    }
}

proptest! {
    // Near misses are where a record type and serde_json could part: more cases here,
    // and at least as many as PROPTEST_CASES asks for (scripts/fuzz).
    #![proptest_config(ProptestConfig {
        cases: ProptestConfig::default().cases.max(2000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn raw_records_agree_with_serde_json_on_near_misses(
        fields in prop::collection::vec(("[a-z\"\\\\]{0,4}", json_value()), 0..6),
        pretty in any::<bool>(),
        edits in prop::collection::vec((any::<usize>(), prop::option::of(prop_oneof![
            Just('"'), Just('\\'), Just(','), Just(':'), Just('{'), Just('}'), Just('['),
            Just(']'), Just('0'), Just('1'), Just('-'), Just('.'), Just('e'), Just(' '),
            Just('\t'), Just('\u{1}'), Just('u'), Just('n'),
        ])), 0..3),
    ) {
        let value = Value::Object(fields.into_iter().collect());
        raw_agrees(&text_of(&value, pretty, &edits))?;
    }

    #[test]
    fn raw_records_agree_with_serde_json_on_numbers_and_escapes(
        number in "-?[0-9]{0,3}(\\.[0-9]{0,2})?([eE][-+]?[0-9]{0,3})?[0-9.eE+-]?",
        pieces in prop::collection::vec(prop_oneof![
            Just("a"), Just("é"), Just("\\\""), Just("\\\\"), Just("\\/"), Just("\\n"),
            Just("\\u00e9"), Just("\\ud83d"), Just("\\ude00"), Just("\\uDBFF"),
            Just("\\udc00"), Just("\\u12"), Just("\\x"), Just("\u{1}"), Just("\t"),
            Just("\\"), Just("\""),
        ], 0..6),
    ) {
        let string = pieces.concat();
        for text in [
            format!("{{\"n\":{number}}}"),
            format!("{{\"s\":\"{string}\"}}"),
            format!("{{\"k{string}\":1,\"k{string}\":[{number}]}}"),
        ] {
            raw_agrees(&text)?;
        }
    }
}
