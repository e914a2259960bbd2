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
//! collectors and the server.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::cloud::credentials::{Credentials, Keys};
use crate::collectors::app_sessions::SessionPlan;
use crate::secret::Secret;

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
/// Default lookback window for application-streaming sessions.
pub const DEFAULT_SESSION_LOOKBACK: Duration = Duration::from_secs(24 * 3600);
/// Default limit on an upstream response body.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

/// Regions whose application-streaming API lives on `appstream.{region}` rather than on
/// the Workspace endpoint (api-notes.md).
const APPSTREAM_REGIONS: &[&str] = &[
    "cn-north-4",
    "cn-north-9",
    "cn-east-3",
    "cn-south-1",
    "cn-southwest-2",
];

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

/// A duration written as a string such as `"60s"`, `"1m30s"` or `"24h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim())
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration {text:?} ({e}); write a number and a unit, like \"60s\" or \"24h\""
                ))
            })
    }
}

/// The configuration file as written, before secrets and defaults are resolved.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]`: where `/metrics` is served.
    #[serde(default)]
    pub server: RawServer,
    /// `[poll]`: defaults for every collector's polling.
    #[serde(default)]
    pub poll: RawPoll,
    /// `[[huaweicloud]]`: Huawei Cloud targets.
    #[serde(default)]
    pub huaweicloud: Vec<RawHuaweiTarget>,
    /// `[[alibabacloud_sag]]`: Alibaba Cloud Smart Access Gateway targets.
    #[serde(default)]
    pub alibabacloud_sag: Vec<RawSagTarget>,
}

/// `[server]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Address and port to listen on.
    pub listen_address: Option<String>,
    /// Path of the metrics endpoint.
    pub telemetry_path: Option<String>,
    /// Most requests served at once; more get 503.
    pub max_requests: Option<usize>,
}

/// `[poll]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoll {
    /// How often each collector polls.
    pub interval: Option<HumanDuration>,
    /// Timeout of one upstream request.
    pub timeout: Option<HumanDuration>,
    /// Time allowed for a whole poll; default 80% of the interval.
    pub deadline: Option<HumanDuration>,
    /// How long the last good series outlive failed polls; default 3 × interval.
    pub max_staleness: Option<HumanDuration>,
    /// Retries of a throttled, 5xx or failed request.
    pub max_retries: Option<u32>,
    /// Upper bound of the first retry's random wait; doubles per retry.
    pub retry_backoff: Option<HumanDuration>,
    /// Requests per minute per target and API host.
    pub rate_limit_per_minute: Option<u32>,
    /// Largest upstream response body accepted, in bytes.
    pub max_body_bytes: Option<u64>,
}

/// A `[[huaweicloud]]` target as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHuaweiTarget {
    /// Target name (the `target` label of self-metrics); default: the region.
    pub name: Option<String>,
    /// Huawei Cloud region, e.g. `cn-north-4`.
    pub region: Option<String>,
    /// Project ID; discovered through IAM when absent.
    pub project_id: Option<String>,
    /// Access key (AK).
    pub access_key: Option<Secret>,
    /// File holding the access key.
    pub access_key_file: Option<PathBuf>,
    /// Secret key (SK).
    pub secret_key: Option<Secret>,
    /// File holding the secret key.
    pub secret_key_file: Option<PathBuf>,
    /// Security token of temporary credentials.
    pub security_token: Option<Secret>,
    /// File holding the security token.
    pub security_token_file: Option<PathBuf>,
    /// Collectors to run; default: every default-enabled Huawei collector.
    pub collectors: Option<Vec<String>>,
    /// How far back `app_sessions` looks.
    pub session_lookback: Option<HumanDuration>,
    /// How `app_sessions` reads sessions: `auto`, `paging` or `counts`.
    pub session_plan: Option<SessionPlan>,
    /// Upper bound on concurrent requests of one poll.
    pub concurrency: Option<usize>,
    /// Poll interval for this target (overrides `[poll].interval`).
    pub interval: Option<HumanDuration>,
    /// Request timeout for this target (overrides `[poll].timeout`).
    pub timeout: Option<HumanDuration>,
    /// Request rate limit for this target (overrides `[poll].rate_limit_per_minute`).
    pub rate_limit_per_minute: Option<u32>,
    /// Workspace API endpoint.
    pub workspace_endpoint: Option<String>,
    /// Application-streaming (WorkspaceApp) API endpoint.
    pub app_endpoint: Option<String>,
    /// IAM endpoint, for project discovery.
    pub iam_endpoint: Option<String>,
}

