//! The jsonl-split stream: explode, then filter, then route each record to stdout or to its
//! file, and commit the files when the run succeeds.

use std::sync::Arc;

use ktpipe_common::raw::RawRecord;
use ktpipe_common::stream::{Sink, Stream};
use ktpipe_common::{Located, Outcome, Record, UsageError, jinja};

use crate::cli::{Cli, MAX_OUTPUTS};
use crate::dedup::{Dedup, Verdict};
use crate::dest::{OutTemplate, shard_of};
use crate::explode::explode;
use crate::outputs::Outputs;
use crate::predicate::Predicate;

/// Runs jsonl-split over its inputs.
pub fn run(tool: &str, cli: &Cli) -> anyhow::Result<Outcome> {
    let env = jinja::environment();
    let predicate = match &cli.where_expr {
        Some(text) => Some(Predicate::compile(&env, text)?),
        None => None,
    };
    let dest = match &cli.out {
        Some(text) => Some(Dest::open(cli, text)?),
        None => None,
    };
    let mut stream = Stream::open(tool, &cli.common)?;
    let mut split = Split {
        explode: cli.explode.as_deref(),
        predicate,
        drop: cli.drop,
        dedup: cli
            .dedup
            .as_deref()
            .map(|field| Dedup::new(field, &cli.dedup_by, cli.dedup_threshold)),
        dest,
        dropped: 0,
        empty_lists: 0,
    };
    stream.for_each(|located: Located<RawRecord>, sink| split.handle(located, sink))?;

    let summary = stream.summary_mut();
    if cli.drop {
        summary.set("dropped", split.dropped);
    }
    if cli.explode.is_some() {
        summary.set("empty_lists", split.empty_lists);
    }
    if let Some(dedup) = &split.dedup {
        summary.set("repeats", dedup.repeats);
    }
    if let Some(dest) = &split.dest {
        summary.records_out += dest.written;
        summary.set("files", dest.outputs.len());
    }
    let outcome = stream.finish()?;
    if let (Outcome::Success, Some(dest)) = (outcome, split.dest) {
        dest.outputs.commit()?;
    }
    Ok(outcome)
}

struct Split<'a, 'env> {
    explode: Option<&'a str>,
    predicate: Option<Predicate<'env>>,
    drop: bool,
    dedup: Option<Dedup>,
    dest: Option<Dest>,
    dropped: u64,
    empty_lists: u64,
}

impl Split<'_, '_> {
    /// Records are read as text: a filter decodes only the fields its expression reads and
    /// writes the record as read. Exploding rewrites the record, so it is decoded whole.
    fn handle(&mut self, located: Located<RawRecord>, sink: &mut Sink) -> anyhow::Result<()> {
        let Some(field) = self.explode else {
            return self.route(located, sink);
        };
        let Located {
            source,
            line,
            record,
        } = located;
        let records = match explode(record.to_record(), field) {
            Ok(records) => records,
            Err((record, reason)) => {
                return sink.reject(located_at(&source, line, record), &reason);
            }
        };
        if records.is_empty() {
            self.empty_lists += 1;
        }
        for record in records {
            let raw = RawRecord::from_record(&record);
            self.route(located_at(&source, line, raw), sink)?;
        }
        Ok(())
    }

    fn route(&mut self, located: Located<RawRecord>, sink: &mut Sink) -> anyhow::Result<()> {
        if let Some(predicate) = &self.predicate {
            match predicate.matches(&predicate.context(&located.record)) {
                Ok(true) => {}
                Ok(false) if self.drop => {
                    self.dropped += 1;
                    return Ok(());
                }
                Ok(false) => {
                    let reason = format!("did not match --where '{}'", predicate.text());
                    return sink.reject(located, &reason);
                }
                Err(reason) => return sink.reject(located, &reason),
            }
        }
        if let Some(dedup) = &mut self.dedup
            && let Verdict::Reject(reason) = dedup.check(&located.record)
        {
            return sink.reject(located, &reason);
        }
        match &mut self.dest {
            None => sink.emit(&located.record),
            Some(dest) => match dest.write(&located.record.to_record())? {
                Ok(()) => Ok(()),
                Err(reason) => sink.reject(located, &reason),
            },
        }
    }
}

fn located_at<R>(source: &Arc<str>, line: u64, record: R) -> Located<R> {
    Located {
        source: Arc::clone(source),
        line,
        record,
    }
}

/// `--out` with its shards and open files.
struct Dest {
    template: OutTemplate,
    shards: Option<(u64, String)>,
    outputs: Outputs,
    written: u64,
}

impl Dest {
    /// Checks the template against --shards and opens the files known before any record
    /// (all of them when the template names no field). Failures are usage errors.
    fn open(cli: &Cli, text: &str) -> anyhow::Result<Self> {
        let template = OutTemplate::parse(text, cli.out_dir.as_deref()).map_err(UsageError::new)?;
        match (cli.shards, template.has_shard()) {
            (Some(_), false) => {
                return Err(UsageError::new(format!(
                    "--shards needs '{{shard}}' in --out '{text}'"
                ))
                .into());
            }
            (None, true) => {
                return Err(UsageError::new(format!(
                    "--out '{text}' has '{{shard}}' but no --shards"
                ))
                .into());
            }
            _ => {}
        }
        let mut dest = Dest {
            template,
            shards: cli.shards.map(|n| (n, cli.key.clone())),
            outputs: Outputs::new(MAX_OUTPUTS),
            written: 0,
        };
        if !dest.template.has_fields() {
            dest.open_group(&Record::new())
                .map_err(|e| UsageError::new(format!("{e:#}")))?;
        }
        Ok(dest)
    }

    /// Writes `record` to its file. The outer error is fatal (I/O, too many files); the inner
    /// one is the reason this record cannot be written.
    fn write(&mut self, record: &Record) -> anyhow::Result<Result<(), String>> {
        let shard = match &self.shards {
            None => None,
            Some((n, key)) => match shard_of(record, key, *n) {
                Ok(shard) => Some(shard),
                Err(reason) => return Ok(Err(reason)),
            },
        };
        let path = match self.template.render(record, shard) {
            Ok(path) => path,
            Err(reason) => return Ok(Err(reason)),
        };
        if !self.outputs.contains(&path) {
            self.open_group(record)?;
        }
        self.outputs.write(&path, record)?;
        self.written += 1;
        Ok(Ok(()))
    }

    /// Opens the destination of `record`, or with shards all N files of its group, so a
    /// runner can count on every shard file existing.
    fn open_group(&mut self, record: &Record) -> anyhow::Result<()> {
        let shards: Vec<Option<u64>> = match &self.shards {
            Some((n, _)) => (0..*n).map(Some).collect(),
            None => vec![None],
        };
        for shard in shards {
            // A field the record lacks is reported by the caller's render; nothing to open.
            if let Ok(path) = self.template.render(record, shard) {
                self.outputs.ensure(&path)?;
            }
        }
        Ok(())
    }
}
