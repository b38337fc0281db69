//! Loading a chat template: a YAML list of `{role, content}` items (the format of
//! sdg_hub's prompt files), every content compiled as Jinja before any input is read.

use std::collections::HashSet;
use std::path::Path;

use ktpipe_common::UsageError;
use minijinja::Environment;
use serde_yaml::Value as Yaml;

/// The roles a message may have.
pub const ROLES: &[&str] = &["system", "user", "assistant"];

/// One message of the template.
#[derive(Debug)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The Jinja source of the content.
    pub source: String,
    /// Top-level variables the content reads (and does not set itself).
    pub variables: HashSet<String>,
}

/// A loaded, compiled chat template.
pub struct Template {
    /// The path as the user gave it, for messages.
    pub name: String,
    /// SHA-256 of the file's bytes (empty for text parsed without a file).
    pub sha256: String,
    /// The messages, in order.
    pub messages: Vec<Message>,
    /// Every variable any message reads, sorted: found once, read for every record.
    variables: Vec<String>,
    env: Environment<'static>,
}

impl Template {
    /// Reads, parses and compiles the template at `path`. Every failure is a usage error
    /// naming the file and, where there is one, the message and line.
    pub fn load(path: &Path) -> Result<Self, UsageError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|err| UsageError::new(format!("cannot read template '{name}': {err}")))?;
        let mut template = Template::parse(&name, &text)?;
        template.sha256 = ktpipe_common::hash::bytes_hash(text.as_bytes());
        Ok(template)
    }

    /// Parses and compiles template text; `name` is used in messages.
    pub fn parse(name: &str, text: &str) -> Result<Self, UsageError> {
        let fail = |msg: String| UsageError::new(format!("template '{name}': {msg}"));
        // serde_yaml's message carries the line and column already.
        let yaml: Yaml =
            serde_yaml::from_str(text).map_err(|err| fail(format!("invalid YAML: {err}")))?;
        let Yaml::Sequence(items) = yaml else {
            return Err(fail(
                "expected a list of {role, content} messages at the top level".into(),
            ));
        };
        if items.is_empty() {
            return Err(fail("the message list is empty".into()));
        }
        let mut env = ktpipe_common::jinja::environment();
        let mut messages = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let (role, source) =
                message_fields(item).map_err(|m| fail(format!("message {}: {m}", i + 1)))?;
            env.add_template_owned(i.to_string(), source.clone())
                .map_err(|err| fail(format!("message {} ({role}), {}", i + 1, describe(&err))))?;
            let compiled = env
                .get_template(&i.to_string())
                .map_err(|err| fail(describe(&err)))?;
            let variables = compiled.undeclared_variables(false);
            messages.push(Message {
                role,
                source,
                variables,
            });
        }
        let mut variables: Vec<String> = messages
            .iter()
            .flat_map(|m| m.variables.iter().cloned())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        variables.sort_unstable();
        Ok(Template {
            name: name.to_string(),
            sha256: String::new(),
            messages,
            variables,
            env,
        })
    }

    /// Renders message `index` with `ctx`.
    pub fn render(&self, index: usize, ctx: &minijinja::Value) -> Result<String, minijinja::Error> {
        self.env.get_template(&index.to_string())?.render(ctx)
    }

    /// Every variable any message reads, sorted.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }
}

fn message_fields(item: &Yaml) -> Result<(String, String), String> {
    let Yaml::Mapping(map) = item else {
        return Err("expected a mapping with 'role' and 'content'".into());
    };
    let role = match map.get("role") {
        Some(Yaml::String(role)) if ROLES.contains(&role.as_str()) => role.clone(),
        Some(Yaml::String(role)) => {
            return Err(format!(
                "unknown role '{role}' (expected system, user or assistant)"
            ));
        }
        Some(_) => return Err("'role' must be a string".into()),
        None => return Err("has no 'role'".into()),
    };
    match map.get("content") {
        Some(Yaml::String(content)) => Ok((role, content.clone())),
        Some(_) => Err("'content' must be a string".into()),
        None => Err("has no 'content'".into()),
    }
}

/// A Jinja error as `line N: kind: detail`, without minijinja's own location suffix.
pub fn describe(err: &minijinja::Error) -> String {
    match err.line() {
        Some(line) => format!("line {line}: {}", what(err)),
        None => what(err),
    }
}

/// A Jinja error's kind and detail, without any location.
pub fn what(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_sdg_hub_prompt_shape_and_finds_variables() {
        let text = "\n- role: system\n  content: You answer questions.\n\n- role: user\n  content: |-\n    Doc: {{document}}\n    {% for q in [icl_query_1] %}{{ q }}{% endfor %}\n";
        let t = Template::parse("p.yaml", text).unwrap();
        assert_eq!(t.messages.len(), 2);
        assert_eq!(t.messages[1].role, "user");
        assert_eq!(t.variables(), ["document", "icl_query_1"]);
    }

    #[test]
    fn bad_templates_name_the_message_and_line() {
        let err = |text: &str| Template::parse("t.yaml", text).err().unwrap().to_string();
        assert!(err("- role: bot\n  content: hi\n").contains("message 1: unknown role 'bot'"));
        assert!(
            err("- role: user\n  content: 3\n").contains("message 1: 'content' must be a string")
        );
        assert!(err("role: user\n").contains("expected a list"));
        assert!(err("[]").contains("empty"));
        let syntax =
            err("- role: user\n  content: ok\n- role: user\n  content: |\n    a\n    {{ x\n");
        assert!(
            syntax.starts_with("template 't.yaml': message 2 (user), line 2: syntax error"),
            "{syntax}"
        );
        let yaml = err("- role: user\n  content: [unclosed\n");
        assert!(yaml.contains("invalid YAML"), "{yaml}");
    }
}