/// An `[[alibabacloud_sag]]` target as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSagTarget {
    /// Target name; default: the region.
    pub name: Option<String>,
    /// Alibaba Cloud region, e.g. `cn-shanghai`.
    pub region: Option<String>,
    /// AccessKey ID.
    pub access_key_id: Option<Secret>,
    /// File holding the AccessKey ID.
    pub access_key_id_file: Option<PathBuf>,
    /// AccessKey secret.
    pub access_key_secret: Option<Secret>,
    /// File holding the AccessKey secret.
    pub access_key_secret_file: Option<PathBuf>,
    /// STS security token.
    pub security_token: Option<Secret>,
    /// File holding the STS security token.
    pub security_token_file: Option<PathBuf>,
    /// SAG API endpoint; default `https://smartag.{region}.aliyuncs.com`.
    pub endpoint: Option<String>,
    /// Poll interval (overrides `[poll].interval`).
    pub interval: Option<HumanDuration>,
    /// Request timeout (overrides `[poll].timeout`).
    pub timeout: Option<HumanDuration>,
    /// Request rate limit (overrides `[poll].rate_limit_per_minute`).
    pub rate_limit_per_minute: Option<u32>,
    /// Upper bound on concurrent requests of one poll.
    pub concurrency: Option<usize>,
    /// Collectors to run; default: every default-enabled SAG collector.
    pub collectors: Option<Vec<String>>,
    /// The SAG APP instances to watch.
    pub instances: Option<Vec<RawSagInstance>>,
}

/// `[[alibabacloud_sag.instances]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSagInstance {
    /// SAG APP instance ID.
    pub smartag_id: Option<String>,
    /// Client accounts to watch; when absent they are listed from the instance.
    pub users: Option<Vec<String>>,
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

/// One validated `[[alibabacloud_sag]]` target.
#[derive(Debug, Clone)]
pub struct SagTarget {
    /// Unique target name (`target` label of the self-metrics).
    pub name: String,
    /// Region, e.g. `cn-shanghai` (`region` label and `RegionId` parameter).
    pub region: String,
    /// Credentials used to sign every request.
    pub credentials: Credentials,
    /// SAG API base URL.
    pub endpoint: Url,
    /// The instances to watch (at least one).
    pub instances: Vec<SagInstance>,
    /// How this target polls.
    pub poll: TargetPoll,
    /// Upper bound on concurrent requests within one poll.
    pub concurrency: usize,
    /// Collectors to run as written, without duplicates; empty when not given.
    pub collectors: Vec<String>,
}

/// One SAG APP instance to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagInstance {
    /// Instance ID (`smartag_id` label).
    pub smartag_id: String,
    /// Client accounts; `None` means list them from the instance on every poll.
    pub users: Option<Vec<String>>,
}

/// Default upper bound on concurrent requests of one poll, per target.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// A target's `concurrency`: 1–64, default [`DEFAULT_CONCURRENCY`].
fn concurrency(key: &str, value: Option<usize>) -> Result<usize, ConfigError> {
    match value {
        None => Ok(DEFAULT_CONCURRENCY),
        Some(n @ 1..=64) => Ok(n),
        Some(n) => Err(ConfigError::new(
            key.to_string(),
            format!("{n} is out of range 1..=64"),
        )),
    }
}

