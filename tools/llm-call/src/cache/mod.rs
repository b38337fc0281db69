//! The response cache and call log: one SQLite file (WAL, so several processes share it).
//! Lookups run on the input thread, one read transaction per batch of records; writes are
//! committed in batches on a writer thread (`crate::cache::commit`). Closing commits at once.

pub mod commit;
pub mod inflight;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use ktpipe_common::UsageError;
use rusqlite::Connection;

use crate::cache::commit::{Labels, Writer};
use crate::teacher::reply::{Choice, Tokens};

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
    /// Token counts the teacher reported (NULL in the table when it reported none).
    pub tokens: Option<Tokens>,
    /// What went wrong, scrubbed of the key.
    pub error: Option<String>,
}

/// A row to commit.
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

/// The cache of one process: where its rows wait for their commit.
pub struct Cache {
    writer: Arc<Writer>,
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
    let labels = Labels {
        stage,
        model,
        label,
        path: path.to_path_buf(),
    };
    let setup = || -> rusqlite::Result<(Connection, Connection)> {
        let writer = connect(path)?;
        writer.execute_batch(SCHEMA)?;
        Ok((writer, connect(path)?))
    };
    let (writer, reader) = retry_while_busy(setup)
        .map_err(|e| UsageError::new(format!("cannot open cache '{}': {e}", path.display())))?;
    let writer = Writer::start(writer, labels).context("starting the cache writer thread")?;
    Ok((
        Cache {
            writer: Arc::new(writer),
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
    /// Where rows to store go.
    pub fn writer(&self) -> Arc<Writer> {
        Arc::clone(&self.writer)
    }

    /// Commits every row sent so far, now rather than at the end of its period.
    pub fn close(self) {
        self.writer.close();
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn choice(text: &str) -> Choice {
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
        let tx = cache.writer();
        for (idx, text) in [(1, "b"), (0, "a")] {
            tx.send(Row::Choice {
                key: key.clone(),
                idx,
                choice: choice(text),
            });
        }
        let call = |tokens| {
            Row::Call(Call {
                at: SystemTime::now(),
                key: key.clone(),
                n: 2,
                status: "200".into(),
                attempt: 1,
                latency_ms: 1.5,
                tokens,
                error: None,
            })
        };
        tx.send(call(Some(Tokens {
            prompt: 3,
            completion: 4,
        })));
        tx.send(call(None));
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
        assert_eq!(calls, 2);
        // Counts the teacher did not report are NULL, so sums leave them out, not as 0.
        let (known, sum): (i64, i64) = lookup
            .conn
            .query_row(
                "SELECT count(prompt_tokens), sum(completion_tokens) FROM calls",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("sums");
        assert_eq!((known, sum), (1, 4));
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
