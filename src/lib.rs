//! workspace-exporter: a Prometheus exporter for Huawei Cloud Workspace connection
//! statistics (desktop login states, online users, application-streaming sessions) and
//! Alibaba Cloud Smart Access Gateway online clients.
//!
//! Data flows in one direction, and the module layout follows it:
//!
//! ```text
//! config ──► scheduler ──► collectors::Collector::poll ──► cloud::huawei (client + signer)
//!                │                   │ decode + convert
//!                ▼                   ▼
//!          self_metrics ◄──── store (one snapshot per target × collector, swapped
//!                │                   atomically, encoded once per change)
//!                └──────────────► server (/metrics, /, /-/healthy, /-/ready)
//! ```
//!
//! Module map:
//! - [`config`]: the typed configuration, its defaults, validation and secret loading.
//! - [`secret`]: a string wrapper that never prints its content.
//! - [`cloud`]: one client per cloud API; signing lives apart from the HTTP client.
//! - [`collectors`]: one file per data source, each turning API answers into series.
//! - [`scheduler`]: one polling loop per target × collector, never overlapping itself.
//! - [`store`]: the snapshots (rendered sample lines), readiness, and the prepared
//!   `/metrics` bodies.
//! - [`encoding`]: renders series once; text 0.0.4, OpenMetrics 1.0 and gzip bodies
//!   that share those bytes.
//! - [`self_metrics`]: the exporter's own health metrics.
//! - [`server`]: the hyper HTTP server; it only reads what the store prepared.
//! - [`shutdown`]: one future for SIGTERM/SIGINT; SIGHUP reloads.
//! - [`web_config`]: `--web.config.file`: TLS, client certificates, basic auth, headers.
//! - [`write_timeout`]: drops connections whose client stops reading.
//! - [`log_writer`]: the log writer that never fails (closed standard error).
//! - [`exporter`]: wires config, scheduler, store and server into a running exporter.
//! - [`memory`]: the malloc arena limit `main` sets before starting threads.
//! - [`simulator`]: a fake Huawei Cloud speaking real HTTP, for `demo` and the tests.
//! - [`demo`]: the `demo` subcommand: simulator + exporter in one process.
//! - [`export`]: the `export-connections` subcommand (connection records to a file).

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
pub mod reload;
pub mod scheduler;
pub mod secret;
pub mod self_metrics;
pub mod server;
pub mod shutdown;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod store;
pub mod web_config;
pub mod write_timeout;

/// The exporter's version, as reported by `--version` and `workspace_exporter_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `User-Agent` sent on every upstream request.
pub const USER_AGENT: &str = concat!("workspace-exporter/", env!("CARGO_PKG_VERSION"));
