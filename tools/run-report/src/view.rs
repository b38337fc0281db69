//! What the report and the cards show, computed from a dataset folder and its two files:
//! plain values, formatted once, so the templates only lay them out.

use serde::Serialize;

use crate::charts::{self, Chart, Histogram};
use crate::folder::{Folder, State};
use crate::rejects::Rejected;
use crate::rows::Kept;
use crate::seeds::Seeds;

/// Seed documents listed by name per dataset (the fewest rows first); the chart shows all.
const SEEDS_LISTED: usize = 25;
/// Characters of a sampled field or an example shown, so the page stays small.
const TEXT_SHOWN: usize = 600;

/// One dataset's section of the report.
#[derive(Debug, Serialize)]
pub struct DatasetView {
    pub name: String,
    /// complete, failed, incomplete or absent.
    pub state: &'static str,
    /// Why it is not complete.
    pub note: String,
    pub kept: u64,
    pub rejected: u64,
    /// Seed rows the recipe read.
    pub seeds: u64,
    pub seconds: String,
    pub funnel: Vec<FunnelRow>,
    pub reasons: Vec<ReasonRow>,
    pub per_seed: Vec<SeedRow>,
    pub seeds_more: usize,
    pub seeds_without_rows: u64,
    pub per_seed_chart: Chart,
    pub teacher: Teacher,
    pub question: Option<Lengths>,
    pub response: Option<Lengths>,
    pub judge: Option<Judge>,
    /// Near-duplicates set aside, when a stage removes them.
    pub repeats: Option<u64>,
    pub sample: Vec<Vec<(String, String)>>,
    /// Prompt files the recipe rendered, and their SHA-256.
    pub prompts: Vec<(String, String)>,
    pub columns: Vec<String>,
    pub model: String,
}

#[derive(Debug, Serialize)]
pub struct FunnelRow {
    pub stage: String,
    pub tool: String,
    pub input: u64,
    pub output: u64,
    pub rejected: u64,
    /// The bar's width, in percent of the widest stage's output.
    pub width: f64,
}

#[derive(Debug, Serialize)]
pub struct ReasonRow {
    pub stage: String,
    pub reason: String,
    pub count: u64,
    pub example_reason: String,
    pub example_text: String,
}

#[derive(Debug, Serialize)]
pub struct SeedRow {
    pub seed_id: String,
    pub outline: String,
    pub kept: u64,
    pub rejected: u64,
}

/// The teacher's work for this dataset: in total and per kept row.
#[derive(Debug, Default, Serialize)]
pub struct Teacher {
    pub requests: u64,
    pub cache_hits: u64,
    pub retries: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Replies whose token counts the teacher did not report (not counted as 0).
    pub tokens_unknown: u64,
    pub requests_per_row: String,
    pub tokens_per_row: String,
    pub seconds_per_row: String,
}

#[derive(Debug, Serialize)]
pub struct Lengths {
    pub n: u64,
    pub mean: String,
    pub max: u64,
    pub chart: Chart,
}

#[derive(Debug, Serialize)]
pub struct Judge {
    pub judged: u64,
    pub yes: u64,
    pub share: String,
}

/// The view of a dataset that could not be read through.
pub fn unfinished(folder: &Folder) -> DatasetView {
    let (state, note) = match &folder.state {
        State::Complete => ("complete", String::new()),
        State::Failed(why) => ("failed", why.clone()),
        State::Incomplete(why) => ("incomplete", why.clone()),
        State::Absent => ("absent", format!("no folder '{}'", folder.dir.display())),
    };
    DatasetView {
        name: folder.name.clone(),
        state,
        note,
        kept: 0,
        rejected: 0,
        seeds: 0,
        seconds: String::new(),
        funnel: Vec::new(),
        reasons: Vec::new(),
        per_seed: Vec::new(),
        seeds_more: 0,
        seeds_without_rows: 0,
        per_seed_chart: charts::bars(&[]),
        teacher: Teacher::default(),
        question: None,
        response: None,
        judge: None,
        repeats: None,
        sample: Vec::new(),
        prompts: Vec::new(),
        columns: Vec::new(),
        model: String::new(),
    }
}

