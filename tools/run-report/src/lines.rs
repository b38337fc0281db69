//! A JSONL file read line by line: each line decoded on its own into the fields a pass
//! reads, an error naming the file and line where one is not what the pass expects.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

/// Calls `f` with each line's number (from 0), the line decoded, and the line itself.
/// `what` names a line in errors ("a row of a dataset").
pub fn each<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    mut f: impl FnMut(u64, T, &[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("opening '{}'", path.display()))?;
    let mut input = BufReader::with_capacity(1 << 18, file);
    let mut line = Vec::new();
    for index in 0.. {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading '{}'", path.display()))?;
        if n == 0 {
            break;
        }
        match serde_json::from_slice(&line) {
            Ok(value) => f(index, value, &line)?,
            Err(err) => bail!("'{}' line {}: not {what}: {err}", path.display(), index + 1),
        }
    }
    Ok(())
}
