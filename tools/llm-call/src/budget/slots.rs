//! The slot files of a shared budget: `DIR/slot-<i>.lock`, one per request in flight across
//! every process using DIR. A request holds one by an exclusive `flock`; the kernel drops
//! the locks of a process that dies, so a crash never leaks budget, and the slot is free to
//! the next scan.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// The slot files, and which of them this process holds.
pub struct Slots {
    files: Vec<File>,
    /// Slots this process holds: a second lock through our own description would succeed.
    held: Mutex<Vec<bool>>,
}

impl Slots {
    /// Opens (creating if needed) `n` slot files in `dir`.
    pub fn open(n: u32, dir: &Path) -> std::io::Result<Self> {
        let files = (0..n)
            .map(|i| open_lock_file(&dir.join(format!("slot-{i}.lock"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Slots {
            held: Mutex::new(vec![false; files.len()]),
            files,
        })
    }

    /// Takes slot `i` if no process holds it.
    pub fn try_take(&self, i: usize) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let free = i < self.files.len() && !held[i] && self.files[i].try_lock().is_ok();
        if free {
            held[i] = true;
        }
        free
    }

    /// Takes any free slot, trying them from a random one so processes spread out.
    pub fn scan(&self) -> Option<usize> {
        let n = self.files.len();
        let start = fastrand::usize(0..n.max(1));
        (0..n).map(|k| (start + k) % n).find(|&i| self.try_take(i))
    }

    /// Gives slot `i` back to every process.
    pub fn give_back(&self, i: usize) {
        // Closing would also unlock; unlocking keeps the file open for the next request.
        let _ = self.files[i].unlock();
        self.held.lock().unwrap_or_else(PoisonError::into_inner)[i] = false;
    }
}

/// Opens `path` for locking, creating it if needed.
pub fn open_lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_processes_never_hold_one_slot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (
            Slots::open(2, dir.path()).expect("a"),
            Slots::open(2, dir.path()).expect("b"),
        );
        let first = a.scan().expect("a slot");
        let second = b.scan().expect("another slot");
        assert_ne!(first, second);
        assert_eq!(a.scan(), None);
        assert!(!b.try_take(first));
        a.give_back(first);
        assert!(b.try_take(first));
    }

    #[test]
    fn a_slot_held_twice_here_is_not_taken_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let slots = Slots::open(1, dir.path()).expect("slots");
        assert!(slots.try_take(0));
        assert!(!slots.try_take(0), "our own lock would let it through");
        assert!(!slots.try_take(7), "no such slot");
    }

    #[test]
    fn the_slot_of_a_process_that_died_is_free_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let slots = Slots::open(1, dir.path()).expect("slots");
        // Another process's lock, through a description of its own; closing it is what the
        // kernel does when that process dies.
        let other = open_lock_file(&dir.path().join("slot-0.lock")).expect("open");
        other.lock().expect("lock");
        assert_eq!(slots.scan(), None);
        drop(other);
        assert_eq!(slots.scan(), Some(0));
    }
}
