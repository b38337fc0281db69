//! `--dedup`: drops a record whose text field is a near-duplicate of an earlier kept
//! record's in the same group (by default the same seed document).
//!
//! Groups arrive one after another, as the recipes' stages keep a seed's records
//! together: the kept texts of the current group are all it holds, so memory is bounded
//! by the largest group. A group that comes back after another one starts afresh. One
//! thread reads the records in order, so the first record seen always wins.

use std::collections::BTreeSet;

use ktpipe_common::raw::RawRecord;
use serde_json::Value;

use crate::similarity::{jaccard, words};

/// The `--dedup` settings and the state of the current group.
pub struct Dedup {
    field: String,
    group_by: String,
    threshold: f64,
    group: Option<Value>,
    kept: Vec<Kept>,
    /// Records dropped as repeats, for the summary.
    pub repeats: u64,
}

struct Kept {
    words: BTreeSet<String>,
    /// The text lowercased with its letters and digits alone, for texts of ignored words.
    plain: String,
    text: String,
}

/// What to do with one record.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// The first of its kind in its group: pass it on.
    Keep,
    /// A repeat or a record without the fields: reject it with this reason.
    Reject(String),
}

impl Dedup {
    /// Compares `field` within groups of equal `group_by`; `threshold` in (0, 1].
    pub fn new(field: &str, group_by: &str, threshold: f64) -> Self {
        Dedup {
            field: field.to_string(),
            group_by: group_by.to_string(),
            threshold,
            group: None,
            kept: Vec::new(),
            repeats: 0,
        }
    }

    /// Checks a record; a kept record is remembered for its group.
    pub fn check(&mut self, record: &RawRecord) -> Verdict {
        let text = match record.get(&self.field) {
            Some(Value::String(text)) => text,
            Some(_) => {
                return Verdict::Reject(format!("--dedup field '{}' is not a string", self.field));
            }
            None => {
                return Verdict::Reject(format!(
                    "--dedup needs field '{}', which the record lacks",
                    self.field
                ));
            }
        };
        let Some(group) = record.get(&self.group_by) else {
            return Verdict::Reject(format!(
                "--dedup-by needs field '{}', which the record lacks",
                self.group_by
            ));
        };
        if self.group.as_ref() != Some(&group) {
            self.group = Some(group);
            self.kept.clear();
        }
        let words = words(&text);
        let plain = plain(&text);
        for twin in &self.kept {
            let similarity = if words.is_empty() && twin.words.is_empty() {
                f64::from(u8::from(plain == twin.plain))
            } else {
                jaccard(&words, &twin.words)
            };
            if similarity >= self.threshold {
                self.repeats += 1;
                // The twin is named by its text, which stays the same however the input
                // is cut into shards; line numbers would not.
                return Verdict::Reject(format!(
                    "near-duplicate of the {} kept before it in its {} (similarity {similarity:.2}): '{}'",
                    self.field, self.group_by, twin.text
                ));
            }
        }
        self.kept.push(Kept { words, plain, text });
        Verdict::Keep
    }
}

fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seed: &str, question: &str) -> RawRecord {
        let line = serde_json::json!({"seed_id": seed, "question": question}).to_string();
        RawRecord::parse(line.as_bytes()).expect("record")
    }

    #[test]
    fn the_first_wins_within_a_group_and_groups_start_afresh() {
        let mut dedup = Dedup::new("question", "seed_id", 0.7);
        assert_eq!(
            dedup.check(&record("a", "What causes tides?")),
            Verdict::Keep
        );
        let Verdict::Reject(reason) = dedup.check(&record("a", "what really causes the tides"))
        else {
            panic!("a repeat was kept");
        };
        assert_eq!(
            reason,
            "near-duplicate of the question kept before it in its seed_id (similarity 1.00): 'What causes tides?'"
        );
        assert_eq!(
            dedup.check(&record("a", "Who measured the tides first?")),
            Verdict::Keep
        );
        assert_eq!(
            dedup.check(&record("b", "What causes tides?")),
            Verdict::Keep
        );
        assert_eq!(dedup.repeats, 1);
    }

    #[test]
    fn texts_of_ignored_words_are_compared_as_written() {
        let mut dedup = Dedup::new("question", "seed_id", 0.7);
        assert_eq!(dedup.check(&record("a", "Is it?")), Verdict::Keep);
        assert!(matches!(
            dedup.check(&record("a", "is it")),
            Verdict::Reject(_)
        ));
        assert_eq!(dedup.check(&record("a", "Was it?")), Verdict::Keep);
    }

    #[test]
    fn records_without_the_fields_are_rejected_with_the_reason() {
        let mut dedup = Dedup::new("question", "seed_id", 0.7);
        let no_group = RawRecord::parse(br#"{"question":"Why?"}"#).unwrap();
        assert_eq!(
            dedup.check(&no_group),
            Verdict::Reject("--dedup-by needs field 'seed_id', which the record lacks".into())
        );
        let number = RawRecord::parse(br#"{"seed_id":"a","question":3}"#).unwrap();
        assert_eq!(
            dedup.check(&number),
            Verdict::Reject("--dedup field 'question' is not a string".into())
        );
        assert_eq!(dedup.repeats, 0);
    }
}
