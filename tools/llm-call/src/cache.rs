//! The response cache and call log: one SQLite file (WAL, so several processes share it).
//! Lookups run on the input thread, one read transaction per record; every write goes
//! through one writer thread per process that commits in batches (every 250 ms, or 256
//! rows), so a request costs no transaction of its own and a killed run loses at most the
//! replies of the last 250 ms. Under a slow teacher rows come a few at a time: a longer
//! period puts more of them in each commit, and each commit is a wake-up of the writer and
//! a rereading of its pages by every other process's lookups. Closing commits at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use ktpipe_common::UsageError;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::reply::Choice;
use crate::timefmt::rfc3339;

const FLUSH_EVERY: Duration = Duration::from_millis(250);
const BATCH_ROWS: usize = 256;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS choices (
    key TEXT NOT NULL, idx INTEGER NOT NULL, content TEXT NOT NULL, reasoning TEXT,
    finish_reason TEXT, created_at TEXT NOT NULL, PRIMARY KEY (key, idx));
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, stage TEXT, model TEXT, key TEXT, n INTEGER,
    status TEXT, attempts INTEGER, latency_ms REAL, prompt_tokens INTEGER,
    completion_tokens INTEGER, error TEXT);
CREATE TABLE IF NOT EXISTS rejected (
    key TEXT NOT NULL, policy TEXT NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (key, policy));";

/// One HTTP request, as logged in `calls`.
#[derive(Debug)]
pub struct Call {
    /// When the request was sent.
    pub at: SystemTime,
    /// Cache key of the request.
    pub key: Arc<str>,
    /// Choices asked for.
    pub n: u32,
    /// HTTP status or failure kind.
    pub status: String,
    /// Attempt number of this request (1 = first try).
    pub attempt: u32,
    /// Wall time of the request.
    pub latency_ms: f64,
    /// Prompt tokens reported.
    pub prompt_tokens: u64,
    /// Completion tokens reported.
    pub completion_tokens: u64,
    /// What went wrong, scrubbed of the key.
    pub error: Option<String>,
}

/// A row for the writer thread.
#[derive(Debug)]
pub enum Row {
    /// A finished choice.
    Choice {
        /// Cache key.
        key: Arc<str>,
        /// Choice index.
        idx: u32,
        /// The choice.
        choice: Choice,
    },
    /// A logged request.
    Call(Call),
    /// A request whose replies all came back unusable (empty, cut, off-format), so a
    /// rerun rejects its record again without paying for the same replies.
    Rejected {
        /// Cache key.
        key: Arc<str>,
        /// The settings that judged the replies unusable (see `Ctx::policy`).
        policy: Arc<str>,
        /// Why the record was rejected.
        reason: String,
    },
}

/// The cache of one process: the writer thread and the channel feeding it.
pub struct Cache {
    tx: Option<Sender<Row>>,
    thread: Option<JoinHandle<()>>,
}

/// Reads finished choices.
pub struct Lookup {
    conn: Connection,
}

/// Opens (creating if needed) the cache at `path`; failures are usage errors.
pub fn open(
    path: &Path,
    stage: Option<String>,
    model: String,
    label: String,
) -> anyhow::Result<(Cache, Lookup)> {
    let setup = || -> rusqlite::Result<(Connection, Connection)> {
        let writer = connect(path)?;
        writer.execute_batch(SCHEMA)?;
        Ok((writer, connect(path)?))
    };
    let (writer, reader) = retry_while_busy(setup)
        .map_err(|e| UsageError::new(format!("cannot open cache '{}': {e}", path.display())))?;
    let (tx, rx) = mpsc::channel();
    let context = WriterContext {
        conn: writer,
        stage,
        model,
        label,
        path: path.to_path_buf(),
    };
    let thread = std::thread::Builder::new()
        .name("cache-writer".into())
        .spawn(move || context.run(rx))
        .context("starting the cache writer")?;
    Ok((
        Cache {
            tx: Some(tx),
            thread: Some(thread),
        },
        Lookup { conn: reader },
    ))
}

/// Runs `setup` again while another process holds the database: switching a new file to
/// WAL and creating the tables take locks for which SQLite does not always wait (it
/// returns "database is locked" at once to avoid a deadlock), and the stages of a recipe
/// all open the same cache at the same moment.
fn retry_while_busy<T>(mut setup: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match setup() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5 + fastrand::u64(0..45)));
            }
            other => return other,
        }
    }
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
    Ok(conn)
}