impl Config {
    /// Names of every target, in configuration order.
    pub fn target_names(&self) -> impl Iterator<Item = &str> {
        self.huaweicloud
            .iter()
            .map(|t| t.name.as_str())
            .chain(self.alibabacloud_sag.iter().map(|t| t.name.as_str()))
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

/// How one target polls, with `[poll]` defaults and per-target overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPoll {
    /// Time between poll starts.
    pub interval: Duration,
    /// Limit on one upstream request.
    pub timeout: Duration,
    /// Limit on a whole poll; a poll past it is abandoned and counts as failed.
    pub deadline: Duration,
    /// After the last successful poll, how long its series stay while polls fail.
    pub max_staleness: Duration,
    /// Retries of a throttled, 5xx or failed request.
    pub max_retries: u32,
    /// Upper bound of the first retry's random wait (doubles per retry).
    pub retry_backoff: Duration,
    /// Requests per minute per API host (client-side token bucket).
    pub rate_limit_per_minute: u32,
}

/// Default retries of a request.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default first retry backoff bound.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Default requests per minute: the documented quota of the Workspace statistics APIs.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 100;

/// Per-target overrides as written, for [`target_poll`].
struct PollOverrides {
    interval: Option<HumanDuration>,
    timeout: Option<HumanDuration>,
    rate_limit_per_minute: Option<u32>,
}

/// Resolves a target's poll settings; `prefix` is the target's key, e.g. `huaweicloud[0]`.
fn target_poll(
    prefix: &str,
    o: PollOverrides,
    poll: &PollConfig,
) -> Result<TargetPoll, ConfigError> {
    let interval = positive(&format!("{prefix}.interval"), o.interval, poll.interval)?;
    let timeout = positive(&format!("{prefix}.timeout"), o.timeout, poll.timeout)?;
    let deadline = poll.deadline.unwrap_or(interval.mul_f64(0.8));
    let max_staleness = poll.max_staleness.unwrap_or(interval * 3);
    if max_staleness < interval {
        return Err(ConfigError::new(
            "poll.max_staleness",
            format!(
                "{} is shorter than the interval of {prefix} ({}): series would vanish between successful polls",
                humantime::format_duration(max_staleness),
                humantime::format_duration(interval)
            ),
        ));
    }
    let rate_limit_per_minute = nonzero(
        format!("{prefix}.rate_limit_per_minute"),
        o.rate_limit_per_minute,
        poll.rate_limit_per_minute,
    )?;
    Ok(TargetPoll {
        interval,
        timeout,
        deadline,
        max_staleness,
        max_retries: poll.max_retries,
        retry_backoff: poll.retry_backoff,
        rate_limit_per_minute,
    })
}

/// One validated `[[huaweicloud]]` target.
#[derive(Debug, Clone)]
pub struct HuaweiTarget {
    /// Unique target name (`target` label of the self-metrics).
    pub name: String,
    /// Region, e.g. `cn-north-4` (`region` label of cloud series).
    pub region: String,
    /// Configured project ID; `None` means discover through IAM.
    pub project_id: Option<String>,
    /// Credentials used to sign every request.
    pub credentials: Credentials,
    /// Collectors to run as written, without duplicates; empty when not given (the
    /// default-enabled ones run; the collectors' registry says which).
    pub collectors: Vec<String>,
    /// How far back `app_sessions` looks.
    pub session_lookback: Duration,
    /// How `app_sessions` reads sessions.
    pub session_plan: SessionPlan,
    /// Upper bound on concurrent requests within one poll (pages after the first,
    /// count queries).
    pub concurrency: usize,
    /// How this target's collectors poll.
    pub poll: TargetPoll,
    /// Workspace API base URL.
    pub workspace_endpoint: Url,
    /// WorkspaceApp (application streaming) API base URL.
    pub app_endpoint: Url,
    /// IAM base URL.
    pub iam_endpoint: Url,
}

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
            ConfigError::new(
                "config.file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let raw = RawConfig::parse(&text, env)?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        Config::from_raw(raw, base_dir, &|name| lookup(env, name))
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
                text.parse().map_err(|_| {
                    ConfigError::new(
                        "server.listen_address",
                        format!("{text:?} is not an address and port, like \"0.0.0.0:9817\""),
                    )
                })?
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
            let target = resolve_huawei(i, t, &poll, base_dir, env)?;
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
            let target = resolve_sag(i, t, &poll, base_dir, env)?;
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

impl RawConfig {
    /// Parses TOML text and applies `WORKSPACE_EXPORTER__*` overrides from `env`.
    ///
    /// No error repeats configuration content: a syntax error gives the line, the
    /// column, the parser's reason and the key it concerns, never the source line, and
    /// an error about a key that names a secret never shows its value.
    pub fn parse(toml_text: &str, env: &[(String, String)]) -> Result<RawConfig, ConfigError> {
        // The `config` crate's TOML errors quote the offending source line; parse once
        // here to report syntax errors without it.
        if let Err(e) = toml::de::DeTable::parse(toml_text) {
            return Err(syntax_error(toml_text, &e));
        }
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(toml_text, config::FileFormat::Toml));
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = env_key(rest).ok_or_else(|| {
                ConfigError::new(name.clone(), "cannot be mapped to a configuration key")
            })?;
            builder = builder
                .set_override(&key, value.as_str())
                .map_err(|e| ConfigError::new(name.clone(), e.to_string()))?;
        }
        let merged = builder
            .build()
            .map_err(|e| ConfigError::new("config.file", e.to_string()))?;
        serde_path_to_error::deserialize(merged).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." || path.is_empty() {
                "config.file".to_string()
            } else {
                path
            };
            let problem = strip_config_noise(&e.into_inner().to_string());
            let last = key.rsplit('.').next().unwrap_or(&key);
            let problem = if names_secret(last)
                && !problem.starts_with("unknown field")
                && problem != crate::secret::NOT_A_STRING
            {
                "invalid value (not shown because the key holds a secret)".to_string()
            } else {
                problem
            };
            ConfigError::new(key, problem)
        })
    }
}

/// Whether a key's name says it holds a secret (`*secret*`, `*token*`, `*key*`,
/// `*password*`), so that its value must never appear in a message.
pub fn names_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "token", "key", "password"]
        .iter()
        .any(|word| key.contains(word))
}

/// A TOML syntax error as a [`ConfigError`]: the key it concerns (when the error is on
/// an assignment), the line and column, and the parser's reason. The source line is
/// never quoted, and for a key that names a secret the message says so.
fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let offset = error.span().map_or(0, |s| s.start).min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before, |i| &before[i + 1..])
        .chars()
        .count()
        + 1;
    let reason = error.message().trim().replace('\n', "; ");
    let mut problem = format!("line {line}, column {column}: {reason}");
    let key = key_at(text, line);
    if let Some(key) = &key {
        let last = key.rsplit('.').next().unwrap_or(key);
        if names_secret(last) {
            problem.push_str(
                " (the line is not shown because the key holds a secret; quote the value, e.g. key = \"...\")",
            );
        }
    }
    ConfigError::new(key.unwrap_or_else(|| "config.file".into()), problem)
}

