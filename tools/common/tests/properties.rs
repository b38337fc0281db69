//! Property tests of the JSONL reader over arbitrary bytes: it never panics, every line is
//! either a record or an error naming its line, and valid objects read back unchanged;
//! a `RawRecord` of any line says what `parse_line` says, and writes back what it read.
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
