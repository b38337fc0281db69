//! The request budget: at most N requests in flight, in this process or, with
//! `--shared-budget DIR`, across every llm-call using DIR.
//!
//! The shared budget is N lock files `DIR/slot-<i>.lock`; a request holds one (an exclusive
//! `flock`) while in flight, and the kernel drops the locks of a process that dies, so a
//! crash never leaks budget. Waiting costs nothing while the budget is full:
//! - a slot freed while another task of the same process waits goes straight to it, still
//!   locked, up to [`REUSE`] times in a row before it goes back to every process;
//! - of the processes that wait, only the holder of `DIR/gate.lock` looks for a free slot;
//!   the others sleep in the kernel's queue for the gate;
//! - the holder listens on a datagram socket (the bell, named after DIR in Linux's abstract
//!   socket namespace), and a process that frees a slot sends its number there, so the
//!   holder takes it at once instead of polling. A slot freed without a ring (its process
//!   died) is found by a slow rescan; without the bell the rescan is fast.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::os::unix::net::UnixDatagram as StdDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ktpipe_common::UsageError;
use tokio::net::UnixDatagram;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Requests a slot may serve in this process in a row while other tasks here wait, before
/// it goes back to every process: fewer cross-process hand-overs, and still fair.
const REUSE: u32 = 4;
/// Slots a gate holder may take in a row before it lets another waiting process in.
const HOLD: u32 = 8;
/// How often the gate holder rescans the slots while no ring comes: slots of a process
/// that died are freed by the kernel, silently.
const RESCAN: Duration = Duration::from_millis(50);
/// The rescan period when the bell cannot be used.
const RESCAN_WITHOUT_BELL: Duration = Duration::from_millis(5);

/// Bounds requests in flight.
pub struct Budget {
    local: Arc<Semaphore>,
    shared: Option<Shared>,
}

/// A place in the budget, returned when dropped.
pub struct Slot {
    budget: Arc<Budget>,
    index: Option<(usize, u32)>,
    _permit: OwnedSemaphorePermit,
}

