//! How a process waiting for a slot of the shared budget learns that one is free.
//! - It listens on a bell of its own, a datagram socket named after DIR and a bell number
//!   in Linux's abstract socket namespace, and says so by a shared lock on
//!   `DIR/waiting.lock`.
//! - A process that frees a slot sends its number to one listening bell, the next after the
//!   one it rang last, and rings nobody when `waiting.lock` shows nobody waits.
//! - A listener that stops listening passes on the rings it did not use.
//! - A slot freed without a ring (its process died, or a ring was lost at a bell just
//!   closing) is found by a rescan on a plain timer: slow with a bell, fast without one.

use std::fs::File;
use std::os::unix::net::{SocketAddr, UnixDatagram as StdDatagram};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use tokio::net::UnixDatagram;

use super::slots::open_lock_file;

/// Bells per budget directory: processes waiting at once with a bell; any more poll.
pub const BELLS: usize = 16;
/// How often a listener rescans the slots: rings serve every case but a process that died.
pub const RESCAN: Duration = Duration::from_secs(1);
/// How often a process without a bell rescans.
const RESCAN_WITHOUT_BELL: Duration = Duration::from_millis(5);
/// How long a process tries to say it waits while another holds `waiting.lock` to look.
const REGISTER_TRIES: u32 = 20;

/// The bells of one budget directory.
pub struct Bells {
    /// Every bell's address; empty where bells cannot be used.
    addrs: Vec<SocketAddr>,
    /// Unbound socket that rings the bells; None if the system gave none.
    ringer: Option<StdDatagram>,
    /// The bell rung last from here: the next ring tries the one after it first.
    last_rung: AtomicUsize,
    /// `DIR/waiting.lock`: each listening process holds a shared lock on it.
    waiting_path: PathBuf,
    /// A description of `waiting.lock` of this process's own: its exclusive lock succeeds
    /// only while nobody listens.
    probe: File,
    /// The rescan period of a listener with a bell.
    rescan: Duration,
}

/// A process waiting for a slot of another: its bell, and its say that it waits.
pub struct Listener {
    /// The bell's number and socket; None when none could be bound (then it polls).
    bell: Option<(usize, UnixDatagram)>,
    /// The shared lock on `waiting.lock`, held while listening.
    _registered: Option<File>,
    /// The rescan period of this listener.
    pub rescan: Duration,
}

impl Bells {
    /// The bells of `dir`, rescanning every `rescan` while listening with one.
    pub fn open(dir: &Path, rescan: Duration) -> std::io::Result<Self> {
        let waiting_path = dir.join("waiting.lock");
        let probe = open_lock_file(&waiting_path)?;
        let addrs = bell_addresses(dir);
        let ringer = (!addrs.is_empty())
            .then(|| {
                let socket = StdDatagram::unbound().ok()?;
                socket.set_nonblocking(true).ok()?;
                Some(socket)
            })
            .flatten();
        Ok(Bells {
            addrs,
            ringer,
            last_rung: AtomicUsize::new(BELLS - 1),
            waiting_path,
            probe,
            rescan,
        })
    }

    /// Says this process waits, then binds the first free bell. A ring sent in between
    /// finds no bell and goes to another process, and the scan the new listener starts with
    /// finds its slot free.
    pub async fn listen(&self) -> Listener {
        let registered = if self.addrs.is_empty() {
            None
        } else {
            self.register().await
        };
        let bell = registered.as_ref().and_then(|_| {
            self.addrs.iter().enumerate().find_map(|(k, addr)| {
                let socket = StdDatagram::bind_addr(addr).ok()?;
                socket.set_nonblocking(true).ok()?;
                Some((k, UnixDatagram::from_std(socket).ok()?))
            })
        });
        // Without a bell it polls, and says nothing that would draw rings to it.
        let registered = registered.filter(|_| bell.is_some());
        let rescan = if bell.is_some() {
            self.rescan
        } else {
            RESCAN_WITHOUT_BELL
        };
        Listener {
            bell,
            _registered: registered,
            rescan,
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
    pub fn stop(&self, listener: Listener) {
        let Listener {
            bell, _registered, ..
        } = listener;
        drop(_registered);
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

    /// Sends slot number `i` to one listening bell: the bells after the one rung last in
    /// turn, this process's own (`own`) last, so a slot given back after its uses here
    /// goes to another process that waits before it comes back.
    pub fn ring(&self, i: usize, own: Option<usize>) {
        let Some(ringer) = &self.ringer else {
            return;
        };
        if self.nobody_waits() {
            return;
        }
        let message = (i as u32).to_le_bytes();
        let n = self.addrs.len();
        let after = self.last_rung.load(Relaxed);
        // An unbound bell refuses at once, a full one too; both go on to the next.
        let rang = (1..=n)
            .map(|k| (after + k) % n)
            .filter(|&j| Some(j) != own)
            .find(|&j| ringer.send_to_addr(&message, &self.addrs[j]).is_ok());
        match (rang, own) {
            (Some(j), _) => self.last_rung.store(j, Relaxed),
            (None, Some(j)) => {
                let _ = ringer.send_to_addr(&message, &self.addrs[j]);
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

    /// The address of bell `k`, for tests that ring or listen by hand.
    #[cfg(test)]
    pub fn addr(&self, k: usize) -> &SocketAddr {
        &self.addrs[k]
    }
}

impl Listener {
    /// The number of this listener's bell, if it has one.
    pub fn number(&self) -> Option<usize> {
        self.bell.as_ref().map(|(k, _)| *k)
    }

    /// The slot number of the next ring; None for a datagram that is not one. Without a
    /// bell, never: the rescan does the work.
    pub async fn next_ring(&self) -> Option<usize> {
        let Some((_, bell)) = &self.bell else {
            return std::future::pending().await;
        };
        let mut rung = [0u8; 4];
        match bell.recv(&mut rung).await {
            Ok(4) => Some(u32::from_le_bytes(rung) as usize),
            _ => None,
        }
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nobody_is_rung_while_nobody_waits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bells = Bells::open(dir.path(), RESCAN).expect("bells");
        // A bell bound by hand, heard only once it says it waits.
        let bell = StdDatagram::bind_addr(bells.addr(0)).expect("bind bell 0");
        bell.set_nonblocking(true).expect("nonblocking");
        let mut rung = [0u8; 4];
        bells.ring(3, None);
        assert!(bell.recv(&mut rung).is_err(), "rung while nobody waits");
        let say = open_lock_file(&dir.path().join("waiting.lock")).expect("open");
        say.try_lock_shared().expect("shared lock");
        bells.ring(3, None);
        assert_eq!(bell.recv(&mut rung).expect("rung"), 4);
        assert_eq!(u32::from_le_bytes(rung), 3);
    }

    #[tokio::test]
    async fn a_listener_hears_a_ring_and_passes_on_the_ones_it_leaves_unread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bells = Bells::open(dir.path(), RESCAN).expect("bells");
        let first = bells.listen().await;
        let second = bells.listen().await;
        let (a, b) = (
            first.number().expect("a bell"),
            second.number().expect("a bell"),
        );
        assert_ne!(a, b);
        bells.ring(5, Some(b));
        assert_eq!(first.next_ring().await, Some(5));
        // Rung, then gone without reading it: the ring reaches the other listener.
        bells.ring(6, Some(b));
        bells.stop(first);
        assert_eq!(second.next_ring().await, Some(6));
    }
}
