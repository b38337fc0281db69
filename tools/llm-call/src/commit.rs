//! The cache's writes, committed in batches by the runtime thread in the turns replies bring
//! anyway. A row waits in memory; the first row to come once the oldest has waited
//! `PERIOD` commits them all (so does the row that fills a batch). When no row comes, a
//! timer commits them at twice `PERIOD`: a timer at `PERIOD` itself would fire just
//! before the row that comes a moment later, and every commit would wake the process once
//! more. A killed run so loses at most the replies of the last `PERIOD` while they flow,
//! and of the last two when they stop.
//!
//! A commit never waits for a lock: while another process writes, the rows keep waiting
//! and the next row, or the timer, tries again. Only rows that could not be written for
//! `GIVE_UP` are dropped (with a warning; a rerun asks for them again). Closing waits for
//! the lock as long as `GIVE_UP`.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};
use tokio::sync::Notify;

use crate::cache::Row;
use crate::timefmt::rfc3339;

/// How long rows wait for others to join their commit while replies keep coming.
pub const PERIOD: Duration = Duration::from_millis(250);
/// A batch this full commits at once.
const BATCH_ROWS: usize = 256;
/// How soon a commit that met another process's write is tried again.
const RETRY: Duration = Duration::from_millis(20);
/// How long rows may wait for the lock before they are given up.
const GIVE_UP: Duration = Duration::from_secs(10);

/// Where the rows of one process wait, and the connection that commits them.
pub struct Writer {
    state: Mutex<State>,
    /// Told when rows start waiting, so that the timer knows when to fire.
    waiting: Notify,
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

struct State {
    conn: Connection,
    labels: Labels,
    rows: Vec<Row>,
    /// When the oldest waiting row came.
    oldest: Instant,
    /// When the next commit is due.
    due: Instant,
    /// The last try met a lock: a full batch waits for `due` too.
    blocked: bool,
    warned: bool,
    /// Commits made (by rows, by the timer).
    commits: (u64, u64),
}

impl Writer {
    /// A writer committing through `conn`, which must not wait for locks (busy timeout 0).
    pub fn new(conn: Connection, labels: Labels) -> rusqlite::Result<Self> {
        conn.busy_timeout(Duration::ZERO)?;
        let now = Instant::now();
        Ok(Writer {
            state: Mutex::new(State {
                conn,
                labels,
                rows: Vec::new(),
                oldest: now,
                due: now,
                blocked: false,
                warned: false,
                commits: (0, 0),
            }),
            waiting: Notify::new(),
        })
    }

    /// Adds a row; commits the batch when it is due or full.
    pub fn send(&self, row: Row) {
        let mut state = self.lock();
        let now = Instant::now();
        if state.rows.is_empty() {
            state.oldest = now;
            state.due = now + PERIOD;
            self.waiting.notify_one();
        }
        state.rows.push(row);
        if (now >= state.due || (state.rows.len() >= BATCH_ROWS && !state.blocked))
            && state.try_commit(Some(now))
        {
            state.commits.0 += 1;
        }
    }

    /// Commits rows that waited twice `PERIOD` without a row coming to commit them. Runs
    /// as a task on the runtime as long as rows are sent.
    pub async fn watch(&self) {
        loop {
            // Made before the state is read, so a row sent meanwhile is not missed.
            let waiting = self.waiting.notified();
            let due = {
                let state = self.lock();
                (!state.rows.is_empty()).then_some(state.due)
            };
            let Some(due) = due else {
                waiting.await;
                continue;
            };
            tokio::select! {
                () = waiting => {}
                () = tokio::time::sleep_until((due + PERIOD).into()) => {
                    let mut state = self.lock();
                    if !state.rows.is_empty() && state.try_commit(Some(Instant::now())) {
                        state.commits.1 += 1;
                    }
                }
            }
        }
    }

    /// Commits every row still waiting, waiting for the lock up to `GIVE_UP`.
    pub fn close(&self) {
        let mut state = self.lock();
        if state.rows.is_empty() {
            return;
        }
        let _ = state.conn.busy_timeout(GIVE_UP);
        // There is no later try: a failure now gives the rows up, with the warning.
        state.try_commit(None);
    }

