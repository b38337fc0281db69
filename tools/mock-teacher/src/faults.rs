//! Seeded, deterministic fault injection. Each distinct request body has a ledger entry;
//! every arrival draws a number from (seed, body hash, attempt) and picks a fault by the
//! cumulative rates, until the body has had its fill of faults, after which it succeeds.

use crate::Faults;
use std::collections::HashMap;
use std::sync::Mutex;

/// A fault the server can serve instead of a normal reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 Too Many Requests with `Retry-After`.
    TooMany,
    /// 500 Internal Server Error.
    Internal,
    /// 503 Service Unavailable.
    Unavailable,
    /// The connection is closed without a response.
    Drop,
    /// The request is held without a response for `hang_secs`.
    Hang,
    /// A 200 whose body is not JSON.
    Malformed,
    /// A 200 whose content is empty.
    Empty,
    /// A 200 cut to half its content with `finish_reason: "length"`.
    Length,
}

impl Fault {
    /// Every fault, in the order rates are accumulated.
    pub const ALL: [Fault; 8] = [
        Fault::TooMany,
        Fault::Internal,
        Fault::Unavailable,
        Fault::Drop,
        Fault::Hang,
        Fault::Malformed,
        Fault::Empty,
        Fault::Length,
    ];

    /// The key of this fault in the `/stats` `faults` object.
    pub fn name(self) -> &'static str {
        match self {
            Fault::TooMany => "429",
            Fault::Internal => "500",
            Fault::Unavailable => "503",
            Fault::Drop => "drop",
            Fault::Hang => "hang",
            Fault::Malformed => "malformed",
            Fault::Empty => "empty",
            Fault::Length => "length",
        }
    }

    fn rate(self, faults: &Faults) -> f64 {
        match self {
            Fault::TooMany => faults.rate_429,
            Fault::Internal => faults.rate_500,
            Fault::Unavailable => faults.rate_503,
            Fault::Drop => faults.rate_drop,
            Fault::Hang => faults.rate_hang,
            Fault::Malformed => faults.rate_malformed,
            Fault::Empty => faults.rate_empty,
            Fault::Length => faults.rate_length,
        }
    }
}

/// Picks the fault whose cumulative-rate band contains `u` (in `[0, 1)`), if any.
pub fn pick(faults: &Faults, u: f64) -> Option<Fault> {
    let mut upper = 0.0;
    for fault in Fault::ALL {
        upper += fault.rate(faults).max(0.0);
        if u < upper {
            return Some(fault);
        }
    }
    None
}

/// SplitMix64 finaliser: a cheap, well-mixed 64-bit hash step.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A uniform number in `[0, 1)` from three 64-bit inputs.
pub fn unit(a: u64, b: u64, c: u64) -> f64 {
    let x = mix(a ^ mix(b ^ mix(c)));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// What the ledger decided for one arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Serve this fault.
    Fault(Fault),
    /// Serve normally; `serial` is how many normal replies this body got before.
    Serve {
        /// Normal replies already served for the same body.
        serial: u64,
    },
}

#[derive(Default)]
struct Entry {
    attempts: u64,
    faults: u32,
    served: u64,
}

/// Per-body attempt, fault and success counters.
#[derive(Default)]
pub struct Ledger {
    entries: Mutex<HashMap<u64, Entry>>,
    draws: Mutex<HashMap<u64, u64>>,
}

impl Ledger {
    /// Records an arrival of the body hashed `h` and decides how to answer it.
    pub fn arrive(&self, h: u64, seed: u64, faults: &Faults, max_faults: u32) -> Decision {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry(h).or_default();
        let attempt = entry.attempts;
        entry.attempts += 1;
        if entry.faults < max_faults
            && let Some(fault) = pick(faults, unit(seed, h, attempt))
        {
            entry.faults += 1;
            return Decision::Fault(fault);
        }
        let serial = entry.served;
        entry.served += 1;
        Decision::Serve { serial }
    }

    /// The next text index for prompts hashed `content_key` when `n` is ignored: 0, 1, 2…;
    /// only a `taken` draw moves the sequence on.
    pub fn draw(&self, content_key: u64, taken: bool) -> u64 {
        let mut draws = self.draws.lock().unwrap_or_else(|e| e.into_inner());
        let next = draws.entry(content_key).or_default();
        let index = *next;
        if taken {
            *next += 1;
        }
        index
    }

    /// Forgets every body, as if the server had just started.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.draws.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_uses_cumulative_rates_in_order() {
        let faults = Faults {
            rate_429: 0.1,
            rate_500: 0.2,
            rate_length: 0.3,
            ..Faults::default()
        };
        assert_eq!(pick(&faults, 0.05), Some(Fault::TooMany));
        assert_eq!(pick(&faults, 0.25), Some(Fault::Internal));
        assert_eq!(pick(&faults, 0.35), Some(Fault::Length));
        assert_eq!(pick(&faults, 0.65), None);
        assert_eq!(pick(&Faults::default(), 0.0), None);
    }

    #[test]
    fn unit_is_in_range_and_spread() {
        let draws: Vec<f64> = (0..1000).map(|i| unit(7, 42, i)).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let low = draws.iter().filter(|u| **u < 0.5).count();
        assert!((400..600).contains(&low), "{low}");
    }

    #[test]
    fn faults_stop_after_the_limit() {
        let ledger = Ledger::default();
        let always = Faults {
            rate_500: 1.0,
            ..Faults::default()
        };
        for _ in 0..3 {
            assert_eq!(
                ledger.arrive(1, 0, &always, 3),
                Decision::Fault(Fault::Internal)
            );
        }
        assert_eq!(
            ledger.arrive(1, 0, &always, 3),
            Decision::Serve { serial: 0 }
        );
        assert_eq!(
            ledger.arrive(1, 0, &always, 3),
            Decision::Serve { serial: 1 }
        );
        assert_eq!(
            ledger.arrive(2, 0, &always, 0),
            Decision::Serve { serial: 0 }
        );
        ledger.clear();
        assert_eq!(
            ledger.arrive(1, 0, &always, 3),
            Decision::Fault(Fault::Internal)
        );
    }

    #[test]
    fn only_taken_draws_advance() {
        let ledger = Ledger::default();
        assert_eq!(ledger.draw(9, false), 0);
        assert_eq!(ledger.draw(9, true), 0);
        assert_eq!(ledger.draw(9, true), 1);
        assert_eq!(ledger.draw(8, true), 0);
        assert_eq!(ledger.draw(9, false), 2);
    }
}
