//! The run as a whole, for the report's head: its times from the datasets' stamps, its
//! teacher, its settings, and the requests of all its datasets.

use serde::Serialize;

use crate::folder::{Folder, Stamp};
use crate::view::DatasetView;

/// The run as a whole.
#[derive(Debug, Default, Serialize)]
pub struct RunView {
    pub version: String,
    pub models: String,
    pub hosts: String,
    pub started: String,
    pub finished: String,
    pub wall: String,
    pub requests: u64,
    pub cache_hits: u64,
    pub settings: Vec<(String, String)>,
}

/// The run: its times from the stamps, its teacher, its settings, the datasets' requests.
pub fn run(folders: &[Folder], datasets: &[DatasetView], version: &str) -> RunView {
    let stamps: Vec<&Stamp> = folders.iter().flat_map(|f| &f.stamps).collect();
    let first = stamps
        .iter()
        .filter(|s| s.epoch("started").is_some())
        .min_by(|a, b| {
            a.epoch("started")
                .partial_cmp(&b.epoch("started"))
                .expect("finite")
        });
    let last = stamps
        .iter()
        .filter(|s| s.epoch("finished").is_some())
        .max_by(|a, b| {
            a.epoch("finished")
                .partial_cmp(&b.epoch("finished"))
                .expect("finite")
        });
    let wall = match (first, last) {
        (Some(a), Some(b)) => format!(
            "{:.1}",
            b.epoch("finished").unwrap_or(0.0) - a.epoch("started").unwrap_or(0.0)
        ),
        _ => "–".into(),
    };
    let mut settings: Vec<(String, Vec<String>)> = Vec::new();
    for stamp in &stamps {
        for (name, value) in stamp.settings() {
            match settings.iter_mut().find(|(n, _)| n == name) {
                Some((_, values)) if !values.iter().any(|v| v == value) => {
                    values.push(value.into())
                }
                Some(_) => {}
                None => settings.push((name.into(), vec![value.into()])),
            }
        }
    }
    RunView {
        version: version.to_string(),
        models: distinct(stamps.iter().filter_map(|s| s.get("model"))),
        hosts: distinct(stamps.iter().filter_map(|s| s.get("host"))),
        started: first
            .and_then(|s| s.get("started_at"))
            .unwrap_or("–")
            .into(),
        finished: last
            .and_then(|s| s.get("finished_at"))
            .unwrap_or("–")
            .into(),
        wall,
        requests: datasets.iter().map(|d| d.teacher.requests).sum(),
        cache_hits: datasets.iter().map(|d| d.teacher.cache_hits).sum(),
        settings: settings
            .into_iter()
            .map(|(n, v)| (n, v.join(" | ")))
            .collect(),
    }
}

/// The distinct non-empty values, in order, joined; "–" for none.
pub fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for v in values.filter(|v| !v.is_empty()) {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    if seen.is_empty() {
        "–".into()
    } else {
        seen.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keeps_first_order() {
        assert_eq!(distinct(["b", "a", "b", ""].into_iter()), "b, a");
        assert_eq!(distinct(std::iter::empty()), "–");
    }
}
