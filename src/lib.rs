//! workspace-exporter: a Prometheus exporter for Huawei Cloud Workspace connection
//! statistics (desktop login states, online users, application-streaming sessions) and
//! Alibaba Cloud Smart Access Gateway online clients.
//!
//! Data flows in one direction, and the module layout follows it:
//!
//! ```text
//!  config ──► exporter (wiring) ──► scheduler: one loop per target × collector
//!                                       │ Poll { now, usage }
//!                                       ▼
//!            collectors::REGISTRY ──► collectors::<one file each>   decode → convert
//!                                       │ per-poll client
//!                                       ▼
//!            cloud::huawei  { client, signer, workspace, workspace_app, iam, target }
//!            cloud::alibaba { client, signer, sag, target }
//!            cloud::{http, retry (rate limit, 429 pauses), signing, credentials}
//!                                       │ series; outcome, timings, error
//!                                       ▼
//!            store (one snapshot per slot) ──► encoding (text, OpenMetrics, gzip)
//!            status (last poll per slot) ──┐                │ prepared bodies
//!                   ▲ self_metrics         │                ▼
//!   reload ◄── shutdown (signals)          └────► server ◄── web_config
//!      ▲                                   (/metrics, / and /status, /-/healthy,
//!      │                                    /-/ready, /-/reload)
//!      └──────────────────────────────────────────┘
//! ```
//!
//! Module map (public where a test, a benchmark or the binary needs it):
//! - [`config`]: the configuration by concern: schema, environment overrides, secrets,
//!   the settings every target shares, one file per cloud.
//! - `secret`: a string wrapper that never prints its content.
//! - [`clock`]: wall-clock time for credential expiry, following tokio's clock in tests.
//! - [`cloud`]: per cloud a signer (a pure function), an HTTP client, the API types and
//!   the per-target context; shared HTTP plumbing, retries and the rate limit,
//!   signing types and credentials.
//! - [`collectors`]: the registry table and one file per data source, each turning API
//!   answers into series.
//! - `scheduler`: one polling loop per target × collector, never overlapping itself;
//!   counts each poll's calls and rate-limit wait.
//! - [`store`]: the snapshots (rendered sample lines), readiness, and the prepared
//!   `/metrics` bodies.
//! - [`encoding`]: renders series once; text 0.0.4, OpenMetrics 1.0 and gzip bodies
//!   that share those bytes.
//! - [`self_metrics`]: the exporter's own health metrics.
//! - [`status`]: the last outcome, timings and error of each target × collector and
//!   each target's credential source, for the status page (`/`) and `/status`.
//! - `server`: the hyper HTTP server; it only reads what the store prepared and knows
//!   nothing of the exporter.
//! - `reload`: reload requests from SIGHUP and `POST /-/reload` to the exporter.
//! - [`shutdown`]: one future for SIGTERM/SIGINT; SIGHUP reloads.
//! - [`shard`]: which targets this replica polls when several share them.
//! - [`web_config`]: `--web.config.file`: TLS, client certificates, basic auth, headers.
//! - `write_timeout`: drops connections whose client stops reading.
//! - [`log_writer`]: the log writer that never fails (closed standard error).
//! - [`exporter`]: wires config, registry, scheduler, store and server into a running
//!   exporter.
//! - [`memory`]: the global allocator (mimalloc), and why.
//! - [`export`]: the `export-connections` subcommand (connection records to a file).
//! - [`progress`]: its progress bar on a terminal.
//! - `simulator` (feature `simulator`, on by default): the simulated Huawei Cloud
//!   (IAM, Workspace, WorkspaceApp) and Alibaba Cloud SAG, speaking real HTTP, for
//!   `demo`, `simulate` and the tests.
//! - `demo` (same feature): the `demo` subcommand: simulator + exporter in one process.

pub mod clock;
pub mod cloud;
pub mod collectors;
pub mod config;
#[cfg(feature = "simulator")]
pub mod demo;
pub mod encoding;
pub mod export;
pub mod exporter;
pub mod log_writer;
pub mod memory;
pub mod progress;
mod reload;
mod scheduler;
mod secret;
pub mod self_metrics;
mod server;
pub mod shard;
pub mod shutdown;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod status;
pub mod store;
pub mod web_config;
mod write_timeout;

/// The exporter's version, as reported by `--version` and `workspace_exporter_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `User-Agent` sent on every upstream request.
pub const USER_AGENT: &str = concat!("workspace-exporter/", env!("CARGO_PKG_VERSION"));
