//! The JSONL writer: one compact object per line on stdout (or any sink), buffered, with
//! the caller deciding when a flush is due so that downstream stages get records promptly.

use std::io::{self, Write};

use anyhow::Context;
use serde_json::Value;

use crate::Record;
use crate::raw::LineRecord;

/// Buffered records beyond this many bytes go to the sink before more are taken: what a
/// pipe holds, so one write fills it.
pub const FULL: usize = 64 * 1024;

/// Writes records as JSONL.
pub struct Writer<W: Write> {
    sink: W,
    buf: Vec<u8>,
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
            sink,
            buf: Vec::with_capacity(FULL),
            written: 0,
        }
    }

    /// Writes one record and its newline (buffered).
    pub fn write(&mut self, record: &impl LineRecord) -> anyhow::Result<()> {
        record.encode(&mut self.buf);
        self.written += 1;
        if self.buf.len() >= FULL {
            self.drain().context("writing stdout")?;
        }
        Ok(())
    }

    /// Pushes buffered records to the sink.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.drain()
            .and_then(|()| self.sink.flush())
            .context("writing stdout")
    }

    /// How many records were written.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn drain(&mut self) -> io::Result<()> {
        let result = self.sink.write_all(&self.buf);
        self.buf.clear();
        result
    }
}

impl<W: Write> Drop for Writer<W> {
    /// What is still buffered goes out, as with `BufWriter`; errors surface in `flush`.
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.drain();
        }
    }
}

/// Appends `record` as one JSONL line to `out`.
pub fn encode_record(record: &Record, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, record).expect("a record writes to a Vec");
    out.push(b'\n');
}

/// Writes `record` as one JSONL line to `out`.
pub fn write_record(out: &mut impl Write, record: &Record) -> io::Result<()> {
    let mut line = Vec::with_capacity(1024);
    encode_record(record, &mut line);
    out.write_all(&line)
}

/// Serialises any JSON value as one JSONL line into a byte vector.
pub fn to_line(value: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).expect("a Value writes to a Vec");
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_are_compact_lines_flushed_on_demand_and_on_drop() {
        let record = json!({"b": "x\"y", "a": [1, {"c": null}]})
            .as_object()
            .cloned()
            .expect("object");
        let mut sink = Vec::new();
        {
            let mut writer = Writer::new(&mut sink);
            writer.write(&record).expect("write");
            writer.flush().expect("flush");
            writer.write(&record).expect("write");
            assert_eq!(writer.written(), 2);
        }
        let line = "{\"b\":\"x\\\"y\",\"a\":[1,{\"c\":null}]}\n";
        assert_eq!(String::from_utf8(sink).expect("utf-8"), line.repeat(2));
    }

    #[test]
    fn records_go_out_unasked_only_when_a_pipe_full_is_buffered() {
        let record = json!({"text": "x".repeat(1000)})
            .as_object()
            .cloned()
            .expect("object");
        let line_len = to_line(&Value::Object(record.clone())).len();
        let mut writer = Writer::new(Vec::new());
        let below = (FULL - 1) / line_len;
        for _ in 0..below {
            writer.write(&record).expect("write");
        }
        assert!(writer.sink.is_empty(), "written before the buffer was full");
        writer.write(&record).expect("write");
        assert_eq!(writer.sink.len(), (below + 1) * line_len);
    }
}
