//! The exporter's configuration: one typed struct, its defaults, and its validation.
//!
//! Sources, later ones winning: the TOML file, then environment variables
//! `WORKSPACE_EXPORTER__SECTION__KEY` (double underscore between path parts; a number is
//! an index into a list of targets, e.g. `WORKSPACE_EXPORTER__HUAWEICLOUD__0__REGION`).
//! Both are merged by the `config` crate and deserialized into [`RawConfig`], which
//! rejects unknown keys. [`Config::from_raw`] then resolves secrets (value, `*_file`, or
//! the SDK's environment variable), fills defaults that depend on other keys (target
//! names, endpoints) and checks everything. Every error names the offending key.
//!
//! This module sits before the data flow: its output configures the scheduler, the
//! collectors and the server. By concern:
//!
//! - [`schema`]: the file as written (`deny_unknown_fields` on every table);
//! - [`env`]: reading the TOML text and the `WORKSPACE_EXPORTER__*` overrides into it,
//!   with errors that never quote configuration content;
//! - [`secrets`]: keys and tokens from a value, a file or the SDKs' variables;
//! - [`target`]: what every target shares (name, region, credentials, polling,
//!   concurrency, collectors), resolved once for both clouds;
//! - [`credentials`]: which source a target's keys come from and what it needs;
//! - [`huawei`], [`alibaba`]: each cloud's targets;
//! - [`checks`]: the small validators every part uses.

mod alibaba;
mod checks;
mod credentials;
mod env;
mod huawei;
mod regions;
mod schema;
mod secrets;
mod target;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub use alibaba::{SagInstance, SagTarget};
pub use checks::{parse_listen_address, validate_telemetry_path};
pub use huawei::{DEFAULT_SESSION_LOOKBACK, HuaweiTarget};
pub use schema::{
    HumanDuration, RawConfig, RawHuaweiTarget, RawPoll, RawSagInstance, RawSagTarget, RawServer,
    SessionPlan,
};
pub use secrets::names_secret;
pub use target::{DEFAULT_CONCURRENCY, TargetPoll};

use crate::shard::Shard;
use checks::{nonzero, positive};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "WORKSPACE_EXPORTER__";

/// Default `/metrics` listen address.
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:9817";
/// Default telemetry path.
pub const DEFAULT_TELEMETRY_PATH: &str = "/metrics";
/// Default poll interval of every collector.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on an upstream response body.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

/// A configuration problem: the key it concerns and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    /// The offending key as an operator would write it, e.g. `huaweicloud[1].secret_key_file`.
    pub key: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    /// A problem with `key` (a configuration key or a command-line flag).
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// The validated configuration the exporter runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where and how `/metrics` is served.
    pub server: ServerConfig,
    /// Limits shared by every upstream request.
    pub poll: PollConfig,
    /// Huawei Cloud targets.
    pub huaweicloud: Vec<HuaweiTarget>,
    /// Alibaba Cloud SAG targets.
    pub alibabacloud_sag: Vec<SagTarget>,
}

impl Config {
    /// Whether this replica polls the target named `target`: always, unless
    /// `[server] shard` gives it a share of the targets.
    pub fn owns(&self, target: &str) -> bool {
        self.server.shard.is_none_or(|s| s.owns(target))
    }

    /// Names of every target, in configuration order.
    pub fn target_names(&self) -> impl Iterator<Item = &str> {
        self.huaweicloud
            .iter()
            .map(|t| t.name.as_str())
            .chain(self.alibabacloud_sag.iter().map(|t| t.name.as_str()))
    }

    /// Every target's name and where its keys come from, in the operator's words (for
    /// `--config.check`).
    pub fn credential_sources(&self) -> impl Iterator<Item = (&str, String)> {
        self.huaweicloud
            .iter()
            .map(|t| (t.name.as_str(), t.credentials.describe()))
            .chain(
                self.alibabacloud_sag
                    .iter()
                    .map(|t| (t.name.as_str(), t.credentials.describe())),
            )
    }
}

/// Serving settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to bind.
    pub listen_address: SocketAddr,
    /// Path of the metrics endpoint, starting with `/`.
    pub telemetry_path: String,
    /// Most requests served at once; more get 503.
    pub max_requests: usize,
    /// This replica's share of the targets; `None` polls them all.
    pub shard: Option<Shard>,
}

/// Default limit on concurrent HTTP requests.
pub const DEFAULT_MAX_REQUESTS: usize = 40;

/// `[poll]`: defaults for every target, and the body limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollConfig {
    /// Default poll interval.
    pub interval: Duration,
    /// Default per-request timeout.
    pub timeout: Duration,
    /// Poll deadline; `None` means 80% of each target's interval.
    pub deadline: Option<Duration>,
    /// Staleness limit; `None` means 3 × each target's interval.
    pub max_staleness: Option<Duration>,
    /// Retries of a throttled, 5xx or failed request.
    pub max_retries: u32,
    /// Upper bound of the first retry's random wait.
    pub retry_backoff: Duration,
    /// Default requests per minute per target and API host.
    pub rate_limit_per_minute: u32,
    /// Largest upstream response body accepted, enforced while reading.
    pub max_body_bytes: u64,
}

/// Default retries of a request.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default first retry backoff bound.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Default requests per minute: the documented quota of the Workspace statistics APIs.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 100;

