//! The JSONL writer: one compact object per line on stdout (or any sink), buffered, with
//! the caller deciding when a flush is due so that downstream stages get records promptly.

use std::io::{self, Write};

use anyhow::Context;
use serde_json::Value;

use crate::Record;

/// Writes records as JSONL.
pub struct Writer<W: Write> {
    out: io::BufWriter<W>,
    written: u64,
}

impl Writer<io::Stdout> {
    /// A writer on stdout.
    pub fn stdout() -> Self {
        Writer::new(io::stdout())
    }
}

impl<W: Write> Writer<W> {
    /// A writer on any sink.
    pub fn new(sink: W) -> Self {
        Writer {
            out: io::BufWriter::with_capacity(64 * 1024, sink),
            written: 0,
        }
    }

    /// Writes one record and its newline (buffered).
    pub fn write(&mut self, record: &Record) -> anyhow::Result<()> {
        write_record(&mut self.out, record).context("writing stdout")?;
        self.written += 1;
        Ok(())
    }

    /// Pushes buffered records to the sink.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.out.flush().context("writing stdout")
    }

    /// How many records were written.
    pub fn written(&self) -> u64 {
        self.written
    }
}

/// Serialises `record` as one JSONL line into `out`.
pub fn write_record(out: &mut impl Write, record: &Record) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// Serialises any JSON value as one JSONL line into a byte vector.
pub fn to_line(value: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).expect("a JSON value always serialises");
    line.push(b'\n');
    line
}
