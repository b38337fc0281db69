//! Compact JSON output, byte for byte what `serde_json::to_vec` writes. Records are mostly
//! prose that needs no escaping, so strings are scanned eight bytes at a time and copied in
//! runs; serde_json looks up every byte in a table, which made escaping the largest single
//! cost of writing a record.

use serde_json::Value;

/// Appends `value` as compact JSON.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            serde_json::to_writer(&mut *out, n).expect("writing a number to a Vec cannot fail")
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => write_array(items, out, write_value),
        Value::Object(map) => write_object(map, out, write_value),
    }
}

/// Appends `[a,b,…]`, each item written by `item` (`write_value`, or a canonical form).
pub fn write_array<'a>(
    items: impl IntoIterator<Item = &'a Value>,
    out: &mut Vec<u8>,
    item: fn(&Value, &mut Vec<u8>),
) {
    out.push(b'[');
    for (i, value) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(value, out);
    }
    out.push(b']');
}

/// Appends `{"k":v,…}` for the members in the order given, each value written by `value`.
pub fn write_object<'a>(
    members: impl IntoIterator<Item = (&'a String, &'a Value)>,
    out: &mut Vec<u8>,
    value: fn(&Value, &mut Vec<u8>),
) {
    out.push(b'{');
    for (i, (key, member)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(key, out);
        out.push(b':');
        value(member, out);
    }
    out.push(b'}');
}

/// Appends `text` as a JSON string: `"` and `\` escaped, control characters as `\n`-style
/// escapes where JSON has one and `\u00XX` otherwise; everything else as it is.
pub fn write_str(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0; // start of the bytes not yet copied
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            if !needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let byte = bytes[i];
        if let Some(escape) = escape(byte) {
            out.extend_from_slice(&bytes[run..i]);
            match escape {
                Escape::Short(c) => out.extend_from_slice(&[b'\\', c]),
                Escape::Unicode => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(byte >> 4)]);
                    out.push(HEX[usize::from(byte & 0xf)]);
                }
            }
            run = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

enum Escape {
    /// `\` and this letter.
    Short(u8),
    /// `\u00XX`.
    Unicode,
}

fn escape(byte: u8) -> Option<Escape> {
    match byte {
        b'"' => Some(Escape::Short(b'"')),
        b'\\' => Some(Escape::Short(b'\\')),
        b'\n' => Some(Escape::Short(b'n')),
        b'\r' => Some(Escape::Short(b'r')),
        b'\t' => Some(Escape::Short(b't')),
        0x08 => Some(Escape::Short(b'b')),
        0x0c => Some(Escape::Short(b'f')),
        0..0x20 => Some(Escape::Unicode),
        _ => None,
    }
}

/// True when one of the eight bytes is a control character, `"` or `\`. Exact: the
/// borrow of a subtraction can only spill into bytes above one that matched.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20);
    let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let backslash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    // A byte with its high bit set is never one of these, so `!word` masks it out.
    (below_space | quote | backslash) & !word & HIGH != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ours(value: &Value) -> String {
        let mut out = Vec::new();
        write_value(value, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn every_ascii_byte_at_every_offset_matches_serde_json() {
        for byte in 0u8..128 {
            for offset in 0..17 {
                let text = format!("{}{}{}", "a".repeat(offset), byte as char, "é".repeat(5));
                let value = Value::String(text);
                assert_eq!(ours(&value), serde_json::to_string(&value).expect("json"));
            }
        }
    }

    #[test]
    fn nested_values_match_serde_json() {
        let value = json!({
            "s": "tab\there \"quoted\" back\\slash \u{1} \u{7f} ünï ✓ 🦀",
            "n": [0, -1, 1.5, 1e300, 12345678901234567890u64, null, true, false],
            "o": {"": {}, "k\n": []},
        });
        assert_eq!(ours(&value), serde_json::to_string(&value).expect("json"));
    }

    proptest! {
        #[test]
        fn any_string_matches_serde_json(text in any::<String>()) {
            let value = Value::String(text);
            prop_assert_eq!(ours(&value), serde_json::to_string(&value).expect("json"));
        }

        #[test]
        fn strings_of_json_specials_match_serde_json(
            text in proptest::collection::vec(
                prop_oneof![Just('"'), Just('\\'), Just('\n'), Just('\u{1f}'), Just('a'), Just('ß')],
                0..40,
            )
        ) {
            let value = Value::String(text.into_iter().collect());
            prop_assert_eq!(ours(&value), serde_json::to_string(&value).expect("json"));
        }
    }
}