impl Config {
    /// Loads the file at `path`, applies `WORKSPACE_EXPORTER__*` overrides from the process
    /// environment, and validates the result.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(path, &env)
    }

    /// [`Config::load`] with the environment passed in (tests use this).
    pub fn load_with_env(path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let problem = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "{} does not exist. To start: cp config.example.toml {} and edit it, point --config.file=PATH at your file, or run `workspace-exporter demo` to try the exporter without an account",
                    path.display(),
                    path.display()
                )
            } else {
                format!("cannot read {}: {e}", path.display())
            };
            ConfigError::new("config.file", problem)
        })?;
        let raw = RawConfig::parse(&text, env)?;
        let overrides = raw.env_overrides.clone();
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        Config::from_raw(raw, base_dir, &|name| env::lookup(env, name))
            .map_err(|e| e.naming_env(&overrides))
    }

    /// Resolves and validates a [`RawConfig`]. Relative `*_file` paths are resolved
    /// against `base_dir`; `env` looks up the SDKs' credential variables.
    pub fn from_raw(
        raw: RawConfig,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let server = ServerConfig {
            listen_address: {
                let text = raw
                    .server
                    .listen_address
                    .as_deref()
                    .unwrap_or(DEFAULT_LISTEN_ADDRESS);
                checks::parse_listen_address(text)
                    .map_err(|p| ConfigError::new("server.listen_address", p))?
            },
            max_requests: nonzero(
                "server.max_requests",
                raw.server.max_requests,
                DEFAULT_MAX_REQUESTS,
            )?,
            telemetry_path: {
                let path = raw
                    .server
                    .telemetry_path
                    .unwrap_or_else(|| DEFAULT_TELEMETRY_PATH.into());
                validate_telemetry_path(&path)
                    .map_err(|p| ConfigError::new("server.telemetry_path", p))?;
                path
            },
            shard: match (raw.server.shard, raw.server.total_shards) {
                (None, None) => None,
                (Some(index), Some(total)) => Some(
                    Shard::new(index, total)
                        .map_err(|e| ConfigError::new("server.shard", e.to_string()))?,
                ),
                _ => {
                    return Err(ConfigError::new(
                        "server.shard",
                        "set both server.shard and server.total_shards, or neither",
                    ));
                }
            },
        };
        let poll = PollConfig {
            interval: positive("poll.interval", raw.poll.interval, DEFAULT_INTERVAL)?,
            timeout: positive("poll.timeout", raw.poll.timeout, DEFAULT_TIMEOUT)?,
            deadline: raw
                .poll
                .deadline
                .map(|d| positive("poll.deadline", Some(d), Duration::ZERO))
                .transpose()?,
            max_staleness: raw
                .poll
                .max_staleness
                .map(|d| positive("poll.max_staleness", Some(d), Duration::ZERO))
                .transpose()?,
            max_retries: match raw.poll.max_retries {
                Some(n) if n > 20 => {
                    return Err(ConfigError::new(
                        "poll.max_retries",
                        format!("{n} is more than 20"),
                    ));
                }
                Some(n) => n,
                None => DEFAULT_MAX_RETRIES,
            },
            retry_backoff: match raw.poll.retry_backoff {
                Some(HumanDuration(d)) => d,
                None => DEFAULT_RETRY_BACKOFF,
            },
            rate_limit_per_minute: nonzero(
                "poll.rate_limit_per_minute",
                raw.poll.rate_limit_per_minute,
                DEFAULT_RATE_LIMIT_PER_MINUTE,
            )?,
            max_body_bytes: nonzero(
                "poll.max_body_bytes",
                raw.poll.max_body_bytes,
                DEFAULT_MAX_BODY_BYTES,
            )?,
        };
        if raw.huaweicloud.is_empty() && raw.alibabacloud_sag.is_empty() {
            return Err(ConfigError::new(
                "huaweicloud",
                "no targets configured: add at least one [[huaweicloud]] or [[alibabacloud_sag]] section",
            ));
        }
        let mut names = BTreeSet::new();
        let mut huaweicloud = Vec::with_capacity(raw.huaweicloud.len());
        for (i, t) in raw.huaweicloud.into_iter().enumerate() {
            let target = huawei::resolve(i, t, &poll, base_dir, env)?;
            if !names.insert(target.name.clone()) {
                return Err(ConfigError::new(
                    format!("huaweicloud[{i}].name"),
                    format!(
                        "duplicate target name {:?}: every target needs a unique name (it defaults to the region)",
                        target.name
                    ),
                ));
            }
            huaweicloud.push(target);
        }
        let mut alibabacloud_sag = Vec::with_capacity(raw.alibabacloud_sag.len());
        for (i, t) in raw.alibabacloud_sag.into_iter().enumerate() {
            let target = alibaba::resolve(i, t, &poll, base_dir, env)?;
            if !names.insert(target.name.clone()) {
                return Err(ConfigError::new(
                    format!("alibabacloud_sag[{i}].name"),
                    format!(
                        "duplicate target name {:?}: every target needs a unique name (it defaults to the region)",
                        target.name
                    ),
                ));
            }
            alibabacloud_sag.push(target);
        }
        Ok(Config {
            server,
            poll,
            huaweicloud,
            alibabacloud_sag,
        })
    }
}
