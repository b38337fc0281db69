//! The records waiting for a slot of the budget. While some wait, more input would only
//! wait behind them, so the dispatcher takes none: a batch the input thread hands over
//! meanwhile stays in the channel without waking the runtime thread, and is taken in the
//! turn that serves the last of them, a turn a reply brought anyway. Input wakes the
//! runtime only when every record taken is under way.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use tokio::sync::Notify;

/// Counts the records waiting for a slot.
#[derive(Default)]
pub struct Backlog {
    waiting: AtomicUsize,
    drained: Notify,
}

impl Backlog {
    /// Counts one more record waiting until the guard is dropped.
    pub fn enter(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Relaxed);
        Waiting(self)
    }

    /// Returns once no record is waiting (at once if none is).
    pub async fn drained(&self) {
        loop {
            // Created before the check, so a drop in between still wakes it.
            let notified = self.drained.notified();
            if self.waiting.load(Relaxed) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// A record waiting for a slot; dropping it (served or given up) ends the wait.
pub struct Waiting<'a>(&'a Backlog);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.0.waiting.fetch_sub(1, Relaxed) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn drained_waits_for_the_last_waiting_record() {
        let backlog = Arc::new(Backlog::default());
        backlog.drained().await;
        let first = backlog.enter();
        let second = backlog.enter();
        let waiter = {
            let backlog = Arc::clone(&backlog);
            tokio::spawn(async move { backlog.drained().await })
        };
        drop(first);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "drained with a record still waiting");
        drop(second);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("drained once none waits")
            .expect("task");
    }
}
