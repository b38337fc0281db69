//! The cache's writes, on a thread of their own, so SQLite's blocking I/O (and a wait for
//! another process's write lock) never holds the async runtime. The first row of a batch
//! starts a plain period; when it ends, every row sent meanwhile goes in one transaction.
//! A process killed mid-run so loses at most the rows of its last `PERIOD`, plus those of a
//! commit waiting for another process's lock (up to the connection's busy timeout, 10 s).
//! Closing commits what is left before it returns.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, UNIX_EPOCH};

use rusqlite::{Connection, TransactionBehavior, params};

use crate::cache::Row;

/// How long the first row of a batch waits for others to join its commit.
pub const PERIOD: Duration = Duration::from_millis(250);

/// Hands rows to the writer thread.
pub struct Writer {
    tx: Mutex<Option<Sender<Row>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What a commit writes besides the rows, and where warnings go.
pub struct Labels {
    /// The `--stage` logged with each call.
    pub stage: Option<String>,
    /// The model logged with each call.
    pub model: String,
    /// Message prefix.
    pub label: String,
    /// The cache file, for messages.
    pub path: PathBuf,
}

impl Writer {
    /// Starts the writer thread, committing through `conn`.
    pub fn start(conn: Connection, labels: Labels) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("cache-writer".into())
            .spawn(move || {
                Batches {
                    conn,
                    labels,
                    warned: false,
                }
                .run(&rx);
            })?;
        Ok(Writer {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a row for the next commit.
    pub fn send(&self, row: Row) {
        let tx = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = tx.as_ref() {
            // Only a writer thread that died (and warned) drops it.
            let _ = tx.send(row);
        }
    }

    /// Commits every row sent so far and stops the thread; later rows are not written.
    pub fn close(&self) {
        drop(
            self.tx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// The writer thread's side: the connection and its batches.
struct Batches {
    conn: Connection,
    labels: Labels,
    warned: bool,
}

impl Batches {
    /// Commits a batch `PERIOD` after its first row, until every sender is gone.
    fn run(&mut self, rx: &Receiver<Row>) {
        while let Ok(first) = rx.recv() {
            let due = Instant::now() + PERIOD;
            let mut rows = vec![first];
            let mut open = true;
            while open {
                match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                    Ok(row) => rows.push(row),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => open = false,
                }
            }
            self.write(&rows);
            if !open {
                return;
            }
        }
    }

    /// Commits `rows`; on failure warns once (a rerun asks for those replies again).
    fn write(&mut self, rows: &[Row]) {
        let Err(err) = self.commit(rows) else { return };
        if !self.warned {
            self.warned = true;
            crate::progress::warn(
                &self.labels.label,
                &format!(
                    "cannot write cache '{}': {err}; replies from now on may be asked for again on a rerun",
                    self.labels.path.display()
                ),
            );
        }
    }

    fn commit(&mut self, rows: &[Row]) -> rusqlite::Result<()> {
        let labels = &self.labels;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut choice_stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO choices (key, idx, content, reasoning, finish_reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            )?;
            let mut call_stmt = tx.prepare_cached(
                "INSERT INTO calls (at, stage, model, key, n, status, attempts, latency_ms,
                 prompt_tokens, completion_tokens, error)
                 VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', ?1, 'unixepoch'), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            let mut rejected_stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO rejected (key, policy, reason, created_at)
                 VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            )?;
            for row in rows {
                match row {
                    Row::Rejected {
                        key,
                        policy,
                        reason,
                    } => {
                        rejected_stmt.execute(params![&**key, &**policy, reason])?;
                    }
                    Row::Choice { key, idx, choice } => {
                        choice_stmt.execute(params![
                            &**key,
                            idx,
                            choice.content,
                            choice.reasoning,
                            choice.finish_reason,
                        ])?;
                    }
                    Row::Call(c) => {
                        call_stmt.execute(params![
                            c.at.duration_since(UNIX_EPOCH)
                                .unwrap_or_default()
                                .as_secs_f64(),
                            labels.stage,
                            labels.model,
                            &*c.key,
                            c.n,
                            c.status,
                            c.attempt,
                            c.latency_ms,
                            c.tokens.map(|t| t.prompt),
                            c.tokens.map(|t| t.completion),
                            c.error
                        ])?;
                    }
                }
            }
        }
        tx.commit()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cache::{self, Lookup, tests::choice};

    fn open(dir: &tempfile::TempDir) -> (cache::Cache, Arc<Writer>, Lookup) {
        let path = dir.path().join("c.sqlite");
        let (cache, lookup) = cache::open(&path, None, "m".into(), "t".into()).expect("open");
        let writer = cache.writer();
        (cache, writer, lookup)
    }

    fn row(idx: u32) -> Row {
        Row::Choice {
            key: Arc::from("k"),
            idx,
            choice: choice("a"),
        }
    }

    fn stored(lookup: &mut Lookup) -> usize {
        lookup.find("k").expect("query").choices.len()
    }

    #[test]
    fn rows_are_committed_without_a_close_or_more_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_cache, writer, mut lookup) = open(&dir);
        writer.send(row(0));
        writer.send(row(1));
        // A liveness bound far beyond the period, not a measurement of it.
        let give_up = Instant::now() + Duration::from_secs(30);
        while stored(&mut lookup) < 2 && Instant::now() < give_up {
            std::thread::sleep(PERIOD / 4);
        }
        assert_eq!(stored(&mut lookup), 2);
    }

    #[test]
    fn closing_commits_every_row_sent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cache, writer, mut lookup) = open(&dir);
        for idx in 0..1000 {
            writer.send(row(idx));
        }
        cache.close();
        assert_eq!(stored(&mut lookup), 1000);
        // Rows after the close are not written, and sending them does not fail.
        writer.send(row(1000));
        assert_eq!(stored(&mut lookup), 1000);
    }

    #[test]
    fn a_commit_waits_for_another_process_to_release_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cache, writer, mut lookup) = open(&dir);
        let other = Connection::open(dir.path().join("c.sqlite")).expect("open");
        other.execute_batch("BEGIN IMMEDIATE").expect("lock");
        writer.send(row(0));
        std::thread::sleep(PERIOD * 2);
        assert_eq!(stored(&mut lookup), 0);
        other.execute_batch("COMMIT").expect("unlock");
        writer.send(row(1));
        cache.close();
        assert_eq!(stored(&mut lookup), 2);
    }
}
