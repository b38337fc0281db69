//! One request per prompt at a time: when records with the same cache key are in flight
//! together (duplicate seed rows, repeated questions), the first asks the teacher and the
//! others wait for its choices instead of paying for the same reply again. The cache
//! alone cannot do this: it only answers once the first reply is stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::teacher::reply::Choice;

/// Choices shared from a leader to the records waiting on the same key.
type Shared = Option<Arc<Vec<(u32, Choice)>>>;

/// How long a finished key stays joinable: longer than the cache takes to commit its
/// choices (`crate::cache::commit`), so a record whose cache lookup just missed them still finds them here.
const GRACE: Duration = Duration::from_secs(2);

/// The keys being asked for right now, and those finished a moment ago.
#[derive(Default)]
pub struct Inflight {
    entries: Mutex<Entries>,
}

struct Entries {
    map: HashMap<Arc<str>, Entry>,
    /// Sweep finished keys once the map holds this many entries.
    sweep_at: usize,
}

impl Default for Entries {
    fn default() -> Self {
        Entries {
            map: HashMap::new(),
            sweep_at: MIN_SWEEP,
        }
    }
}

/// The smallest map worth sweeping.
const MIN_SWEEP: usize = 64;

struct Entry {
    rx: watch::Receiver<Shared>,
    done_at: Option<Instant>,
}

/// What a record does about its key. Taken when the record is read, right after its cache
/// lookup, so no reply can fall between the two.
pub enum Role {
    /// Nobody asks for this key: this record does, and shares what it gets.
    Leader(Leader),
    /// Another record asks (or just did): wait for its choices.
    Follower(watch::Receiver<Shared>),
}

/// The record asking the teacher for a key.
pub struct Leader {
    inflight: Arc<Inflight>,
    key: Arc<str>,
    tx: watch::Sender<Shared>,
}

impl Inflight {
    /// Joins the key: leader when it is free, follower otherwise.
    pub fn join(self: &Arc<Self>, key: &Arc<str>) -> Role {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Sweeping finished keys visits every entry: do it once the map has doubled
        // since the last sweep, so a join costs O(1) on average.
        if entries.map.len() >= entries.sweep_at {
            let now = Instant::now();
            entries
                .map
                .retain(|_, e| e.done_at.is_none_or(|at| now - at < GRACE));
            entries.sweep_at = (entries.map.len() * 2).max(MIN_SWEEP);
        }
        if let Some(entry) = entries.map.get(key) {
            return Role::Follower(entry.rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        entries
            .map
            .insert(Arc::clone(key), Entry { rx, done_at: None });
        Role::Leader(Leader {
            inflight: Arc::clone(self),
            key: Arc::clone(key),
            tx,
        })
    }
}

impl Leader {
    /// Hands the finished choices to every follower.
    pub fn share(&self, choices: &[(u32, Choice)]) {
        let _ = self.tx.send(Some(Arc::new(choices.to_vec())));
    }
}

impl Drop for Leader {
    /// A leader that shared stays joinable for [`GRACE`]; one that gave up frees the key,
    /// and its followers ask for themselves.
    fn drop(&mut self) {
        let mut entries = self
            .inflight
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if self.tx.borrow().is_some() {
            if let Some(entry) = entries.map.get_mut(&self.key) {
                entry.done_at = Some(Instant::now());
            }
        } else {
            entries.map.remove(&self.key);
        }
    }
}

/// Waits for the leader: its choices, or None when it ended without all of them (the
/// follower then asks for itself).
pub async fn wait(mut rx: watch::Receiver<Shared>) -> Option<Arc<Vec<(u32, Choice)>>> {
    loop {
        if let Some(choices) = rx.borrow_and_update().clone() {
            return Some(choices);
        }
        if rx.changed().await.is_err() {
            return rx.borrow().clone();
        }
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

    #[tokio::test]
    async fn followers_get_the_leaders_choices_or_go_alone() {
        let inflight = Arc::new(Inflight::default());
        let key: Arc<str> = Arc::from("k");
        let Role::Leader(leader) = inflight.join(&key) else {
            panic!("first is leader")
        };
        let Role::Follower(rx) = inflight.join(&key) else {
            panic!("second follows")
        };
        leader.share(&[(0, choice("a"))]);
        drop(leader);
        let got = wait(rx).await.expect("shared");
        assert_eq!(got[0].1.content, "a");
        // Just finished: a record read now still joins and gets the choices at once.
        let Role::Follower(rx) = inflight.join(&key) else {
            panic!("a finished key stays joinable for a moment")
        };
        assert_eq!(wait(rx).await.expect("shared")[0].1.content, "a");
        let key: Arc<str> = Arc::from("other");

        // A leader that gives up shares nothing; its followers are released.
        let Role::Leader(leader) = inflight.join(&key) else {
            panic!("a new key leads")
        };
        let Role::Follower(rx) = inflight.join(&key) else {
            panic!("follows")
        };
        drop(leader);
        assert!(wait(rx).await.is_none());
        assert!(
            matches!(inflight.join(&key), Role::Leader(_)),
            "given up: free again"
        );
    }
}
