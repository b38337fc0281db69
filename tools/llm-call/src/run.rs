//! The run: settings and resources first (usage errors before any input is read), then the
//! pipeline (input thread → dispatcher → a task per record → the sink task writing
//! stdout), and how it ends: input exhausted, the key refused, or Ctrl-C.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::Context;
use ktpipe_common::{Outcome, Reader, Rejects, Summary};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::budget::Budget;
use crate::cache::Cache;
use crate::call::{self, Ctx};
use crate::feed::{self, Batch, Feed, Item};
use crate::output::{self, Msg, Sink};
use crate::progress::{self, Counters, Mode};
use crate::settings::Settings;
use crate::stop::{Fatal, Reach, stopped};
use crate::teacher::Client;

/// How long requests in flight may finish after Ctrl-C.
const GRACE: Duration = Duration::from_secs(5);
/// How long the sink may take to flush when the run is cut short.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// Runs llm-call with its settings.
pub fn run(settings: Settings) -> anyhow::Result<Outcome> {
    let mut summary = Summary::new(&settings.label);
    let started = Instant::now();
    let common = settings.common.clone();
    let (ctx, parts, cache) = prepare(settings, started)?;
    let counters = Arc::clone(&ctx.counters);
    let mode = parts.mode;
    // One thread: the work per request is small next to the teacher's.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let ending = runtime.block_on(drive(Arc::clone(&ctx), parts));
    runtime.shutdown_background();
    progress::clear(mode);
    drop(ctx);
    if let Some(cache) = cache {
        cache.close();
    }
    let interrupted = ending?;
    counters.fill(&mut summary, started);
    summary.finish(common.quiet, common.stats.as_deref())?;
    let lost = counters.failed.load(Relaxed) + counters.malformed.load(Relaxed);
    let unfiled = common.rejects.is_none() && counters.rejected.load(Relaxed) > 0;
    Ok(if interrupted {
        Outcome::Interrupted
    } else if lost > 0 || unfiled {
        Outcome::RecordsFailed
    } else {
        Outcome::Success
    })
}

/// Opens every resource, all before any input is read, so each problem is a usage error.
fn prepare(
    settings: Settings,
    started: Instant,
) -> anyhow::Result<(Arc<Ctx>, Parts, Option<Cache>)> {
    let Settings {
        label,
        common,
        endpoint,
        transport,
        ask,
        cache,
        concurrency,
        shared_budget,
        window,
        ordered,
        flush,
        progress,
    } = settings;
    ktpipe_common::input::check_exist(&common.inputs)?;
    let rejects = Rejects::open(&label, common.rejects.as_deref())?;
    let (cache, lookup) = match &cache {
        Some(path) => {
            let (cache, lookup) = crate::cache::open(
                path,
                common.stage.clone(),
                ask.spec.model.clone(),
                label.clone(),
            )?;
            (Some(cache), Some(lookup))
        }
        None => (None, None),
    };
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let messages = ask.fields.messages.clone();
    let spec = ask.spec.clone();
    let n = ask.n;
    let ctx = Arc::new(Ctx {
        client: Client::new(&endpoint, concurrency as usize)?.with_transport(transport),
        ask,
        budget: Budget::new(concurrency, shared_budget.as_deref())?,
        cache: cache.as_ref().map(Cache::writer),
        counters: Arc::clone(&counters),
        stop: stop_rx,
        fatal: Fatal::default(),
        reach: Reach::default(),
    });
    let halt = Arc::new(AtomicBool::new(false));
    let parts = Parts {
        feed: Feed {
            reader: Reader::new(&common.inputs),
            lookup,
            spec: Arc::new(spec),
            messages,
            counters: Arc::clone(&counters),
            label: label.clone(),
            choices: n as usize,
            inflight: Arc::default(),
        },
        sink: Sink {
            ordered,
            rejects,
            label: label.clone(),
            counters,
            halt: Arc::clone(&halt),
            linger: flush,
        },
        window,
        mode: progress,
        label,
        halt,
        stop: stop_tx,
        started,
    };
    Ok((ctx, parts, cache))
}

struct Parts {
    feed: Feed,
    sink: Sink,
    window: usize,
    mode: Mode,
    label: String,
    halt: Arc<AtomicBool>,
    stop: watch::Sender<bool>,
    started: Instant,
}

