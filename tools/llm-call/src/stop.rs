//! How a run stops early: the alarm that stops it at once (the key refused, the teacher
//! down from the start), the check that tells a down teacher from a flaky one, and the
//! signal that Ctrl-C sent (send nothing new).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

/// A reason to stop the whole run (the teacher refused the key), raised once.
#[derive(Default)]
pub struct Fatal {
    message: OnceLock<String>,
    notify: Notify,
}

impl Fatal {
    /// Raises the alarm; the first message wins.
    pub fn raise(&self, message: String) {
        let _ = self.message.set(message);
        self.notify.notify_waiters();
    }

    /// True once the alarm is raised.
    pub fn raised(&self) -> bool {
        self.message.get().is_some()
    }

    /// An error with the alarm's message once it is raised.
    pub fn check(&self) -> anyhow::Result<()> {
        match self.message.get() {
            Some(message) => Err(anyhow::anyhow!(message.clone())),
            None => Ok(()),
        }
    }

    /// Waits until the alarm is raised and returns its message.
    pub async fn wait(&self) -> String {
        loop {
            let notified = self.notify.notified();
            if let Some(message) = self.message.get() {
                return message.clone();
            }
            notified.await;
        }
    }
}

/// How long connections may fail, before any request has reached the teacher, until the
/// run stops: a teacher that is down from the start is reported within seconds instead of
/// after every record has used up its retries.
const UNREACHABLE_AFTER: Duration = Duration::from_secs(2);

/// Tracks whether any request has reached the teacher.
#[derive(Default)]
pub struct Reach {
    reached: AtomicBool,
    refused_since: std::sync::Mutex<Option<Instant>>,
}

impl Reach {
    /// Notes a request that got an answer of any kind (even an HTTP error).
    pub fn reached(&self) {
        self.reached.store(true, Relaxed);
    }

    /// Notes a failed connection; true when the teacher looks down from the start.
    pub fn refused(&self) -> bool {
        if self.reached.load(Relaxed) {
            return false;
        }
        let mut since = self.refused_since.lock().unwrap_or_else(|e| e.into_inner());
        since.get_or_insert_with(Instant::now).elapsed() >= UNREACHABLE_AFTER
    }
}

/// Resolves once the run is stopping.
pub async fn stopped(stop: &watch::Receiver<bool>) {
    let mut stop = stop.clone();
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}