impl Budget {
    /// A budget of `n` requests, shared through `dir` when given (created if missing).
    pub fn new(n: u32, dir: Option<&Path>) -> anyhow::Result<Arc<Self>> {
        let shared = dir.map(|dir| Shared::open(n, dir)).transpose()?;
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

struct Shared {
    files: Vec<File>,
    gate_path: PathBuf,
    bell: Option<std::os::unix::net::SocketAddr>,
    /// Unbound socket that rings the bell; None if the system gave none.
    ringer: Option<StdDatagram>,
    here: Mutex<Here>,
    /// Rung when a slot is parked for the tasks of this process.
    parked: Notify,
    /// The one task of this process looking through the gate holds this.
    seeker: tokio::sync::Mutex<Option<Seeker>>,
    /// This process let the gate go after a full turn.
    yielded: AtomicBool,
}

/// What this process knows of its slots.
struct Here {
    /// Slots this process holds: a second lock on a file we hold would succeed.
    held: Vec<bool>,
    /// Tasks waiting for a slot.
    waiting: usize,
    /// Slots freed here and kept locked for a waiting task: (index, uses so far).
    parked: VecDeque<(usize, u32)>,
}

/// The gate, held, with the bell bound: this process is the one taking free slots.
/// Dropping it closes the bell, then the gate.
struct Seeker {
    bell: Option<UnixDatagram>,
    _gate: File,
    taken: u32,
    /// Not yet scanned since entering.
    fresh: bool,
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

impl Shared {
    fn open(n: u32, dir: &Path) -> anyhow::Result<Shared> {
        let fail = |e: std::io::Error| {
            UsageError::new(format!("cannot use shared budget '{}': {e}", dir.display()))
        };
        std::fs::create_dir_all(dir).map_err(fail)?;
        let files = (0..n)
            .map(|i| open_lock_file(&dir.join(format!("slot-{i}.lock"))))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        let gate_path = dir.join("gate.lock");
        open_lock_file(&gate_path).map_err(fail)?;
        let bell = bell_address(dir);
        let ringer = bell.as_ref().and_then(|_| {
            let socket = StdDatagram::unbound().ok()?;
            socket.set_nonblocking(true).ok()?;
            Some(socket)
        });
        Ok(Shared {
            here: Mutex::new(Here {
                held: vec![false; files.len()],
                waiting: 0,
                parked: VecDeque::new(),
            }),
            files,
            gate_path,
            bell,
            ringer,
            parked: Notify::new(),
            seeker: tokio::sync::Mutex::new(None),
            yielded: AtomicBool::new(false),
        })
    }

    fn here(&self) -> std::sync::MutexGuard<'_, Here> {
        self.here.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot, as (index, uses so far): parked here, or taken through the gate.
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

    /// Takes a free slot through the gate, as this process's one seeker.
    async fn seek(&self) -> usize {
        let mut seeker = self.seeker.lock().await;
        if seeker.is_none() {
            *seeker = Some(self.enter().await);
        }
        let state = seeker.as_mut().expect("entered above");
        // A fresh holder scans once; from then on every freed slot rings its bell (rings
        // queue up while it is not listening), so it scans again only when none comes.
        let mut scan = std::mem::take(&mut state.fresh) || state.bell.is_none();
        let rescan = if state.bell.is_some() {
            RESCAN
        } else {
            RESCAN_WITHOUT_BELL
        };
        let i = loop {
            if scan && let Some(i) = self.scan() {
                break i;
            }
            let hint = tokio::select! {
                rung = recv(state.bell.as_ref()) => rung,
                () = tokio::time::sleep(rescan) => None,
            };
            match hint {
                Some(i) if self.try_slot(i) => break i,
                Some(_) => scan = false,
                None => scan = true,
            }
        };
        state.taken += 1;
        // Let the others in when this process has had its turn or needs nothing more.
        if state.taken >= HOLD {
            *seeker = None;
            self.yielded.store(true, Relaxed);
        } else if self.here().waiting <= 1 {
            *seeker = None;
        }
        i
    }

    /// Waits for the gate (the kernel queues the processes waiting for it, so none of
    /// them spends CPU meanwhile), then binds the bell.
    async fn enter(&self) -> Seeker {
        // After a full turn, queue behind the processes already waiting.
        let queue = self.yielded.swap(false, Relaxed);
        let gate = loop {
            // A description of its own per try: an abandoned wait holds only its own.
            let Ok(file) = open_lock_file(&self.gate_path) else {
                tokio::time::sleep(RESCAN_WITHOUT_BELL).await;
                continue;
            };
            if !queue && file.try_lock().is_ok() {
                break file;
            }
            // If this task is dropped meanwhile, the file is closed as soon as the lock
            // arrives, which lets the gate go again.
            let waited = tokio::task::spawn_blocking(move || file.lock().map(|()| file)).await;
            if let Ok(Ok(file)) = waited {
                break file;
            }
        };
        let bell = self.bell.as_ref().and_then(|addr| {
            let socket = StdDatagram::bind_addr(addr).ok()?;
            socket.set_nonblocking(true).ok()?;
            UnixDatagram::from_std(socket).ok()
        });
        Seeker {
            bell,
            _gate: gate,
            taken: 0,
            fresh: true,
        }
    }

    fn scan(&self) -> Option<usize> {
        let n = self.files.len();
        let start = fastrand::usize(0..n);
        (0..n).map(|k| (start + k) % n).find(|&i| self.try_slot(i))
    }

    fn try_slot(&self, i: usize) -> bool {
        let mut here = self.here();
        let free = i < self.files.len() && !here.held[i] && self.files[i].try_lock().is_ok();
        if free {
            here.held[i] = true;
        }
        free
    }

    fn release(&self, i: usize, uses: u32) {
        let mut here = self.here();
        if uses + 1 < REUSE && here.waiting > here.parked.len() {
            here.parked.push_back((i, uses + 1));
            drop(here);
            self.parked.notify_one();
            return;
        }
        self.unlock(&mut here, i);
    }

    /// Gives slot `i` back to every process and rings the bell with its number.
    fn unlock(&self, here: &mut Here, i: usize) {
        // Closing would also unlock; unlocking keeps the file open for the next request.
        let _ = self.files[i].unlock();
        here.held[i] = false;
        if let (Some(ringer), Some(bell)) = (&self.ringer, &self.bell) {
            // Nobody listening (no process waits) or a full queue: the rescan covers both.
            let _ = ringer.send_to_addr(&(i as u32).to_le_bytes(), bell);
        }
    }
}

/// Counts a waiting task for as long as it waits. When the last one leaves (served, or
/// dropped on Ctrl-C), slots parked for nobody go back, and so does the gate.
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
        while here.parked.len() > here.waiting {
            let (i, _) = here.parked.pop_back().expect("longer than waiting");
            self.0.unlock(&mut here, i);
        }
        if here.waiting == 0 {
            drop(here);
            if let Ok(mut seeker) = self.0.seeker.try_lock() {
                *seeker = None;
            }
        }
    }
}

/// The slot number of the next ring; None for a datagram that is not one. Without a bell,
/// never: the rescan does the work.
async fn recv(bell: Option<&UnixDatagram>) -> Option<usize> {
    let Some(bell) = bell else {
        return std::future::pending().await;
    };
    let mut rung = [0u8; 4];
    match bell.recv(&mut rung).await {
        Ok(4) => Some(u32::from_le_bytes(rung) as usize),
        _ => None,
    }
}

/// The bell's address: a name in the abstract socket namespace made from DIR, so every
/// process using DIR rings the same bell and nothing is left on disk. Linux only.
#[cfg(target_os = "linux")]
fn bell_address(dir: &Path) -> Option<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    let dir = std::fs::canonicalize(dir).ok()?;
    let name = format!(
        "ktpipe-budget-{:016x}",
        ktpipe_common::hash::hash_u64(dir.as_os_str().as_bytes())
    );
    std::os::unix::net::SocketAddr::from_abstract_name(name).ok()
}

