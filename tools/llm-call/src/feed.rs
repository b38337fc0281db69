//! The input thread: reads records (ktpipe_common::Reader), checks each has its messages,
//! computes its cache key and looks up the choices already finished, and hands the result
//! to the dispatcher over a bounded channel, so reading stops when the window is full.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use ktpipe_common::raw::RawRecord;
use ktpipe_common::reader::{ReadError, json_type};
use ktpipe_common::{Located, Reader};
use serde_json::Value;
use tokio::sync::mpsc::Sender;

use crate::cache::inflight::Inflight;
use crate::cache::{Found, Lookup};
use crate::call::Job;
use crate::progress::{Counters, warn};
use crate::teacher::request::Spec;

/// Most items sent in one batch: with the channel's few places, this bounds the records
/// read ahead of the window.
pub const BATCH: usize = 16;

/// Input items that were read together, each numbered in input order.
pub type Batch = Vec<(u64, Item)>;

/// One input item.
pub enum Item {
    /// A record to send.
    Job(Job),
    /// A malformed line.
    Malformed(ReadError),
    /// A record that cannot be sent, and why.
    Invalid(Located<RawRecord>, String),
    /// Reading failed; no more input.
    Failed(anyhow::Error),
}

/// A record that has its messages, with its cache key when there is a cache.
struct Checked {
    located: Located<RawRecord>,
    messages: Value,
    key: Option<String>,
}

/// The input thread's state.
pub struct Feed {
    /// The records.
    pub reader: Reader,
    /// The cache, when there is one.
    pub lookup: Option<Lookup>,
    /// Computes cache keys.
    pub spec: Arc<Spec>,
    /// The messages field.
    pub messages: String,
    /// Live figures.
    pub counters: Arc<Counters>,
    /// Message prefix for warnings.
    pub label: String,
    /// Choices wanted per record (-n).
    pub choices: usize,
    /// Keys being asked for now, so identical requests are paid for once.
    pub inflight: Arc<Inflight>,
}

impl Feed {
    /// Reads until the input ends or the receiver goes away. Records that arrived together
    /// go over together, and their cache lookups share one read of the cache.
    pub fn run(mut self, tx: Sender<Batch>) {
        let mut seq = 0u64;
        let mut warned = false;
        let mut batch = Vec::with_capacity(BATCH);
        let mut unlooked = Vec::with_capacity(BATCH);
        loop {
            let item = match self.reader.next_parsed(RawRecord::parse) {
                Ok(None) => break,
                Ok(Some(Err(bad))) => Some(Item::Malformed(bad)),
                Ok(Some(Ok(located))) => match self.check(located) {
                    Ok(record) => {
                        unlooked.push((seq, record));
                        None
                    }
                    Err((located, reason)) => Some(Item::Invalid(located, reason)),
                },
                Err(err) => Some(Item::Failed(err)),
            };
            let last = matches!(item, Some(Item::Failed(_)));
            self.counters.read.fetch_add(u64::from(!last), Relaxed);
            if let Some(item) = item {
                batch.push((seq, item));
            }
            seq += 1;
            if last {
                break;
            }
            if batch.len() + unlooked.len() >= BATCH || self.reader.would_block() {
                self.look_up(&mut unlooked, &mut batch, &mut warned);
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.blocking_send(full).is_err() {
                    return;
                }
            }
        }
        self.look_up(&mut unlooked, &mut batch, &mut warned);
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
    }

    /// A record with its messages, and its cache key when there is a cache; or the record
    /// and why it cannot be sent.
    fn check(&self, located: Located<RawRecord>) -> Result<Checked, (Located<RawRecord>, String)> {
        let messages = match located.record.get(&self.messages) {
            Some(messages @ Value::Array(_)) => messages,
            Some(other) => {
                let reason = format!(
                    "field '{}' is {}, expected an array of chat messages",
                    self.messages,
                    json_type(&other)
                );
                return Err((located, reason));
            }
            None => {
                let reason = format!("record has no '{}' field", self.messages);
                return Err((located, reason));
            }
        };
        let key = self
            .lookup
            .is_some()
            .then(|| self.spec.cache_key(&messages));
        Ok(Checked {
            located,
            messages,
            key,
        })
    }

    /// Turns the checked records into jobs with what the cache holds for them, and puts
    /// everything in `batch` in input order.
    fn look_up(
        &mut self,
        unlooked: &mut Vec<(u64, Checked)>,
        batch: &mut Batch,
        warned: &mut bool,
    ) {
        if unlooked.is_empty() {
            return;
        }
        let keys: Vec<&str> = unlooked
            .iter()
            .filter_map(|(_, checked)| checked.key.as_deref())
            .collect();
        let mut found = match (&mut self.lookup, keys.is_empty()) {
            (Some(lookup), false) => lookup.find_all(&keys).unwrap_or_else(|err| {
                // A failed lookup only means the requests are asked again.
                if !std::mem::replace(warned, true) {
                    warn(
                        &self.label,
                        &format!("cannot read the cache: {err}; asking the teacher"),
                    );
                }
                keys.iter().map(|_| Found::default()).collect()
            }),
            _ => Vec::new(),
        }
        .into_iter();
        for (
            seq,
            Checked {
                located,
                messages,
                key,
            },
        ) in unlooked.drain(..)
        {
            let mut job = Job {
                located,
                messages,
                key: None,
                cached: Vec::new(),
                rejected: Vec::new(),
                role: None,
            };
            if let Some(key) = key {
                let found = found.next().unwrap_or_default();
                let key: Arc<str> = Arc::from(key);
                // Joined right after the lookups (well within the grace of finished keys),
                // so no reply can fall between the two.
                job.role = (found.choices.len() < self.choices).then(|| self.inflight.join(&key));
                (job.key, job.cached, job.rejected) = (Some(key), found.choices, found.rejected);
            }
            batch.push((seq, Item::Job(job)));
        }
        batch.sort_unstable_by_key(|(seq, _)| *seq);
    }
}