impl Cache {
    /// A sender for rows to store.
    pub fn sender(&self) -> Sender<Row> {
        self.tx.clone().expect("the cache is open until closed")
    }

    /// Commits every row sent so far and stops the writer.
    pub fn close(mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            // The last batch is committed now, not at the end of its period.
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// What the cache knows of one request.
#[derive(Default)]
pub struct Found {
    /// Finished choices by index.
    pub choices: Vec<(u32, Choice)>,
    /// Why earlier runs gave up on it: (policy, reason) pairs.
    pub rejected: Vec<(String, String)>,
}

impl Lookup {
    /// Finished choices and remembered rejections of a request.
    #[cfg(test)]
    pub fn find(&mut self, key: &str) -> rusqlite::Result<Found> {
        let mut found = self.find_all(&[key])?;
        Ok(found.pop().unwrap_or_default())
    }

    /// What the cache knows of each of `keys`, in order, read in one transaction: each
    /// read transaction that follows a commit by a writer (any process's) rereads the
    /// pages it needs, so the records read together share one.
    pub fn find_all(&mut self, keys: &[&str]) -> rusqlite::Result<Vec<Found>> {
        let tx = self.conn.transaction()?;
        let found = keys
            .iter()
            .map(|key| {
                Ok(Found {
                    choices: get(&tx, key)?,
                    rejected: rejected(&tx, key)?,
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(found)
    }
}

/// Finished choices of a request, by choice index.
fn get(conn: &Connection, key: &str) -> rusqlite::Result<Vec<(u32, Choice)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT idx, content, reasoning, finish_reason FROM choices WHERE key = ?1",
    )?;
    let rows = stmt.query_map([key], |row| {
        Ok((
            row.get::<_, u32>(0)?,
            Choice {
                content: row.get(1)?,
                reasoning: row.get(2)?,
                finish_reason: row.get(3)?,
            },
        ))
    })?;
    rows.collect()
}

/// Why earlier runs gave up on a request for its content: (policy, reason) pairs.
fn rejected(conn: &Connection, key: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT policy, reason FROM rejected WHERE key = ?1")?;
    let rows = stmt.query_map([key], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// Adds to `batch` the rows that come until `deadline` or until it is full; false once
/// every sender is gone (the rows sent before are all taken).
fn collect(rx: &Receiver<Row>, batch: &mut Vec<Row>, deadline: Instant) -> bool {
    loop {
        match rx.try_recv() {
            Ok(row) => {
                batch.push(row);
                if batch.len() >= BATCH_ROWS {
                    return true;
                }
            }
            Err(TryRecvError::Disconnected) => return false,
            Err(TryRecvError::Empty) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return true;
                }
                // Parked, not asleep: `close` unparks it to commit at once.
                std::thread::park_timeout(left);
            }
        }
    }
}

struct WriterContext {
    conn: Connection,
    stage: Option<String>,
    model: String,
    label: String,
    path: PathBuf,
}

impl WriterContext {
    fn run(mut self, rx: Receiver<Row>) {
        let mut warned = false;
        let mut batch = Vec::new();
        // Blocks for a first row only after a whole period brought none.
        while let Ok(first) = rx.recv() {
            batch.push(first);
            // While rows keep coming, the next period starts as soon as a batch is
            // committed, instead of at the next row: under a slow teacher rows come one at a
            // time, and a steady flow then wakes the writer once per commit, not twice.
            loop {
                let open = collect(&rx, &mut batch, Instant::now() + FLUSH_EVERY);
                if batch.is_empty() {
                    break;
                }
                if let Err(err) = self.commit(&batch)
                    && !warned
                {
                    warned = true;
                    crate::progress::warn(
                        &self.label,
                        &format!(
                            "cannot write cache '{}': {err}; replies from now on may be asked for again on a rerun",
                            self.path.display()
                        ),
                    );
                }
                batch.clear();
                if !open {
                    return;
                }
            }
        }
    }

    fn commit(&mut self, batch: &[Row]) -> rusqlite::Result<()> {
        let now = rfc3339(SystemTime::now());
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
            for row in batch {
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
                            self.stage,
                            self.model,
                            &*c.key,
                            c.n,
                            c.status,
                            c.attempt,
                            c.latency_ms,
                            c.prompt_tokens,
                            c.completion_tokens,
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
    use super::*;

    fn choice(text: &str) -> Choice {
        Choice {
            content: text.into(),
            reasoning: None,
            finish_reason: Some("stop".into()),
        }
    }

    #[test]
    fn stored_choices_are_found_by_key_after_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.sqlite");
        let (cache, mut lookup) = open(&path, None, "m".into(), "t".into()).expect("open");
        let key: Arc<str> = Arc::from("k1");
        let tx = cache.sender();
        for (idx, text) in [(1, "b"), (0, "a")] {
            tx.send(Row::Choice {
                key: key.clone(),
                idx,
                choice: choice(text),
            })
            .expect("send");
        }
        tx.send(Row::Call(Call {
            at: SystemTime::now(),
            key: key.clone(),
            n: 2,
            status: "200".into(),
            attempt: 1,
            latency_ms: 1.5,
            prompt_tokens: 3,
            completion_tokens: 4,
            error: None,
        }))
        .expect("send");
        drop(tx);
        cache.close();
        let mut found = lookup.find("k1").expect("query").choices;
        found.sort_by_key(|(i, _)| *i);
        assert_eq!(found, vec![(0, choice("a")), (1, choice("b"))]);
        assert!(lookup.find("other").expect("query").choices.is_empty());
        // Several keys at once come back in the order asked, a miss among them empty.
        let all = lookup.find_all(&["other", "k1", "k1"]).expect("query");
        let counts: Vec<usize> = all.iter().map(|f| f.choices.len()).collect();
        assert_eq!(counts, [0, 2, 2]);
        let calls: i64 = lookup
            .conn
            .query_row("SELECT count(*) FROM calls WHERE status = '200'", [], |r| {
                r.get(0)
            })
            .expect("count");
        assert_eq!(calls, 1);
    }

    #[test]
    fn closing_commits_the_last_batch_without_waiting_out_its_period() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.sqlite");
        let (cache, mut lookup) = open(&path, None, "m".into(), "t".into()).expect("open");
        let row = |idx| Row::Choice {
            key: Arc::from("k"),
            idx,
            choice: choice("a"),
        };
        let tx = cache.sender();
        tx.send(row(0)).expect("send");
        // The writer is in its batch period now; closing must not wait for the rest of it.
        std::thread::sleep(Duration::from_millis(20));
        tx.send(row(1)).expect("send");
        drop(tx);
        let closing = Instant::now();
        cache.close();
        let took = closing.elapsed();
        assert_eq!(lookup.find("k").expect("query").choices.len(), 2);
        assert!(took < FLUSH_EVERY / 2, "close took {took:?}");
    }

    /// Times the writer thread was scheduled in so far, from its schedstat (the thread
    /// names itself once it runs, so it is looked for a while).
    #[cfg(target_os = "linux")]
    fn writer_runs() -> u64 {
        for _ in 0..200 {
            for task in std::fs::read_dir("/proc/self/task")
                .expect("tasks")
                .flatten()
            {
                let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
                if comm.trim() == "cache-writer" {
                    let stat = std::fs::read_to_string(task.path().join("schedstat"));
                    let stat = stat.expect("schedstat");
                    return stat
                        .split_whitespace()
                        .nth(2)
                        .expect("runs")
                        .parse()
                        .expect("n");
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no cache-writer thread");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_steady_flow_of_rows_wakes_the_writer_about_once_per_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.sqlite");
        let (cache, _lookup) = open(&path, None, "m".into(), "t".into()).expect("open");
        let tx = cache.sender();
        let started = Instant::now();
        let before = writer_runs();
        let mut idx = 0;
        // A row every 10 ms for five periods.
        while started.elapsed() < FLUSH_EVERY * 5 {
            tx.send(Row::Choice {
                key: Arc::from("k"),
                idx,
                choice: choice("a"),
            })
            .expect("send");
            idx += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
        let runs = writer_runs() - before;
        drop(tx);
        cache.close();
        // Woken by the first row of each period and again at its end, it would run ten times.
        assert!(runs <= 7, "the writer ran {runs} times in five periods");
    }

    #[test]
    fn an_unopenable_cache_is_a_usage_error() {
        let err = open(
            Path::new("/nonexistent/dir/c.sqlite"),
            None,
            "m".into(),
            "t".into(),
        )
        .err()
        .expect("fails");
        assert!(err.is::<UsageError>());
    }
}
