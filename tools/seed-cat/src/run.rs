//! The seed-cat stream: validate each row, complete the valid ones, and emit them all, the
//! first N, or a sample.

use std::collections::HashSet;
use std::io::{self, Write};
use std::sync::Arc;

use ktpipe_common::hash::{canonical_json, hash_u64};
use ktpipe_common::stream::{Sink, Stream};
use ktpipe_common::{Located, Outcome, Record, Writer};
use serde_json::Value;

use crate::cli::Cli;
use crate::row::{self, SEED_ID};
use crate::sample::Reservoir;
use crate::schema::SeedSchema;

/// Runs seed-cat over its inputs.
pub fn run(tool: &str, cli: &Cli) -> anyhow::Result<Outcome> {
    let schema = SeedSchema::load(cli.schema.as_deref(), &cli.require)?;
    let mut stream = Stream::open(tool, &cli.common)?;
    let mut seeds = Seeds {
        cli,
        schema,
        label: stream.label().to_string(),
        reservoir: cli.sample.map(|n| Reservoir::new(n, cli.sample_seed)),
        counts: Counts::default(),
        seen: HashSet::new(),
        first_duplicate: None,
    };
    stream.for_each(|located, sink| seeds.handle(located, sink))?;

    let mut emitted_late = 0;
    if let Some(reservoir) = seeds.reservoir.take() {
        let mut out = Writer::stdout();
        for record in reservoir.into_sorted() {
            out.write(&record)?;
            emitted_late += 1;
        }
        out.flush()?;
    }
    seeds.report_duplicates();
    let counts = seeds.counts;
    let summary = stream.summary_mut();
    summary.records_out += emitted_late;
    summary.rejected += counts.invalid_unfiled;
    for (name, value) in [
        (
            "skipped",
            counts.valid.saturating_sub(counts.emitted + emitted_late),
        ),
        ("icl_joined", counts.joined),
        ("duplicates", counts.duplicates),
    ] {
        if value > 0 && !cli.check {
            summary.set(name, value);
        }
    }
    let outcome = stream.finish()?;
    // An invalid seed is an input error: the run fails even when the row went to --rejects.
    Ok(if counts.invalid > 0 {
        Outcome::RecordsFailed
    } else {
        outcome
    })
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    valid: u64,
    emitted: u64,
    invalid: u64,
    invalid_unfiled: u64,
    joined: u64,
    duplicates: u64,
}

struct Seeds<'a> {
    cli: &'a Cli,
    schema: SeedSchema,
    label: String,
    reservoir: Option<Reservoir<Record>>,
    counts: Counts,
    seen: HashSet<u64>,
    first_duplicate: Option<String>,
}

impl Seeds<'_> {
    fn handle(&mut self, located: Located, sink: &mut Sink) -> anyhow::Result<()> {
        let Located {
            source,
            line,
            record,
        } = located;
        let value = Value::Object(record);
        let violations = self.schema.violations(&value);
        let place = format!("{source}:{line}");
        if !violations.is_empty() {
            return self.reject(value, violations, source, line, sink);
        }
        let id = (value.get(SEED_ID).is_none()).then(|| row::seed_id(&value));
        let mut record = into_record(value);
        if row::complete(&mut record, id.unwrap_or_default(), &self.cli.raw_field) {
            if self.counts.joined == 0 {
                self.warn(&format!(
                    "{place}: 'icl_document' is a list; its parts are joined with a blank line \
                     (said once per run)"
                ));
            }
            self.counts.joined += 1;
        }
        self.note_seed_id(&record, &place);
        self.counts.valid += 1;
        if self.cli.check || self.cli.head.is_some_and(|n| self.counts.valid > n) {
            return Ok(());
        }
        match &mut self.reservoir {
            Some(reservoir) => {
                reservoir.offer(record);
                Ok(())
            }
            None => {
                self.counts.emitted += 1;
                sink.emit(&record)
            }
        }
    }

    fn reject(
        &mut self,
        value: Value,
        violations: Vec<String>,
        source: Arc<str>,
        line: u64,
        sink: &mut Sink,
    ) -> anyhow::Result<()> {
        self.counts.invalid += 1;
        for violation in &violations {
            self.warn_raw(&format!("{source}:{line}: {violation}"));
        }
        if self.cli.common.rejects.is_some() {
            let record = into_record(value);
            sink.reject(
                Located {
                    source,
                    line,
                    record,
                },
                &violations.join("; "),
            )
        } else {
            // Already reported line by line above; counted into the summary at the end.
            self.counts.invalid_unfiled += 1;
            Ok(())
        }
    }

    fn note_seed_id(&mut self, record: &Record, place: &str) {
        let Some(id) = record.get(SEED_ID) else {
            return;
        };
        let mut buf = Vec::new();
        canonical_json(id, &mut buf);
        if !self.seen.insert(hash_u64(&buf)) {
            self.counts.duplicates += 1;
            self.first_duplicate
                .get_or_insert_with(|| place.to_string());
        }
    }

    fn report_duplicates(&self) {
        if let Some(place) = &self.first_duplicate {
            self.warn(&format!(
                "{} row(s) repeat the seed_id of an earlier row (first at {place}); they are kept",
                self.counts.duplicates
            ));
        }
    }

    fn warn(&self, message: &str) {
        self.warn_raw(&format!("warning: {message}"));
    }

    fn warn_raw(&self, message: &str) {
        let _ = writeln!(io::stderr().lock(), "{}: {message}", self.label);
    }
}

fn into_record(value: Value) -> Record {
    match value {
        Value::Object(map) => map,
        // The reader only yields objects.
        _ => Record::new(),
    }
}