/// Runs the pipeline; Ok(true) when Ctrl-C stopped it.
async fn drive(ctx: Arc<Ctx>, parts: Parts) -> anyhow::Result<bool> {
    // Batches of up to feed::BATCH items: 4 of them hold as many records as 64 did.
    let (item_tx, item_rx) = mpsc::channel(64 / feed::BATCH);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (done_tx, mut done_rx) = oneshot::channel();
    let Parts {
        feed,
        sink,
        window,
        mode,
        label,
        halt,
        stop,
        started,
    } = parts;
    let mut signals = Signals::new()?;
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || feed.run(item_tx))
        .context("starting the input thread")?;
    tokio::spawn(async move {
        let _ = done_tx.send(sink.run(out_rx).await);
    });
    // The window counts output records: a record asking for n choices takes n places (at
    // most the whole window), so memory stays bounded by the window whatever -n is.
    let weight = (ctx.ask.n as usize).clamp(1, window) as u32;
    let window = Arc::new(Semaphore::new(window));
    let dispatcher = tokio::spawn(dispatch(
        Arc::clone(&ctx),
        item_rx,
        (window, weight),
        out_tx.clone(),
    ));
    let _progress = AbortOnDrop(tokio::spawn(progress::report(
        label.clone(),
        Arc::clone(&ctx.counters),
        mode,
        started,
    )));
    // The sink may finish in the same turn as the request that raised the alarm (both run
    // on this thread), so a finished sink does not mean success: the alarm is checked too.
    tokio::select! {
        done = &mut done_rx => {
            done.context("the output task died")??;
            ctx.fatal.check()?;
            return match dispatcher.await.context("the dispatcher died")? {
                Some(err) => Err(err),
                None => Ok(false),
            };
        }
        message = ctx.fatal.wait() => return abort(message, &stop, &halt, &out_tx, &mut done_rx).await,
        () = signals.recv() => {}
    }
    let _ = stop.send(true);
    progress::clear(mode);
    progress::warn(
        &label,
        &format!(
            "interrupted: finishing {} requests in flight (again to quit at once)",
            ctx.counters.in_flight.load(Relaxed)
        ),
    );
    tokio::select! {
        done = &mut done_rx => { done.context("the output task died")??; }
        () = tokio::time::sleep(GRACE) => {
            let _ = out_tx.send(Msg::Stop);
            if let Ok(done) = tokio::time::timeout(FLUSH_WAIT, &mut done_rx).await {
                done.context("the output task died")??;
            }
        }
        message = ctx.fatal.wait() => return abort(message, &stop, &halt, &out_tx, &mut done_rx).await,
        () = signals.recv() => {}
    }
    ctx.fatal.check()?;
    Ok(true)
}

/// Stops writing, lets the sink flush what it wrote, and fails the run.
async fn abort(
    message: String,
    stop: &watch::Sender<bool>,
    halt: &AtomicBool,
    out: &mpsc::UnboundedSender<Msg>,
    done: &mut oneshot::Receiver<anyhow::Result<()>>,
) -> anyhow::Result<bool> {
    halt.store(true, Relaxed);
    let _ = stop.send(true);
    let _ = out.send(Msg::Stop);
    let _ = tokio::time::timeout(FLUSH_WAIT, done).await;
    Err(anyhow::anyhow!(message))
}

/// Takes items in input order while the window has room (a record takes a place per
/// choice), and starts a task per record.
/// Returns the input error that ended it early, if any.
async fn dispatch(
    ctx: Arc<Ctx>,
    mut items: mpsc::Receiver<Batch>,
    (window, weight): (Arc<Semaphore>, u32),
    out: mpsc::UnboundedSender<Msg>,
) -> Option<anyhow::Error> {
    let mut count = 0;
    let mut error = None;
    let mut batch = Vec::new().into_iter();
    loop {
        let permit = tokio::select! {
            biased;
            () = stopped(&ctx.stop) => break,
            permit = Arc::clone(&window).acquire_many_owned(weight) => permit.expect("the window is never closed"),
        };
        let next = match batch.next() {
            Some(next) => Some(next),
            None => tokio::select! {
                biased;
                () = stopped(&ctx.stop) => break,
                next = items.recv() => next.and_then(|next| {
                    batch = next.into_iter();
                    batch.next()
                }),
            },
        };
        let Some((seq, item)) = next else { break };
        let outcome = match item {
            Item::Job(job) => {
                let ctx = Arc::clone(&ctx);
                let out = out.clone();
                tokio::spawn(async move {
                    let outcome = call::process(&ctx, job).await;
                    let _ = out.send(Msg::Done(seq, outcome, Some(permit)));
                });
                count += 1;
                continue;
            }
            Item::Malformed(err) => output::Outcome::Malformed(err),
            Item::Invalid(located, reason) => output::Outcome::Reject {
                records: Vec::new(),
                located,
                reason,
                failed: false,
            },
            Item::Failed(err) => {
                error = Some(err);
                break;
            }
        };
        count += 1;
        let _ = out.send(Msg::Done(seq, outcome, Some(permit)));
    }
    let _ = out.send(Msg::End(count));
    error
}

/// Ctrl-C and SIGTERM.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
