//! `--explode FIELD`: one record per element of a list field. Pure, no I/O.

use ktpipe_common::Record;
use ktpipe_common::reader::json_type;
use serde_json::Value;

/// The records for each element of the list in `field`: the element replaces the list in
/// place and `<field>_index` (0-based) is appended. An empty list gives none. A missing or
/// non-list field gives the record back with the reason.
pub fn explode(mut record: Record, field: &str) -> Result<Vec<Record>, (Record, String)> {
    let items = match record.get_mut(field) {
        Some(Value::Array(items)) => std::mem::take(items),
        Some(other) => {
            let reason = format!(
                "--explode field '{field}' is {}, not a list",
                json_type(other)
            );
            return Err((record, reason));
        }
        None => {
            let reason = format!("--explode field '{field}' is missing");
            return Err((record, reason));
        }
    };
    let index_field = format!("{field}_index");
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let mut one = record.clone();
            one.insert(field.to_string(), item);
            one.insert(index_field.clone(), Value::from(index));
            one
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Record {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn each_element_takes_the_lists_place() {
        let out = explode(
            record(json!({"a": 1, "facts": ["x", {"y": 2}], "z": 0})),
            "facts",
        )
        .expect("a list");
        assert_eq!(out.len(), 2);
        let keys: Vec<&String> = out[1].keys().collect();
        assert_eq!(keys, ["a", "facts", "z", "facts_index"]);
        assert_eq!(out[0]["facts"], "x");
        assert_eq!(out[1]["facts"], json!({"y": 2}));
        assert_eq!(out[1]["facts_index"], 1);
    }

    #[test]
    fn empty_lists_give_nothing_and_non_lists_are_refused() {
        assert!(
            explode(record(json!({"f": []})), "f")
                .expect("list")
                .is_empty()
        );
        let (back, reason) = explode(record(json!({"f": "s"})), "f").unwrap_err();
        assert_eq!(back["f"], "s");
        assert_eq!(reason, "--explode field 'f' is a string, not a list");
        let (_, reason) = explode(record(json!({})), "f").unwrap_err();
        assert_eq!(reason, "--explode field 'f' is missing");
    }
}
