//! The input thread: reads records (ktpipe_common::Reader), checks each has its messages,
//! computes its cache key and looks up the choices already finished, and hands the result
//! to the dispatcher over a bounded channel, so reading stops when the window is full.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use ktpipe_common::reader::{ReadError, json_type};
use ktpipe_common::{Located, Reader};
use serde_json::Value;
use tokio::sync::mpsc::Sender;

use crate::cache::{Found, Lookup};
use crate::call::Job;
use crate::inflight::Inflight;
use crate::progress::{Counters, warn};
use crate::request::Spec;

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
    Invalid(Located, String),
    /// Reading failed; no more input.
    Failed(anyhow::Error),
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
    /// go over together, so a burst of input wakes the runtime once, not once per record.
    pub fn run(mut self, tx: Sender<Batch>) {
        let mut seq = 0u64;
        let mut warned = false;
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let item = match self.reader.next_record() {
                Ok(None) => break,
                Ok(Some(Err(bad))) => Item::Malformed(bad),
                Ok(Some(Ok(located))) => self.prepare(located, &mut warned),
                Err(err) => Item::Failed(err),
            };
            let last = matches!(item, Item::Failed(_));
            self.counters.read.fetch_add(u64::from(!last), Relaxed);
            batch.push((seq, item));
            seq += 1;
            if last {
                break;
            }
            if batch.len() >= BATCH || self.reader.would_block() {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.blocking_send(full).is_err() {
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
    }

    fn prepare(&mut self, located: Located, warned: &mut bool) -> Item {
        let messages = match located.record.get(&self.messages) {
            Some(messages @ Value::Array(_)) => messages,
            Some(other) => {
                let reason = format!(
                    "field '{}' is {}, expected an array of chat messages",
                    self.messages,
                    json_type(other)
                );
                return Item::Invalid(located, reason);
            }
            None => {
                let reason = format!("record has no '{}' field", self.messages);
                return Item::Invalid(located, reason);
            }
        };
        let Some(lookup) = &mut self.lookup else {
            return Item::Job(Job {
                located,
                key: None,
                cached: Vec::new(),
                rejected: Vec::new(),
                role: None,
            });
        };
        let key = self.spec.cache_key(messages);
        // A failed lookup only means the request is asked again.
        let found = lookup.find(&key).unwrap_or_else(|err| {
            if !std::mem::replace(warned, true) {
                warn(
                    &self.label,
                    &format!("cannot read the cache: {err}; asking the teacher"),
                );
            }
            Found::default()
        });
        let (cached, rejected) = (found.choices, found.rejected);
        let key: Arc<str> = Arc::from(key);
        let role = (cached.len() < self.choices).then(|| self.inflight.join(&key));
        Item::Job(Job {
            located,
            key: Some(key),
            cached,
            rejected,
            role,
        })
    }
}