#[cfg(not(target_os = "linux"))]
fn bell_address(_dir: &Path) -> Option<std::os::unix::net::SocketAddr> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(5);

    fn index(slot: &Slot) -> Option<usize> {
        slot.index.map(|(i, _)| i)
    }

    /// What a spawned waiter got, failing the test if it is not served within [`LONG`].
    async fn served<T>(task: tokio::task::JoinHandle<T>) -> T {
        tokio::time::timeout(LONG, task)
            .await
            .expect("served in time")
            .expect("the task ran to the end")
    }

    #[tokio::test]
    async fn two_budgets_on_one_dir_share_its_slots() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Budget::new(2, Some(dir.path())).expect("budget a");
        let b = Budget::new(2, Some(dir.path())).expect("budget b");
        let first = a.acquire().await;
        let second = b.acquire().await;
        assert_ne!(index(&first), index(&second));
        let waiting = tokio::time::timeout(Duration::from_millis(50), a.acquire()).await;
        assert!(waiting.is_err(), "a third slot must not be granted");
        drop(second);
        let third = tokio::time::timeout(LONG, a.acquire()).await;
        assert!(third.is_ok(), "a released slot is taken again");
    }

    #[tokio::test]
    async fn a_slot_freed_while_a_task_here_waits_goes_to_it_still_locked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Budget::new(1, Some(dir.path())).expect("budget a");
        let b = Budget::new(1, Some(dir.path())).expect("budget b");
        let held = a.acquire().await;
        let a2 = Arc::clone(&a);
        let local = tokio::spawn(async move { a2.acquire().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // b waits too, but a's freed slot must stay with a's waiting task.
        let other = tokio::spawn(async move { index(&b.acquire().await) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        let reused = served(local).await;
        assert_eq!(reused.index, Some((0, 1)), "handed over, one use so far");
        assert!(!other.is_finished(), "the slot never left process a");
        drop(reused);
        let taken = served(other).await;
        assert_eq!(
            taken,
            Some(0),
            "with nobody waiting in a, the slot goes back to all"
        );
    }

    #[tokio::test]
    async fn a_slot_is_reused_here_a_bounded_number_of_times() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Budget::new(1, Some(dir.path())).expect("budget a");
        let mut slot = a.acquire().await;
        for uses in 1..REUSE {
            let a2 = Arc::clone(&a);
            let next = tokio::spawn(async move { a2.acquire().await });
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(slot);
            slot = served(next).await;
            assert_eq!(slot.index, Some((0, uses)));
        }
        let a2 = Arc::clone(&a);
        let next = tokio::spawn(async move { a2.acquire().await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(slot);
        let fresh = served(next).await;
        assert_eq!(
            fresh.index,
            Some((0, 0)),
            "back through the gate after {REUSE} uses"
        );
    }

    #[test]
    fn a_waiter_that_gives_up_at_the_gate_lets_it_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let budget = |_| Budget::new(1, Some(dir.path())).expect("budget");
        let (a, b, c, d) = (budget(0), budget(1), budget(2), budget(3));
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let let_go = runtime.block_on(async move {
            let held = a.acquire().await;
            // c holds the gate while it waits; b queues for it in the kernel, gives up.
            let first = tokio::spawn(async move { index(&c.acquire().await) });
            tokio::time::sleep(Duration::from_millis(30)).await;
            let gave_up = tokio::time::timeout(Duration::from_millis(30), b.acquire()).await;
            assert!(gave_up.is_err());
            drop(held);
            let first = tokio::time::timeout(LONG, first).await.expect("served");
            assert_eq!(first.expect("task"), Some(0));
            // b's abandoned wait gets the gate now, and must let it go again.
            tokio::time::sleep(Duration::from_millis(50)).await;
            tokio::time::timeout(Duration::from_secs(2), d.acquire())
                .await
                .is_ok()
        });
        // A gate never let go would keep a blocking thread waiting: do not wait for it.
        runtime.shutdown_background();
        assert!(let_go, "the gate was never let go");
    }

    #[tokio::test]
    async fn a_ring_serves_the_gate_holder_before_any_rescan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Budget::new(1, Some(dir.path())).expect("budget a");
        let b = Budget::new(1, Some(dir.path())).expect("budget b");
        let held = a.acquire().await;
        let waiter = tokio::spawn(async move {
            let slot = b.acquire().await;
            (index(&slot), std::time::Instant::now())
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        let freed = std::time::Instant::now();
        drop(held);
        let (got, at) = served(waiter).await;
        assert_eq!(got, Some(0));
        if cfg!(target_os = "linux") {
            // Rescans come every RESCAN; only the bell serves sooner than a whole period.
            assert!(at - freed < RESCAN, "served after {:?}", at - freed);
        }
    }

    #[tokio::test]
    async fn a_slot_freed_without_a_ring_is_found_by_the_rescan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let budget = Budget::new(1, Some(dir.path())).expect("budget");
        // Another process's slot, locked through a description of its own and then closed,
        // as the kernel does for a process that dies: no bell rings.
        let other = open_lock_file(&dir.path().join("slot-0.lock")).expect("open");
        other.lock().expect("lock");
        let waiter = tokio::spawn(async move { index(&budget.acquire().await) });
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(other);
        let got = served(waiter).await;
        assert_eq!(got, Some(0));
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