/// The full key (e.g. `huaweicloud[1].secret_key`) assigned on `line` (1-based) of a
/// TOML text, or on the nearest assignment above it when `line` continues a value;
/// `None` when the line is a table header or no key precedes it. A best-effort reading
/// used only to name the key in a syntax error.
fn key_at(text: &str, line: usize) -> Option<String> {
    let mut arrays: std::collections::HashMap<String, usize> = Default::default();
    let mut table = String::new();
    let mut key = None;
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            format!("{a}.{b}")
        }
    };
    // A dotted table name with the current index of every array table above it.
    let resolve = |name: &str, arrays: &std::collections::HashMap<String, usize>| {
        let parts: Vec<&str> = name
            .split('.')
            .map(|p| p.trim().trim_matches('"'))
            .collect();
        let mut path = String::new();
        for (i, part) in parts.iter().enumerate() {
            path = join(&path, part);
            if i + 1 < parts.len()
                && let Some(n) = arrays.get(&path)
            {
                path = format!("{path}[{}]", n - 1);
            }
        }
        path
    };
    for (i, raw) in text.lines().enumerate().take(line) {
        let t = raw.trim();
        let is_error_line = i + 1 == line;
        if let Some(rest) = t.strip_prefix("[[") {
            if is_error_line {
                return None;
            }
            let name = rest.split("]]").next().unwrap_or(rest).trim();
            let parent = resolve(name, &arrays);
            let count = arrays.entry(parent.clone()).or_insert(0);
            *count += 1;
            table = format!("{parent}[{}]", *count - 1);
            key = None;
        } else if let Some(rest) = t.strip_prefix('[') {
            if is_error_line {
                return None;
            }
            let name = rest.split(']').next().unwrap_or(rest).trim();
            table = resolve(name, &arrays);
            if let Some(n) = arrays.get(&table) {
                table = format!("{table}[{}]", n - 1);
            }
            key = None;
        } else if !t.starts_with('#')
            && let Some((k, _)) = t.split_once('=')
        {
            let k = k.trim().trim_matches(|c| c == '"' || c == '\'');
            if !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            {
                key = Some(join(&table, k));
            }
        }
    }
    key
}

/// `HUAWEICLOUD__0__SECRET_KEY` → `huaweicloud[0].secret_key`.
fn env_key(rest: &str) -> Option<String> {
    let mut key = String::new();
    for part in rest.split("__") {
        if part.is_empty() {
            return None;
        }
        if part.bytes().all(|b| b.is_ascii_digit()) {
            if key.is_empty() || part.parse::<usize>().map_or(true, |i| i > MAX_ENV_INDEX) {
                return None;
            }
            key.push('[');
            key.push_str(part);
            key.push(']');
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(&part.to_ascii_lowercase());
        }
    }
    (!key.is_empty()).then_some(key)
}

/// The `config` crate appends its own key description to some messages; our key comes
/// from the serde path, so drop the duplicate.
fn strip_config_noise(message: &str) -> String {
    match message.find(" for key `") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn lookup(env: &[(String, String)], name: &str) -> Option<String> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Checks a telemetry path: absolute, URL-safe, and not one of the fixed endpoints.
pub fn validate_telemetry_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{path:?} must start with '/'"));
    }
    if ["/", "/-/healthy", "/-/ready", "/-/reload"].contains(&path) {
        return Err(format!("{path:?} is already used by the exporter"));
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
    {
        return Err(format!(
            "{path:?} must be a plain path (letters, digits and / - _ . ~)"
        ));
    }
    Ok(())
}

