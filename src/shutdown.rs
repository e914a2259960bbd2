//! Process signals: SIGTERM and SIGINT start a graceful shutdown by cancelling one
//! token that the scheduler and the server both watch. SIGHUP is caught (it would
//! otherwise kill the process) and logged.

use futures_util::StreamExt;
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use tokio_util::sync::CancellationToken;

/// Installs the signal handlers and returns a task that cancels `shutdown` on the
/// first SIGTERM or SIGINT.
pub fn install(shutdown: CancellationToken) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    Ok(tokio::spawn(async move {
        while let Some(signal) = signals.next().await {
            match signal {
                SIGHUP => {
                    tracing::warn!(
                        "SIGHUP received: configuration reload is not supported yet; restart the exporter to apply changes"
                    );
                }
                _ => {
                    let name = if signal == SIGTERM {
                        "SIGTERM"
                    } else {
                        "SIGINT"
                    };
                    tracing::info!(signal = name, "shutting down");
                    shutdown.cancel();
                    return;
                }
            }
        }
    }))
}
