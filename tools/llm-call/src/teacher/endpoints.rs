//! Several teacher replicas behind one llm-call. Each request goes to the healthy replica
//! with the fewest requests in flight (ties rotate). A replica that keeps failing (refused
//! or broken connections, timeouts, 5xx) is taken out for a cooldown that doubles each time
//! it fails again; when the cooldown is over, one probe request goes to it, and a reply of
//! any kind puts it back. When every replica is out, requests go to the one whose cooldown
//! ends first, so a run with a single endpoint behaves as if there were no breaker.
//!
//! The decisions live in [`Pool`], which takes the time as an argument, so they are tested
//! without waiting.

use std::io::Write;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::teacher::Failure;

/// Consecutive failures that take a replica out.
const TRIP_AFTER: u32 = 3;
/// The first cooldown; each failed probe doubles it.
const FIRST_COOLDOWN: Duration = Duration::from_secs(1);
/// The longest cooldown.
const MAX_COOLDOWN: Duration = Duration::from_secs(60);

/// The teacher replicas of a run and their health.
pub struct Endpoints {
    urls: Vec<reqwest::Url>,
    names: Vec<String>,
    label: String,
    pool: Mutex<Pool>,
}

impl Endpoints {
    /// The replicas at `urls` (at least one); `names` are how messages show them.
    pub fn new(urls: Vec<reqwest::Url>, names: Vec<String>, label: String) -> Self {
        let pool = Pool::new(urls.len(), Breaker::default());
        Endpoints {
            urls,
            names,
            label,
            pool: Mutex::new(pool),
        }
    }

    /// Picks the replica for one request; the lease counts it in flight until dropped.
    pub fn pick(&self) -> Lease<'_> {
        let (index, probe) = self.lock().choose(Instant::now());
        Lease {
            endpoints: self,
            index,
            probe,
            done: false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the user when a replica goes out or comes back (only with several replicas).
    fn announce(&self, index: usize, change: Change, failure: Option<&Failure>) {
        if self.urls.len() < 2 {
            return;
        }
        let name = &self.names[index];
        let line = match (change, failure) {
            (Change::Down(cooldown), Some(failure)) => format!(
                "warning: teacher '{name}' is failing ({failure}); the other replicas take its requests, next try in {}s",
                cooldown.as_secs_f64()
            ),
            _ => format!("teacher '{name}' answers again and takes requests"),
        };
        let _ = writeln!(std::io::stderr().lock(), "{}: {line}", self.label);
    }
}

/// One request's hold on a replica: counted in flight until dropped.
pub struct Lease<'a> {
    endpoints: &'a Endpoints,
    index: usize,
    probe: bool,
    done: bool,
}

impl Lease<'_> {
    /// The replica's chat completions URL.
    pub fn url(&self) -> &reqwest::Url {
        &self.endpoints.urls[self.index]
    }

    /// Records what the request's outcome says about the replica's health.
    pub fn report(&mut self, failure: Option<&Failure>) {
        let failing = failure.is_some_and(is_outage);
        let change = {
            let mut pool = self.endpoints.lock();
            pool.release(self.index, self.probe);
            pool.record(self.index, failing, self.probe, Instant::now())
        };
        self.done = true;
        if let Some(change) = change {
            self.endpoints.announce(self.index, change, failure);
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.endpoints.lock().release(self.index, self.probe);
        }
    }
}

/// True for failures that say the replica itself is unwell, rather than the request or its
/// reply (a 4xx, a 429 asking to slow down, a malformed or empty reply: the replica answered).
pub fn is_outage(failure: &Failure) -> bool {
    match failure {
        Failure::Status { code, .. } => *code >= 500,
        Failure::Malformed(_) | Failure::Empty | Failure::Truncated | Failure::OffFormat(_) => {
            false
        }
        // No connection, a broken or silent one, no reply in time.
        _ => true,
    }
}

/// When a replica is taken out and for how long.
#[derive(Debug, Clone, Copy)]
struct Breaker {
    trip_after: u32,
    first: Duration,
    max: Duration,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            trip_after: TRIP_AFTER,
            first: FIRST_COOLDOWN,
            max: MAX_COOLDOWN,
        }
    }
}

