//! The seed schema: loading it (built in or from a file), adding `--require` fields, and
//! turning a row's violations into `/pointer: message` lines.

use std::path::Path;

use jsonschema::Validator;
use ktpipe_common::UsageError;
use serde_json::Value;

/// The schema kept in the repository, used unless `--schema` names another.
const BUILT_IN: &str = include_str!("../seed.schema.json");

/// Messages longer than this show "value" instead of the offending value itself (a 10 MB
/// document should not be printed back at the user).
const MAX_MESSAGE_CHARS: usize = 200;

/// A compiled seed schema.
pub struct SeedSchema {
    validator: Validator,
}

impl SeedSchema {
    /// Loads the schema from `path` (or the built-in one), requires the extra fields, and
    /// compiles it. Every failure is a usage error: it happens before input is read.
    pub fn load(path: Option<&Path>, require: &[String]) -> anyhow::Result<Self> {
        let (name, text) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    UsageError::new(format!("cannot read schema '{}': {e}", path.display()))
                })?;
                (path.display().to_string(), text)
            }
            None => ("built-in seed schema".to_string(), BUILT_IN.to_string()),
        };
        let schema: Value = serde_json::from_str(&text)
            .map_err(|e| UsageError::new(format!("schema '{name}' is not valid JSON: {e}")))?;
        let schema = with_required(schema, require)
            .map_err(|msg| UsageError::new(format!("schema '{name}': {msg}")))?;
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| UsageError::new(format!("schema '{name}' does not load: {e}")))?;
        Ok(SeedSchema { validator })
    }

    /// Every violation of `row`, as `/pointer: message` (`/` is the row itself); empty when
    /// the row is valid.
    pub fn violations(&self, row: &Value) -> Vec<String> {
        self.validator
            .iter_errors(row)
            .map(|err| {
                let pointer = match err.instance_path().as_str() {
                    "" => "/",
                    p => p,
                };
                let mut message = err.to_string();
                if message.chars().count() > MAX_MESSAGE_CHARS {
                    message = err.masked().to_string();
                }
                format!("{pointer}: {message}")
            })
            .collect()
    }
}

/// Adds `fields` to the schema's top-level `required` list.
fn with_required(mut schema: Value, fields: &[String]) -> Result<Value, String> {
    if fields.is_empty() {
        return Ok(schema);
    }
    let Some(object) = schema.as_object_mut() else {
        return Err("--require needs a schema that is a JSON object".to_string());
    };
    let required = object
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(list) = required.as_array_mut() else {
        return Err("'required' is not a list".to_string());
    };
    for field in fields {
        let field = Value::String(field.clone());
        if !list.contains(&field) {
            list.push(field);
        }
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn built_in(require: &[&str]) -> SeedSchema {
        let require: Vec<String> = require.iter().map(|s| s.to_string()).collect();
        SeedSchema::load(None, &require).expect("built-in schema loads")
    }

    #[test]
    fn a_good_row_is_valid_and_extra_fields_are_allowed() {
        let row = json!({"document": "d", "document_outline": "o", "domain": "x", "extra": 1,
            "icl_document": ["a", "b"], "icl_query_1": "q"});
        assert!(built_in(&[]).violations(&row).is_empty());
    }

    #[test]
    fn every_violation_is_listed_with_its_pointer() {
        let row = json!({"document": "", "domain": 3, "icl_document": ["a", 2]});
        let mut found = built_in(&[]).violations(&row);
        found.sort();
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].starts_with("/: \"document_outline\" is a required property"));
        assert!(found[1].starts_with("/document: \"\" is shorter than 1 character"));
        assert!(found[2].starts_with("/domain: 3 is not of type"));
        assert!(found[3].starts_with("/icl_document/1: 2 is not of type"));
    }

    #[test]
    fn require_adds_fields_and_long_values_are_masked() {
        let schema = built_in(&["icl_query_1"]);
        let row = json!({"document": "d", "document_outline": "o", "domain": ["x".repeat(500)]});
        let found = schema.violations(&row);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found
                .iter()
                .any(|v| v.contains("\"icl_query_1\" is a required property"))
        );
        assert!(found.iter().all(|v| v.len() < 300), "{found:?}");
    }

    #[test]
    fn a_bad_schema_is_a_usage_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        std::fs::write(&path, r#"{"type": "nonsense"}"#).expect("write");
        let err = SeedSchema::load(Some(&path), &[]).err().expect("refused");
        assert!(err.is::<UsageError>());
        std::fs::write(&path, "[1]").expect("write");
        let err = SeedSchema::load(Some(&path), &["a".into()])
            .err()
            .expect("refused");
        assert!(err.to_string().contains("--require"), "{err}");
    }
}
