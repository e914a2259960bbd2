//! Wiring: builds the clients, collectors and polling loops from a [`Config`], starts
//! the HTTP server on a listener the caller bound, and hands back a handle. Both the
//! binary and the integration tests start the exporter through [`start`].
//!
//! A supervisor task owns the polling loops. On a reload request (SIGHUP, or
//! `POST /-/reload` with `--web.enable-lifecycle`) it re-reads the configuration file; an invalid file is rejected
//! and the running configuration keeps polling. A valid one replaces the loops:
//! collectors that remain keep their last series until their next poll, collectors that
//! are gone lose theirs.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::WallClock;
use crate::cloud::alibaba::{AlibabaClient, SagTargetContext};
use crate::cloud::http;
use crate::cloud::huawei::iam::API_IAM_PROJECTS;
use crate::cloud::huawei::{HuaweiClient, HuaweiTargetContext};
use crate::cloud::retry::ClientSettings;
use crate::collectors::{self, Cloud, Factory};
use crate::config::{Config, ConfigError};
use crate::reload::{ReloadRequest, Reloader};
use crate::scheduler::{self, Job, PollRequests};
use crate::self_metrics::SelfMetrics;
use crate::server::{self, ServerState};
use crate::status::{CloudKind, Status, TargetInfo};
use crate::store::{SlotKey, Store};
use crate::web_config::WebConfigSource;

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    /// The listener has no local address.
    #[error("cannot read the listen address: {0}")]
    Listener(#[from] std::io::Error),
    /// The configuration assembled in code is invalid (demo options).
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Where the running configuration came from, for reloads.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The file to re-read.
    pub path: PathBuf,
    /// Its `[server]` section as written, before command-line overrides: a reload
    /// warns when this changes, since serving settings apply at the next restart.
    pub server_as_written: crate::config::ServerConfig,
}

/// Optional parts of a start.
#[derive(Debug, Default)]
pub struct StartOptions {
    /// Where the configuration came from; enables reloads.
    pub config_file: Option<ConfigFile>,
    /// `--web.config.file`: TLS, basic auth and headers for the HTTP server.
    pub web: Option<Arc<WebConfigSource>>,
    /// Connect to the cloud directly, ignoring `HTTP(S)_PROXY` (the demo's simulator
    /// is on loopback).
    pub direct: bool,
    /// `--web.enable-lifecycle`: serve `POST /-/reload`; without it the endpoint
    /// answers 403 (SIGHUP reloads either way).
    pub enable_lifecycle: bool,
    /// `--web.write-timeout`: how long a response write may make no progress before
    /// the connection is dropped; `None` for
    /// [`DEFAULT_WRITE_TIMEOUT`](crate::write_timeout::DEFAULT_WRITE_TIMEOUT).
    pub write_timeout: Option<std::time::Duration>,
    /// What "now" is for credential expiry: the system clock, or tokio's in tests that
    /// pause it.
    pub clock: WallClock,
    /// Whether this is `workspace-exporter demo`: the status page says so.
    pub demo: bool,
}

/// A running exporter.
pub struct RunningExporter {
    /// Snapshots and the encoded body.
    store: Arc<Store>,
    /// What the status page shows.
    status: Arc<Status>,
    /// "Poll now" requests to every loop.
    requests: Arc<PollRequests>,
    /// Where the server listens.
    local_addr: SocketAddr,
    /// The supervisor, which owns the polling loops.
    supervisor: tokio::task::JoinHandle<()>,
    /// The HTTP server task.
    server: tokio::task::JoinHandle<()>,
    /// Cancelled to stop everything.
    shutdown: CancellationToken,
    /// Reload requests, when the configuration came from a file.
    reloader: Option<Reloader>,
}

