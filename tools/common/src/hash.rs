//! Stable content hashes: the same JSON value gives the same hash whatever its key order,
//! on every machine and in every version of ktpipe. Used for `seed_id`, shard keys and the
//! response cache.

use serde::{Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Writes `value` as compact JSON with object keys sorted, the canonical form that is hashed.
pub fn canonical_json(value: &Value, out: &mut Vec<u8>) {
    serde_json::to_writer(out, &Canonical(value)).expect("a Value writes to a Vec");
}

/// A value that serialises with the keys of every object in sorted order.
struct Canonical<'a>(&'a Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                members.sort_by_key(|(key, _)| *key);
                serializer.collect_map(members.into_iter().map(|(k, v)| (k, Canonical(v))))
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Canonical)),
            scalar => scalar.serialize(serializer),
        }
    }
}

/// SHA-256 of the canonical JSON of `value`, as lowercase hex.
pub fn content_hash(value: &Value) -> String {
    let mut buf = Vec::new();
    canonical_json(value, &mut buf);
    hex(&Sha256::digest(&buf))
}

/// SHA-256 of raw bytes, as lowercase hex.
pub fn bytes_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// A 64-bit number from the hash of `bytes`, for shard assignment and seeded choices.
pub fn hash_u64(bytes: &[u8]) -> u64 {
    let digest = Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a = json!({"b": 1, "a": {"y": [1, "x"], "x": null}});
        let b: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[1,"x"]},"b":1}"#).expect("json");
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&json!({"b": 2})));
    }

    #[test]
    fn hash_is_pinned() {
        // A changed hash would orphan every user's cache and seed ids.
        assert_eq!(
            bytes_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut buf = Vec::new();
        canonical_json(&json!({"z": "é", "a": 1.5}), &mut buf);
        assert_eq!(
            String::from_utf8(buf).expect("utf8"),
            r#"{"a":1.5,"z":"é"}"#
        );
    }
}
