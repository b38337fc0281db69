//! The request budget: at most N requests in flight, in this process or, with
//! `--shared-budget DIR`, across every llm-call using DIR.
//!
//! The shared budget is N lock files `DIR/slot-<i>.lock`; a request holds one (an exclusive
//! `flock`) while in flight, and the kernel drops the locks of a process that dies, so a
//! crash never leaks budget. Waiting costs nothing while the budget is full, and a freed
//! slot wakes one process, the one that gets it:
//! - a slot freed while another task of the same process waits goes straight to it, still
//!   locked, up to [`REUSE`] times in a row before it goes back to every process;
//! - a process with tasks waiting listens on a bell of its own, a datagram socket named
//!   after DIR and a bell number in Linux's abstract socket namespace, and says so by a
//!   shared lock on `DIR/waiting.lock`;
//! - a process that frees a slot for everyone sends its number to one listening bell, the
//!   next after the one it rang last, and rings nobody when `waiting.lock` shows nobody
//!   waits (its exclusive try then succeeds);
//! - a listener that stops listening passes on the rings it did not use. A slot freed
//!   without a ring (its process died, or a ring was lost at a bell just closing) is found
//!   by a slow rescan, which runs when a slot is given back here after it fell due (a turn
//!   a reply brought anyway), or a period later on its own timer; without a bell the
//!   rescan is fast and on time.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::os::unix::net::{SocketAddr, UnixDatagram as StdDatagram};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ktpipe_common::UsageError;
use tokio::net::UnixDatagram;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Requests a slot may serve in this process in a row while other tasks here wait, before
/// it goes back to every process: fewer cross-process hand-overs (each wakes a process
/// that has nothing else to do), and still fair.
const REUSE: u32 = 16;
/// Bells per budget directory: processes waiting at once with a bell; any more poll.
const BELLS: usize = 16;
/// How often a listening process rescans the slots while no ring comes: slots of a process
/// that died are freed by the kernel, silently. Rings serve every other case, so this is
/// slow: each rescan wakes every waiting process to try every slot.
const RESCAN: Duration = Duration::from_secs(1);
/// The rescan period without a bell.
const RESCAN_WITHOUT_BELL: Duration = Duration::from_millis(5);
/// How long a process tries to say it waits while another holds `waiting.lock` to look.
const REGISTER_TRIES: u32 = 20;

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
    /// `DIR/waiting.lock`: each listening process holds a shared lock on it.
    waiting_path: std::path::PathBuf,
    /// A description of `waiting.lock` of this process's own, to look whether anybody
    /// waits: its exclusive lock succeeds only while nobody listens.
    probe: File,
    /// Every bell's address; empty where bells cannot be used.
    bells: Vec<SocketAddr>,
    /// Unbound socket that rings the bells; None if the system gave none.
    ringer: Option<StdDatagram>,
    /// The bell rung last from here: the next ring tries the one after it first.
    last_rung: AtomicUsize,
    here: Mutex<Here>,
    /// Rung when a slot is parked for the tasks of this process.
    parked: Notify,
    /// Rung when a slot is given back here after the seeker's rescan fell due, so that the
    /// rescan rides on that turn instead of a timer's.
    scan_due: Notify,
    /// The one task of this process looking for a free slot holds this. The listener stays
    /// from one task to the next for as long as any task here waits, rings queued and all.
    seeker: tokio::sync::Mutex<Option<Listener>>,
}

/// What this process knows of its slots.
struct Here {
    /// Slots this process holds: a second lock on a file we hold would succeed.
    held: Vec<bool>,
    /// Tasks waiting for a slot.
    waiting: usize,
    /// Slots freed here and kept locked for a waiting task: (index, uses so far).
    parked: VecDeque<(usize, u32)>,
    /// The number of this process's bell while it listens.
    bell: Option<usize>,
    /// When the listening seeker's rescan falls due; None when nobody listens with a bell.
    scan_at: Option<tokio::time::Instant>,
}

