//! Process signals: SIGTERM and SIGINT start a graceful shutdown by cancelling one
//! token that the scheduler and the server both watch. SIGHUP reloads the
//! configuration (when there is a file to reload from).

use futures_util::StreamExt;
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use tokio_util::sync::CancellationToken;

use crate::reload::Reloader;

/// Installs the signal handlers and returns a task that cancels `shutdown` on the
/// first SIGTERM or SIGINT and reloads through `reloader` on SIGHUP.
pub fn install(
    shutdown: CancellationToken,
    reloader: Option<Reloader>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    Ok(tokio::spawn(async move {
        while let Some(signal) = signals.next().await {
            match signal {
                SIGHUP => match &reloader {
                    Some(r) => {
                        tracing::info!("SIGHUP received: reloading the configuration");
                        // The outcome is logged and counted by the exporter itself. The
                        // reload runs on its own task so that a SIGTERM arriving
                        // meanwhile is handled at once.
                        let r = r.clone();
                        tokio::spawn(async move {
                            let _ = r.reload().await;
                        });
                    }
                    None => tracing::warn!(
                        "SIGHUP received, but there is no configuration file to reload (demo mode)"
                    ),
                },
                _ => {
                    let name = if signal == SIGTERM {
                        "SIGTERM"
                    } else {
                        "SIGINT"
                    };
                    // Cancel first: logging must never stand between a signal and
                    // the shutdown.
                    shutdown.cancel();
                    tracing::info!(signal = name, "shutting down");
                    return;
                }
            }
        }
    }))
}
