//! What seed-cat adds to a valid row: `seed_id`, the copy of `document`, and the joining of
//! a list-valued `icl_document`. Pure functions, no I/O.

use ktpipe_common::Record;
use ktpipe_common::hash::content_hash;
use serde_json::Value;

/// The field holding the row's stable id.
pub const SEED_ID: &str = "seed_id";

/// How many hex digits of the content hash make a seed id.
const SEED_ID_HEX: usize = 16;

/// The separator between the parts of a list-valued `icl_document`.
const ICL_JOIN: &str = "\n\n";

/// The seed id of a row as read: the first 16 hex digits of its content hash.
pub fn seed_id(row: &Value) -> String {
    let mut hash = content_hash(row);
    hash.truncate(SEED_ID_HEX);
    hash
}

/// Completes a valid row: joins a list `icl_document` (returning true when it did), then
/// appends `seed_id` (computed from the row as read, `id`) and `raw_field` (a copy of
/// `document`) unless the row already has them.
pub fn complete(row: &mut Record, id: String, raw_field: &str) -> bool {
    let joined = join_icl_document(row);
    if !row.contains_key(SEED_ID) {
        row.insert(SEED_ID.to_string(), Value::String(id));
    }
    if !row.contains_key(raw_field)
        && let Some(document) = row.get("document").cloned()
    {
        row.insert(raw_field.to_string(), document);
    }
    joined
}

/// Replaces a list of strings in `icl_document` by the parts joined with a blank line.
fn join_icl_document(row: &mut Record) -> bool {
    let Some(Value::Array(parts)) = row.get("icl_document") else {
        return false;
    };
    let parts: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
    let joined = parts.join(ICL_JOIN);
    // Inserting over an existing key keeps its position.
    row.insert("icl_document".to_string(), Value::String(joined));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Record {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn seed_id_ignores_key_order_and_is_pinned() {
        let a = json!({"document": "d", "document_outline": "o", "domain": "x"});
        let b = json!({"domain": "x", "document": "d", "document_outline": "o"});
        assert_eq!(seed_id(&a), seed_id(&b));
        assert_eq!(seed_id(&a).len(), 16);
        assert_ne!(seed_id(&a), seed_id(&json!({"document": "e"})));
    }

    #[test]
    fn new_fields_are_appended_and_existing_ones_kept() {
        let mut row = record(json!({"document": "d", "domain": "x"}));
        assert!(!complete(&mut row, "abc".into(), "raw_document"));
        let keys: Vec<&String> = row.keys().collect();
        assert_eq!(keys, ["document", "domain", "seed_id", "raw_document"]);
        assert_eq!(row["raw_document"], "d");

        let mut row = record(json!({"seed_id": "mine", "document": "d", "orig": "o"}));
        complete(&mut row, "abc".into(), "orig");
        assert_eq!(row["seed_id"], "mine");
        assert_eq!(row["orig"], "o");
        assert_eq!(row.len(), 3);
    }

    #[test]
    fn list_icl_document_is_joined_in_place() {
        let mut row = record(json!({"icl_document": ["a", "b"], "document": "d"}));
        assert!(complete(&mut row, "id".into(), "raw_document"));
        assert_eq!(row.keys().next().map(String::as_str), Some("icl_document"));
        assert_eq!(row["icl_document"], "a\n\nb");
    }
}
