//! The checks `--check` runs against what a pipeline promises: every variable the template
//! reads is a field the records will carry (or a --set or --bind value), and every variable
//! the stage depends on is read. A recipe runs them before its first request.

use ktpipe_common::UsageError;

use crate::render::{Bind, Set};
use crate::template::Template;

/// What a pipeline promises a template: the records' fields (None: not checked) and the
/// variables the template must read.
pub struct Promise<'a> {
    /// The fields every record will carry.
    pub fields: Option<&'a [String]>,
    /// Variables the template must read.
    pub must_read: &'a [String],
}

/// Checks `template` against `promise`; the error names the template and the variable.
pub fn check(
    template: &Template,
    promise: &Promise,
    binds: &[Bind],
    sets: &[Set],
) -> Result<(), UsageError> {
    let reads = template.variables();
    if let Some(var) = promise.must_read.iter().find(|v| !reads.contains(v)) {
        return Err(UsageError::new(format!(
            "template '{}' never reads '{var}', which this stage needs (it reads: {})",
            template.name,
            list(reads)
        )));
    }
    let Some(fields) = promise.fields else {
        return Ok(());
    };
    let given = |var: &String| {
        sets.iter().any(|s| s.var == *var)
            || match binds.iter().find(|b| b.var == *var) {
                Some(bind) => fields.contains(&bind.field),
                None => fields.contains(var),
            }
    };
    match reads.iter().find(|v| !given(v)) {
        Some(var) => Err(UsageError::new(format!(
            "template '{}' reads '{var}', which the records of this stage do not carry (they carry: {})",
            template.name,
            list(fields)
        ))),
        None => Ok(()),
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(content: &str) -> Template {
        let yaml = format!(
            "- role: user\n  content: {}\n",
            serde_json::to_string(content).unwrap()
        );
        Template::parse("answer.yaml", &yaml).unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_unknown_variable_is_named_unless_set_or_bound() {
        let t = template("{{ document }} {{ passage }} {{ language }}");
        let fields = names(&["document", "question"]);
        let sets = [Set::parse("language=").unwrap()];
        let promise = Promise {
            fields: Some(&fields),
            must_read: &[],
        };
        let err = check(&t, &promise, &[], &sets).unwrap_err().to_string();
        assert_eq!(
            err,
            "template 'answer.yaml' reads 'passage', which the records of this stage do not carry (they carry: document, question)"
        );
        let binds = [Bind::parse("passage=question").unwrap()];
        assert!(check(&t, &promise, &binds, &sets).is_ok());
        let err = check(&t, &promise, &binds, &[]).unwrap_err().to_string();
        assert!(err.contains("reads 'language'"), "{err}");
    }

    #[test]
    fn a_variable_the_stage_needs_must_be_read() {
        let t = template("{{ document }}");
        let need = names(&["document", "question"]);
        let promise = Promise {
            fields: None,
            must_read: &need,
        };
        let err = check(&t, &promise, &[], &[]).unwrap_err().to_string();
        assert_eq!(
            err,
            "template 'answer.yaml' never reads 'question', which this stage needs (it reads: document)"
        );
    }
}
