//! Wiring: builds the clients, collectors and polling loops from a [`Config`], starts
//! the HTTP server on a listener the caller bound, and hands back a handle. Both the
//! binary and the integration tests start the exporter through [`start`].

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::http::ClientSettings;
use crate::cloud::huawei::HuaweiClient;
use crate::collectors::sag_online_clients::SagOnlineClientsCollector;
use crate::collectors::{self, Collector, HuaweiTargetContext};
use crate::config::Config;
use crate::scheduler::{self, Job, PollRequests};
use crate::self_metrics::SelfMetrics;
use crate::server::{self, ServerState};
use crate::store::{SlotKey, Store};

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    /// The listener has no local address.
    #[error("cannot read the listen address: {0}")]
    Listener(#[from] std::io::Error),
}

/// A running exporter.
pub struct RunningExporter {
    /// Snapshots and the encoded body.
    store: Arc<Store>,
    /// "Poll now" requests to every loop.
    requests: PollRequests,
    /// Where the server listens.
    local_addr: SocketAddr,
    /// The polling loops.
    polls: JoinSet<()>,
    /// The HTTP server task.
    server: tokio::task::JoinHandle<()>,
    /// Cancelled to stop everything.
    shutdown: CancellationToken,
}

/// Starts polling every configured target and serving on `listener`. Everything stops
/// when `shutdown` is cancelled; [`RunningExporter::wait`] waits for that to finish.
pub fn start(
    config: &Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<RunningExporter, StartError> {
    let local_addr = listener.local_addr()?;
    let http = http_client(config.poll.timeout)?;
    let self_metrics = Arc::new(SelfMetrics::new());
    let store = Arc::new(Store::new(self_metrics.clone()));

    let mut jobs = Vec::new();
    for target in &config.huaweicloud {
        let client = HuaweiClient::new(
            http.clone(),
            target.credentials.clone(),
            ClientSettings::new(
                &target.name,
                &target.poll,
                config.poll.max_body_bytes,
                self_metrics.clone(),
            ),
        );
        let ctx = Arc::new(HuaweiTargetContext::new(target.clone(), client));
        for collector in collectors::huawei_collectors(ctx) {
            jobs.push(Job {
                key: SlotKey {
                    target: target.name.clone(),
                    collector: collector.name(),
                },
                collector,
                poll: target.poll.clone(),
            });
        }
    }

    for target in &config.alibabacloud_sag {
        let client = AlibabaClient::new(
            http.clone(),
            target.credentials.clone(),
            ClientSettings::new(
                &target.name,
                &target.poll,
                config.poll.max_body_bytes,
                self_metrics.clone(),
            ),
        );
        let collector: Arc<dyn Collector> =
            Arc::new(SagOnlineClientsCollector::new(target.clone(), client));
        jobs.push(Job {
            key: SlotKey {
                target: target.name.clone(),
                collector: collector.name(),
            },
            collector,
            poll: target.poll.clone(),
        });
    }

    let requests = PollRequests::default();
    let mut polls = JoinSet::new();
    scheduler::spawn(jobs, store.clone(), &requests, shutdown.clone(), &mut polls);
    let state = Arc::new(ServerState {
        store: store.clone(),
        telemetry_path: config.server.telemetry_path.clone(),
    });
    let server = tokio::spawn(server::serve(listener, state, shutdown.clone()));
    Ok(RunningExporter {
        store,
        requests,
        local_addr,
        polls,
        server,
        shutdown,
    })
}

/// The HTTP client every cloud client shares: rustls, our User-Agent, and a connect
/// timeout; each request sets its own total timeout.
pub fn http_client(connect_timeout: std::time::Duration) -> Result<reqwest::Client, StartError> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(crate::USER_AGENT)
        .connect_timeout(connect_timeout)
        .read_timeout(connect_timeout.max(std::time::Duration::from_secs(30)))
        .build()
        .map_err(|e| StartError::HttpClient(e.to_string()))
}

impl RunningExporter {
    /// The address the HTTP server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The snapshot store (the `/metrics` body and readiness).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Waits until every collector has finished its first poll.
    pub async fn ready(&self) {
        self.store.wait_ready().await;
    }

    /// Asks every collector to poll now and waits until each has finished a poll that
    /// started after the request.
    pub async fn poll_now(&self) {
        let epoch = self.requests.request();
        self.store.wait_for_epoch(epoch).await;
    }

    /// Stops everything (same as cancelling the shutdown token).
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits for the polls and the server to stop after shutdown.
    pub async fn wait(mut self) {
        self.shutdown.cancelled().await;
        while self.polls.join_next().await.is_some() {}
        let _ = self.server.await;
    }
}
