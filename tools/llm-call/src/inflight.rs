//! One request per prompt at a time: when records with the same cache key are in flight
//! together (duplicate seed rows, repeated questions), the first asks the teacher and the
//! others wait for its choices instead of paying for the same reply again. The cache
//! alone cannot do this: it only answers once the first reply is stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::reply::Choice;

/// Choices shared from a leader to the records waiting on the same key.
type Shared = Option<Arc<Vec<(u32, Choice)>>>;

/// The keys being asked for right now.
#[derive(Default)]
pub struct Inflight {
    leaders: Mutex<HashMap<Arc<str>, watch::Receiver<Shared>>>,
}

/// What a record does about its key.
pub enum Role<'a> {
    /// Nobody asks for this key: this record does, and shares what it gets.
    Leader(Leader<'a>),
    /// Another record is asking: wait for its choices.
    Follower(watch::Receiver<Shared>),
}

/// The record asking the teacher for a key; followers are released when it is dropped.
pub struct Leader<'a> {
    inflight: &'a Inflight,
    key: Arc<str>,
    tx: watch::Sender<Shared>,
}

impl Inflight {
    /// Joins the key: leader when it is free, follower otherwise.
    pub fn join(&self, key: &Arc<str>) -> Role<'_> {
        let mut leaders = self.leaders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rx) = leaders.get(key) {
            return Role::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        leaders.insert(Arc::clone(key), rx);
        Role::Leader(Leader {
            inflight: self,
            key: Arc::clone(key),
            tx,
        })
    }
}

impl Leader<'_> {
    /// Hands the finished choices to every follower.
    pub fn share(&self, choices: &[(u32, Choice)]) {
        let _ = self.tx.send(Some(Arc::new(choices.to_vec())));
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let mut leaders = self
            .inflight
            .leaders
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        leaders.remove(&self.key);
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
        let inflight = Inflight::default();
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

        // A leader that gives up shares nothing; its followers are released.
        let Role::Leader(leader) = inflight.join(&key) else {
            panic!("key is free again")
        };
        let Role::Follower(rx) = inflight.join(&key) else {
            panic!("follows")
        };
        drop(leader);
        assert!(wait(rx).await.is_none());
    }
}
