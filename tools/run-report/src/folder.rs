//! A dataset folder as the recipes leave it: whether it is complete, its stages in
//! pipeline order with their summaries, and the run stamp. A sharded run's folder has no
//! stage files of its own; its shards' are added up, stage by stage.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Map, Value};

/// How far a dataset got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// gen.jsonl and rejects.jsonl were published by a run whose every stage finished.
    Complete,
    /// The last run failed; the files there, if any, are an earlier run's.
    Failed(String),
    /// Being written, stopped before the end, or not a run's files; the reason.
    Incomplete(String),
    /// No folder for it.
    Absent,
}

/// One stage's summary (its `--stats` file).
#[derive(Debug, Clone)]
pub struct Stage {
    /// The stage's name in the recipe (`answers`).
    pub name: String,
    /// The tool that ran it (`llm-call`).
    pub tool: String,
    /// The summary's figures: in, out, rejected, requests, tokens…
    pub stats: Map<String, Value>,
}

impl Stage {
    /// A figure of the summary, 0 when the tool does not report it.
    pub fn count(&self, name: &str) -> u64 {
        self.stats.get(name).and_then(Value::as_u64).unwrap_or(0)
    }

    /// A figure that is a number of seconds or megabytes.
    pub fn real(&self, name: &str) -> f64 {
        self.stats.get(name).and_then(Value::as_f64).unwrap_or(0.0)
    }

    /// A text field of the summary.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.stats.get(name).and_then(Value::as_str)
    }
}

/// The `name=value` lines of `.stages/run.txt`, which the recipes write at the end of a run.
#[derive(Debug, Clone, Default)]
pub struct Stamp {
    /// In file order.
    pub fields: Vec<(String, String)>,
}

impl Stamp {
    /// A field's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Seconds since the epoch in a field (`started`, `finished`).
    pub fn epoch(&self, name: &str) -> Option<f64> {
        self.get(name)?.parse().ok()
    }

    /// The run's settings, `setting.<name>` lines, in file order.
    pub fn settings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .filter_map(|(n, v)| Some((n.strip_prefix("setting.")?, v.as_str())))
    }
}

/// A dataset folder, read.
#[derive(Debug)]
pub struct Folder {
    /// The dataset's name (its folder's name).
    pub name: String,
    /// `<out>/<name>`.
    pub dir: PathBuf,
    pub state: State,
    /// In pipeline order; for a sharded run, summed over the shards.
    pub stages: Vec<Stage>,
    /// One per run that wrote the stages (a sharded run has one per shard).
    pub stamps: Vec<Stamp>,
}

impl Folder {
    /// Reads `<out>/<name>`. Errors are I/O failures; a folder that is not complete is a
    /// `State`, not an error.
    pub fn read(out: &Path, name: &str) -> anyhow::Result<Folder> {
        let dir = out.join(name);
        let mut folder = Folder {
            name: name.to_string(),
            dir: dir.clone(),
            state: State::Complete,
            stages: Vec::new(),
            stamps: Vec::new(),
        };
        if !dir.is_dir() {
            folder.state = State::Absent;
            return Ok(folder);
        }
        let stage_dirs = stage_dirs(out, name)?;
        let mut problem = None;
        for stage_dir in &stage_dirs {
            match read_stages(stage_dir)? {
                Ok((stages, stamp)) => {
                    add_stages(&mut folder.stages, stages);
                    folder.stamps.extend(stamp);
                }
                Err(state) => problem = problem.or(Some(state)),
            }
        }
        folder.state = if let Some(state) = problem {
            state
        } else if stage_dirs.is_empty() {
            State::Incomplete("no stage summaries (.stages/order): not written by a recipe".into())
        } else if dir.join(".gen.jsonl.partial").exists() {
            State::Incomplete("a run is writing it or stopped before its end".into())
        } else if !dir.join("gen.jsonl").is_file() || !dir.join("rejects.jsonl").is_file() {
            State::Incomplete("gen.jsonl or rejects.jsonl is missing".into())
        } else {
            State::Complete
        };
        Ok(folder)
    }

    /// The rows the last stage wrote, which gen.jsonl must hold.
    pub fn last_out(&self) -> u64 {
        self.stages.last().map_or(0, |s| s.count("out"))
    }
}

/// The folders holding a dataset's stage files: its own `.stages`, or else its shards'.
fn stage_dirs(out: &Path, name: &str) -> anyhow::Result<Vec<PathBuf>> {
    let own = out.join(name).join(".stages");
    if own.join("order").exists() || own.join("failed").exists() {
        return Ok(vec![own]);
    }
    let shards = out.join("shards");
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    if shards.is_dir() {
        for entry in
            fs::read_dir(&shards).with_context(|| format!("reading '{}'", shards.display()))?
        {
            let entry = entry?;
            let Some(index) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let dir = entry.path().join(name).join(".stages");
            if dir.join("order").exists() {
                found.push((index, dir));
            }
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, dir)| dir).collect())
}