/// A process waiting for a slot of another: its bell, and its say that it waits.
struct Listener {
    /// The bell's number and socket; None when none could be bound (then it polls).
    bell: Option<(usize, UnixDatagram)>,
    /// The shared lock on `waiting.lock`, held while listening.
    _registered: Option<File>,
    /// When to scan the slots next, whatever rings come meanwhile: from the start, then
    /// every rescan period.
    next_scan: tokio::time::Instant,
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
        let waiting_path = dir.join("waiting.lock");
        let probe = open_lock_file(&waiting_path).map_err(fail)?;
        let bells = bell_addresses(dir);
        let ringer = (!bells.is_empty())
            .then(|| {
                let socket = StdDatagram::unbound().ok()?;
                socket.set_nonblocking(true).ok()?;
                Some(socket)
            })
            .flatten();
        Ok(Shared {
            here: Mutex::new(Here {
                held: vec![false; files.len()],
                waiting: 0,
                parked: VecDeque::new(),
                bell: None,
                scan_at: None,
            }),
            files,
            waiting_path,
            probe,
            bells,
            ringer,
            last_rung: AtomicUsize::new(BELLS - 1),
            parked: Notify::new(),
            scan_due: Notify::new(),
            seeker: tokio::sync::Mutex::new(None),
        })
    }

    fn here(&self) -> std::sync::MutexGuard<'_, Here> {
        self.here.lock().unwrap_or_else(|e| e.into_inner())
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
    /// scanning again every rescan period.
    async fn seek(&self) -> usize {
        let mut seeker = self.seeker.lock().await;
        if seeker.is_none() {
            *seeker = Some(self.listen().await);
        }
        let Listener {
            bell, next_scan, ..
        } = seeker.as_mut().expect("listening above");
        let bell = bell.as_ref().map(|(_, socket)| socket);
        // With a bell, a rescan that falls due waits for the next slot given back here (a
        // turn that a reply brought anyway), and its timer, a period later, serves a
        // process whose requests are all elsewhere. Without a bell it polls on time.
        let (period, slack) = if bell.is_some() {
            (RESCAN, RESCAN)
        } else {
            (RESCAN_WITHOUT_BELL, Duration::ZERO)
        };
        let i = loop {
            // On a schedule of its own: rings that fail (the slot taken first) and tasks
            // handed parked slots must not put the rescan off.
            if tokio::time::Instant::now() >= *next_scan {
                *next_scan = tokio::time::Instant::now() + period;
                if let Some(i) = self.scan() {
                    break i;
                }
            }
            if bell.is_some() {
                self.here().scan_at = Some(*next_scan);
            }
            let hint = tokio::select! {
                rung = recv(bell) => rung,
                () = self.scan_due.notified() => None,
                () = tokio::time::sleep_until(*next_scan + slack) => None,
            };
            // A ring for a slot someone else took first is passed over.
            if let Some(i) = hint
                && self.try_slot(i)
            {
                break i;
            }
        };
        // This task is still counted: nobody else here waits.
        if self.here().waiting <= 1
            && let Some(listener) = seeker.take()
        {
            self.stop_listening(listener);
        }
        i
    }

    /// Says this process waits, then binds the first free bell. A ring sent in between
    /// finds no bell and goes to another process, and the scan the new listener starts with
    /// finds its slot free; a listen dropped while it waits to say so holds no bell whose
    /// rings would be lost.
    async fn listen(&self) -> Listener {
        let registered = if self.bells.is_empty() {
            None
        } else {
            self.register().await
        };
        let bell = registered.as_ref().and_then(|_| {
            self.bells.iter().enumerate().find_map(|(k, addr)| {
                let socket = StdDatagram::bind_addr(addr).ok()?;
                socket.set_nonblocking(true).ok()?;
                Some((k, UnixDatagram::from_std(socket).ok()?))
            })
        });
        // Without a bell it polls, and says nothing that would draw rings to it.
        let registered = registered.filter(|_| bell.is_some());
        self.here().bell = bell.as_ref().map(|(k, _)| *k);
        Listener {
            bell,
            _registered: registered,
            next_scan: tokio::time::Instant::now(),
        }
    }

    /// A shared lock on `waiting.lock`, through a description of its own.
    async fn register(&self) -> Option<File> {
        let file = open_lock_file(&self.waiting_path).ok()?;
        for _ in 0..REGISTER_TRIES {
            if file.try_lock_shared().is_ok() {
                return Some(file);
            }
            // A releaser holds it for a moment to look whether anybody waits.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        None
    }

    /// Stops listening: unsays the wait, closes the bell, and passes on the rings it got
    /// and did not use (a ring that comes between the last read and the close is lost; the
    /// rescan of the others finds its slot).
    fn stop_listening(&self, listener: Listener) {
        let Listener {
            bell, _registered, ..
        } = listener;
        drop(_registered);
        {
            let mut here = self.here();
            here.bell = None;
            here.scan_at = None;
        }
        let Some((_, socket)) = bell else {
            return;
        };
        // Read through the socket itself: tokio's try_recv reads only once its driver has
        // seen the socket readable, which a ring sent in this same turn has not been.
        let Ok(socket) = socket.into_std() else {
            return;
        };
        let mut unused = Vec::new();
        let mut rung = [0u8; 4];
        while let Ok(4) = socket.recv(&mut rung) {
            unused.push(u32::from_le_bytes(rung) as usize);
        }
        drop(socket);
        for i in unused {
            self.ring(i, None);
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
        let scan = here
            .scan_at
            .take_if(|at| tokio::time::Instant::now() >= *at)
            .is_some();
        if uses + 1 < REUSE && here.waiting > here.parked.len() {
            here.parked.push_back((i, uses + 1));
            drop(here);
            self.parked.notify_one();
        } else {
            self.unlock(&mut here, i);
            drop(here);
        }
        if scan {
            self.scan_due.notify_one();
        }
    }

    /// Gives slot `i` back to every process and rings one waiting process with its number.
    fn unlock(&self, here: &mut Here, i: usize) {
        // Closing would also unlock; unlocking keeps the file open for the next request.
        let _ = self.files[i].unlock();
        here.held[i] = false;
        self.ring(i, here.bell);
    }

    /// Sends slot number `i` to one listening bell: the bells after the one rung last in
    /// turn, this process's own (`own`) last, so a slot given back after its uses here
    /// goes to another process that waits before it comes back.
    fn ring(&self, i: usize, own: Option<usize>) {
        let Some(ringer) = &self.ringer else {
            return;
        };
        if self.nobody_waits() {
            return;
        }
        let message = (i as u32).to_le_bytes();
        let n = self.bells.len();
        let after = self.last_rung.load(Relaxed);
        // An unbound bell refuses at once, a full one too; both go on to the next.
        let rang = (1..=n)
            .map(|k| (after + k) % n)
            .filter(|&j| Some(j) != own)
            .find(|&j| ringer.send_to_addr(&message, &self.bells[j]).is_ok());
        match (rang, own) {
            (Some(j), _) => self.last_rung.store(j, Relaxed),
            (None, Some(j)) => {
                let _ = ringer.send_to_addr(&message, &self.bells[j]);
            }
            (None, None) => {}
        }
    }

    /// Whether no process listens: nobody holds its shared lock on `waiting.lock`.
    fn nobody_waits(&self) -> bool {
        let nobody = self.probe.try_lock().is_ok();
        if nobody {
            let _ = self.probe.unlock();
        }
        nobody
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
        while here.parked.len() > here.waiting {
            let (i, _) = here.parked.pop_back().expect("longer than waiting");
            self.0.unlock(&mut here, i);
        }
        if here.waiting == 0 {
            drop(here);
            // Nobody waits, so no seeker holds the lock.
            if let Ok(mut seeker) = self.0.seeker.try_lock()
                && let Some(listener) = seeker.take()
            {
                self.0.stop_listening(listener);
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

/// The bells' addresses: names in the abstract socket namespace made from DIR and a bell
/// number, so every process using DIR finds the same bells and nothing is left on disk.
/// Linux only.
#[cfg(target_os = "linux")]
fn bell_addresses(dir: &Path) -> Vec<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return Vec::new();
    };
    let base = format!(
        "ktpipe-budget-{:016x}",
        ktpipe_common::hash::hash_u64(dir.as_os_str().as_bytes())
    );
    (0..BELLS)
        .map(|k| SocketAddr::from_abstract_name(format!("{base}-{k}")))
        .collect::<Result<_, _>>()
        .unwrap_or_default()
}

#[cfg(not(target_os = "linux"))]
fn bell_addresses(_dir: &Path) -> Vec<SocketAddr> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(5);

    /// `N` budgets of `n` slots sharing `dir`, each standing for a process of its own.
    fn sharing<const N: usize>(dir: &Path, n: u32) -> [Arc<Budget>; N] {
        std::array::from_fn(|_| Budget::new(n, Some(dir)).expect("budget"))
    }

    /// Slot `i` locked by another process, through a description of its own.
    fn held_elsewhere(dir: &Path, i: usize) -> File {
        let file = open_lock_file(&dir.join(format!("slot-{i}.lock"))).expect("open");
        file.lock().expect("lock");
        file
    }

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
        let [a, b] = sharing(dir.path(), 2);
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
        let [a, b] = sharing(dir.path(), 1);
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

    /// Waits until `budget` listens for rings (it holds its bell), failing after [`LONG`].
    async fn listening(budget: &Budget) {
        let shared = budget.shared.as_ref().expect("shared");
        tokio::time::timeout(LONG, async {
            while shared.here().bell.is_none() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("listening in time");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_freed_slot_wakes_one_waiting_process() {
        let dir = tempfile::tempdir().expect("tempdir");
        let [a, b, c] = sharing(dir.path(), 1);
        let held = a.acquire().await;
        let (b2, c2) = (Arc::clone(&b), Arc::clone(&c));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (name, budget) in [("b", b2), ("c", c2)] {
            let tx = tx.clone();
            tokio::spawn(async move {
                let slot = budget.acquire().await;
                tx.send((name, std::time::Instant::now())).expect("send");
                // Held until the test ends the runtime.
                std::future::pending::<()>().await;
                drop(slot);
            });
        }
        listening(&b).await;
        listening(&c).await;
        let freed = std::time::Instant::now();
        drop(held);
        let (first, at) = tokio::time::timeout(LONG, rx.recv())
            .await
            .expect("served")
            .expect("a waiter");
        // The first rescan comes a whole RESCAN after the waiters began to listen; a ring
        // serves at once.
        assert!(
            at - freed < RESCAN / 4,
            "{first} served after {:?}",
            at - freed
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(rx.try_recv().is_err(), "one slot served one process");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn nobody_is_rung_while_nobody_waits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Budget::new(1, Some(dir.path())).expect("budget a");
        let shared = a.shared.as_ref().expect("shared");
        // A bell bound by hand, heard only once it says it waits.
        let bell = StdDatagram::bind_addr(&shared.bells[0]).expect("bind bell 0");
        bell.set_nonblocking(true).expect("nonblocking");
        let mut rung = [0u8; 4];
        drop(a.acquire().await);
        assert!(bell.recv(&mut rung).is_err(), "rung while nobody waits");
        let say = open_lock_file(&dir.path().join("waiting.lock")).expect("open");
        say.try_lock_shared().expect("shared lock");
        drop(a.acquire().await);
        assert_eq!(bell.recv(&mut rung).expect("rung"), 4);
        assert_eq!(u32::from_le_bytes(rung), 0);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_process_that_stops_waiting_passes_its_ring_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let [a, b, c] = sharing(dir.path(), 1);
        let held = a.acquire().await;
        // b listens first, so it has bell 0, the one a's first ring tries.
        let mut gives_up = Box::pin(b.acquire());
        tokio::select! {
            _ = &mut gives_up => panic!("no slot is free"),
            () = listening(&b) => {}
        }
        let c2 = Arc::clone(&c);
        let waiter = tokio::spawn(async move {
            let slot = c2.acquire().await;
            (index(&slot), std::time::Instant::now())
        });
        listening(&c).await;
        let freed = std::time::Instant::now();
        drop(held);
        // The ring waits unread at b's bell; b gives up before reading it.
        drop(gives_up);
        let (got, at) = served(waiter).await;
        assert_eq!(got, Some(0));
        assert!(at - freed < RESCAN / 4, "served after {:?}", at - freed);
    }

    #[tokio::test]
    async fn a_ring_serves_a_waiting_process_before_any_rescan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let [a, b] = sharing(dir.path(), 1);
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
            // The first rescan comes a whole RESCAN after the waiter began to listen; a
            // ring serves at once.
            assert!(at - freed < RESCAN / 4, "served after {:?}", at - freed);
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_rescan_due_rides_on_a_slot_given_back_here() {
        let dir = tempfile::tempdir().expect("tempdir");
        let budget = Budget::new(2, Some(dir.path())).expect("budget");
        let dies = held_elsewhere(dir.path(), 1);
        let held = budget.acquire().await;
        assert_eq!(index(&held), Some(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let b = Arc::clone(&budget);
                // Each keeps its slot, so the second can only be served by the rescan.
                tokio::spawn(async move {
                    let slot = b.acquire().await;
                    (slot, std::time::Instant::now())
                })
            })
            .collect();
        listening(&budget).await;
        // Slot 1 is freed as by a process that died: no ring for it. Its rescan falls due
        // after RESCAN, but with no turn here to ride on it waits for its timer.
        drop(dies);
        tokio::time::sleep(RESCAN + Duration::from_millis(100)).await;
        assert!(
            waiters.iter().all(|w| !w.is_finished()),
            "a rescan ran on its timer at RESCAN"
        );
        // Giving slot 0 back here parks it for one waiter and runs the rescan due, which
        // finds slot 1 for the other, both well before the timer at twice RESCAN.
        let freed = std::time::Instant::now();
        drop(held);
        let mut slots = Vec::new();
        for waiter in waiters {
            let (slot, at) = served(waiter).await;
            assert!(at - freed < RESCAN / 4, "served after {:?}", at - freed);
            slots.push(slot);
        }
        let mut got: Vec<usize> = slots.iter().filter_map(index).collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1]);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn rings_that_keep_failing_do_not_put_the_rescan_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let budget = Budget::new(2, Some(dir.path())).expect("budget");
        let (kept, dies) = (held_elsewhere(dir.path(), 0), held_elsewhere(dir.path(), 1));
        let b = Arc::clone(&budget);
        let waiter = tokio::spawn(async move { index(&b.acquire().await) });
        listening(&budget).await;
        let shared = budget.shared.as_ref().expect("shared");
        let bell = shared.bells[shared.here().bell.expect("a bell")].clone();
        // Stale rings, for the slot still held, every 50 ms.
        let ringer = tokio::spawn(async move {
            let socket = StdDatagram::unbound().expect("socket");
            loop {
                let _ = socket.send_to_addr(&0u32.to_le_bytes(), &bell);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        // Slot 1 is freed as by a process that died: no ring for it.
        drop(dies);
        let got = tokio::time::timeout(RESCAN * 3, waiter).await;
        ringer.abort();
        drop(kept);
        assert_eq!(got.expect("found by a rescan").expect("task"), Some(1));
    }

    #[tokio::test]
    async fn a_slot_freed_without_a_ring_is_found_by_the_rescan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let budget = Budget::new(1, Some(dir.path())).expect("budget");
        // Another process's slot, locked through a description of its own and then closed,
        // as the kernel does for a process that dies: no bell rings.
        let other = held_elsewhere(dir.path(), 0);
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
