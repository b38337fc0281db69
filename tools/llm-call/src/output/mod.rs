//! The one task that owns stdout and the rejects file. Finished records arrive in any
//! order; in ordered mode they wait in a reorder buffer until every earlier record is
//! written (the window permits they carry keep that buffer bounded). The output buffer
//! goes out on one rule: when no finished record is ready, or once its oldest record has
//! waited `--flush-ms` while more kept coming, or when it is full.

pub mod stdout;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use ktpipe_common::raw::RawRecord;
use ktpipe_common::reader::ReadError;
use ktpipe_common::{Located, Rejects};
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::mpsc::error::TryRecvError;

use crate::output::stdout::Stdout;
use crate::progress::{Counters, bump};

/// What became of one input item.
#[derive(Debug)]
pub enum Outcome {
    /// Every choice was found: these records go to stdout.
    Emit(Vec<RawRecord>),
    /// The record goes to rejects; records for the choices that were found still go out.
    Reject {
        /// Records for the choices found.
        records: Vec<RawRecord>,
        /// The input record.
        located: Located<RawRecord>,
        /// Why.
        reason: String,
        /// The teacher failed it (the run then exits 1 even with a rejects file).
        failed: bool,
    },
    /// The input line was not a record.
    Malformed(ReadError),
    /// The run stopped before the record was finished.
    Unfinished,
}

/// A message to the sink task.
pub enum Msg {
    /// Input item `seq` is finished; the permit is its place in the window.
    Done(u64, Outcome, Option<OwnedSemaphorePermit>),
    /// The input had this many items; finish once all are handled.
    End(u64),
    /// Write nothing more; flush and finish.
    Stop,
}

/// The sink task's state.
pub struct Sink {
    /// Write in input order.
    pub ordered: bool,
    /// Rejected records.
    pub rejects: Rejects,
    /// Message prefix.
    pub label: String,
    /// Live figures.
    pub counters: Arc<Counters>,
    /// Set when the run is aborted: nothing more is written.
    pub halt: Arc<AtomicBool>,
    /// How long the oldest written record may wait while more keep coming.
    pub linger: Duration,
}

impl Sink {
    /// Runs until every item is handled, a Stop, or a write error (a closed stdout).
    pub async fn run(mut self, mut rx: UnboundedReceiver<Msg>) -> anyhow::Result<()> {
        let mut out = Stdout::open();
        let mut pending: BTreeMap<u64, (Outcome, Option<OwnedSemaphorePermit>)> = BTreeMap::new();
        let mut next = 0u64;
        let mut received = 0u64;
        let mut total = None;
        let mut gap = false;
        while total != Some(received) {
            let msg = match rx.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Empty) => {
                    out.flush().await?;
                    match rx.recv().await {
                        Some(msg) => msg,
                        None => break,
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            let (seq, outcome, permit) = match msg {
                Msg::Done(seq, outcome, permit) => (seq, outcome, permit),
                Msg::End(count) => {
                    total = Some(count);
                    continue;
                }
                Msg::Stop => break,
            };
            received += 1;
            if self.halt.load(Relaxed) {
                continue;
            }
            if !self.ordered {
                self.handle(&mut out, outcome, &mut gap)?;
                drop(permit);
            } else {
                pending.insert(seq, (outcome, permit));
                while let Some((outcome, permit)) = pending.remove(&next) {
                    self.handle(&mut out, outcome, &mut gap)?;
                    drop(permit);
                    next += 1;
                }
            }
            if out.full() || out.held_for() >= self.linger {
                out.flush().await?;
            }
        }
        out.flush().await
    }

    /// Writes one finished item. After an unfinished one (ordered mode, on Ctrl-C) nothing
    /// more is written: later records are in the cache for the rerun.
    fn handle(&mut self, out: &mut Stdout, outcome: Outcome, gap: &mut bool) -> anyhow::Result<()> {
        if *gap || self.halt.load(Relaxed) {
            return Ok(());
        }
        match outcome {
            Outcome::Unfinished => {
                *gap = self.ordered;
                return Ok(());
            }
            Outcome::Emit(records) => self.emit(out, &records)?,
            Outcome::Reject {
                records,
                located,
                reason,
                failed,
            } => {
                self.emit(out, &records)?;
                bump(&self.counters.rejected);
                if failed {
                    bump(&self.counters.failed);
                    // A teacher failure fails the run: say so even when the record is kept.
                    if self.rejects.has_file() {
                        self.say(&format!("{}: {reason}", located.place()));
                    }
                }
                self.rejects.reject_located(located, &reason)?;
            }
            Outcome::Malformed(err) => {
                bump(&self.counters.rejected);
                bump(&self.counters.malformed);
                if self.rejects.has_file() {
                    self.say(&err.to_string());
                }
                self.rejects.reject_malformed(&err)?;
            }
        }
        bump(&self.counters.done);
        Ok(())
    }

    fn emit(&self, out: &mut Stdout, records: &[RawRecord]) -> anyhow::Result<()> {
        for record in records {
            out.write(record);
            bump(&self.counters.out);
        }
        Ok(())
    }

    fn say(&self, message: &str) {
        let _ = writeln!(io::stderr().lock(), "{}: {message}", self.label);
    }
}
