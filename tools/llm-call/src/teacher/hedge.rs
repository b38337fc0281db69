//! Hang hedging for whole replies: a request the teacher accepted but has not answered
//! after a bound learnt from this stage's replies is abandoned (and retried by the caller),
//! instead of being waited out to `--timeout`. The bound is the longer of a floor and
//! [`FACTOR`] times the slowest reply so far, doubled for each earlier failure of the same
//! request, so a long generation that is merely slow gets its time on the next try. Until a
//! first reply has come, the bound is a tenth of the timeout (at least the floor): a stage
//! whose only request hangs still ends it in a minute, not ten, while a slow teacher's
//! first replies get a long allowance before anything is cut.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::teacher::Failure;

/// How many times the slowest reply so far a request may take before it counts as hung.
pub const FACTOR: u32 = 4;

/// Before a first reply, a request counts as hung after the timeout divided by this.
pub const FIRST_SHARE: u32 = 10;

/// The hang bound of one process: its floor and the slowest reply seen.
pub struct Hedge {
    /// The least bound; None turns hedging off.
    floor: Option<Duration>,
    /// The slowest whole reply so far (zero before the first); requests waiting on a bound
    /// are told when it grows.
    slowest: watch::Sender<Duration>,
}

impl Hedge {
    /// Hedging with the bound never below `floor`; None: off, only the timeout applies.
    pub fn new(floor: Option<Duration>) -> Self {
        Hedge {
            floor,
            slowest: watch::Sender::new(Duration::ZERO),
        }
    }

    /// Notes a whole reply that took `latency`.
    pub fn observe(&self, latency: Duration) {
        self.slowest.send_if_modified(|slowest| {
            let longer = latency > *slowest;
            if longer {
                *slowest = latency;
            }
            longer
        });
    }

    /// Runs `work`, a request started at `started` after `failures` failed attempts, until
    /// it ends, the `timeout` passes (`Failure::Timeout`), or the hang bound does
    /// (`Failure::Hung`). One timer per request, moved only when the slowest reply grows.
    pub async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, Failure>>,
        started: Instant,
        timeout: Duration,
        failures: u32,
    ) -> Result<T, Failure> {
        let mut slowest = self.slowest.subscribe();
        let (wait, mut failure) = self.limit(*slowest.borrow_and_update(), timeout, failures);
        let deadline = tokio::time::sleep_until(started + wait);
        tokio::pin!(work, deadline);
        let mut learning = self.floor.is_some();
        loop {
            tokio::select! {
                biased;
                result = &mut work => return result,
                () = &mut deadline => return Err(failure),
                changed = slowest.changed(), if learning => {
                    learning = changed.is_ok();
                    let (wait, now) = self.limit(*slowest.borrow_and_update(), timeout, failures);
                    failure = now;
                    deadline.as_mut().reset(started + wait);
                }
            }
        }
    }

    /// How long a request may wait, and what it is when it waited that long.
    fn limit(&self, slowest: Duration, timeout: Duration, failures: u32) -> (Duration, Failure) {
        let Some(floor) = self.floor else {
            return (timeout, Failure::Timeout);
        };
        let bound = if slowest.is_zero() {
            grown(floor.max(timeout / FIRST_SHARE), failures)
        } else {
            bound(floor, slowest, failures)
        };
        if bound < timeout {
            (bound, Failure::Hung(bound))
        } else {
            (timeout, Failure::Timeout)
        }
    }
}

/// The hang bound: the longer of `floor` and [`FACTOR`] × `slowest`, doubled per failure.
pub fn bound(floor: Duration, slowest: Duration, failures: u32) -> Duration {
    grown(floor.max(slowest.saturating_mul(FACTOR)), failures)
}

/// `bound` doubled for each of `failures`.
fn grown(bound: Duration, failures: u32) -> Duration {
    let growth = 1u32.checked_shl(failures.min(16)).unwrap_or(u32::MAX);
    bound.saturating_mul(growth)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn the_bound_is_the_floor_or_a_multiple_of_the_slowest_reply_doubled_per_failure() {
        assert_eq!(bound(S(10), S(1), 0), S(10));
        assert_eq!(bound(S(10), S(30), 0), S(120));
        assert_eq!(bound(S(10), S(30), 1), S(240));
        assert_eq!(bound(S(10), S(1), 3), S(80));
        assert_eq!(bound(S(10), Duration::MAX, 40), Duration::MAX);
    }

    #[test]
    fn before_a_first_reply_a_tenth_of_the_timeout_bounds_a_hang() {
        let hedge = Hedge::new(Some(S(5)));
        assert_eq!(
            hedge.limit(Duration::ZERO, S(600), 0),
            (S(60), Failure::Hung(S(60)))
        );
        assert_eq!(
            hedge.limit(Duration::ZERO, S(600), 1),
            (S(120), Failure::Hung(S(120)))
        );
        assert_eq!(
            hedge.limit(Duration::ZERO, S(600), 4),
            (S(600), Failure::Timeout)
        );
        assert_eq!(
            hedge.limit(Duration::ZERO, S(20), 0),
            (S(5), Failure::Hung(S(5)))
        );
    }

    #[test]
    fn past_the_timeout_or_with_hedging_off_only_the_timeout_applies() {
        let hedge = Hedge::new(Some(S(10)));
        assert_eq!(hedge.limit(S(2), S(600), 0), (S(10), Failure::Hung(S(10))));
        assert_eq!(hedge.limit(S(200), S(600), 0), (S(600), Failure::Timeout));
        let off = Hedge::new(None);
        assert_eq!(off.limit(S(2), S(600), 0), (S(600), Failure::Timeout));
    }

    #[test]
    fn only_a_longer_reply_moves_the_bound() {
        let hedge = Hedge::new(Some(S(1)));
        let mut rx = hedge.slowest.subscribe();
        hedge.observe(S(3));
        assert!(rx.has_changed().expect("open"));
        rx.borrow_and_update();
        hedge.observe(S(2));
        assert!(!rx.has_changed().expect("open"));
        assert_eq!(*rx.borrow(), S(3));
    }

    #[tokio::test]
    async fn a_request_waiting_on_no_reply_is_hung_once_others_show_the_bound() {
        let ms = Duration::from_millis;
        let hedge = Hedge::new(Some(ms(50)));
        let never = std::future::pending::<Result<(), Failure>>();
        let waiting = hedge.bounded(never, Instant::now(), S(600), 0);
        let learn = async {
            tokio::time::sleep(ms(10)).await;
            hedge.observe(ms(20));
        };
        let (result, ()) = tokio::join!(waiting, learn);
        assert_eq!(result, Err(Failure::Hung(ms(80))));
        let quick = hedge
            .bounded(async { Ok(7) }, Instant::now(), S(600), 0)
            .await;
        assert_eq!(quick, Ok(7));
    }
}
