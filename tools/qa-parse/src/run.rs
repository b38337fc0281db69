//! The record loop: parse each record's text field, emit one record per parsed row, and
//! reject records from which nothing parses. Records are read as `RawRecord`s: the other
//! fields, copied into every row, are copied as text.

use anyhow::Context;
use ktpipe_common::raw::RawRecord;
use ktpipe_common::reader::json_type;
use ktpipe_common::stream::Stream;
use ktpipe_common::{Located, Outcome};
use qa_parse::{habits, normalize};
use serde_json::Value;

use crate::cli::Cli;
use crate::config::{self, Config};

/// Runs qa-parse over its inputs.
pub fn run(cli: &Cli) -> anyhow::Result<Outcome> {
    let config = config::from_cli(cli)?;
    let mut stream = Stream::open("qa-parse", &cli.common)?;
    let mut skipped_items = 0u64;
    stream.for_each(|located: Located<RawRecord>, sink| {
        match rows_of(&config, &located.record, &mut skipped_items) {
            Ok(rows) => {
                let base = base_record(&config, &located.record);
                for (i, row) in rows.into_iter().enumerate() {
                    sink.emit(&output_record(&config, &base, row, i))?;
                }
                Ok(())
            }
            Err(reason) => sink.reject(located, &reason),
        }
    })?;
    if skipped_items > 0 {
        stream
            .summary_mut()
            .set("list_items_unparsed", skipped_items);
    }
    stream.finish().context("finishing")
}

/// The parsed rows of one record, or why there are none. A list of strings is parsed
/// item by item and the rows concatenated (the reference keeps one row holding lists);
/// empty or unparseable items add no rows and are counted in `skipped`.
fn rows_of(
    config: &Config,
    record: &RawRecord,
    skipped: &mut u64,
) -> Result<Vec<Vec<String>>, String> {
    let field = &config.from;
    match record.get(field) {
        None => Err(format!("record has no field '{field}'")),
        Some(Value::String(text)) if text.is_empty() => Err(format!("field '{field}' is empty")),
        Some(Value::String(text)) => config.parser.rows(&text, field),
        Some(Value::Array(items)) => rows_of_list(config, &items, skipped),
        Some(other) => Err(format!(
            "field '{field}' holds {}, expected a string",
            json_type(&other)
        )),
    }
}

fn rows_of_list(
    config: &Config,
    items: &[Value],
    skipped: &mut u64,
) -> Result<Vec<Vec<String>>, String> {
    let field = &config.from;
    if items.is_empty() {
        return Err(format!("field '{field}' is an empty list"));
    }
    let mut rows = Vec::new();
    let mut last_reason = String::new();
    for (i, item) in items.iter().enumerate() {
        let Value::String(text) = item else {
            return Err(format!(
                "item {i} of field '{field}' is {}, expected a string",
                json_type(item)
            ));
        };
        match config.parser.rows(text, field) {
            Ok(found) => rows.extend(found),
            Err(reason) => {
                *skipped += 1;
                last_reason = reason;
            }
        }
    }
    if rows.is_empty() {
        return Err(format!("no item of the list parsed: {last_reason}"));
    }
    Ok(rows)
}

/// The record every output row starts from: the input, without the text field unless it
/// is kept or is itself a target (then it is overwritten in place).
fn base_record(config: &Config, record: &RawRecord) -> RawRecord {
    let mut base = record.clone();
    if !config.keep_source && !config.targets.contains(&config.from) {
        base.remove(&config.from);
    }
    base
}

fn output_record(config: &Config, base: &RawRecord, row: Vec<String>, index: usize) -> RawRecord {
    let mut out = base.clone();
    for ((target, value), normalise) in config.targets.iter().zip(row).zip(&config.normalize) {
        let value = if *normalise && config.habits {
            habits::verdict(&value)
        } else if *normalise {
            normalize::verdict(&value)
        } else {
            value
        };
        out.insert(target, Value::String(value));
    }
    if let Some(index_field) = &config.index {
        out.insert(index_field, Value::from(index));
    }
    out
}
