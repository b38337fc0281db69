//! Stdout, buffered as JSONL until the sink flushes it (`crate::output`). A pipe, as
//! between the stages of a recipe, is written without blocking from the runtime thread;
//! anything else (a file, a terminal) on a blocking thread, so a slow reader never stalls
//! the requests in flight.

use std::io::Write;
use std::os::fd::AsFd;

use anyhow::Context;
use ktpipe_common::raw::RawRecord;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;

/// Buffered records beyond this many bytes are flushed before more are taken.
const FULL: usize = ktpipe_common::writer::FULL;

/// Where the records go.
enum Dest {
    /// A pipe, written without blocking (set back to blocking when done).
    Pipe(pipe::Sender),
    /// Anything else, written on a blocking thread.
    Blocking,
}

/// Stdout, buffered.
pub struct Stdout {
    dest: Dest,
    buf: Vec<u8>,
    /// When the oldest buffered record was written.
    since: Option<tokio::time::Instant>,
}

impl Stdout {
    /// Stdout as it is: a pipe if it is one.
    pub fn open() -> Self {
        let pipe = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .and_then(|fd| pipe::Sender::from_file(std::fs::File::from(fd)).ok());
        Stdout {
            dest: pipe.map_or(Dest::Blocking, Dest::Pipe),
            buf: Vec::with_capacity(FULL),
            since: None,
        }
    }

    /// Buffers one record and its newline.
    pub fn write(&mut self, record: &RawRecord) {
        self.since.get_or_insert_with(tokio::time::Instant::now);
        record.write_line(&mut self.buf);
    }

    /// How long the oldest buffered record has waited (zero when none is buffered).
    pub fn held_for(&self) -> std::time::Duration {
        self.since
            .map_or(std::time::Duration::ZERO, |since| since.elapsed())
    }

    /// True when the buffer should be flushed before more is written.
    pub fn full(&self) -> bool {
        self.buf.len() >= FULL
    }

    /// Writes out everything buffered.
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        match &mut self.dest {
            Dest::Pipe(sender) => {
                sender
                    .write_all(&self.buf)
                    .await
                    .context("writing stdout")?;
            }
            Dest::Blocking => {
                // The buffer goes to the thread and comes back, to keep its allocation.
                let buf = std::mem::take(&mut self.buf);
                let (buf, written) = tokio::task::spawn_blocking(move || {
                    let mut out = std::io::stdout().lock();
                    let written = out.write_all(&buf).and_then(|()| out.flush());
                    (buf, written)
                })
                .await
                .context("the stdout writer died")?;
                self.buf = buf;
                written.context("writing stdout")?;
            }
        }
        self.buf.clear();
        self.since = None;
        Ok(())
    }
}

impl Drop for Stdout {
    fn drop(&mut self) {
        // Stdout's file description is shared with whoever started us: leave it blocking,
        // as it was found.
        if let Dest::Pipe(sender) = std::mem::replace(&mut self.dest, Dest::Blocking) {
            let _ = sender.into_blocking_fd();
        }
    }
}
