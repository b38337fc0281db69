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
    // The earliest start and the latest finish, each with its stamp.
    let timed = |field| {
        stamps
            .iter()
            .filter_map(move |s| Some((s.epoch(field)?, *s)))
    };
    let first = timed("started").min_by(|a, b| a.0.total_cmp(&b.0));
    let last = timed("finished").max_by(|a, b| a.0.total_cmp(&b.0));
    let wall = match (first, last) {
        (Some((started, _)), Some((finished, _))) => format!("{:.1}", finished - started),
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
            .and_then(|(_, s)| s.get("started_at"))
            .unwrap_or("–")
            .into(),
        finished: last
            .and_then(|(_, s)| s.get("finished_at"))
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
