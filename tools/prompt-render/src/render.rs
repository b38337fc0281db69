//! Rendering one record into chat messages, and saying exactly which field was missing
//! when a template reads one the record lacks.

use ktpipe_common::Record;
use ktpipe_common::raw::RawRecord;
use minijinja::ErrorKind;
use serde_json::{Value, json};

use crate::template::{Message, Template, what};

/// A `--bind VAR=FIELD`: the template variable VAR reads the record's field FIELD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// The template variable.
    pub var: String,
    /// The record field it reads.
    pub field: String,
}

impl Bind {
    /// Parses `VAR=FIELD`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        match spec.split_once('=') {
            Some((var, field)) if !var.is_empty() && !field.is_empty() => Ok(Bind {
                var: var.to_string(),
                field: field.to_string(),
            }),
            _ => Err(format!("--bind '{spec}' must look like VAR=FIELD")),
        }
    }
}

/// A `--set VAR=VALUE`: the template variable VAR has VALUE for every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// The template variable.
    pub var: String,
    /// Its value (may be empty).
    pub value: String,
}

impl Set {
    /// Parses `VAR=VALUE`; the value may be empty, the variable may not.
    pub fn parse(spec: &str) -> Result<Self, String> {
        match spec.split_once('=') {
            Some((var, value)) if !var.is_empty() => Ok(Set {
                var: var.to_string(),
                value: value.to_string(),
            }),
            _ => Err(format!("--set '{spec}' must look like VAR=VALUE")),
        }
    }
}

/// The template context for a record: each variable the template reads, with its --set
/// value, else the value of its field: the one it is bound to, else the one of its own
/// name. A variable whose field the record lacks is left out, so a bind never falls back
/// silently to a same-named field. Only these fields are decoded; the rest of the record
/// stays text.
pub fn context(template: &Template, record: &RawRecord, binds: &[Bind], sets: &[Set]) -> Record {
    let mut ctx = Record::new();
    for var in template.variables() {
        if let Some(set) = sets.iter().find(|s| s.var == *var) {
            ctx.insert(var.clone(), Value::String(set.value.clone()));
            continue;
        }
        let field = binds
            .iter()
            .find(|b| b.var == *var)
            .map_or(var, |b| &b.field);
        if let Some(value) = record.get(field) {
            ctx.insert(var.clone(), value);
        }
    }
    ctx
}

/// Renders every message of `template` for `record`: `[{"role", "content"}, …]`, contents
/// trimmed. The error is the reason the record is rejected.
pub fn messages(
    template: &Template,
    record: &RawRecord,
    binds: &[Bind],
    sets: &[Set],
) -> Result<Value, String> {
    let ctx = context(template, record, binds, sets);
    let jinja_ctx = minijinja::Value::from_serialize(&ctx);
    let mut out = Vec::with_capacity(template.messages.len());
    for (i, message) in template.messages.iter().enumerate() {
        let content = template
            .render(i, &jinja_ctx)
            .map_err(|err| explain(template, i, &ctx, binds, &err))?;
        out.push(json!({"role": message.role, "content": content.trim()}));
    }
    Ok(Value::Array(out))
}

fn explain(
    template: &Template,
    index: usize,
    ctx: &Record,
    binds: &[Bind],
    err: &minijinja::Error,
) -> String {
    let message = &template.messages[index];
    let mut place = format!("{} message {}", message.role, index + 1);
    if let Some(line) = err.line() {
        place.push_str(&format!(", line {line}"));
    }
    let name = &template.name;
    let missing = (err.kind() == ErrorKind::UndefinedError)
        .then(|| missing_variable(message, ctx, err))
        .flatten();
    if let Some(var) = missing {
        let field = match binds.iter().find(|b| b.var == var) {
            Some(bind) => format!("'{}' (bound to variable '{var}')", bind.field),
            None => format!("'{var}'"),
        };
        return format!("template '{name}' needs field {field}, which the record lacks ({place})");
    }
    format!(
        "template '{name}' failed to render ({place}): {}",
        what(err)
    )
}

