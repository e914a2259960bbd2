//! Reload requests (SIGHUP, and `POST /-/reload` behind `--web.enable-lifecycle`):
//! the signal handler and the server send them through a [`Reloader`]; the
//! exporter's supervisor answers each one after re-reading the configuration. Apart
//! from both, so the server knows nothing of the exporter.

use tokio::sync::{mpsc, oneshot};

/// A request to re-read the configuration; the answer says whether it was applied.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// Sends reload requests to a running exporter; cheap to clone.
#[derive(Debug, Clone)]
pub struct Reloader {
    /// The supervisor's inbox.
    tx: mpsc::Sender<ReloadRequest>,
}

impl Reloader {
    /// A reloader sending to the supervisor's inbox `tx`.
    pub fn new(tx: mpsc::Sender<ReloadRequest>) -> Self {
        Reloader { tx }
    }

    /// Re-reads the configuration file and applies it; `Err` carries the reason it was
    /// rejected (the previous configuration keeps running).
    pub async fn reload(&self) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(reply)
            .await
            .map_err(|_| "the exporter is shutting down".to_string())?;
        answer
            .await
            .map_err(|_| "the exporter is shutting down".to_string())?
    }
}
