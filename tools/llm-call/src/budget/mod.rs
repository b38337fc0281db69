//! The request budget: at most N requests in flight, in this process or, with
//! `--shared-budget DIR`, across every llm-call using DIR. Three parts:
//! - here, the local semaphore, and slot reuse: a slot freed while another task of this
//!   process waits goes straight to it, still locked, up to [`REUSE`] times in a row
//!   before it goes back to every process;
//! - [`slots`], the slot files in DIR, one locked per request in flight, freed by the
//!   kernel when their process dies;
//! - [`bell`], the wake-up of a waiting process: a ring from the process that frees a
//!   slot, or a rescan on a plain timer.

mod bell;
mod slots;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ktpipe_common::UsageError;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use bell::{Bells, Listener};
use slots::Slots;

/// Requests a slot may serve in this process in a row while other tasks here wait, before
/// it goes back to every process: fewer cross-process hand-overs, and still fair.
const REUSE: u32 = 16;

/// Bounds requests in flight.
pub struct Budget {
    local: Arc<Semaphore>,
    shared: Option<Shared>,
}

/// A place in the budget, returned when dropped.
pub struct Slot {
    budget: Arc<Budget>,
    /// The shared slot held: (index, uses in a row here so far).
    index: Option<(usize, u32)>,
    _permit: OwnedSemaphorePermit,
}

impl Budget {
    /// A budget of `n` requests, shared through `dir` when given (created if missing).
    pub fn new(n: u32, dir: Option<&Path>) -> anyhow::Result<Arc<Self>> {
        Self::with_rescan(n, dir, bell::RESCAN)
    }

    /// [`Budget::new`] whose waiting processes rescan every `rescan`.
    fn with_rescan(n: u32, dir: Option<&Path>, rescan: Duration) -> anyhow::Result<Arc<Self>> {
        let shared = dir.map(|dir| Shared::open(n, dir, rescan)).transpose()?;
        Ok(Arc::new(Budget {
            local: Arc::new(Semaphore::new(n as usize)),
            shared,
        }))
    }

    /// Waits for a place in the budget.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        // Counted from the start: a task still waiting for the local permit is one a slot
        // freed here can go to.
        let _waiting = self.shared.as_ref().map(Waiting::enter);
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

impl Drop for Slot {
    fn drop(&mut self) {
        if let (Some(shared), Some((i, uses))) = (&self.budget.shared, self.index) {
            shared.release(i, uses);
        }
    }
}

/// The shared side of a budget.
struct Shared {
    slots: Slots,
    bells: Bells,
    here: Mutex<Here>,
    /// Rung when a slot is parked for the tasks of this process.
    parked: Notify,
    /// The one task of this process looking for a free slot holds this. The listener stays
    /// from one task to the next for as long as any task here waits, rings queued and all.
    seeker: tokio::sync::Mutex<Option<Seeker>>,
}

/// What this process knows of its waiting tasks.
struct Here {
    /// Tasks waiting for a slot.
    waiting: usize,
    /// Slots freed here and kept locked for a waiting task: (index, uses so far).
    parked: VecDeque<(usize, u32)>,
    /// The number of this process's bell while it listens.
    bell: Option<usize>,
}

/// The listener of the seeking task, and when it scans the slots next.
struct Seeker {
    listener: Listener,
    next_scan: tokio::time::Instant,
}

impl Shared {
    fn open(n: u32, dir: &Path, rescan: Duration) -> anyhow::Result<Shared> {
        let fail = |e: std::io::Error| {
            UsageError::new(format!("cannot use shared budget '{}': {e}", dir.display()))
        };
        std::fs::create_dir_all(dir).map_err(fail)?;
        Ok(Shared {
            slots: Slots::open(n, dir).map_err(fail)?,
            bells: Bells::open(dir, rescan).map_err(fail)?,
            here: Mutex::new(Here {
                waiting: 0,
                parked: VecDeque::new(),
                bell: None,
            }),
            parked: Notify::new(),
            seeker: tokio::sync::Mutex::new(None),
        })
    }

    fn here(&self) -> MutexGuard<'_, Here> {
        self.here.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot, as (index, uses so far): parked here, or a free one.
    async fn take(&self) -> (usize, u32) {
        loop {
            let parked = self.parked.notified();
            tokio::pin!(parked);
            parked.as_mut().enable();
            if let Some(slot) = self.here().parked.pop_front() {
                return slot;
            }
            tokio::select! {
                () = parked => {}
                i = self.seek() => return (i, 0),
            }
        }
    }

    /// Takes a free slot, as this process's one seeker: scans, then waits for a ring,
    /// scanning again every rescan period whatever rings come.
    async fn seek(&self) -> usize {
        let mut seeker = self.seeker.lock().await;
        if seeker.is_none() {
            let listener = self.bells.listen().await;
            self.here().bell = listener.number();
            *seeker = Some(Seeker {
                listener,
                next_scan: tokio::time::Instant::now(),
            });
        }
        let Seeker {
            listener,
            next_scan,
        } = seeker.as_mut().expect("listening above");
        let i = loop {
            if tokio::time::Instant::now() >= *next_scan {
                *next_scan = tokio::time::Instant::now() + listener.rescan;
                if let Some(i) = self.slots.scan() {
                    break i;
                }
            }
            let hint = tokio::select! {
                rung = listener.next_ring() => rung,
                () = tokio::time::sleep_until(*next_scan) => None,
            };
            // A ring for a slot someone else took first is passed over.
            if let Some(i) = hint
                && self.slots.try_take(i)
            {
                break i;
            }
        };
        // This task is still counted: nobody else here waits.
        if self.here().waiting <= 1
            && let Some(seeker) = seeker.take()
        {
            self.stop_listening(seeker);
        }
        i
    }

    fn stop_listening(&self, seeker: Seeker) {
        self.here().bell = None;
        self.bells.stop(seeker.listener);
    }

    fn release(&self, i: usize, uses: u32) {
        let mut here = self.here();
        if uses + 1 < REUSE && here.waiting > here.parked.len() {
            here.parked.push_back((i, uses + 1));
            drop(here);
            self.parked.notify_one();
        } else {
            let own = here.bell;
            drop(here);
            self.give_back(i, own);
        }
    }

    /// Gives slot `i` back to every process and rings one waiting process with its number.
    fn give_back(&self, i: usize, own: Option<usize>) {
        self.slots.give_back(i);
        self.bells.ring(i, own);
    }
}

/// Counts a waiting task for as long as it waits. When the last one leaves (served, or
/// dropped on Ctrl-C), slots parked for nobody go back, and the process stops listening.
struct Waiting<'a>(&'a Shared);

impl<'a> Waiting<'a> {
    fn enter(shared: &'a Shared) -> Self {
        shared.here().waiting += 1;
        Waiting(shared)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut here = self.0.here();
        here.waiting -= 1;
        let mut unused = Vec::new();
        while here.parked.len() > here.waiting {
            unused.push(here.parked.pop_back().expect("longer than waiting").0);
        }
        let (own, nobody) = (here.bell, here.waiting == 0);
        drop(here);
        for i in unused {
            self.0.give_back(i, own);
        }
        // Nobody waits, so no seeker holds the lock.
        if nobody
            && let Ok(mut seeker) = self.0.seeker.try_lock()
            && let Some(seeker) = seeker.take()
        {
            self.0.stop_listening(seeker);
        }
    }
}
