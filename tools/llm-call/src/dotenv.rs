//! A small `.env` reader: `KEY=VALUE` lines, optional `export ` prefix, optional single or
//! double quotes, `#` comments. Real environment variables take precedence over the file.

use std::collections::HashMap;
use std::io;
use std::path::Path;

/// Variables from the environment, falling back to a `.env` file.
#[derive(Debug, Default)]
pub struct Env {
    file: HashMap<String, String>,
}

impl Env {
    /// Reads `.env` in the working directory if there is one.
    pub fn load() -> anyhow::Result<Self> {
        Self::from_file(Path::new(".env"))
    }

    /// Reads the given file if it exists.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Env { file: parse(&text) }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Env::default()),
            Err(err) => Err(ktpipe_common::UsageError::new(format!(
                "cannot read '{}': {err}",
                path.display()
            ))
            .into()),
        }
    }

    /// The variable's value: the real environment first, then the file.
    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| self.file.get(name).cloned())
    }
}

/// Parses `.env` text; lines that are not assignments are ignored.
pub fn parse(text: &str) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            continue;
        }
        vars.insert(key.to_string(), unquote(value.trim()));
    }
    vars
}

fn unquote(value: &str) -> String {
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote) {
            // Text after the closing quote (a comment) is dropped.
            return match inner.find(quote) {
                Some(end) => inner[..end].to_string(),
                None => inner.to_string(),
            };
        }
    }
    match value.find(" #") {
        Some(pos) => value[..pos].trim_end().to_string(),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_assignments_quotes_and_comments() {
        let vars = parse(
            "# teacher\nTEACHER_MODEL_NAME=llama # the model\nexport A='x # y'\n\
             B=\"quoted\" trailing\nnot a line\n  C = spaced \nD=\nE=a=b\r\n",
        );
        assert_eq!(vars["TEACHER_MODEL_NAME"], "llama");
        assert_eq!(vars["A"], "x # y");
        assert_eq!(vars["B"], "quoted");
        assert_eq!(vars["C"], "spaced");
        assert_eq!(vars["D"], "");
        assert_eq!(vars["E"], "a=b");
        assert_eq!(vars.len(), 6);
    }

    #[test]
    fn missing_file_is_empty() {
        let env = Env::from_file(Path::new("/nonexistent/.env")).expect("missing is fine");
        assert!(env.file.is_empty());
    }
}
