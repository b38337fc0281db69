//! The budget's parts together: budgets on one directory stand for processes of their own.

use std::fs::File;
use std::os::unix::net::UnixDatagram as StdDatagram;

use super::slots::open_lock_file;
use super::*;

/// Rescans so rare that a waiter served within [`LONG`] was served by a ring.
const NEVER: Duration = Duration::from_secs(3600);

const LONG: Duration = Duration::from_secs(5);

/// `N` budgets of `n` slots sharing `dir`, each standing for a process of its own.
fn sharing<const N: usize>(dir: &Path, n: u32) -> [Arc<Budget>; N] {
    std::array::from_fn(|_| Budget::new(n, Some(dir)).expect("budget"))
}

/// As [`sharing`], rescanning only when they begin to wait: after that, only a ring
/// serves them.
fn ringing<const N: usize>(dir: &Path, n: u32) -> [Arc<Budget>; N] {
    std::array::from_fn(|_| Budget::with_rescan(n, Some(dir), NEVER).expect("budget"))
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
    let [a, b, c] = ringing(dir.path(), 1);
    let held = a.acquire().await;
    let (b2, c2) = (Arc::clone(&b), Arc::clone(&c));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (name, budget) in [("b", b2), ("c", c2)] {
        let tx = tx.clone();
        tokio::spawn(async move {
            let slot = budget.acquire().await;
            tx.send(name).expect("send");
            // Held until the test ends the runtime.
            std::future::pending::<()>().await;
            drop(slot);
        });
    }
    listening(&b).await;
    listening(&c).await;
    drop(held);
    let first = tokio::time::timeout(LONG, rx.recv())
        .await
        .expect("served by the ring")
        .expect("a waiter");
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(
        rx.try_recv().is_err(),
        "one slot served {first} and another"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_process_that_stops_waiting_passes_its_ring_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let [a, b, c] = ringing(dir.path(), 1);
    let held = a.acquire().await;
    // b listens first, so it has bell 0, the one a's first ring tries.
    let mut gives_up = Box::pin(b.acquire());
    tokio::select! {
        _ = &mut gives_up => panic!("no slot is free"),
        () = listening(&b) => {}
    }
    let c2 = Arc::clone(&c);
    let waiter = tokio::spawn(async move { index(&c2.acquire().await) });
    listening(&c).await;
    drop(held);
    // The ring waits unread at b's bell; b gives up before reading it.
    drop(gives_up);
    assert_eq!(served(waiter).await, Some(0));
}

#[tokio::test]
async fn a_ring_serves_a_waiting_process_without_a_rescan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let [a, b] = ringing(dir.path(), 1);
    let held = a.acquire().await;
    let b2 = Arc::clone(&b);
    let waiter = tokio::spawn(async move { index(&b2.acquire().await) });
    if cfg!(target_os = "linux") {
        listening(&b).await;
    }
    drop(held);
    assert_eq!(served(waiter).await, Some(0));
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
    let bell = shared
        .bells
        .addr(shared.here().bell.expect("a bell"))
        .clone();
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
    let got = tokio::time::timeout(LONG, waiter).await;
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
