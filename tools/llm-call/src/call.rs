//! One input record's trip to the teacher: take the choices the cache already has, ask for
//! the missing ones (topping up servers that return fewer than asked), retry failures with
//! backoff, and turn the result into output records or a reject.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use ktpipe_common::Located;
use ktpipe_common::raw::RawRecord;
use serde_json::Value;
use tokio::sync::watch;

use crate::budget::Budget;
use crate::cache::commit::Writer;
use crate::cache::inflight::{self, Role};
use crate::cache::{Call, Row};
use crate::output::Outcome;
use crate::progress::{Counters, bump};
use crate::records;
use crate::settings::Ask;
use crate::stop::{Fatal, Reach, stopped};
use crate::teacher::reply::{Choice, Reply, Tokens};
use crate::teacher::{Client, Failure};

/// A record ready to be sent, with what the cache already holds for it.
pub struct Job {
    /// The input record (messages included), its fields left as read.
    pub located: Located<RawRecord>,
    /// The messages, decoded.
    pub messages: Value,
    /// The request's cache key (None without a cache).
    pub key: Option<Arc<str>>,
    /// Cached choices by index.
    pub cached: Vec<(u32, Choice)>,
    /// Why earlier runs gave up on this request's replies: (policy, reason) pairs.
    pub rejected: Vec<(String, String)>,
    /// Whether this record asks the teacher or waits for an identical one that does
    /// (None when the cache already holds every choice, or there is no cache).
    pub role: Option<Role>,
}

/// What every record's task shares.
pub struct Ctx {
    /// The HTTP client.
    pub client: Client,
    /// What each record is asked, and which replies are kept.
    pub ask: Ask,
    /// Requests in flight.
    pub budget: Arc<Budget>,
    /// Rows for the cache, when there is one.
    pub cache: Option<Arc<Writer>>,
    /// Live figures.
    pub counters: Arc<Counters>,
    /// Becomes true on Ctrl-C: send nothing new.
    pub stop: watch::Receiver<bool>,
    /// Stops the run at once.
    pub fatal: Fatal,
    /// Whether the teacher has been reached yet, to tell a down teacher from a flaky one.
    pub reach: Reach,
}

enum Ending {
    Complete,
    Stopped,
    Failed { reason: String, teacher_fault: bool },
}

/// Finds every choice of `job` and says what to write.
pub async fn process(ctx: &Ctx, job: Job) -> Outcome {
    let n = ctx.ask.n as usize;
    let mut cached = job.cached;
    // Replayed only under the settings that judged those replies unusable: a rerun with
    // --allow-truncated or another --expect asks again.
    let replay = job
        .rejected
        .iter()
        .find(|(policy, _)| **policy == *ctx.ask.policy);
    if let Some((_, reason)) = replay.filter(|_| cached.len() < n) {
        return Outcome::Reject {
            records: Vec::new(),
            located: job.located,
            reason: format!("{reason} (cached; --cache-salt asks again)"),
            failed: false,
        };
    }
    let leader = match job.role {
        Some(Role::Leader(leader)) => Some(leader),
        Some(Role::Follower(rx)) => {
            let shared = tokio::select! {
                () = stopped(&ctx.stop) => None,
                shared = inflight::wait(rx) => shared,
            };
            if let Some(shared) = shared {
                cached.extend(shared.iter().cloned());
            }
            None
        }
        None => None,
    };
    let mut slots: Vec<Option<Choice>> = (0..n).map(|_| None).collect();
    let mut hits = 0;
    for (idx, choice) in cached {
        if let Some(slot) = slots.get_mut(idx as usize)
            && (ctx.ask.allow_truncated || !choice.is_truncated())
        {
            *slot = Some(choice);
            hits += 1;
        }
    }
    ctx.counters.cache_hits.fetch_add(hits, Relaxed);
    let located = job.located;
    let ending = ctx.fill(&job.messages, job.key.as_ref(), &mut slots).await;
    let got: Vec<(u32, Choice)> = slots
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| (i as u32, c)))
        .collect();
    if let (Some(leader), Ending::Complete) = (&leader, &ending) {
        leader.share(&got);
    }
    drop(leader);
    match ending {
        Ending::Complete => Outcome::Emit(records::build(located.record, got, &ctx.ask.fields)),
        Ending::Stopped => Outcome::Unfinished,
        Ending::Failed {
            mut reason,
            teacher_fault,
        } => {
            // Only whole failures are remembered: a record with some choices is written
            // with them, and a rerun asks again for the rest.
            if let (false, true, Some(cache), Some(key)) =
                (teacher_fault, got.is_empty(), &ctx.cache, &job.key)
            {
                cache.send(Row::Rejected {
                    key: Arc::clone(key),
                    policy: Arc::clone(&ctx.ask.policy),
                    reason: reason.clone(),
                });
            }
            let records = if got.is_empty() {
                Vec::new()
            } else {
                reason.push_str(&format!(" ({} of {n} choices missing)", n - got.len()));
                records::build(located.record.clone(), got, &ctx.ask.fields)
            };
            Outcome::Reject {
                records,
                located,
                reason,
                failed: teacher_fault,
            }
        }
    }
}

