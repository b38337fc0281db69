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
    // The handlers are in place before the URL is announced: whoever reads it may stop the
    // server at once.
    let signals = Signals::install().context("installing the signal handlers")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", server.base_url())
        .and_then(|()| stdout.flush())
        .context("writing the URL to stdout")?;
    drop(stdout);
    eprintln!(
        "mock-teacher: serving model '{model}' at {}",
        server.base_url()
    );
    signals.wait().context("waiting for a termination signal")?;
    let stats = server.stats();
    eprintln!(
        "mock-teacher: stopping after {} requests ({} ok)",
        stats["requests"], stats["ok"]
    );
    server.shutdown();
    Ok(Outcome::Success)
}

/// SIGTERM and SIGINT, caught from the moment they are installed.
struct Signals {
    runtime: tokio::runtime::Runtime,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        #[cfg(unix)]
        let (term, int) = {
            use tokio::signal::unix::{SignalKind, signal};
            let _entered = runtime.enter();
            (
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            )
        };
        Ok(Signals {
            runtime,
            #[cfg(unix)]
            term,
            #[cfg(unix)]
            int,
        })
    }

    /// Waits for the first of them.
    fn wait(mut self) -> std::io::Result<()> {
        self.runtime.block_on(async {
            #[cfg(unix)]
            {
                tokio::select! {
                    _ = self.term.recv() => Ok(()),
                    _ = self.int.recv() => Ok(()),
                }
            }
            #[cfg(not(unix))]
            {
                tokio::signal::ctrl_c().await
            }
        })
    }
}
