//! Turns the command line into a parser and output settings, refusing inconsistent flags
//! before any input is read (exit 2).

use ktpipe_common::UsageError;
use qa_parse::{Method, Parser, Pattern, TagPair};

use crate::cli::Cli;

/// Everything the record loop needs, checked.
pub struct Config {
    /// The parser.
    pub parser: Parser,
    /// The text field.
    pub from: String,
    /// Target fields, one per parsed column.
    pub targets: Vec<String>,
    /// For each target, whether it is normalised as a verdict.
    pub normalize: Vec<bool>,
    /// The index field, unless --no-index.
    pub index: Option<String>,
    /// Whether the text field stays in the output.
    pub keep_source: bool,
    /// Whether verdicts are read through habits.
    pub habits: bool,
}

/// Checks the flags and builds the configuration.
pub fn from_cli(cli: &Cli) -> Result<Config, UsageError> {
    let method = method(cli)?;
    let targets = cli.to.clone();
    for (i, name) in targets.iter().enumerate() {
        if name.is_empty() {
            return Err(UsageError::new("--to needs a field name, got ''"));
        }
        if targets[..i].contains(name) {
            return Err(UsageError::new(format!("--to '{name}' is given twice")));
        }
    }
    for name in &cli.normalize {
        if !targets.contains(name) {
            return Err(UsageError::new(format!(
                "--normalize '{name}' is not one of the --to fields"
            )));
        }
    }
    Ok(Config {
        normalize: targets.iter().map(|t| cli.normalize.contains(t)).collect(),
        index: (!cli.no_index).then(|| format!("{}_index", targets[0])),
        parser: Parser::new(method, cli.cleanup.clone())
            .with_fallbacks(fallbacks(cli)?)
            .with_habits(cli.habits),
        habits: cli.habits,
        from: cli.from.clone(),
        keep_source: cli.keep_source,
        targets,
    })
}

fn fallbacks(cli: &Cli) -> Result<Vec<Pattern>, UsageError> {
    cli.fallback_regex
        .iter()
        .map(|source| {
            let pattern = Pattern::compile(source).map_err(|err| {
                UsageError::new(format!("invalid --fallback-regex '{source}': {err}"))
            })?;
            let want = pattern.groups().max(1);
            if want != cli.to.len() {
                return Err(UsageError::new(format!(
                    "--fallback-regex '{source}' has {} capture group(s), so it needs {want} --to field(s), got {}",
                    pattern.groups(),
                    cli.to.len()
                )));
            }
            Ok(pattern)
        })
        .collect()
}

fn method(cli: &Cli) -> Result<Method, UsageError> {
    let to = cli.to.len();
    if let Some(source) = &cli.regex {
        let pattern = Pattern::compile(source)
            .map_err(|err| UsageError::new(format!("invalid --regex '{source}': {err}")))?;
        let want = pattern.groups().max(1);
        if want != to {
            return Err(UsageError::new(format!(
                "--regex has {} capture group(s), so it needs {want} --to field(s), got {to}",
                pattern.groups()
            )));
        }
        return Ok(Method::Regex(pattern));
    }
    let (starts, ends) = (cli.start.len(), cli.end.len());
    if starts == 0 && ends == 0 {
        return Err(UsageError::new(
            "give --start/--end/--to triples or --regex PATTERN --to FIELD",
        ));
    }
    if starts != ends || starts != to {
        return Err(UsageError::new(format!(
            "each tag pair needs one --start, one --end and one --to; \
             got {starts} --start, {ends} --end, {to} --to"
        )));
    }
    let pairs = cli
        .start
        .iter()
        .zip(&cli.end)
        .map(|(start, end)| TagPair {
            start: start.clone(),
            end: end.clone(),
        })
        .collect();
    Ok(Method::Tags(pairs))
}
