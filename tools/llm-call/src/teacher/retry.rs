//! When to try a failed request again: exponential backoff with full jitter, capped, and the
//! server's `Retry-After` (seconds or an HTTP date) when it sends one. Pure apart from the
//! random draw.

use std::time::{Duration, SystemTime};

/// The longest `Retry-After` honoured; a server asking for more gets retried sooner.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Backoff settings.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay ceiling before the first retry.
    pub base: Duration,
    /// Delay ceiling for any retry.
    pub max: Duration,
}

impl Backoff {
    /// The ceiling of the delay after `failures` consecutive failures (1 = the first).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1).min(30))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt: the server's wish if it said one, else a uniform
    /// draw below the ceiling ("full jitter", so clients that failed together spread out).
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(MAX_RETRY_AFTER);
        }
        let ceiling = self.ceiling(failures).as_millis() as u64;
        Duration::from_millis(fastrand::u64(0..=ceiling))
    }
}

/// Reads a `Retry-After` value: delay seconds or an HTTP date, capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs.min(1e6)),
        Ok(_) => return None,
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or_default(),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        };
        let ms = |f| b.ceiling(f).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(7), ms(8), ms(100)],
            [500, 1000, 2000, 30_000, 30_000, 30_000]
        );
        for _ in 0..100 {
            assert!(b.delay(2, None) <= Duration::from_secs(1));
        }
        assert_eq!(
            b.delay(5, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(b.delay(1, Some(Duration::from_secs(9999))), MAX_RETRY_AFTER);
    }

    #[test]
    fn retry_after_takes_seconds_or_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 0.5 ", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("later", now), None);
    }
}
