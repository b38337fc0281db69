//! The files `--out` writes: each destination is a temporary file in its own directory until
//! the run succeeds, then all are renamed into place; a failed run leaves none behind.

use std::collections::BTreeMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ktpipe_common::Record;
use ktpipe_common::writer::write_record;
use tempfile::NamedTempFile;

/// The destinations of one run, each an open temporary file.
pub struct Outputs {
    files: BTreeMap<PathBuf, BufWriter<NamedTempFile>>,
    limit: usize,
}

impl Outputs {
    /// No destinations yet; at most `limit` may be opened.
    pub fn new(limit: usize) -> Self {
        Outputs {
            files: BTreeMap::new(),
            limit,
        }
    }

    /// True when `path` is already a destination.
    pub fn contains(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }

    /// How many destinations there are.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Makes `path` a destination (an empty file if nothing is written to it), creating its
    /// directory if needed.
    pub fn ensure(&mut self, path: &Path) -> anyhow::Result<()> {
        if self.files.contains_key(path) {
            return Ok(());
        }
        if self.files.len() >= self.limit {
            anyhow::bail!(
                "more than {} output files ('{}' would be one more); every destination stays \
                 open until the run ends",
                self.limit,
                path.display()
            );
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory '{}'", dir.display()))?;
        let temp = tempfile::Builder::new()
            .prefix(".jsonl-split-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in '{}'", dir.display()))?;
        self.files.insert(path.to_path_buf(), BufWriter::new(temp));
        Ok(())
    }

    /// Appends `record` to the destination `path`, opening it first if needed.
    pub fn write(&mut self, path: &Path, record: &Record) -> anyhow::Result<()> {
        self.ensure(path)?;
        let out = self
            .files
            .get_mut(path)
            .expect("ensure just made this a destination");
        write_record(out, record).with_context(|| format!("writing '{}'", path.display()))
    }

    /// Flushes every destination to disk and renames it into place. Called only when the run
    /// succeeded; dropping `Outputs` instead deletes the temporary files.
    pub fn commit(self) -> anyhow::Result<usize> {
        let mut ready = Vec::with_capacity(self.files.len());
        for (path, out) in self.files {
            let temp = out
                .into_inner()
                .map_err(|e| e.into_error())
                .with_context(|| format!("writing '{}'", path.display()))?;
            temp.as_file()
                .sync_all()
                .with_context(|| format!("writing '{}'", path.display()))?;
            ready.push((path, temp));
        }
        // Every file is complete on disk before the first rename.
        let count = ready.len();
        for (path, temp) in ready {
            temp.persist(&path)
                .map_err(|e| e.error)
                .with_context(|| format!("cannot rename output into '{}'", path.display()))?;
        }
        Ok(count)
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
    fn files_appear_on_commit_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("sub/a.jsonl");
        let b = dir.path().join("b.jsonl");
        let mut outputs = Outputs::new(10);
        outputs.write(&a, &record(json!({"x": 1}))).expect("write");
        outputs.ensure(&b).expect("ensure");
        assert!(!a.exists() && !b.exists());
        assert_eq!(outputs.commit().expect("commit"), 2);
        assert_eq!(std::fs::read_to_string(&a).expect("a"), "{\"x\":1}\n");
        assert_eq!(std::fs::read_to_string(&b).expect("b"), "");
    }

    #[test]
    fn dropping_leaves_nothing_and_the_limit_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut outputs = Outputs::new(1);
        outputs.ensure(&dir.path().join("a")).expect("first");
        assert!(outputs.ensure(&dir.path().join("b")).is_err());
        drop(outputs);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