/// Starts polling every configured target and serving on `listener`. When
/// `options.config_file` is given, the configuration can be reloaded from it. Everything stops
/// when `shutdown` is cancelled; [`RunningExporter::wait`] waits for that to finish.
pub fn start(
    config: &Config,
    options: StartOptions,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<RunningExporter, StartError> {
    let StartOptions {
        config_file,
        web,
        direct,
        enable_lifecycle,
        write_timeout,
        clock,
        demo,
    } = options;
    let local_addr = listener.local_addr()?;
    let http = http::client(config.poll.timeout, !direct)
        .map_err(|e| StartError::HttpClient(e.to_string()))?;
    let self_metrics = Arc::new(SelfMetrics::new());
    self_metrics.record_reload(true, now_unix_seconds());
    record_shard(config, &self_metrics);
    let store = Arc::new(Store::new(self_metrics.clone()));
    let status = Arc::new(Status::new(demo, clock, self_metrics.clone()));
    let requests = Arc::new(PollRequests::default());

    let mut supervisor = Supervisor {
        http,
        clock,
        store: store.clone(),
        status: status.clone(),
        requests: requests.clone(),
        shutdown: shutdown.clone(),
        generation: shutdown.child_token(),
        polls: JoinSet::new(),
        config: config.clone(),
        config_file: config_file.clone(),
    };
    supervisor
        .spawn_loops()
        .map_err(|e| StartError::Config(e.to_string()))?;
    let (tx, rx) = mpsc::channel(4);
    let reloader = config_file.map(|_| Reloader::new(tx));
    let supervisor = tokio::spawn(supervisor.run(rx));

    let state = Arc::new(ServerState {
        store: store.clone(),
        status: status.clone(),
        telemetry_path: config.server.telemetry_path.clone(),
        reloader: reloader.clone(),
        lifecycle: enable_lifecycle,
        in_flight: tokio::sync::Semaphore::new(config.server.max_requests),
        web,
        write_timeout: write_timeout.unwrap_or(crate::write_timeout::DEFAULT_WRITE_TIMEOUT),
    });
    let server = tokio::spawn(server::serve(listener, state, shutdown.clone()));
    Ok(RunningExporter {
        store,
        status,
        requests,
        local_addr,
        supervisor,
        server,
        shutdown,
        reloader,
    })
}

/// Owns the polling loops of the current configuration.
struct Supervisor {
    /// Shared connection pool for every cloud client.
    http: reqwest::Client,
    /// What "now" is for credential expiry.
    clock: WallClock,
    /// Where polls report.
    store: Arc<Store>,
    /// Where polls report for the status page.
    status: Arc<Status>,
    /// "Poll now" requests.
    requests: Arc<PollRequests>,
    /// Stops everything.
    shutdown: CancellationToken,
    /// Stops the loops of the current configuration only.
    generation: CancellationToken,
    /// The loops of the current configuration.
    polls: JoinSet<()>,
    /// The configuration running now.
    config: Config,
    /// Where to re-read it from.
    config_file: Option<ConfigFile>,
}

impl Supervisor {
    async fn run(mut self, mut inbox: mpsc::Receiver<ReloadRequest>) {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                request = inbox.recv() => match request {
                    Some(reply) => {
                        let result = self.reload().await;
                        let _ = reply.send(result);
                    }
                    None => self.shutdown.cancelled().await,
                },
            }
        }
        while self.polls.join_next().await.is_some() {}
    }

    async fn reload(&mut self) -> Result<(), String> {
        let Some(file) = &mut self.config_file else {
            return Err("the configuration did not come from a file".into());
        };
        let path = &file.path;
        let config = match load_config(path) {
            Ok(c) => c,
            Err(e) => {
                let message = format!("{}: {e}", path.display());
                tracing::error!(error = %message, "configuration reload rejected; the running configuration stays");
                self.store
                    .self_metrics()
                    .record_reload(false, now_unix_seconds());
                self.store.refresh();
                return Err(message);
            }
        };
        if config.server != file.server_as_written {
            tracing::warn!("[server] settings changed; they take effect at the next restart");
            file.server_as_written = config.server.clone();
        }
        // Stop the old loops, then start the new ones.
        self.generation.cancel();
        while self.polls.join_next().await.is_some() {}
        self.generation = self.shutdown.child_token();
        let server = self.config.server.clone();
        self.config = config;
        self.config.server = server;
        // Checked by load_config above.
        let kept: BTreeSet<SlotKey> = self.spawn_loops().unwrap_or_default();
        record_shard(&self.config, self.store.self_metrics());
        self.store.retain(&kept);
        self.store
            .self_metrics()
            .record_reload(true, now_unix_seconds());
        self.store.refresh();
        tracing::info!(
            targets = self.config.target_names().count(),
            collectors = kept.len(),
            "configuration reloaded"
        );
        Ok(())
    }

    /// Starts one loop per target × collector of the current configuration; returns
    /// their keys.
    fn spawn_loops(&mut self) -> Result<BTreeSet<SlotKey>, ConfigError> {
        let jobs = build_jobs(
            &self.config,
            &self.http,
            self.store.self_metrics(),
            self.clock,
        )?;
        let keys: BTreeSet<SlotKey> = jobs.iter().map(|j| j.key.clone()).collect();
        self.status.set_targets(
            target_infos(&self.config),
            keys.iter().map(|k| (k.target.as_str(), k.collector)),
        );
        scheduler::spawn(
            jobs,
            self.store.clone(),
            self.status.clone(),
            &self.requests,
            self.generation.clone(),
            &mut self.polls,
        );
        Ok(keys)
    }
}

