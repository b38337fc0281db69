//! The rejects sink: records a stage cannot use, each with a `_reject` object saying which
//! tool, why, and where it came from. Without a rejects file they are reported on stderr
//! and the run exits 1, so nothing is ever dropped in silence.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use crate::raw::LineRecord;
use crate::reader::{Located, ReadError};
use crate::{Record, writer};

/// Where rejected records go.
pub struct Rejects {
    label: String,
    file: Option<(PathBuf, BufWriter<File>)>,
    count: u64,
}

impl Rejects {
    /// Opens (truncates) the rejects file if one is named. Called before input is read, so
    /// an unwritable path is a usage error.
    pub fn open(label: &str, path: Option<&Path>) -> anyhow::Result<Self> {
        let file = match path {
            Some(path) => {
                let file = File::create(path).map_err(|e| {
                    crate::UsageError::new(format!(
                        "cannot create rejects file '{}': {e}",
                        path.display()
                    ))
                })?;
                Some((path.to_path_buf(), BufWriter::new(file)))
            }
            None => None,
        };
        Ok(Rejects {
            label: label.to_string(),
            file,
            count: 0,
        })
    }

    /// Rejects a record read from `source:line`.
    pub fn reject(
        &mut self,
        record: Record,
        source: &str,
        line: u64,
        reason: &str,
    ) -> anyhow::Result<()> {
        let tool = self.label.clone();
        self.write(
            record,
            json!({"tool": tool, "reason": reason, "source": source, "line": line}),
        )
    }

    /// Rejects a located record.
    pub fn reject_located(
        &mut self,
        located: Located<impl LineRecord>,
        reason: &str,
    ) -> anyhow::Result<()> {
        let Located {
            source,
            line,
            record,
        } = located;
        self.reject(record.into_record(), &source, line, reason)
    }

    /// Rejects a malformed line: its text is kept under `_reject.raw`.
    pub fn reject_malformed(&mut self, err: &ReadError) -> anyhow::Result<()> {
        let info = json!({
            "tool": self.label,
            "reason": err.kind.to_string(),
            "source": &*err.input,
            "line": err.line,
            "raw": err.raw,
        });
        self.write(Record::new(), info)
    }

    fn write(&mut self, mut record: Record, info: Value) -> anyhow::Result<()> {
        self.count += 1;
        match &mut self.file {
            Some((path, out)) => {
                record.insert("_reject".to_string(), info);
                // Flushed per record: a crash must not lose the reasons already found.
                writer::write_record(out, &record)
                    .and_then(|()| out.flush())
                    .with_context(|| format!("writing rejects file '{}'", path.display()))
            }
            None => {
                let place = format!("{}:{}", str_of(&info["source"]), info["line"]);
                let reason = str_of(&info["reason"]);
                let _ = writeln!(io::stderr().lock(), "{}: {place}: {reason}", self.label);
                Ok(())
            }
        }
    }

    /// How many records were rejected.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// True when a rejects file was named.
    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    /// True when rejects were reported on stderr only, which makes the run exit 1.
    pub fn lost_without_file(&self) -> bool {
        self.file.is_none() && self.count > 0
    }
}

fn str_of(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}