/// A replica going out (for this long) or coming back.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    Down(Duration),
    Up,
}

/// What is known about one replica.
#[derive(Debug, Default)]
struct Health {
    in_flight: u32,
    failures: u32,
    down_until: Option<Instant>,
    cooldown: Duration,
    probing: bool,
}

/// The health of every replica and the choices made from it, at a given time.
#[derive(Debug)]
struct Pool {
    slots: Vec<Health>,
    next: usize,
    breaker: Breaker,
}

impl Pool {
    fn new(count: usize, breaker: Breaker) -> Self {
        Pool {
            slots: (0..count.max(1)).map(|_| Health::default()).collect(),
            next: 0,
            breaker,
        }
    }

    /// The replica for a request at `now`, and whether the request is its probe: a replica
    /// whose cooldown is over gets one probe first; else the healthy one with the least in
    /// flight, ties taken in turn; else the one whose cooldown ends first.
    fn choose(&mut self, now: Instant) -> (usize, bool) {
        let count = self.slots.len();
        let order: Vec<usize> = (0..count).map(|k| (self.next + k) % count).collect();
        self.next = (self.next + 1) % count;
        let probe = order.iter().copied().find(|&i| {
            let h = &self.slots[i];
            h.down_until.is_some_and(|until| until <= now) && !h.probing
        });
        let (index, probe) = if let Some(i) = probe {
            (i, true)
        } else if let Some(i) = order
            .iter()
            .copied()
            .filter(|&i| self.slots[i].down_until.is_none())
            .min_by_key(|&i| self.slots[i].in_flight)
        {
            (i, false)
        } else {
            let i = order
                .iter()
                .copied()
                .min_by_key(|&i| (self.slots[i].down_until, self.slots[i].in_flight))
                .unwrap_or(0);
            (i, false)
        };
        let slot = &mut self.slots[index];
        slot.in_flight += 1;
        slot.probing |= probe;
        (index, probe)
    }

    /// A request on `index` ended (answered or abandoned).
    fn release(&mut self, index: usize, probe: bool) {
        let slot = &mut self.slots[index];
        slot.in_flight = slot.in_flight.saturating_sub(1);
        if probe {
            slot.probing = false;
        }
    }

