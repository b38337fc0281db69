//! One pass over rejects.jsonl: records set aside per stage and reason, with one example
//! of each, and the per-seed tally. Reasons that differ only in the details after their
//! first ': ' or ' (' (a similarity, the kept twin, the teacher's error) are one kind.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::lines;
use crate::seeds::Seeds;

/// Kinds of reason kept apart; the rest of a run's are counted as "other reasons".
const MAX_KINDS: usize = 100;

/// Records of one stage set aside for one kind of reason.
#[derive(Debug, Clone)]
pub struct Kind {
    /// The stage's name in the recipe.
    pub stage: String,
    /// The reason, without its details.
    pub reason: String,
    pub count: u64,
    /// The first such record's whole reason.
    pub example_reason: String,
    /// The first such record's question (or, lacking one, its response or document).
    pub example_text: String,
}

/// What rejects.jsonl holds.
#[derive(Debug, Default)]
pub struct Rejected {
    pub total: u64,
    /// In the order first seen, which is pipeline order.
    pub kinds: Vec<Kind>,
}

#[derive(Deserialize)]
struct Row {
    seed_id: Option<Value>,
    document_outline: Option<Value>,
    question: Option<Value>,
    response: Option<Value>,
    document: Option<Value>,
    #[serde(rename = "_reject")]
    reject: Option<Why>,
}

#[derive(Deserialize)]
struct Why {
    tool: Option<String>,
    reason: Option<String>,
}

/// Reads `path`, counting each record's seed document into `seeds`.
pub fn read(path: &Path, seeds: &mut Seeds) -> anyhow::Result<Rejected> {
    let mut rejected = Rejected::default();
    lines::each(path, "a rejected record", |_, row: Row, _| {
        rejected.total += 1;
        if let Some(seed_id) = row.seed_id.as_ref().and_then(Value::as_str) {
            seeds.rejected(
                seed_id,
                row.document_outline.as_ref().and_then(Value::as_str),
            );
        }
        let why = row.reject.unwrap_or(Why {
            tool: None,
            reason: None,
        });
        let stage = stage_name(why.tool.as_deref().unwrap_or("unknown"));
        let full = why.reason.unwrap_or_else(|| "no reason given".into());
        let mut reason = kind_of(&full);
        if !rejected
            .kinds
            .iter()
            .any(|k| k.stage == stage && k.reason == reason)
            && rejected.kinds.len() >= MAX_KINDS
        {
            reason = "other reasons".into();
        }
        match rejected
            .kinds
            .iter_mut()
            .find(|k| k.stage == stage && k.reason == reason)
        {
            Some(kind) => kind.count += 1,
            None => {
                let text = [&row.question, &row.response, &row.document]
                    .into_iter()
                    .flatten()
                    .find_map(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                rejected.kinds.push(Kind {
                    stage,
                    reason,
                    count: 1,
                    example_reason: full,
                    example_text: text,
                });
            }
        }
        Ok(())
    })?;
    Ok(rejected)
}

/// `jsonl-split[dataset/faithful]` → `faithful`; a label without a stage stays whole.
fn stage_name(tool: &str) -> String {
    tool.split_once('/')
        .map(|(_, rest)| rest.trim_end_matches(']'))
        .unwrap_or(tool)
        .to_string()
}

/// A reason without its details: up to its first ': ' or ' ('.
fn kind_of(reason: &str) -> String {
    let end = [reason.find(": "), reason.find(" (")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(reason.len());
    let kind = reason[..end].trim();
    if kind.is_empty() {
        reason.trim().to_string()
    } else {
        kind.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_lose_their_details() {
        assert_eq!(
            kind_of("near-duplicate of the question kept before it (similarity 0.83): 'Why?'"),
            "near-duplicate of the question kept before it"
        );
        assert_eq!(
            kind_of("teacher request failed after 3 attempts: HTTP 500"),
            "teacher request failed after 3 attempts"
        );
        assert_eq!(
            kind_of("did not match --where 'faithfulness_judgment == \"YES\"'"),
            "did not match --where 'faithfulness_judgment == \"YES\"'"
        );
    }

    #[test]
    fn stages_are_named_as_in_the_recipe() {
        assert_eq!(
            stage_name("jsonl-split[key_facts_to_qa/repeats]"),
            "repeats"
        );
        assert_eq!(stage_name("qa-parse"), "qa-parse");
    }
}
