//! Opens the inputs a tool was given: paths in order, with none or `-` meaning stdin.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// One input stream with the name errors use for it.
pub struct Input {
    /// `<stdin>` or the path as given.
    pub name: String,
    /// The buffered stream; concrete so callers can see whether a read would block.
    pub stream: BufReader<Box<dyn Read + Send>>,
}

/// The read buffer of every input.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

/// Opens one input; `-` is stdin.
pub fn open(path: &Path) -> anyhow::Result<Input> {
    if path == Path::new("-") {
        return Ok(stdin());
    }
    let file = File::open(path).with_context(|| format!("cannot open '{}'", path.display()))?;
    Ok(Input {
        name: path.display().to_string(),
        stream: BufReader::with_capacity(BUF_SIZE, Box::new(file)),
    })
}

fn stdin() -> Input {
    let stdin = io::stdin();
    Input {
        name: "<stdin>".to_string(),
        stream: BufReader::with_capacity(BUF_SIZE, Box::new(stdin)),
    }
}

/// The inputs to read in order: the given paths, or stdin when there are none.
pub fn paths_or_stdin(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        paths.to_vec()
    }
}

/// Checks that every named input exists before any is read, so a typo is a usage error
/// (exit 2) rather than a failure after half the stream has gone by.
pub fn check_exist(paths: &[PathBuf]) -> anyhow::Result<()> {
    for path in paths {
        if path != Path::new("-") && !path.exists() {
            return Err(crate::UsageError::new(format!(
                "input '{}' does not exist",
                path.display()
            ))
            .into());
        }
    }
    Ok(())
}
