//! The record loop: load the template, then render every record into the messages field
//! or reject it with the reason.

use std::io::Write;

use anyhow::Context;
use ktpipe_common::raw::RawRecord;
use ktpipe_common::stream::Stream;
use ktpipe_common::{Located, Outcome, UsageError};

use crate::check::{self, Promise};
use crate::cli::Cli;
use crate::render::{self, Bind, Set};
use crate::template::Template;

/// Runs prompt-render over its inputs.
pub fn run(cli: &Cli) -> anyhow::Result<Outcome> {
    let template = Template::load(&cli.template)?;
    let binds = binds(cli, &template)?;
    let sets = sets(cli)?;
    if cli.to.is_empty() {
        return Err(UsageError::new("--to needs a field name, got ''").into());
    }
    let label = cli.common.label("prompt-render");
    if cli.check {
        let promise = Promise {
            fields: cli.fields.as_deref(),
            must_read: &cli.must_read,
        };
        check::check(&template, &promise, &binds, &sets)?;
        if !cli.common.quiet {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{label}: template '{}' is valid: {} messages, variables: {}",
                template.name,
                template.messages.len(),
                template.variables().join(", ")
            );
        }
        return Ok(Outcome::Success);
    }
    let mut stream = Stream::open("prompt-render", &cli.common)?;
    // The run report's dataset cards name each prompt file and its hash.
    stream.summary_mut().set("template", template.name.clone());
    stream
        .summary_mut()
        .set("template_sha256", template.sha256.clone());
    stream.for_each(|located: Located<RawRecord>, sink| {
        match render::messages(&template, &located.record, &binds, &sets) {
            Ok(messages) => {
                let mut record = located.record;
                record.insert(&cli.to, messages);
                sink.emit(&record)
            }
            Err(reason) => sink.reject(located, &reason),
        }
    })?;
    stream.finish().context("finishing")
}

/// Parses the --bind flags; a variable bound twice, or one the template never reads, is a
/// usage error (most likely a typo).
fn binds(cli: &Cli, template: &Template) -> Result<Vec<Bind>, UsageError> {
    let used = template.variables();
    let mut binds: Vec<Bind> = Vec::with_capacity(cli.bind.len());
    for spec in &cli.bind {
        let bind = Bind::parse(spec).map_err(UsageError::new)?;
        if binds.iter().any(|b| b.var == bind.var) {
            return Err(UsageError::new(format!(
                "--bind binds '{}' twice",
                bind.var
            )));
        }
        if !used.contains(&bind.var) {
            return Err(UsageError::new(format!(
                "--bind '{spec}': template '{}' has no variable '{}'",
                template.name, bind.var
            )));
        }
        binds.push(bind);
    }
    Ok(binds)
}

/// Parses the --set flags; a variable set twice is a usage error.
fn sets(cli: &Cli) -> Result<Vec<Set>, UsageError> {
    let mut sets: Vec<Set> = Vec::with_capacity(cli.set.len());
    for spec in &cli.set {
        let set = Set::parse(spec).map_err(UsageError::new)?;
        if sets.iter().any(|s| s.var == set.var) {
            return Err(UsageError::new(format!("--set sets '{}' twice", set.var)));
        }
        sets.push(set);
    }
    Ok(sets)
}