/// One job per target × collector of `config`.
fn build_jobs(
    config: &Config,
    http: &reqwest::Client,
    self_metrics: &Arc<SelfMetrics>,
    clock: WallClock,
) -> Result<Vec<Job>, ConfigError> {
    let settings = |name: &str, poll| {
        ClientSettings::new(name, poll, config.poll.max_body_bytes, self_metrics.clone())
    };
    let mut jobs = Vec::new();
    for (i, target) in config.huaweicloud.iter().enumerate() {
        if !config.owns(&target.name) {
            continue;
        }
        let settings = settings(&target.name, &target.poll);
        let credentials = target
            .credentials
            .build(&target.iam_endpoint, http, &settings, clock);
        let client = HuaweiClient::new(http.clone(), credentials, settings);
        let ctx = Arc::new(HuaweiTargetContext::new(target.clone(), client));
        if target.project_id.is_none() {
            self_metrics.declare_apis(&target.name, &[API_IAM_PROJECTS]);
        }
        for row in collectors::selected(Cloud::Huawei, i, &target.collectors)? {
            self_metrics.declare_apis(&target.name, row.apis);
            if let Factory::Huawei(build) = row.factory {
                jobs.push(Job::new(
                    &target.name,
                    row.name,
                    build(ctx.clone()),
                    &target.poll,
                ));
            }
        }
    }
    for (i, target) in config.alibabacloud_sag.iter().enumerate() {
        if !config.owns(&target.name) {
            continue;
        }
        let settings = settings(&target.name, &target.poll);
        let credentials = target.credentials.build(http, &settings, clock);
        let client = AlibabaClient::new(http.clone(), credentials, settings);
        let ctx = Arc::new(SagTargetContext {
            target: target.clone(),
            client,
        });
        for row in collectors::selected(Cloud::AlibabaSag, i, &target.collectors)? {
            self_metrics.declare_apis(&target.name, row.apis);
            if let Factory::AlibabaSag(build) = row.factory {
                jobs.push(Job::new(
                    &target.name,
                    row.name,
                    build(ctx.clone()),
                    &target.poll,
                ));
            }
        }
    }
    Ok(jobs)
}

/// The targets this replica polls, for the status page.
fn target_infos(config: &Config) -> Vec<TargetInfo> {
    let huawei = config.huaweicloud.iter().map(|t| TargetInfo {
        name: t.name.clone(),
        cloud: CloudKind::Huawei,
        credentials: t.credentials.describe(),
        temporary_credentials: t.credentials.is_temporary(),
    });
    let sag = config.alibabacloud_sag.iter().map(|t| TargetInfo {
        name: t.name.clone(),
        cloud: CloudKind::AlibabaSag,
        credentials: t.credentials.describe(),
        temporary_credentials: t.credentials.is_temporary(),
    });
    huawei.chain(sag).filter(|t| config.owns(&t.name)).collect()
}

/// Reports the replica's shard (when sharded) and how many targets it polls.
fn record_shard(config: &Config, self_metrics: &SelfMetrics) {
    let targets = config.target_names().filter(|t| config.owns(t)).count();
    self_metrics.record_shard(config.server.shard, targets);
}

/// Loads the configuration file and checks every target's `collectors` list against
/// the collectors' registry: what the binary runs at start, on reload and for
/// `--config.check`.
pub fn load_config(path: &std::path::Path) -> Result<Config, ConfigError> {
    let config = Config::load(path)?;
    collectors::check(&config)?;
    Ok(config)
}

fn now_unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
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

    /// What the status page and `/status` show.
    pub fn status(&self) -> &Arc<Status> {
        &self.status
    }

    /// Reloads the configuration, when it came from a file.
    pub fn reloader(&self) -> Option<Reloader> {
        self.reloader.clone()
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
    pub async fn wait(self) {
        self.shutdown.cancelled().await;
        let _ = self.supervisor.await;
        let _ = self.server.await;
    }
}
