//! The request budget: at most N requests in flight, in this process or, with
//! `--shared-budget DIR`, across every llm-call using DIR. The shared budget is N lock files
//! `DIR/slot-<i>.lock`; a request holds one (an exclusive `flock`) while in flight. The
//! kernel drops the locks of a process that dies, so a crash never leaks budget.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ktpipe_common::UsageError;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

const POLL_START: Duration = Duration::from_millis(2);
const POLL_MAX: Duration = Duration::from_millis(20);

/// Bounds requests in flight.
pub struct Budget {
    local: Arc<Semaphore>,
    shared: Option<Shared>,
}

struct Shared {
    files: Vec<File>,
    /// Which slots this process holds: a second lock on a file we hold would succeed.
    held: Mutex<Vec<bool>>,
    /// Only one task polls the files at a time; the others queue here.
    scanner: tokio::sync::Mutex<()>,
    released: Notify,
}

/// A place in the budget, returned when dropped.
pub struct Slot {
    budget: Arc<Budget>,
    index: Option<usize>,
    _permit: OwnedSemaphorePermit,
}

impl Budget {
    /// A budget of `n` requests, shared through `dir` when given (created if missing).
    pub fn new(n: u32, dir: Option<&Path>) -> anyhow::Result<Arc<Self>> {
        let shared = dir.map(|dir| open_slots(n, dir)).transpose()?;
        Ok(Arc::new(Budget {
            local: Arc::new(Semaphore::new(n as usize)),
            shared,
        }))
    }

    /// Waits for a place in the budget.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        let permit = Arc::clone(&self.local)
            .acquire_owned()
            .await
            .expect("the budget semaphore is never closed");
        let index = match &self.shared {
            Some(shared) => Some(shared.take().await),
            None => None,
        };
        Slot {
            budget: Arc::clone(self),
            index,
            _permit: permit,
        }
    }
}

fn open_slots(n: u32, dir: &Path) -> anyhow::Result<Shared> {
    let fail = |e: std::io::Error| {
        UsageError::new(format!("cannot use shared budget '{}': {e}", dir.display()))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let files = (0..n)
        .map(|i| {
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("slot-{i}.lock")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    Ok(Shared {
        held: Mutex::new(vec![false; files.len()]),
        files,
        scanner: tokio::sync::Mutex::new(()),
        released: Notify::new(),
    })
}

impl Shared {
    async fn take(&self) -> usize {
        let _turn = self.scanner.lock().await;
        let mut wait = POLL_START;
        loop {
            if let Some(i) = self.try_take() {
                return i;
            }
            let jittered = wait.mul_f64(0.5 + fastrand::f64());
            tokio::select! {
                () = tokio::time::sleep(jittered) => {}
                () = self.released.notified() => {}
            }
            wait = (wait * 2).min(POLL_MAX);
        }
    }

    fn try_take(&self) -> Option<usize> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let n = self.files.len();
        let start = fastrand::usize(0..n);
        (0..n).map(|k| (start + k) % n).find(|&i| {
            let free = !held[i] && self.files[i].try_lock().is_ok();
            if free {
                held[i] = true;
            }
            free
        })
    }

    fn release(&self, i: usize) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        // Closing would also unlock; unlocking keeps the file open for the next request.
        let _ = self.files[i].unlock();
        held[i] = false;
        drop(held);
        self.released.notify_one();
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let (Some(shared), Some(i)) = (&self.budget.shared, self.index) {
            shared.release(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_budgets_on_one_dir_share_its_slots() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Budget::new(2, Some(dir.path())).expect("budget a");
        let b = Budget::new(2, Some(dir.path())).expect("budget b");
        let first = a.acquire().await;
        let second = b.acquire().await;
        assert_ne!(first.index, second.index);
        let waiting = tokio::time::timeout(Duration::from_millis(50), a.acquire()).await;
        assert!(waiting.is_err(), "a third slot must not be granted");
        drop(second);
        let third = tokio::time::timeout(Duration::from_secs(2), a.acquire()).await;
        assert!(third.is_ok(), "a released slot is taken again");
    }

    #[tokio::test]
    async fn local_budget_bounds_this_process() {
        let budget = Budget::new(1, None).expect("budget");
        let held = budget.acquire().await;
        assert!(
            tokio::time::timeout(Duration::from_millis(20), budget.acquire())
                .await
                .is_err()
        );
        drop(held);
        assert!(
            tokio::time::timeout(Duration::from_millis(200), budget.acquire())
                .await
                .is_ok()
        );
    }
}
