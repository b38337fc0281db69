//! Settings from the environment, else from `.env` in the working directory, read with
//! the parser `just`'s `dotenv-load` uses, so the recipes and llm-call agree on its lines.

use std::collections::HashMap;
use std::path::Path;

use ktpipe_common::UsageError;

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

    /// Reads the given file if it exists; a line it cannot parse is a usage error.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let bad = |err: dotenvy::Error| {
            UsageError::new(format!("cannot read '{}': {err}", path.display()))
        };
        let lines = match dotenvy::from_path_iter(path) {
            Ok(lines) => lines,
            Err(err) if err.not_found() => return Ok(Env::default()),
            Err(err) => return Err(bad(err).into()),
        };
        let file = lines.collect::<Result<_, _>>().map_err(bad)?;
        Ok(Env { file })
    }

    /// The variable's value: the real environment first, then the file.
    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| self.file.get(name).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_assignments_quotes_and_comments_and_names_a_bad_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "# teacher\nTEACHER_MODEL_NAME=llama # the model\nexport A='x # y'\nD=\nE=a=b\r\n",
        )
        .expect("write");
        let env = Env::from_file(&path).expect("parses");
        assert_eq!(env.file["TEACHER_MODEL_NAME"], "llama");
        assert_eq!(env.file["A"], "x # y");
        assert_eq!(env.file["D"], "");
        assert_eq!(env.file["E"], "a=b");
        assert_eq!(env.file.len(), 4);
        std::fs::write(&path, "A=1\nnot a line\n").expect("write");
        let err = Env::from_file(&path).expect_err("bad line");
        assert!(err.to_string().contains(".env"), "{err}");
        let missing = Env::from_file(&dir.path().join("none")).expect("missing is fine");
        assert!(missing.file.is_empty());
    }
}
