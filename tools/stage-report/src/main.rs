//! stage-report: prints a recipe's per-stage table from its stages' `--stats` files, in
//! the order given. The recipes run it once per dataset; a binary of ours starts in a
//! millisecond, where an interpreter behind a version-manager shim took 0.1 s of CPU.

use std::process::ExitCode;

use anyhow::Context;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stage-report: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut stages = Vec::new();
    for path in std::env::args_os().skip(1) {
        let shown = path.to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading '{shown}'"))?;
        stages.push(serde_json::from_str(&text).with_context(|| format!("'{shown}' is not JSON"))?);
    }
    eprint!("{}", ktpipe_common::summary::report(&stages));
    Ok(())
}