/// Sorts `PID STAGE` entries into the order their stages were forked. PIDs wrap around (at
/// 32,768 on many systems, at most 2^22), and a pipeline's stages are forked within far
/// fewer than 16,384 PIDs: when its PIDs lie further apart, the low ones were forked after
/// the wrap and come last. The recipes' `ktp_stage_order` applies the same rule.
fn fork_order(named: &mut [(u64, &str)]) {
    const SPAN: u64 = 1 << 14;
    const LARGEST_PID_MAX: u64 = 1 << 22;
    let max = named.iter().map(|(pid, _)| *pid).max().unwrap_or(0);
    let min = named.iter().map(|(pid, _)| *pid).min().unwrap_or(0);
    let wrapped = max - min > SPAN;
    named.sort_by_key(|&(pid, _)| {
        if wrapped && pid < max - SPAN {
            pid + LARGEST_PID_MAX
        } else {
            pid
        }
    });
}

/// One `.stages` folder read: its stages in order and its stamp, or why it is not complete.
type Read = Result<(Vec<Stage>, Option<Stamp>), State>;

/// Reads one `.stages` folder; errors are I/O failures and files that are not ours.
fn read_stages(dir: &Path) -> anyhow::Result<Read> {
    let failed = dir.join("failed");
    if failed.exists() {
        let text = fs::read_to_string(&failed).unwrap_or_default();
        let stages = text.lines().collect::<Vec<_>>().join(", ");
        return Ok(Err(State::Failed(format!(
            "the last run failed at stage {stages}"
        ))));
    }
    let order = dir.join("order");
    let text =
        fs::read_to_string(&order).with_context(|| format!("reading '{}'", order.display()))?;
    // Each line is `PID NAME`; the stages of a pipeline are forked left to right.
    let mut named: Vec<(u64, &str)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let parsed = line
            .split_once(' ')
            .and_then(|(pid, name)| Some((pid.parse().ok()?, name)));
        match parsed {
            Some(entry) => named.push(entry),
            None => {
                return Ok(Err(State::Incomplete(format!(
                    "'{}' line {}: expected 'PID STAGE', got '{line}'",
                    order.display(),
                    i + 1
                ))));
            }
        }
    }
    fork_order(&mut named);
    let mut stages = Vec::new();
    for (_, name) in named {
        let path = dir.join(format!("{name}.stats.json"));
        let Ok(text) = fs::read_to_string(&path) else {
            return Ok(Err(State::Incomplete(format!(
                "stage '{name}' left no summary: the run did not finish"
            ))));
        };
        let stats: Map<String, Value> = serde_json::from_str(&text)
            .with_context(|| format!("'{}' is not a JSON object", path.display()))?;
        let label = stats.get("stage").and_then(Value::as_str).unwrap_or(name);
        let tool = label.split('[').next().unwrap_or(label).to_string();
        stages.push(Stage {
            name: name.to_string(),
            tool,
            stats,
        });
    }
    let stamp = fs::read_to_string(dir.join("run.txt"))
        .ok()
        .map(|text| Stamp {
            fields: text
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        });
    Ok(Ok((stages, stamp)))
}

/// Adds a shard's stages to the sum: counts add up, times and memory take the largest.
fn add_stages(sum: &mut Vec<Stage>, stages: Vec<Stage>) {
    if sum.is_empty() {
        *sum = stages;
        return;
    }
    for stage in stages {
        let Some(into) = sum.iter_mut().find(|s| s.name == stage.name) else {
            sum.push(stage);
            continue;
        };
        for (key, value) in stage.stats {
            let merged = match (into.stats.get(&key), &value) {
                (Some(Value::Number(a)), Value::Number(b)) => match (a.as_u64(), b.as_u64()) {
                    (Some(a), Some(b)) => Value::from(a + b),
                    _ => Value::from(a.as_f64().unwrap_or(0.0).max(b.as_f64().unwrap_or(0.0))),
                },
                _ => value,
            };
            into.stats.insert(key, merged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(mut named: Vec<(u64, &str)>) -> Vec<&str> {
        fork_order(&mut named);
        named.into_iter().map(|(_, name)| name).collect()
    }

    #[test]
    fn stages_are_in_fork_order_across_a_pid_wrap() {
        assert_eq!(
            names(vec![(512, "b"), (17, "a"), (900, "c")]),
            ["a", "b", "c"]
        );
        let wrapped = vec![(302, "c"), (32_760, "a"), (300, "b2"), (32_767, "b")];
        assert_eq!(names(wrapped), ["a", "b", "b2", "c"]);
        let wrapped = vec![(4_194_300, "a"), (301, "b")];
        assert_eq!(names(wrapped), ["a", "b"]);
    }
}