impl Ctx {
    async fn fill(
        &self,
        messages: &Value,
        key: Option<&Arc<str>>,
        slots: &mut [Option<Choice>],
    ) -> Ending {
        let mut failures = 0u32;
        loop {
            let missing: Vec<usize> = (0..slots.len()).filter(|&i| slots[i].is_none()).collect();
            let Some(&first) = missing.first() else {
                return Ending::Complete;
            };
            let want = missing.len() as u32;
            let seed = self.ask.spec.seed.map(|s| s.wrapping_add(first as u64));
            let body = Bytes::from(self.ask.spec.body(messages, want, seed));
            let Some((result, sent)) = self.send(body, failures).await else {
                return Ending::Stopped;
            };
            let result = result.and_then(|reply| self.take(reply, &missing, slots, key));
            self.log(key, want, failures + 1, sent, &result);
            let failure = match result {
                Ok(_) => {
                    self.reach.reached();
                    failures = 0;
                    continue;
                }
                Err(failure) => failure,
            };
            if let Failure::Connect(why) = &failure {
                if self.reach.refused() {
                    self.fatal.raise(format!(
                        "cannot reach the teacher ({why}): is it running? check TEACHER_MODEL_BASE_URL"
                    ));
                    return Ending::Stopped;
                }
            } else {
                self.reach.reached();
            }
            if let Failure::Status {
                code: code @ (401 | 403),
                ..
            } = failure
            {
                self.fatal.raise(format!(
                    "the teacher refused the API key (HTTP {code}): check TEACHER_MODEL_API_KEY"
                ));
                return Ending::Stopped;
            }
            if !failure.retryable() {
                return Ending::Failed {
                    reason: format!("teacher refused the request: {failure}"),
                    teacher_fault: true,
                };
            }
            failures += 1;
            let limit = if failure.is_content() {
                self.ask.max_content_attempts.min(self.ask.max_attempts)
            } else {
                self.ask.max_attempts
            };
            if failures >= limit {
                return Ending::Failed {
                    reason: format!("teacher request failed after {failures} attempts: {failure}"),
                    teacher_fault: !failure.is_content(),
                };
            }
            bump(&self.counters.retries);
            if !self
                .sleep(self.ask.backoff.delay(failures, failure.retry_after()))
                .await
            {
                return Ending::Stopped;
            }
        }
    }

    /// Sends one request, after `failures` failed attempts, within the budget; None when
    /// the run stopped first.
    async fn send(&self, body: Bytes, failures: u32) -> Option<(Result<Reply, Failure>, Sent)> {
        let slot = tokio::select! {
            biased;
            () = stopped(&self.stop) => return None,
            slot = self.budget.acquire() => slot,
        };
        if self.fatal.raised() {
            return None;
        }
        bump(&self.counters.in_flight);
        bump(&self.counters.requests);
        let at = SystemTime::now();
        let started = Instant::now();
        let result = self.client.send(body, failures).await;
        drop(slot);
        self.counters.in_flight.fetch_sub(1, Relaxed);
        let tokens = match &result {
            Ok(reply) => {
                self.counters.count_tokens(reply.tokens);
                reply.tokens
            }
            Err(Failure::Hung(_)) => {
                bump(&self.counters.hung);
                None
            }
            Err(_) => None,
        };
        let sent = Sent {
            at,
            latency: started.elapsed(),
            tokens,
        };
        Some((result, sent))
    }

    /// Fills missing slots from a reply, in arrival order; caches what it takes. A reply
    /// that fills nothing is a failure (all empty, all cut, or no choices).
    fn take(
        &self,
        reply: Reply,
        missing: &[usize],
        slots: &mut [Option<Choice>],
        key: Option<&Arc<str>>,
    ) -> Result<usize, Failure> {
        let mut free = missing.iter();
        let mut taken = 0;
        let mut bad = None;
        for choice in reply.choices {
            if choice.is_truncated() && !self.ask.allow_truncated {
                bad = Some(Failure::Truncated);
                continue;
            }
            if choice.is_empty() {
                bad = Some(Failure::Empty);
                continue;
            }
            if let Some(expect) = &self.ask.expect
                && !expect.is_match(&choice.content).unwrap_or(true)
            {
                bad = Some(Failure::OffFormat(expect.as_str().to_string()));
                continue;
            }
            let Some(&i) = free.next() else {
                break;
            };
            if let (Some(cache), Some(key)) = (&self.cache, key) {
                let row = Row::Choice {
                    key: Arc::clone(key),
                    idx: i as u32,
                    choice: choice.clone(),
                };
                cache.send(row);
            }
            slots[i] = Some(choice);
            taken += 1;
        }
        match (taken, bad) {
            (0, Some(failure)) => Err(failure),
            (0, None) => Err(Failure::Malformed("reply has no choices".into())),
            (taken, _) => Ok(taken),
        }
    }

    fn log(
        &self,
        key: Option<&Arc<str>>,
        n: u32,
        attempt: u32,
        sent: Sent,
        result: &Result<usize, Failure>,
    ) {
        let (Some(cache), Some(key)) = (&self.cache, key) else {
            return;
        };
        let (status, error) = match result {
            Ok(_) => ("200".to_string(), None),
            Err(failure @ (Failure::Empty | Failure::Truncated | Failure::OffFormat(_))) => {
                ("200".to_string(), Some(failure.to_string()))
            }
            Err(failure) => (failure.status(), Some(failure.to_string())),
        };
        cache.send(Row::Call(Call {
            at: sent.at,
            key: Arc::clone(key),
            n,
            status,
            attempt,
            latency_ms: sent.latency.as_secs_f64() * 1000.0,
            tokens: sent.tokens,
            error,
        }));
    }

    /// Sleeps; false when the run stopped meanwhile.
    async fn sleep(&self, delay: Duration) -> bool {
        tokio::select! {
            () = stopped(&self.stop) => false,
            () = tokio::time::sleep(delay) => true,
        }
    }
}

/// Facts about one request for the call log.
struct Sent {
    at: SystemTime,
    latency: Duration,
    /// What the teacher reported; None for a failure or a reply without usage.
    tokens: Option<Tokens>,
}