    /// Learns from a request's outcome; returns the change of state, if any.
    fn record(&mut self, index: usize, failing: bool, probe: bool, now: Instant) -> Option<Change> {
        let breaker = self.breaker;
        let slot = &mut self.slots[index];
        if !failing {
            slot.failures = 0;
            slot.cooldown = Duration::ZERO;
            return slot.down_until.take().map(|_| Change::Up);
        }
        slot.failures = slot.failures.saturating_add(1);
        let cooldown = match slot.down_until {
            None if slot.failures >= breaker.trip_after => breaker.first,
            Some(_) if probe => (slot.cooldown * 2).min(breaker.max),
            _ => return None,
        };
        slot.cooldown = cooldown;
        slot.down_until = Some(now + cooldown);
        Some(Change::Down(cooldown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(count: usize) -> Pool {
        Pool::new(count, Breaker::default())
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn requests_go_to_the_least_loaded_replica_ties_in_turn() {
        let t = Instant::now();
        let mut p = pool(3);
        let first: Vec<usize> = (0..3).map(|_| p.choose(t).0).collect();
        assert_eq!(first, [0, 1, 2], "equal loads are spread");
        p.release(1, false);
        assert_eq!(
            p.choose(t),
            (1, false),
            "the replica with the fewest in flight"
        );
        p.release(0, false);
        p.release(1, false);
        p.release(2, false);
        let spread: Vec<usize> = (0..6)
            .map(|_| {
                let (i, _) = p.choose(t);
                p.release(i, false);
                i
            })
            .collect();
        let mut sorted = spread.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [0, 0, 1, 1, 2, 2],
            "one at a time still rotates: {spread:?}"
        );
    }

    #[test]
    fn repeated_failures_take_a_replica_out_and_a_success_resets_the_count() {
        let t = Instant::now();
        let mut p = pool(2);
        assert_eq!(p.record(0, true, false, t), None);
        assert_eq!(p.record(0, true, false, t), None);
        assert_eq!(
            p.record(0, false, false, t),
            None,
            "a reply resets the streak"
        );
        assert_eq!(p.record(0, true, false, t), None);
        assert_eq!(p.record(0, true, false, t), None);
        assert_eq!(p.record(0, true, false, t), Some(Change::Down(secs(1))));
        for _ in 0..5 {
            let (i, probe) = p.choose(t);
            assert_eq!((i, probe), (1, false), "the failing replica gets nothing");
        }
        assert_eq!(
            p.record(0, true, false, t),
            None,
            "late failures change nothing"
        );
    }

    #[test]
    fn after_the_cooldown_one_probe_goes_through_and_failures_double_the_cooldown() {
        let t = Instant::now();
        let mut p = pool(2);
        for _ in 0..3 {
            p.record(0, true, false, t);
        }
        let later = t + secs(1);
        assert_eq!(p.choose(later), (0, true), "the probe goes first");
        assert_eq!(p.choose(later), (1, false), "only one probe at a time");
        assert_eq!(p.choose(later), (1, false));
        p.release(0, true);
        assert_eq!(p.record(0, true, true, later), Some(Change::Down(secs(2))));
        assert_eq!(p.choose(later + secs(1)).0, 1, "still cooling down");
        let t3 = later + secs(2);
        assert_eq!(p.choose(t3), (0, true));
        p.release(0, true);
        assert_eq!(p.record(0, true, true, t3), Some(Change::Down(secs(4))));
        let t7 = t3 + secs(4);
        assert_eq!(p.choose(t7), (0, true));
        p.release(0, true);
        assert_eq!(p.record(0, false, true, t7), Some(Change::Up));
        assert_eq!(p.slots[0].cooldown, Duration::ZERO);
        p.release(1, false);
        p.release(1, false);
        p.release(1, false);
        assert_eq!(p.choose(t7).0, 0, "back in rotation, least loaded");
    }

    #[test]
    fn cooldowns_stop_growing_at_the_maximum() {
        let t = Instant::now();
        let mut p = pool(2);
        for _ in 0..3 {
            p.record(0, true, false, t);
        }
        let mut last = None;
        for _ in 0..10 {
            last = p.record(0, true, true, t);
        }
        assert_eq!(last, Some(Change::Down(MAX_COOLDOWN)));
    }

    #[test]
    fn an_abandoned_probe_lets_another_through() {
        let t = Instant::now();
        let mut p = pool(2);
        for _ in 0..3 {
            p.record(0, true, false, t);
        }
        let later = t + secs(1);
        assert_eq!(p.choose(later), (0, true));
        p.release(0, true);
        assert_eq!(p.choose(later), (0, true));
    }

    #[test]
    fn when_every_replica_is_out_the_first_to_cool_down_is_used() {
        let t = Instant::now();
        let mut p = pool(2);
        for _ in 0..3 {
            p.record(1, true, false, t);
        }
        for _ in 0..3 {
            p.record(0, true, false, t + secs(0) + Duration::from_millis(500));
        }
        assert_eq!(p.choose(t), (1, false));
        assert_eq!(p.choose(t), (1, false));
        let mut single = pool(1);
        for _ in 0..5 {
            single.record(0, true, false, t);
        }
        assert_eq!(single.choose(t), (0, false), "one replica is always used");
    }

    #[test]
    fn only_outages_count_against_a_replica() {
        let status = |code| Failure::Status {
            code,
            body: String::new(),
            retry_after: None,
        };
        assert!(is_outage(&Failure::Connect("refused".into())));
        assert!(is_outage(&Failure::Transport("reset".into())));
        assert!(is_outage(&Failure::Timeout));
        assert!(is_outage(&status(503)) && is_outage(&status(500)));
        assert!(!is_outage(&status(429)) && !is_outage(&status(400)));
        assert!(!is_outage(&Failure::Malformed("x".into())));
        assert!(!is_outage(&Failure::Empty));
    }
}