/// The top-level variable the failed render was missing: one the message reads and the
/// context lacks, preferring the one named in the failing expression, then on its line.
fn missing_variable(message: &Message, ctx: &Record, err: &minijinja::Error) -> Option<String> {
    let mut missing: Vec<&String> = message
        .variables
        .iter()
        .filter(|v| !ctx.contains_key(v.as_str()))
        .collect();
    missing.sort_by_key(|v| (first_use(&message.source, v), v.as_str()));
    let expr = err.range().and_then(|r| message.source.get(r));
    let line = err
        .line()
        .and_then(|l| message.source.lines().nth(l.saturating_sub(1)));
    [expr, line]
        .into_iter()
        .flatten()
        .find_map(|text| missing.iter().find(|v| has_word(text, v)))
        .or(missing.first())
        .map(|v| (*v).clone())
}

fn first_use(source: &str, var: &str) -> usize {
    word_positions(source, var).next().unwrap_or(usize::MAX)
}

fn has_word(text: &str, word: &str) -> bool {
    word_positions(text, word).next().is_some()
}

fn word_positions<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word)
        .map(|(at, _)| at)
        .filter(move |&at| {
            let before = text[..at].chars().next_back();
            let after = text[at + word.len()..].chars().next();
            !before.is_some_and(ident) && !after.is_some_and(ident)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(v: Value) -> RawRecord {
        RawRecord::parse(v.to_string().as_bytes()).unwrap()
    }

    fn template(content: &str) -> Template {
        let yaml = format!(
            "- role: system\n  content: Be brief.\n- role: user\n  content: {}\n",
            serde_json::to_string(content).unwrap()
        );
        Template::parse("answer.yaml", &yaml).unwrap()
    }

    #[test]
    fn renders_trimmed_messages_and_leaves_data_alone() {
        let t = template("  Q: {{ question }} n={{ n }} l={{ l }}\n");
        let r = record(json!({"question": "{{ 7*7 }}", "n": 3, "l": [1, "a"]}));
        let got = messages(&t, &r, &[], &[]).unwrap();
        assert_eq!(got[1]["content"], "Q: {{ 7*7 }} n=3 l=[1, \"a\"]");
        assert_eq!(got[0], json!({"role": "system", "content": "Be brief."}));
    }

    #[test]
    fn a_missing_field_is_named_with_message_and_line() {
        let t = template("Doc: {{ document }}\n\nQ: {{ question | upper }}");
        let err = messages(&t, &record(json!({"document": "d"})), &[], &[]).unwrap_err();
        assert_eq!(
            err,
            "template 'answer.yaml' needs field 'question', which the record lacks (user message 2, line 3)"
        );
    }

    #[test]
    fn binds_read_another_field_and_never_fall_back() {
        let t = template("{{ document }}");
        let binds = [Bind::parse("document=summary").unwrap()];
        let r = record(json!({"document": "raw", "summary": "short"}));
        assert_eq!(
            messages(&t, &r, &binds, &[]).unwrap()[1]["content"],
            "short"
        );
        let err = messages(&t, &record(json!({"document": "raw"})), &binds, &[]).unwrap_err();
        assert!(
            err.contains("needs field 'summary' (bound to variable 'document')"),
            "{err}"
        );
        assert!(Bind::parse("novalue").is_err());
        assert!(Bind::parse("=x").is_err());
    }

    #[test]
    fn sets_give_every_record_the_value_and_take_a_fields_place() {
        let t = template("{{ document }}{% if language %} in {{ language }}{% endif %}");
        let sets = [Set::parse("language=Japanese").unwrap()];
        let r = record(json!({"document": "d", "language": "French"}));
        assert_eq!(
            messages(&t, &r, &[], &sets).unwrap()[1]["content"],
            "d in Japanese"
        );
        let empty = [Set::parse("language=").unwrap()];
        assert_eq!(messages(&t, &r, &[], &empty).unwrap()[1]["content"], "d");
        assert!(Set::parse("=x").is_err());
        assert!(Set::parse("novalue").is_err());
    }

    #[test]
    fn guarded_optional_fields_do_not_reject() {
        let t = template("{% if extra is defined %}{{ extra }}{% else %}none{% endif %}");
        assert_eq!(
            messages(&t, &record(json!({})), &[], &[]).unwrap()[1]["content"],
            "none"
        );
    }

    #[test]
    fn words_match_whole_identifiers_only() {
        assert!(has_word("{{ question }}", "question"));
        assert!(!has_word("{{ question_2 }}", "question"));
        assert_eq!(first_use("a b a", "a"), 0);
    }
}