/// A count that must not be zero, or `default` when absent.
fn nonzero<T: Copy + PartialEq + From<u8>>(
    key: impl Into<String>,
    value: Option<T>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        Some(n) if n == T::from(0) => Err(ConfigError::new(key, "must be greater than zero")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

fn positive(
    key: &str,
    value: Option<HumanDuration>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        Some(HumanDuration(d)) if d.is_zero() => {
            Err(ConfigError::new(key, "must be greater than zero"))
        }
        Some(HumanDuration(d)) if d > MAX_DURATION => Err(ConfigError::new(
            key,
            format!("{} is longer than a year", humantime::format_duration(d)),
        )),
        Some(HumanDuration(d)) => Ok(d),
        None => Ok(default),
    }
}

/// Longest duration any setting accepts; keeps derived values (3 × interval) finite.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Highest list index an environment override may name.
const MAX_ENV_INDEX: usize = 999;

fn resolve_huawei(
    i: usize,
    t: RawHuaweiTarget,
    poll: &PollConfig,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HuaweiTarget, ConfigError> {
    let key = |field: &str| format!("huaweicloud[{i}].{field}");
    let region = region_of(&key("region"), t.region, "cn-north-4")?;
    let name = target_name(&key("name"), t.name, &region)?;
    let access_key = required_secret(
        &key("access_key"),
        t.access_key,
        t.access_key_file,
        "HUAWEICLOUD_SDK_AK",
        base_dir,
        env,
    )?;
    let secret_key = required_secret(
        &key("secret_key"),
        t.secret_key,
        t.secret_key_file,
        "HUAWEICLOUD_SDK_SK",
        base_dir,
        env,
    )?;
    let security_token = secret(
        &key("security_token"),
        t.security_token,
        t.security_token_file,
        "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        base_dir,
        env,
    )?;
    let project_id = match t.project_id {
        Some(p) if p.trim().is_empty() => {
            return Err(ConfigError::new(
                key("project_id"),
                "must not be empty; remove it to discover the project through IAM",
            ));
        }
        Some(p) => Some(p.trim().to_string()),
        None => env("HUAWEICLOUD_SDK_PROJECT_ID").filter(|p| !p.trim().is_empty()),
    };
    if let Some(p) = &project_id
        && !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ConfigError::new(
            key("project_id"),
            format!("{p:?} is not a project ID (letters, digits, '-', '_')"),
        ));
    }
    let collectors = collector_list(&key("collectors"), t.collectors)?;
    let workspace_endpoint = endpoint(
        &key("workspace_endpoint"),
        t.workspace_endpoint,
        format!("https://workspace.{region}.myhuaweicloud.com"),
    )?;
    let app_default = if APPSTREAM_REGIONS.contains(&region.as_str()) {
        format!("https://appstream.{region}.myhuaweicloud.com")
    } else {
        format!("https://workspace.{region}.myhuaweicloud.com")
    };
    let app_endpoint = endpoint(&key("app_endpoint"), t.app_endpoint, app_default)?;
    let iam_endpoint = endpoint(
        &key("iam_endpoint"),
        t.iam_endpoint,
        format!("https://iam.{region}.myhuaweicloud.com"),
    )?;
    Ok(HuaweiTarget {
        name,
        project_id,
        credentials: Credentials::Static(Keys {
            access_key,
            secret_key,
            security_token,
        }),
        collectors,
        session_plan: t.session_plan.unwrap_or(SessionPlan::Auto),
        concurrency: concurrency(&key("concurrency"), t.concurrency)?,
        session_lookback: positive(
            &key("session_lookback"),
            t.session_lookback,
            DEFAULT_SESSION_LOOKBACK,
        )?,
        poll: target_poll(
            &format!("huaweicloud[{i}]"),
            PollOverrides {
                interval: t.interval,
                timeout: t.timeout,
                rate_limit_per_minute: t.rate_limit_per_minute,
            },
            poll,
        )?,
        workspace_endpoint,
        app_endpoint,
        iam_endpoint,
        region,
    })
}

fn region_of(key: &str, region: Option<String>, example: &str) -> Result<String, ConfigError> {
    let region = region.filter(|r| !r.trim().is_empty()).ok_or_else(|| {
        ConfigError::new(key, format!("missing: set the region, e.g. \"{example}\""))
    })?;
    if !region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ConfigError::new(
            key,
            format!("{region:?} is not a region name (lower-case letters, digits and '-')"),
        ));
    }
    Ok(region)
}

fn target_name(key: &str, name: Option<String>, region: &str) -> Result<String, ConfigError> {
    match name {
        Some(n) if n.trim().is_empty() => Err(ConfigError::new(key, "must not be empty")),
        Some(n) => Ok(n),
        None => Ok(region.to_string()),
    }
}

