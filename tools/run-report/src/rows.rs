//! One pass over gen.jsonl: the kept rows' count, lengths, columns, per-seed tally and a
//! seeded sample. Only the fields read are decoded; memory holds the sample, not the rows.

use std::path::Path;

use anyhow::Context;
use ktpipe_common::Record;
use serde::Deserialize;
use serde_json::Value;

use crate::charts::Histogram;
use crate::lines;
use crate::seeds::Seeds;

/// The sample is the same for the same file: it is drawn with this seed.
const SAMPLE_SEED: u64 = 0x6b74_7069_7065;

/// What gen.jsonl holds.
#[derive(Debug, Default)]
pub struct Kept {
    pub rows: u64,
    /// Characters of `question`, where rows have one.
    pub question_len: Histogram,
    /// Characters of `response`, where rows have one.
    pub response_len: Histogram,
    /// Fields of the rows, in the order first seen (the first row's, then the sample's).
    pub columns: Vec<String>,
    /// A seeded sample of whole rows, in file order.
    pub sample: Vec<Record>,
}

/// The fields read from every row.
#[derive(Deserialize)]
struct Row {
    seed_id: Option<Value>,
    document_outline: Option<Value>,
    question: Option<Value>,
    response: Option<Value>,
}

/// Reads `path`, counting each row's seed document into `seeds`.
pub fn read(path: &Path, seeds: &mut Seeds, sample_size: usize) -> anyhow::Result<Kept> {
    let mut kept = Kept::default();
    let mut rng = fastrand::Rng::with_seed(SAMPLE_SEED);
    // Reservoir sampling: (row number, row); whether a row is drawn is known before it is read.
    let mut sample: Vec<(u64, Record)> = Vec::with_capacity(sample_size);
    lines::each(path, "a row of a dataset", |index, row: Row, line| {
        kept.rows += 1;
        if let Some(seed_id) = row.seed_id.as_ref().and_then(Value::as_str) {
            seeds.kept(
                seed_id,
                row.document_outline.as_ref().and_then(Value::as_str),
            );
        }
        if let Some(text) = row.question.as_ref() {
            kept.question_len.add(chars(text));
        }
        if let Some(text) = row.response.as_ref() {
            kept.response_len.add(chars(text));
        }
        let slot = if (index as usize) < sample_size {
            Some(sample.len())
        } else {
            let j = rng.u64(0..=index) as usize;
            (j < sample_size).then_some(j)
        };
        if index == 0 || slot.is_some() {
            let record: Record = serde_json::from_slice(line).context("a row that decoded once")?;
            for name in record.keys() {
                if !kept.columns.contains(name) {
                    kept.columns.push(name.clone());
                }
            }
            match slot {
                Some(j) if j == sample.len() => sample.push((index, record)),
                Some(j) => sample[j] = (index, record),
                None => {}
            }
        }
        Ok(())
    })?;
    sample.sort_by_key(|(index, _)| *index);
    kept.sample = sample.into_iter().map(|(_, record)| record).collect();
    Ok(kept)
}

/// Characters of a text field (of its JSON for any other value).
fn chars(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.chars().count() as u64,
        other => other.to_string().chars().count() as u64,
    }
}
