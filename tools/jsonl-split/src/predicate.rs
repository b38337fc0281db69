//! The `--where` predicate: a Jinja expression evaluated with a record's fields as its
//! variables, in the dialect prompt templates use (strict undefined).

use std::collections::BTreeSet;

use ktpipe_common::raw::RawRecord;
use ktpipe_common::{Record, UsageError};
use minijinja::{Environment, ErrorKind, Expression, Value};

/// A compiled `--where` expression.
pub struct Predicate<'env> {
    text: String,
    expr: Expression<'env, 'static>,
    /// The variables the expression reads, with attribute paths (`a.b`), for naming a
    /// missing field when evaluation fails.
    paths: BTreeSet<String>,
    /// The top-level variables it reads: the fields a record's context needs.
    vars: Vec<String>,
}

impl<'env> Predicate<'env> {
    /// Compiles `text`. A syntax error, or a filter, test or function the environment does
    /// not know, is a usage error.
    pub fn compile(env: &'env Environment<'static>, text: &str) -> anyhow::Result<Self> {
        let expr = env
            .compile_expression_owned(text.to_string())
            .map_err(|e| UsageError::new(format!("--where '{text}' does not compile: {e}")))?;
        // Unknown filters, tests and functions are only found when evaluated: try with every
        // variable set to none, and with none set (a called name is a variable until then),
        // so a typo is refused before input is read. A branch not taken goes unchecked.
        let all_none: std::collections::BTreeMap<String, Value> = expr
            .undeclared_variables(false)
            .into_iter()
            .map(|name| (name, Value::from(())))
            .collect();
        for probe in [Value::from_serialize(&all_none), Value::from(())] {
            if let Err(e) = expr.eval(probe)
                && matches!(
                    e.kind(),
                    ErrorKind::UnknownFilter | ErrorKind::UnknownTest | ErrorKind::UnknownFunction
                )
            {
                return Err(UsageError::new(format!("--where '{text}': {e}")).into());
            }
        }
        let paths = expr.undeclared_variables(true);
        let vars = expr.undeclared_variables(false).into_iter().collect();
        Ok(Predicate {
            text: text.to_string(),
            expr,
            paths: paths.into_iter().collect(),
            vars,
        })
    }

    /// The expression as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The fields of `record` the expression reads, decoded; the others stay text.
    pub fn context(&self, record: &RawRecord) -> Record {
        self.vars
            .iter()
            .filter_map(|var| Some((var.clone(), record.get(var)?)))
            .collect()
    }

    /// Whether `record` (or its `context`) matches; `Err` holds the reason it could not
    /// be evaluated.
    pub fn matches(&self, record: &Record) -> Result<bool, String> {
        match self.expr.eval(Value::from_serialize(record)) {
            Ok(value) => Ok(value.is_true()),
            Err(err) => {
                if err.kind() == ErrorKind::UndefinedError
                    && let Some(path) = self.first_missing(record)
                {
                    return Err(format!(
                        "--where '{}' needs field '{path}', which the record lacks",
                        self.text
                    ));
                }
                Err(format!("cannot evaluate --where '{}': {err}", self.text))
            }
        }
    }

    /// The first variable path the expression reads that `record` does not have.
    fn first_missing(&self, record: &Record) -> Option<String> {
        self.paths.iter().find_map(|path| {
            let mut parts = path.split('.');
            let first = parts.next()?;
            let mut current = record.get(first);
            let mut seen = first.to_string();
            for part in parts {
                let value = current?;
                current = value.as_object().and_then(|o| o.get(part));
                if current.is_none() && !value.is_object() {
                    // An attribute of a non-object: not a missing field; let the error speak.
                    return None;
                }
                seen = format!("{seen}.{part}");
            }
            current.is_none().then_some(seen)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: serde_json::Value) -> Record {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn expressions_see_record_fields() {
        let env = ktpipe_common::jinja::environment();
        let p = Predicate::compile(&env, "judgment == \"YES\" and score | int >= 3").expect("ok");
        assert_eq!(
            p.matches(&record(json!({"judgment": "YES", "score": "4"}))),
            Ok(true)
        );
        assert_eq!(
            p.matches(&record(json!({"judgment": "NO", "score": 4}))),
            Ok(false)
        );
        let err = p.matches(&record(json!({"score": 4}))).unwrap_err();
        assert!(err.contains("needs field 'judgment'"), "{err}");
        let err = p
            .matches(&record(json!({"judgment": "YES", "score": "x"})))
            .unwrap_err();
        assert!(err.starts_with("cannot evaluate --where"), "{err}");
    }

    #[test]
    fn a_raw_record_context_holds_only_the_fields_read_and_judges_alike() {
        let env = ktpipe_common::jinja::environment();
        let p = Predicate::compile(&env, "j == \"YES\" and o.k").expect("ok");
        for value in [
            json!({"j": "YES", "o": {"k": true}, "document": "long text"}),
            json!({"j": "NO", "o": {"k": true}}),
            json!({"o": {"k": 1}, "document": "d"}),
            json!({"j": "YES", "o": {}}),
        ] {
            let raw = RawRecord::parse(value.to_string().as_bytes()).expect("object");
            let ctx = p.context(&raw);
            assert!(!ctx.contains_key("document"), "{ctx:?}");
            assert_eq!(
                p.matches(&ctx),
                p.matches(&record(value.clone())),
                "{value}"
            );
        }
    }

    #[test]
    fn nested_missing_fields_are_named() {
        let env = ktpipe_common::jinja::environment();
        let p = Predicate::compile(&env, "meta.lang == 'en'").expect("ok");
        assert_eq!(
            p.matches(&record(json!({"meta": {"lang": "en"}}))),
            Ok(true)
        );
        let err = p.matches(&record(json!({"meta": {}}))).unwrap_err();
        assert!(err.contains("needs field 'meta.lang'"), "{err}");
    }

    #[test]
    fn syntax_errors_and_unknown_filters_are_usage_errors() {
        let env = ktpipe_common::jinja::environment();
        for bad in [
            "a ==",
            "a | no_such_filter",
            "a is no_such_test",
            "no_such_fn(a)",
        ] {
            let err = Predicate::compile(&env, bad).err().expect("refused");
            assert!(err.is::<UsageError>(), "{bad}: {err}");
        }
    }
}