fn resolve_sag(
    i: usize,
    t: RawSagTarget,
    poll: &PollConfig,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SagTarget, ConfigError> {
    let key = |field: &str| format!("alibabacloud_sag[{i}].{field}");
    let region = region_of(&key("region"), t.region, "cn-shanghai")?;
    let name = target_name(&key("name"), t.name, &region)?;
    let access_key_id = required_secret(
        &key("access_key_id"),
        t.access_key_id,
        t.access_key_id_file,
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        base_dir,
        env,
    )?;
    let access_key_secret = required_secret(
        &key("access_key_secret"),
        t.access_key_secret,
        t.access_key_secret_file,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        base_dir,
        env,
    )?;
    let security_token = secret(
        &key("security_token"),
        t.security_token,
        t.security_token_file,
        "ALIBABA_CLOUD_SECURITY_TOKEN",
        base_dir,
        env,
    )?;
    let endpoint = endpoint(
        &key("endpoint"),
        t.endpoint,
        format!("https://smartag.{region}.aliyuncs.com"),
    )?;
    let concurrency = concurrency(&key("concurrency"), t.concurrency)?;
    let collectors = collector_list(&key("collectors"), t.collectors)?;
    let raw_instances = t.instances.unwrap_or_default();
    if raw_instances.is_empty() {
        return Err(ConfigError::new(
            key("instances"),
            "no instances: add at least one [[alibabacloud_sag.instances]] with a smartag_id",
        ));
    }
    let mut instances = Vec::with_capacity(raw_instances.len());
    let mut ids = BTreeSet::new();
    for (j, inst) in raw_instances.into_iter().enumerate() {
        let ikey = |field: &str| format!("alibabacloud_sag[{i}].instances[{j}].{field}");
        let smartag_id = inst
            .smartag_id
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    ikey("smartag_id"),
                    "missing: set the SAG APP instance ID, e.g. \"sag-wfjgn1234\"",
                )
            })?;
        if !ids.insert(smartag_id.clone()) {
            return Err(ConfigError::new(
                ikey("smartag_id"),
                format!("{smartag_id:?} is listed twice"),
            ));
        }
        let users = match inst.users {
            None => None,
            Some(list) if list.is_empty() => {
                return Err(ConfigError::new(
                    ikey("users"),
                    "is empty: remove it to list the instance's client accounts",
                ));
            }
            Some(list) => {
                let mut seen = BTreeSet::new();
                for (k, u) in list.iter().enumerate() {
                    if u.trim().is_empty() {
                        return Err(ConfigError::new(
                            format!("{}[{k}]", ikey("users")),
                            "must not be empty",
                        ));
                    }
                    if !seen.insert(u.as_str()) {
                        return Err(ConfigError::new(
                            ikey("users"),
                            format!("{u:?} is listed twice"),
                        ));
                    }
                }
                Some(list)
            }
        };
        instances.push(SagInstance { smartag_id, users });
    }
    Ok(SagTarget {
        name,
        credentials: Credentials::Static(Keys {
            access_key: access_key_id,
            secret_key: access_key_secret,
            security_token,
        }),
        endpoint,
        instances,
        poll: target_poll(
            &format!("alibabacloud_sag[{i}]"),
            PollOverrides {
                interval: t.interval,
                timeout: t.timeout,
                rate_limit_per_minute: t.rate_limit_per_minute,
            },
            poll,
        )?,
        concurrency,
        collectors,
        region,
    })
}

/// A target's `collectors` list: absent is empty (the defaults), given must be
/// non-empty and without duplicates. Names are checked against the collectors'
/// registry by [`crate::collectors::check`].
fn collector_list(key: &str, list: Option<Vec<String>>) -> Result<Vec<String>, ConfigError> {
    match list {
        None => Ok(Vec::new()),
        Some(list) if list.is_empty() => Err(ConfigError::new(
            key,
            "is empty: remove it to run the default collectors",
        )),
        Some(list) => {
            let mut seen = BTreeSet::new();
            for c in &list {
                if !seen.insert(c.as_str()) {
                    return Err(ConfigError::new(key, format!("{c} is listed twice")));
                }
            }
            Ok(list)
        }
    }
}

/// A secret that must be present: from its value key, its `*_file` key, or `env_name`.
fn required_secret(
    key: &str,
    value: Option<Secret>,
    file: Option<PathBuf>,
    env_name: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, ConfigError> {
    secret(key, value, file, env_name, base_dir, env)?.ok_or_else(|| missing_secret(key, env_name))
}

fn missing_secret(key: &str, env_name: &str) -> ConfigError {
    ConfigError::new(
        key,
        format!("missing: set {key}, {key}_file, or the environment variable {env_name}"),
    )
}

/// Resolves a secret from its value key, its `*_file` key, or an environment fallback.
fn secret(
    key: &str,
    value: Option<Secret>,
    file: Option<PathBuf>,
    env_name: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    let file_key = format!("{key}_file");
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            key,
            format!("set either {key} or {file_key}, not both"),
        )),
        (Some(v), None) => {
            let v = v.expose().trim();
            if v.is_empty() {
                Err(ConfigError::new(key, "is empty"))
            } else {
                Ok(Some(Secret::new(v)))
            }
        }
        (None, Some(path)) => {
            let path = if path.is_relative() {
                base_dir.join(path)
            } else {
                path
            };
            let content = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new(
                    &file_key,
                    format!("cannot read secret file {}: {e}", path.display()),
                )
            })?;
            let content = content.trim();
            if content.is_empty() {
                return Err(ConfigError::new(
                    &file_key,
                    format!("secret file {} is empty", path.display()),
                ));
            }
            Ok(Some(Secret::new(content)))
        }
        (None, None) => Ok(env(env_name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(Secret::new)),
    }
}

