//! The end-of-run summary: one line on stderr (`tool: 10 in, 40 out, 1 rejected, 0.2s`),
//! and optionally the same numbers as JSON for the recipes' per-stage report, with the
//! process's own CPU seconds and peak memory.

use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::{Map, Value, json};

use crate::usage::Usage;

/// Counters for one run of one tool.
pub struct Summary {
    label: String,
    started: Instant,
    /// Records read.
    pub records_in: u64,
    /// Records written to stdout.
    pub records_out: u64,
    /// Records sent to rejects.
    pub rejected: u64,
    extra: Vec<(&'static str, Value)>,
}

impl Summary {
    /// Starts the clock.
    pub fn new(label: &str) -> Self {
        Summary {
            label: label.to_string(),
            started: Instant::now(),
            records_in: 0,
            records_out: 0,
            rejected: 0,
            extra: Vec::new(),
        }
    }

    /// Adds a tool-specific figure (requests, tokens, cache hits…), shown after the counts.
    pub fn set(&mut self, name: &'static str, value: impl Into<Value>) {
        let value = value.into();
        match self.extra.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.extra.push((name, value)),
        }
    }

    /// The summary as a JSON object.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("stage".into(), json!(self.label));
        map.insert("in".into(), json!(self.records_in));
        map.insert("out".into(), json!(self.records_out));
        map.insert("rejected".into(), json!(self.rejected));
        for (name, value) in &self.extra {
            map.insert((*name).into(), value.clone());
        }
        map.insert(
            "seconds".into(),
            json!((self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0),
        );
        if let Some(usage) = Usage::current() {
            map.insert("cpu_seconds".into(), json!(usage.cpu_s));
            map.insert("peak_rss_mb".into(), json!(usage.peak_rss_mib()));
        }
        Value::Object(map)
    }

    /// The one-line human form.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} in, {} out, {} rejected",
            self.records_in, self.records_out, self.rejected
        );
        for (name, value) in &self.extra {
            let shown = match value {
                Value::String(text) => text.clone(),
                Value::Null => "unknown".to_string(),
                other => other.to_string(),
            };
            line.push_str(&format!(", {shown} {}", name.replace('_', " ")));
        }
        line.push_str(&format!(", {:.2}s", self.started.elapsed().as_secs_f64()));
        line
    }

    /// Prints the line on stderr unless `quiet`, and writes the JSON file if asked.
    pub fn finish(&self, quiet: bool, stats: Option<&Path>) -> anyhow::Result<()> {
        if !quiet {
            let _ = writeln!(io::stderr().lock(), "{}: {}", self.label, self.line());
        }
        if let Some(path) = stats {
            let mut text = serde_json::to_string(&self.to_json()).context("encoding stats")?;
            text.push('\n');
            std::fs::write(path, text)
                .with_context(|| format!("writing stats file '{}'", path.display()))?;
        }
        Ok(())
    }
}

/// The columns of the per-stage table: a `--stats` field and its heading.
const REPORT_COLUMNS: [(&str, &str); 11] = [
    ("stage", "stage"),
    ("in", "in"),
    ("out", "out"),
    ("rejected", "rejected"),
    ("requests", "requests"),
    ("cache_hits", "cache hits"),
    ("prompt_tokens", "prompt tok"),
    ("completion_tokens", "compl tok"),
    ("seconds", "seconds"),
    ("cpu_seconds", "cpu s"),
    ("peak_rss_mb", "peak MiB"),
];

/// The columns that sum the teacher's token counts: where some replies came without
/// counts (`tokens_unknown` above 0) a sum reads `N+?`, and `?` when none had any.
const TOKEN_COLUMNS: [&str; 2] = ["prompt_tokens", "completion_tokens"];

/// The recipes' per-stage table from the stages' `--stats` objects, in pipeline order:
/// the stage name left-aligned, the figures right-aligned, a field a tool does not report
/// left blank.
pub fn report(stages: &[Value]) -> String {
    let cell = |stats: &Value, key: &str| {
        let unknown = TOKEN_COLUMNS.contains(&key)
            && stats
                .get("tokens_unknown")
                .and_then(Value::as_u64)
                .is_some_and(|n| n > 0);
        match stats.get(key) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) if unknown => "?".to_string(),
            Some(Value::Null) | None => String::new(),
            Some(other) if unknown => format!("{other}+?"),
            Some(other) => other.to_string(),
        }
    };
    let mut rows = vec![REPORT_COLUMNS.map(|(_, title)| title.to_string())];
    rows.extend(
        stages
            .iter()
            .map(|stats| REPORT_COLUMNS.map(|(key, _)| cell(stats, key))),
    );
    let widths: Vec<usize> = (0..REPORT_COLUMNS.len())
        .map(|i| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = format!("{:<w$}", row[0], w = widths[0]);
        for (text, width) in row.iter().zip(&widths).skip(1) {
            line.push_str(&format!("  {text:>width$}"));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_aligns_every_column_and_leaves_missing_figures_blank() {
        let stages = [
            json!({"stage": "llm-call[d/answers]", "in": 12, "out": 12, "rejected": 0,
                   "requests": 12, "cache_hits": 0, "prompt_tokens": 1500,
                   "completion_tokens": 900, "seconds": 1.25, "cpu_seconds": 0.04,
                   "peak_rss_mb": 17.5}),
            json!({"stage": "qa-parse[d/split]", "in": 12, "out": 30, "rejected": 2,
                   "seconds": 0.5, "cpu_seconds": 0.01, "peak_rss_mb": 9.0}),
        ];
        let table = report(&stages);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "stage                in  out  rejected  requests  cache hits  prompt tok  compl tok  seconds  cpu s  peak MiB"
        );
        assert_eq!(
            lines[1],
            "llm-call[d/answers]  12   12         0        12           0        1500        900     1.25   0.04      17.5"
        );
        assert_eq!(
            lines[2],
            "qa-parse[d/split]    12   30         2                                                   0.5   0.01       9.0"
        );
    }

    #[test]
    fn token_sums_that_miss_replies_say_so() {
        let stages = [
            json!({"stage": "a", "prompt_tokens": 1500, "completion_tokens": 900,
                   "tokens_unknown": 2}),
            json!({"stage": "b", "prompt_tokens": null, "completion_tokens": null,
                   "tokens_unknown": 5}),
            json!({"stage": "c", "prompt_tokens": 7, "completion_tokens": 3,
                   "tokens_unknown": 0}),
        ];
        let table = report(&stages);
        let cells: Vec<Vec<&str>> = table
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            cells,
            [
                vec!["a", "1500+?", "900+?"],
                vec!["b", "?", "?"],
                vec!["c", "7", "3"]
            ]
        );
        let mut summary = Summary::new("llm-call");
        summary.set("prompt_tokens", Value::Null);
        summary.set("tokens_unknown", 5);
        assert!(
            summary
                .line()
                .contains(", unknown prompt tokens, 5 tokens unknown,"),
            "{}",
            summary.line()
        );
    }
}
