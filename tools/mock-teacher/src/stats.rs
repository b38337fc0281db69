//! Counters behind `GET /stats`: lock-free atomics, cheap enough to bump on every request.
//! Per kind, `replies`, `requests` and `latency_ms`; `items` for lists, `yes` for verdicts;
//! `habits` (choices in a real teacher's habits) when `--habits` is above 0, and `repeats`
//! (questions taken from the pool of repeats) for questions and Q&A pairs when `--repeats`
//! is, so a plain mock reports what it always did.

use crate::faults::Fault;
use crate::kind::Kind;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Server-wide counters.
#[derive(Default)]
pub struct Stats {
    requests: AtomicU64,
    ok: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    choices: AtomicU64,
    repeated_ok: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    faults: [AtomicU64; 8],
    unauthorized: AtomicU64,
    replies: [AtomicU64; 7],
    items: [AtomicU64; 7],
    yes: AtomicU64,
    off_format: AtomicU64,
    kind_requests: [AtomicU64; 7],
    kind_latency_us: [AtomicU64; 7],
    habits: [AtomicU64; 7],
    repeats: [AtomicU64; 7],
    show_habits: bool,
    show_repeats: bool,
}

/// Holds one request in the in-flight count until dropped.
pub struct InFlight(Arc<Stats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

impl Stats {
    /// Counters that report `habits` and `repeats` when those options are on.
    pub fn showing(habits: bool, repeats: bool) -> Stats {
        Stats {
            show_habits: habits,
            show_repeats: repeats,
            ..Stats::default()
        }
    }

    /// Counts an arriving chat request and holds it in flight until the guard drops.
    pub fn arrive(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Relaxed);
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Counts a served fault.
    pub fn fault(&self, fault: Fault) {
        let slot = Fault::ALL.iter().position(|f| *f == fault).unwrap_or(0);
        self.faults[slot].fetch_add(1, Relaxed);
    }

    /// Counts a request refused for a missing or wrong key.
    pub fn unauthorized(&self) {
        self.unauthorized.fetch_add(1, Relaxed);
    }

    /// Counts a normal reply; `repeated` when the same body was answered before.
    pub fn ok(&self, repeated: bool, prompt_tokens: u64, completion_tokens: u64) {
        self.ok.fetch_add(1, Relaxed);
        if repeated {
            self.repeated_ok.fetch_add(1, Relaxed);
        }
        self.prompt_tokens.fetch_add(prompt_tokens, Relaxed);
        self.completion_tokens.fetch_add(completion_tokens, Relaxed);
    }

    /// Counts a normal reply of `kind` and the latency it was given, for benchmarks that
    /// compare a run against its ideal bound.
    pub fn latency(&self, kind: Kind, latency: std::time::Duration) {
        self.kind_requests[kind.slot()].fetch_add(1, Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.kind_latency_us[kind.slot()].fetch_add(micros, Relaxed);
    }

    /// Counts one choice of a normal reply; `off_format` when it ignored the format.
    pub fn choice(&self, kind: Kind, items: u64, yes: bool, off_format: bool) {
        self.choices.fetch_add(1, Relaxed);
        if off_format {
            self.off_format.fetch_add(1, Relaxed);
        }
        self.replies[kind.slot()].fetch_add(1, Relaxed);
        self.items[kind.slot()].fetch_add(items, Relaxed);
        if yes {
            self.yes.fetch_add(1, Relaxed);
        }
    }

    /// Counts a choice of `kind` in a real teacher's habits and its repeated questions.
    pub fn quirks(&self, kind: Kind, habits: bool, repeats: u64) {
        if habits {
            self.habits[kind.slot()].fetch_add(1, Relaxed);
        }
        self.repeats[kind.slot()].fetch_add(repeats, Relaxed);
    }

    /// Zeroes every counter except the requests now in flight.
    pub fn reset(&self) {
        let all = [
            &self.requests,
            &self.ok,
            &self.choices,
            &self.repeated_ok,
            &self.prompt_tokens,
            &self.completion_tokens,
            &self.unauthorized,
            &self.yes,
            &self.off_format,
        ];
        for counter in all
            .into_iter()
            .chain(&self.faults)
            .chain(&self.replies)
            .chain(&self.items)
            .chain(&self.kind_requests)
            .chain(&self.kind_latency_us)
            .chain(&self.habits)
            .chain(&self.repeats)
        {
            counter.store(0, Relaxed);
        }
        self.peak_in_flight
            .store(self.in_flight.load(Relaxed), Relaxed);
    }

    /// The counters as the `/stats` JSON object.
    pub fn to_json(&self) -> Value {
        let mut faults = Map::new();
        for (fault, counter) in Fault::ALL.iter().zip(&self.faults) {
            faults.insert(fault.name().into(), counter.load(Relaxed).into());
        }
        faults.insert("401".into(), self.unauthorized.load(Relaxed).into());
        faults.insert("off_format".into(), self.off_format.load(Relaxed).into());
        let mut kinds = Map::new();
        for kind in Kind::ALL {
            let mut entry = Map::new();
            entry.insert(
                "replies".into(),
                self.replies[kind.slot()].load(Relaxed).into(),
            );
            entry.insert(
                "requests".into(),
                self.kind_requests[kind.slot()].load(Relaxed).into(),
            );
            let latency_ms = self.kind_latency_us[kind.slot()].load(Relaxed) as f64 / 1000.0;
            entry.insert("latency_ms".into(), latency_ms.into());
            match kind {
                Kind::KeyFacts | Kind::Questions | Kind::QaPairs => {
                    entry.insert("items".into(), self.items[kind.slot()].load(Relaxed).into());
                }
                Kind::Faithfulness => {
                    entry.insert("yes".into(), self.yes.load(Relaxed).into());
                }
                _ => {}
            }
            if self.show_habits {
                entry.insert(
                    "habits".into(),
                    self.habits[kind.slot()].load(Relaxed).into(),
                );
            }
            if self.show_repeats && matches!(kind, Kind::Questions | Kind::QaPairs) {
                let repeats = self.repeats[kind.slot()].load(Relaxed);
                entry.insert("repeats".into(), repeats.into());
            }
            kinds.insert(kind.name().into(), entry.into());
        }
        json!({
            "requests": self.requests.load(Relaxed),
            "ok": self.ok.load(Relaxed),
            "in_flight": self.in_flight.load(Relaxed),
            "peak_in_flight": self.peak_in_flight.load(Relaxed),
            "choices": self.choices.load(Relaxed),
            "repeated_ok": self.repeated_ok.load(Relaxed),
            "prompt_tokens": self.prompt_tokens.load(Relaxed),
            "completion_tokens": self.completion_tokens.load(Relaxed),
            "faults": faults,
            "kinds": kinds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let stats = Arc::new(Stats::default());
        let a = stats.arrive();
        let b = stats.arrive();
        drop(a);
        stats.fault(Fault::Hang);
        stats.unauthorized();
        stats.ok(true, 10, 20);
        stats.choice(Kind::QaPairs, 5, false, false);
        stats.choice(Kind::Faithfulness, 0, true, true);
        let v = stats.to_json();
        assert_eq!(v["requests"], 2);
        assert_eq!(v["in_flight"], 1);
        assert_eq!(v["peak_in_flight"], 2);
        assert_eq!(v["repeated_ok"], 1);
        assert_eq!(v["faults"]["hang"], 1);
        assert_eq!(v["faults"]["401"], 1);
        assert_eq!(v["kinds"]["qa_pairs"]["items"], 5);
        assert_eq!(v["kinds"]["faithfulness"]["yes"], 1);
        assert!(v["kinds"]["answer"].get("items").is_none());
        stats.reset();
        let v = stats.to_json();
        assert_eq!(v["requests"], 0);
        assert_eq!(v["in_flight"], 1);
        assert_eq!(v["peak_in_flight"], 1);
        assert_eq!(v["kinds"]["qa_pairs"]["replies"], 0);
        drop(b);
    }

    #[test]
    fn habits_and_repeats_show_only_when_on() {
        let plain = Stats::default();
        plain.quirks(Kind::Questions, true, 2);
        let v = plain.to_json();
        assert!(v["kinds"]["questions"].get("habits").is_none());
        assert!(v["kinds"]["questions"].get("repeats").is_none());
        let stats = Stats::showing(true, true);
        stats.quirks(Kind::Questions, true, 2);
        stats.quirks(Kind::Questions, false, 1);
        stats.quirks(Kind::Answer, true, 0);
        let v = stats.to_json();
        assert_eq!(v["kinds"]["questions"]["habits"], 1);
        assert_eq!(v["kinds"]["questions"]["repeats"], 3);
        assert_eq!(v["kinds"]["answer"]["habits"], 1);
        assert_eq!(v["kinds"]["qa_pairs"]["repeats"], 0);
        assert!(v["kinds"]["answer"].get("repeats").is_none());
        stats.reset();
        assert_eq!(stats.to_json()["kinds"]["questions"]["repeats"], 0);
        assert_eq!(stats.to_json()["kinds"]["answer"]["habits"], 0);
    }
}