fn endpoint(key: &str, value: Option<String>, default: String) -> Result<Url, ConfigError> {
    let text = value.unwrap_or(default);
    let url = Url::parse(text.trim())
        .map_err(|e| ConfigError::new(key, format!("{text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            key,
            format!("{text:?}: the scheme must be http or https"),
        ));
    }
    if url.host_str().is_none() {
        return Err(ConfigError::new(key, format!("{text:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not quoted: user info may hold a password.
        return Err(ConfigError::new(
            key,
            "must not carry user info (user:password@); the value is not shown",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            key,
            format!("{text:?} must not carry a query or fragment"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw = RawConfig::parse(text, &[])?;
        Config::from_raw(raw, Path::new("."), &no_env)
    }

    const MINIMAL: &str = r#"
        [[huaweicloud]]
        region = "cn-north-4"
        access_key = "AK"
        secret_key = "SK"
    "#;

    #[test]
    fn defaults_fill_in() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.server.listen_address, "0.0.0.0:9817".parse().unwrap());
        assert_eq!(c.poll.interval, Duration::from_secs(60));
        let t = &c.huaweicloud[0];
        assert_eq!(t.name, "cn-north-4");
        assert_eq!(
            t.app_endpoint.as_str(),
            "https://appstream.cn-north-4.myhuaweicloud.com/"
        );
        // Not given: the registry's default-enabled collectors run (see
        // collectors::tests::a_target_without_a_list_runs_the_default_collectors).
        assert!(t.collectors.is_empty());
        assert_eq!(t.session_lookback, Duration::from_secs(86400));
    }

    #[test]
    fn app_endpoint_falls_back_to_workspace_outside_appstream_regions() {
        let c = parse(&MINIMAL.replace("cn-north-4", "ap-southeast-1")).unwrap();
        assert_eq!(
            c.huaweicloud[0].app_endpoint.as_str(),
            "https://workspace.ap-southeast-1.myhuaweicloud.com/"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse(&format!("{MINIMAL}\nsecret_key_fle = \"x\"")).unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].secret_key_fle");
        assert!(err.problem.contains("secret_key_fle"), "{err}");
    }

    #[test]
    fn absurd_durations_are_refused_not_overflowed() {
        let err = parse(&format!(
            "[poll]\ninterval = \"7000000000000000000s\"\n{MINIMAL}"
        ))
        .unwrap_err();
        assert_eq!(err.key, "poll.interval");
        let err = parse(&format!("{MINIMAL}interval = \"7000000000000000000s\"\n")).unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].interval");
    }

    #[test]
    fn zero_counts_are_named() {
        for (section, key, named) in [
            ("[server]", "max_requests = 0", "server.max_requests"),
            (
                "[poll]",
                "rate_limit_per_minute = 0",
                "poll.rate_limit_per_minute",
            ),
            ("[poll]", "max_body_bytes = 0", "poll.max_body_bytes"),
        ] {
            let err = parse(&format!("{section}\n{key}\n{MINIMAL}")).unwrap_err();
            assert_eq!(err.key, named);
            assert_eq!(err.problem, "must be greater than zero");
        }
        let err = parse(&format!("{MINIMAL}rate_limit_per_minute = 0\n")).unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].rate_limit_per_minute");
    }

    #[test]
    fn bad_duration_is_named() {
        let err = parse(&format!("[poll]\ninterval = \"5 parsecs\"\n{MINIMAL}")).unwrap_err();
        assert_eq!(err.key, "poll.interval");
        assert!(err.problem.contains("invalid duration"), "{err}");
    }

    #[test]
    fn env_override_reaches_list_items() {
        let env = vec![(
            "WORKSPACE_EXPORTER__HUAWEICLOUD__0__NAME".to_string(),
            "from-env".to_string(),
        )];
        let raw = RawConfig::parse(MINIMAL, &env).unwrap();
        let c = Config::from_raw(raw, Path::new("."), &no_env).unwrap();
        assert_eq!(c.huaweicloud[0].name, "from-env");
    }

    #[test]
    fn env_key_mapping() {
        assert_eq!(env_key("POLL__INTERVAL").as_deref(), Some("poll.interval"));
        assert_eq!(
            env_key("HUAWEICLOUD__1__SECRET_KEY_FILE").as_deref(),
            Some("huaweicloud[1].secret_key_file")
        );
        assert_eq!(env_key("0__X"), None);
        assert_eq!(env_key("HUAWEICLOUD__1000000000__REGION"), None);
        assert_eq!(env_key("A____B"), None);
    }

    #[test]
    fn sdk_env_fallback_is_used_only_when_nothing_is_set() {
        let text = "[[huaweicloud]]\nregion = \"cn-north-4\"\n";
        let env = |name: &str| match name {
            "HUAWEICLOUD_SDK_AK" => Some("ENVAK".to_string()),
            "HUAWEICLOUD_SDK_SK" => Some("ENVSK\n".to_string()),
            _ => None,
        };
        let c =
            Config::from_raw(RawConfig::parse(text, &[]).unwrap(), Path::new("."), &env).unwrap();
        assert_eq!(
            c.huaweicloud[0].credentials.keys().secret_key.expose(),
            "ENVSK"
        );
        let err = parse(text).unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].access_key");
    }

    #[test]
    fn missing_secret_file_is_named_without_content() {
        let text = "[[huaweicloud]]\nregion = \"cn-north-4\"\naccess_key = \"AK\"\nsecret_key_file = \"/nonexistent/hw_sk\"\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].secret_key_file");
        assert!(err.problem.contains("/nonexistent/hw_sk"), "{err}");
    }

    #[test]
    fn duplicate_names_and_empty_lists_are_rejected() {
        let err = parse(&format!("{MINIMAL}{MINIMAL}")).unwrap_err();
        assert_eq!(err.key, "huaweicloud[1].name");
        let err = parse("[poll]\ninterval = \"10s\"\n").unwrap_err();
        assert_eq!(err.key, "huaweicloud");
    }

    #[test]
    fn bad_url_and_wrong_type_are_named() {
        let err = parse(&format!("{MINIMAL}workspace_endpoint = \"ftp://x\"\n")).unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].workspace_endpoint");
        let err = parse(&format!("[poll]\nmax_body_bytes = \"lots\"\n{MINIMAL}")).unwrap_err();
        assert_eq!(err.key, "poll.max_body_bytes");
        // An unknown collector name: collectors::tests::an_unknown_collector_is_named.
    }

    /// A secret written without quotes, or with an unterminated quote, must not be
    /// echoed by the parse error, which still names the key, the line and the column.
    #[test]
    fn syntax_errors_never_quote_a_secret() {
        let value = "demo-secret-key-not-a-real-one";
        for line in [
            format!("secret_key = {value}"),
            format!("secret_key = \"{value}"),
            format!("secret_key = '{value}"),
        ] {
            let text =
                format!("[[huaweicloud]]\nregion = \"cn-north-4\"\naccess_key = \"AK\"\n{line}\n");
            let err = parse(&text).unwrap_err();
            let shown = err.to_string();
            assert!(!shown.contains("demo-secret"), "{line}: {shown}");
            assert_eq!(err.key, "huaweicloud[0].secret_key", "{line}: {shown}");
            assert!(
                err.problem.starts_with("line 4, column "),
                "{line}: {shown}"
            );
            assert!(err.problem.contains("holds a secret"), "{line}: {shown}");
        }
        // A second target, and a nested table: the key path follows the headers.
        let text = format!(
            "{MINIMAL}\n[[alibabacloud_sag]]\nregion = \"cn-shanghai\"\n[[alibabacloud_sag.instances]]\nsmartag_id = \"a\"\n[[alibabacloud_sag]]\naccess_key_secret = {value}\n"
        );
        let err = parse(&text).unwrap_err();
        assert_eq!(err.key, "alibabacloud_sag[1].access_key_secret", "{err}");
        assert!(!err.to_string().contains(value), "{err}");
    }

    /// Any syntax error reports its position and the parser's reason, never the line.
    #[test]
    fn syntax_errors_never_quote_the_source_line() {
        let err = parse(&format!("[poll]\ninterval = 60 seconds\n{MINIMAL}")).unwrap_err();
        assert_eq!(err.key, "poll.interval", "{err}");
        assert!(err.problem.starts_with("line 2, column "), "{err}");
        assert!(!err.problem.contains("60 seconds"), "{err}");
        assert!(!err.problem.contains("holds a secret"), "{err}");
        let err = parse("[[huaweicloud\nregion = \"x\"\n").unwrap_err();
        assert_eq!(err.key, "config.file", "{err}");
        assert!(err.problem.starts_with("line 1, column "), "{err}");
    }

    /// A secret must be a string: a number in its place is refused without showing it.
    #[test]
    fn a_secret_must_be_a_string() {
        for (field, value) in [
            ("secret_key", "123456789012345"),
            ("access_key", "987654321098765"),
            ("security_token", "true"),
            ("secret_key", "1.5e300"),
        ] {
            let text = MINIMAL.replace(
                &format!(
                    "{field} = \"{}\"",
                    if field == "secret_key" { "SK" } else { "AK" }
                ),
                "",
            );
            let text = format!("{text}{field} = {value}\n");
            let err = parse(&text).unwrap_err();
            assert_eq!(err.key, format!("huaweicloud[0].{field}"), "{err}");
            assert!(err.problem.contains("must be a string"), "{err}");
            assert!(!err.to_string().contains(value), "{err}");
        }
        let sag = "[[alibabacloud_sag]]\nregion = \"cn-shanghai\"\naccess_key_id = \"a\"\naccess_key_secret = 42424242\n[[alibabacloud_sag.instances]]\nsmartag_id = \"s\"\n";
        let err = parse(sag).unwrap_err();
        assert_eq!(err.key, "alibabacloud_sag[0].access_key_secret", "{err}");
        assert!(!err.to_string().contains("42424242"), "{err}");
    }

    /// A value from an environment override is always a string, and stays accepted.
    #[test]
    fn a_secret_from_the_environment_is_a_string() {
        let env = vec![(
            "WORKSPACE_EXPORTER__HUAWEICLOUD__0__SECRET_KEY".to_string(),
            "1234567890".to_string(),
        )];
        let raw = RawConfig::parse(MINIMAL, &env).unwrap();
        let c = Config::from_raw(raw, Path::new("."), &no_env).unwrap();
        assert_eq!(
            c.huaweicloud[0].credentials.keys().secret_key.expose(),
            "1234567890"
        );
    }

    #[test]
    fn debug_output_hides_credentials() {
        let c = parse(MINIMAL.replace("\"SK\"", "\"TOP-SECRET-SK\"").as_str()).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("TOP-SECRET-SK"));
    }
}