    /// Commits made so far: (by a row, by the timer).
    #[cfg(test)]
    pub fn commits(&self) -> (u64, u64) {
        self.lock().commits
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Commits the waiting rows; a lock held elsewhere puts them off until `RETRY` after
    /// `now` (None: no later try). True when they were committed.
    fn try_commit(&mut self, now: Option<Instant>) -> bool {
        let err = match self.commit() {
            Ok(()) => {
                self.rows.clear();
                self.blocked = false;
                return true;
            }
            Err(err) => err,
        };
        let busy = matches!(
            err.sqlite_error_code(),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
        );
        if let Some(now) = now.filter(|now| busy && now.duration_since(self.oldest) < GIVE_UP) {
            self.blocked = true;
            self.due = now + RETRY;
            return false;
        }
        self.rows.clear();
        self.blocked = false;
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
        false
    }

    fn commit(&mut self) -> rusqlite::Result<()> {
        let now = rfc3339(SystemTime::now());
        let labels = &self.labels;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut choice_stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO choices (key, idx, content, reasoning, finish_reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut call_stmt = tx.prepare_cached(
                "INSERT INTO calls (at, stage, model, key, n, status, attempts, latency_ms,
                 prompt_tokens, completion_tokens, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            let mut rejected_stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO rejected (key, policy, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for row in &self.rows {
                match row {
                    Row::Rejected {
                        key,
                        policy,
                        reason,
                    } => {
                        rejected_stmt.execute(params![&**key, &**policy, reason, now])?;
                    }
                    Row::Choice { key, idx, choice } => {
                        choice_stmt.execute(params![
                            &**key,
                            idx,
                            choice.content,
                            choice.reasoning,
                            choice.finish_reason,
                            now
                        ])?;
                    }
                    Row::Call(c) => {
                        call_stmt.execute(params![
                            rfc3339(c.at),
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
    fn rows_wait_for_the_first_row_after_the_period() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_cache, writer, mut lookup) = open(&dir);
        writer.send(row(0));
        writer.send(row(1));
        assert_eq!(stored(&mut lookup), 0, "committed before the period");
        std::thread::sleep(PERIOD + Duration::from_millis(20));
        // Nothing runs the timer here: only a row can commit them.
        assert_eq!(stored(&mut lookup), 0);
        writer.send(row(2));
        assert_eq!(stored(&mut lookup), 3);
        assert_eq!(writer.commits(), (1, 0));
    }

    #[test]
    fn a_full_batch_commits_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_cache, writer, mut lookup) = open(&dir);
        for idx in 0..BATCH_ROWS as u32 {
            writer.send(row(idx));
        }
        assert_eq!(stored(&mut lookup), BATCH_ROWS);
    }

    #[test]
    fn closing_commits_the_last_batch_without_waiting_out_its_period() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cache, writer, mut lookup) = open(&dir);
        writer.send(row(0));
        writer.send(row(1));
        let closing = Instant::now();
        cache.close();
        let took = closing.elapsed();
        assert_eq!(stored(&mut lookup), 2);
        assert!(took < PERIOD / 2, "close took {took:?}");
    }

    /// Runs `body` on a runtime beside the writer's timer task, as llm-call runs them.
    fn with_watch<T>(writer: &Arc<Writer>, body: impl std::future::Future<Output = T>) -> T {
        let watcher = Arc::clone(writer);
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
            .block_on(async move {
                let _watch = tokio::spawn(async move { watcher.watch().await });
                body.await
            })
    }

    #[test]
    fn rows_left_alone_are_committed_by_the_timer_at_twice_the_period() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_cache, writer, mut lookup) = open(&dir);
        with_watch(&writer, async {
            writer.send(row(0));
            tokio::time::sleep(PERIOD + PERIOD / 2).await;
            assert_eq!(stored(&mut lookup), 0, "the timer fired at the period");
            tokio::time::sleep(PERIOD).await;
            assert_eq!(stored(&mut lookup), 1);
            assert_eq!(writer.commits(), (0, 1));
        });
    }

    #[test]
    fn a_steady_flow_of_rows_commits_once_per_period_and_never_by_the_timer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_cache, writer, mut lookup) = open(&dir);
        let sent = with_watch(&writer, async {
            let started = tokio::time::Instant::now();
            let mut idx = 0;
            // A row every 20 ms for six periods.
            while started.elapsed() < PERIOD * 6 {
                writer.send(row(idx));
                idx += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let (by_rows, by_timer) = writer.commits();
            assert_eq!(by_timer, 0, "the timer woke the flow");
            assert!(
                (4..=6).contains(&by_rows),
                "{by_rows} commits in six periods"
            );
            idx
        });
        let stored = stored(&mut lookup) as u32;
        assert!(sent - stored < 16, "{stored} of {sent} rows committed");
    }

    #[test]
    fn a_locked_cache_puts_the_commit_off_without_waiting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_cache, writer, mut lookup) = open(&dir);
        let other = Connection::open(dir.path().join("c.sqlite")).expect("open");
        other.execute_batch("BEGIN IMMEDIATE").expect("lock");
        writer.send(row(0));
        std::thread::sleep(PERIOD);
        let sending = Instant::now();
        writer.send(row(1));
        assert!(
            sending.elapsed() < Duration::from_millis(100),
            "waited for the lock"
        );
        assert_eq!(writer.commits(), (0, 0));
        other.execute_batch("COMMIT").expect("unlock");
        // The next try comes `RETRY` later, with the next row.
        writer.send(row(2));
        assert_eq!(stored(&mut lookup), 0);
        std::thread::sleep(RETRY * 2);
        writer.send(row(3));
        assert_eq!(stored(&mut lookup), 4);
    }
}
