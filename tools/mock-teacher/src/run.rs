//! The binary's run: start the server, announce its URL on stdout, serve until SIGTERM
//! or Ctrl-C.

use crate::MockServer;
use crate::cli::Cli;
use anyhow::Context;
use ktpipe_common::Outcome;
use std::io::Write;

/// Serves until a termination signal arrives; the URL line is the only stdout output.
pub fn run(cli: &Cli) -> anyhow::Result<Outcome> {
    let config = cli.config()?;
    let model = config.model.clone();
    let server = MockServer::start_on(config, cli.addr)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", server.base_url())
        .and_then(|()| stdout.flush())
        .context("writing the URL to stdout")?;
    drop(stdout);
    eprintln!(
        "mock-teacher: serving model '{model}' at {}",
        server.base_url()
    );
    wait_for_signal().context("waiting for a termination signal")?;
    let stats = server.stats();
    eprintln!(
        "mock-teacher: stopping after {} requests ({} ok)",
        stats["requests"], stats["ok"]
    );
    server.shutdown();
    Ok(Outcome::Success)
}

fn wait_for_signal() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate())?;
            tokio::select! {
                _ = term.recv() => Ok(()),
                r = tokio::signal::ctrl_c() => r,
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await
        }
    })
}
