//! Reads every dataset of the output folder, then writes the report and the cards, each
//! file renamed into place whole.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ktpipe_common::{Outcome, UsageError};

use crate::cli::Cli;
use crate::folder::{Folder, State};
use crate::seeds::Seeds;
use crate::view::{self, DatasetView};
use crate::{card, html, rejects, rows};

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("KTPIPE_COMMIT"), ")");

/// Runs run-report.
pub fn run(cli: &Cli) -> anyhow::Result<Outcome> {
    let out = &cli.out;
    if !out.is_dir() {
        return Err(UsageError::new(format!("'{}' is not a folder", out.display())).into());
    }
    let names = match &cli.datasets {
        Some(list) => list.split_whitespace().map(str::to_string).collect(),
        None => discover(out)?,
    };
    let mut folders = Vec::new();
    for name in &names {
        folders.push(Folder::read(out, name)?);
    }
    if folders.iter().all(|f| f.state == State::Absent) {
        let what = if names.is_empty() {
            "no dataset folder (one with gen.jsonl or .stages/)".to_string()
        } else {
            format!("none of the datasets {}", names.join(", "))
        };
        return Err(UsageError::new(format!(
            "'{}' holds {what}: not the output folder of a ktpipe run",
            out.display()
        ))
        .into());
    }
    // One thread per dataset: reading the files is the report's whole cost.
    let views: Vec<DatasetView> = std::thread::scope(|scope| {
        let readers: Vec<_> = folders
            .iter_mut()
            .map(|folder| scope.spawn(|| dataset(folder, cli.sample)))
            .collect();
        readers
            .into_iter()
            .map(|reader| reader.join().expect("a dataset's reader does not panic"))
            .collect()
    });
    let run = crate::run_view::run(&folders, &views, VERSION);
    publish(&out.join("report.html"), &html::render(&run, &views)?)?;
    for d in views.iter().filter(|d| d.state == "complete") {
        publish(&out.join(&d.name).join("README.md"), &card::card(d, &run))?;
    }
    if !cli.quiet {
        let complete = views.iter().filter(|d| d.state == "complete").count();
        let others: Vec<String> = views
            .iter()
            .filter(|d| d.state != "complete")
            .map(|d| format!("{} {}", d.name, d.state))
            .collect();
        let others = if others.is_empty() {
            String::new()
        } else {
            format!("; {}", others.join(", "))
        };
        let _ = writeln!(
            std::io::stderr().lock(),
            "run-report: {} ({complete} of {} datasets complete{others})",
            out.join("report.html").display(),
            views.len()
        );
    }
    Ok(Outcome::Success)
}

/// A dataset's view: read through if its folder is complete and its files agree.
fn dataset(folder: &mut Folder, sample: usize) -> DatasetView {
    if folder.state != State::Complete {
        return view::unfinished(folder);
    }
    let mut seeds = Seeds::default();
    let read = rows::read(&folder.dir.join("gen.jsonl"), &mut seeds, sample).and_then(|kept| {
        let rejected = rejects::read(&folder.dir.join("rejects.jsonl"), &mut seeds)?;
        Ok((kept, rejected))
    });
    match read {
        Ok((kept, _)) if kept.rows != folder.last_out() => {
            folder.state = State::Incomplete(format!(
                "gen.jsonl has {} rows where its run's last stage wrote {}: the files are from different runs",
                kept.rows,
                folder.last_out()
            ));
            view::unfinished(folder)
        }
        Ok((kept, rejected)) => view::complete(folder, kept, rejected, &seeds),
        Err(err) => {
            folder.state = State::Incomplete(format!("{err:#}"));
            view::unfinished(folder)
        }
    }
}

/// Dataset folders of `out`: those with stage files or a gen.jsonl, by name.
fn discover(out: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(out).with_context(|| format!("reading '{}'", out.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name != "shards" && (path.join(".stages").is_dir() || path.join("gen.jsonl").is_file()) {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Writes `path` whole: a reader sees the old file or the new one, never a part.
fn publish(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let partial = path.with_file_name(format!(".{name}.partial"));
    fs::write(&partial, text).with_context(|| format!("writing '{}'", partial.display()))?;
    fs::rename(&partial, path).with_context(|| format!("writing '{}'", path.display()))
}