/// The view of a complete dataset.
pub fn complete(folder: &Folder, kept: Kept, rejected: Rejected, seeds: &Seeds) -> DatasetView {
    let stages = &folder.stages;
    let widest = stages
        .iter()
        .map(|s| s.count("out"))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let funnel = stages
        .iter()
        .map(|s| FunnelRow {
            stage: s.name.clone(),
            tool: s.tool.clone(),
            input: s.count("in"),
            output: s.count("out"),
            rejected: s.count("rejected"),
            width: (s.count("out") as f64 / widest * 1000.0).round() / 10.0,
        })
        .collect();
    let reasons = rejected
        .kinds
        .into_iter()
        .map(|k| ReasonRow {
            stage: k.stage,
            reason: k.reason,
            count: k.count,
            example_reason: clip(&k.example_reason, TEXT_SHOWN),
            example_text: clip(&k.example_text, TEXT_SHOWN),
        })
        .collect();

    let seeds_read = stages.first().map_or(0, |s| s.count("out"));
    let sorted = seeds.sorted();
    let mut per_seed_counts = Histogram::default();
    for (_, tally) in &sorted {
        per_seed_counts.add(tally.kept);
    }
    // Seed documents that left neither a row nor a reject (none of ours do; a safeguard).
    let unseen = seeds_read.saturating_sub(sorted.len() as u64);
    for _ in 0..unseen {
        per_seed_counts.add(0);
    }
    let without = sorted.iter().filter(|(_, t)| t.kept == 0).count() as u64 + unseen;
    let per_seed = sorted
        .iter()
        .take(SEEDS_LISTED)
        .map(|(id, t)| SeedRow {
            seed_id: id.to_string(),
            outline: clip(&t.outline, 80),
            kept: t.kept,
            rejected: t.rejected,
        })
        .collect();

    let llm = || stages.iter().filter(|s| s.tool == "llm-call");
    let sum = |name: &str| llm().map(|s| s.count(name)).sum::<u64>();
    let seconds = dataset_seconds(folder);
    let rows = kept.rows;
    let per_row = |v: f64| {
        if rows == 0 {
            "–".to_string()
        } else {
            format!("{:.2}", v / rows as f64)
        }
    };
    let mut teacher = Teacher {
        requests: sum("requests"),
        cache_hits: sum("cache_hits"),
        retries: sum("retries"),
        prompt_tokens: sum("prompt_tokens"),
        completion_tokens: sum("completion_tokens"),
        tokens_unknown: sum("tokens_unknown"),
        ..Teacher::default()
    };
    teacher.requests_per_row = per_row(teacher.requests as f64);
    teacher.tokens_per_row = per_row((teacher.prompt_tokens + teacher.completion_tokens) as f64);
    teacher.seconds_per_row = per_row(seconds);

    let judge = stages.iter().find(|s| s.name == "faithful").map(|s| Judge {
        judged: s.count("in"),
        yes: s.count("out"),
        share: percent(s.count("out"), s.count("in")),
    });
    let dedups: Vec<u64> = stages
        .iter()
        .filter(|s| s.stats.contains_key("repeats"))
        .map(|s| s.count("repeats"))
        .collect();
    let prompts = stages
        .iter()
        .filter_map(|s| {
            Some((
                s.text("template")?.to_string(),
                s.text("template_sha256")?.to_string(),
            ))
        })
        .collect();

    DatasetView {
        name: folder.name.clone(),
        state: "complete",
        note: String::new(),
        kept: rows,
        rejected: rejected.total,
        seeds: seeds_read,
        seconds: format!("{seconds:.1}"),
        funnel,
        reasons,
        per_seed,
        seeds_more: sorted.len().saturating_sub(SEEDS_LISTED),
        seeds_without_rows: without,
        per_seed_chart: charts::bars(&per_seed_counts.buckets()),
        teacher,
        question: lengths(&kept.question_len),
        response: lengths(&kept.response_len),
        judge,
        repeats: (!dedups.is_empty()).then(|| dedups.iter().sum()),
        sample: kept
            .sample
            .iter()
            .map(|row| {
                row.iter()
                    .map(|(name, value)| {
                        let text = value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_string);
                        (name.clone(), clip(&text, TEXT_SHOWN))
                    })
                    .collect()
            })
            .collect(),
        prompts,
        columns: kept.columns,
        model: crate::run_view::distinct(folder.stamps.iter().filter_map(|s| s.get("model"))),
    }
}

/// The dataset's wall time: from its stamp, or else its longest stage.
fn dataset_seconds(folder: &Folder) -> f64 {
    let stamped: Vec<f64> = folder
        .stamps
        .iter()
        .filter_map(|s| Some(s.epoch("finished")? - s.epoch("started")?))
        .collect();
    if stamped.is_empty() {
        folder
            .stages
            .iter()
            .map(|s| s.real("seconds"))
            .fold(0.0, f64::max)
    } else {
        stamped.into_iter().fold(0.0, f64::max)
    }
}

fn lengths(h: &Histogram) -> Option<Lengths> {
    (h.n > 0).then(|| Lengths {
        n: h.n,
        mean: format!("{:.0}", h.mean()),
        max: h.max,
        chart: charts::bars(&h.buckets()),
    })
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

/// At most `n` characters of `text`, with '…' where it was cut.
pub fn clip(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_at_characters() {
        assert_eq!(clip("日本語の文", 3), "日本語…");
        assert_eq!(clip("short", 10), "short");
    }
}
