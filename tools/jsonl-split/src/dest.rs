//! Where a record goes under `--out`: the path template with `{field}` and `{shard}`
//! placeholders, its sanitising, and the shard of a key. Pure, no I/O.

use std::path::{Component, Path, PathBuf};

use ktpipe_common::Record;
use ktpipe_common::hash::{canonical_json, hash_u64};
use ktpipe_common::reader::json_type;
use serde_json::Value;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
    Shard,
}

/// A parsed `--out` template, with the directory its paths are relative to.
#[derive(Debug, Clone)]
pub struct OutTemplate {
    parts: Vec<Part>,
    base: PathBuf,
}

impl OutTemplate {
    /// Parses `text`; refuses a template that is empty, absolute, contains a `..` component,
    /// or has unbalanced braces.
    pub fn parse(text: &str, base: Option<&Path>) -> Result<Self, String> {
        let parts = parse_parts(text)?;
        if text.is_empty() {
            return Err("--out template is empty".to_string());
        }
        if text.starts_with('/') || Path::new(text).is_absolute() {
            return Err(format!(
                "--out '{text}': refusing an absolute path (use --out-dir DIR with a relative template)"
            ));
        }
        if text.split('/').any(|segment| segment == "..") {
            return Err(format!("--out '{text}': refusing a path with '..'"));
        }
        Ok(OutTemplate {
            parts,
            base: base.map_or_else(PathBuf::new, Path::to_path_buf),
        })
    }

    /// True when the template names record fields (so destinations are known only as
    /// records arrive).
    pub fn has_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Field(_)))
    }

    /// True when the template has a `{shard}` placeholder.
    pub fn has_shard(&self) -> bool {
        self.parts.contains(&Part::Shard)
    }

    /// The path for `record` (and `shard`), or the reason the record cannot be written.
    pub fn render(&self, record: &Record, shard: Option<u64>) -> Result<PathBuf, String> {
        let mut path = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => path.push_str(text),
                Part::Field(name) => path.push_str(&field_text(record, name)?),
                Part::Shard => match shard {
                    Some(n) => path.push_str(&n.to_string()),
                    None => return Err("'{shard}' needs --shards".to_string()),
                },
            }
        }
        check_relative(&path)?;
        Ok(self.base.join(path))
    }
}

/// The shard of a record: a hash of the canonical JSON of its `key` value, modulo `shards`.
pub fn shard_of(record: &Record, key: &str, shards: u64) -> Result<u64, String> {
    match record.get(key) {
        None | Some(Value::Null) => Err(format!("shard key field '{key}' is missing or null")),
        Some(value) => {
            let mut buf = Vec::new();
            canonical_json(value, &mut buf);
            Ok(hash_u64(&buf) % shards.max(1))
        }
    }
}

fn parse_parts(text: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('{', Some('{')) | ('}', Some('}')) => {
                chars.next();
                literal.push(c);
            }
            ('{', _) => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err(format!("--out '{text}': unclosed '{{'"));
                }
                if name.is_empty() || name.contains('{') {
                    return Err(format!("--out '{text}': bad placeholder '{{{name}}}'"));
                }
                parts.push(Part::Text(std::mem::take(&mut literal)));
                parts.push(if name == "shard" {
                    Part::Shard
                } else {
                    Part::Field(name)
                });
            }
            ('}', _) => return Err(format!("--out '{text}': unmatched '}}' (write '}}}}')")),
            _ => literal.push(c),
        }
    }
    parts.push(Part::Text(literal));
    parts.retain(|p| *p != Part::Text(String::new()));
    Ok(parts)
}

/// A field's value as one path segment, or why it cannot be one.
fn field_text(record: &Record, name: &str) -> Result<String, String> {
    let text = match record.get(name) {
        None => return Err(format!("--out field '{name}' is missing")),
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        Some(other) => {
            return Err(format!(
                "--out field '{name}' is {}, which cannot name a file",
                json_type(other)
            ));
        }
    };
    if text.is_empty() || text == "." || text == ".." || text.contains(['/', '\0']) {
        return Err(format!(
            "--out field '{name}' value '{}' cannot be part of a path (empty, '.', '..', '/' or NUL)",
            text.escape_debug()
        ));
    }
    Ok(text)
}

/// Refuses a rendered path that is empty, absolute, climbs with `..` or names a directory.
fn check_relative(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    let escapes = p
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if path.is_empty() || escapes || path.ends_with('/') || p.file_name().is_none() {
        return Err(format!(
            "--out path '{}' is not a relative file path",
            path.escape_debug()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Record {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn fields_and_shards_fill_the_template() {
        let t = OutTemplate::parse("out/{domain}/{n}-{shard}.jsonl", None).expect("ok");
        assert!(t.has_fields() && t.has_shard());
        let path = t.render(&record(json!({"domain": "Finance", "n": 3})), Some(1));
        assert_eq!(path, Ok(PathBuf::from("out/Finance/3-1.jsonl")));
        let t = OutTemplate::parse("x{{y}}.jsonl", Some(Path::new("/base"))).expect("ok");
        assert!(!t.has_fields());
        assert_eq!(
            t.render(&Record::new(), None),
            Ok(PathBuf::from("/base/x{y}.jsonl"))
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in [
            "", "/abs/{a}", "a/../b", "..", "a/{b", "{b}x{b", "a/{}", "a}",
        ] {
            assert!(OutTemplate::parse(bad, None).is_err(), "{bad}");
        }
        assert!(OutTemplate::parse("a..b/{c}..", None).is_ok());
    }

    #[test]
    fn values_cannot_escape() {
        let t = OutTemplate::parse("out/{v}.jsonl", None).expect("ok");
        let t2 = OutTemplate::parse("{v}", None).expect("ok");
        for bad in [
            json!("../../etc"),
            json!(".."),
            json!(""),
            json!("a\u{0}b"),
            json!([1]),
        ] {
            assert!(t.render(&record(json!({"v": bad})), None).is_err(), "{bad}");
        }
        assert!(t2.render(&record(json!({"v": "."})), None).is_err());
        assert!(
            t.render(&Record::new(), None)
                .unwrap_err()
                .contains("'v' is missing")
        );
        assert_eq!(
            t.render(&record(json!({"v": 2.5})), None),
            Ok(PathBuf::from("out/2.5.jsonl"))
        );
    }

    #[test]
    fn shards_are_stable_and_need_the_key() {
        let a = record(json!({"seed_id": "abc", "x": 1}));
        let b = record(json!({"x": 2, "seed_id": "abc"}));
        let s = shard_of(&a, "seed_id", 8).expect("key");
        assert!(s < 8);
        assert_eq!(shard_of(&b, "seed_id", 8), Ok(s));
        assert!(shard_of(&record(json!({"seed_id": null})), "seed_id", 8).is_err());
        assert!(shard_of(&Record::new(), "seed_id", 8).is_err());
    }
}
