//! What every target shares, whatever its cloud, resolved here once: its name and
//! region, its credentials, how it polls (`[poll]` defaults with its own overrides
//! applied), its upper bound on concurrent requests and its collectors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::checks::{collector_list, concurrency, nonzero, positive, region_of, target_name};
use super::credentials::unused_by;
use super::secrets::{required_secret, secret};
use super::{ConfigError, HumanDuration, PollConfig};
use crate::cloud::credentials::{Credentials, KeyFiles, Keys};
use crate::secret::Secret;

/// A secret as written: its value key and its `*_file` key.
pub(super) type Written = (Option<Secret>, Option<PathBuf>);

/// The keys every target table has, as written.
pub(super) struct Shared {
    /// `name`.
    pub name: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// The access key (Huawei `access_key`, Alibaba `access_key_id`).
    pub access_key: Written,
    /// The secret key (Huawei `secret_key`, Alibaba `access_key_secret`).
    pub secret_key: Written,
    /// `security_token`.
    pub security_token: Written,
    /// `interval`, `timeout`, `rate_limit_per_minute`.
    pub poll: PollOverrides,
    /// `concurrency`.
    pub concurrency: Option<usize>,
    /// `collectors`.
    pub collectors: Option<Vec<String>>,
    /// `credentials`, checked: the keys above are read only when it is `static`.
    pub credential_kind: &'static str,
}

/// How a cloud names the shared keys: its section, an example region, and each
/// credential's key and SDK environment variable.
pub(super) struct CloudKeys {
    /// `huaweicloud` or `alibabacloud_sag`.
    pub section: &'static str,
    /// Shown when the region is missing.
    pub example_region: &'static str,
    /// (key, environment variable) of the access key.
    pub access_key: (&'static str, &'static str),
    /// (key, environment variable) of the secret key.
    pub secret_key: (&'static str, &'static str),
    /// (key, environment variable) of the security token.
    pub security_token: (&'static str, &'static str),
}

/// The shared settings of a target, resolved.
pub(super) struct Common {
    /// Unique target name (checked for uniqueness by the caller).
    pub name: String,
    /// Region.
    pub region: String,
    /// Its written keys, when `credentials` is `static`.
    pub credentials: Option<Credentials>,
    /// How it polls.
    pub poll: TargetPoll,
    /// Upper bound on concurrent requests within one poll.
    pub concurrency: usize,
    /// Collectors as written (empty: the defaults).
    pub collectors: Vec<String>,
}

/// Resolves the shared keys of target `i` of `cloud`'s section.
pub(super) fn resolve_common(
    cloud: &CloudKeys,
    i: usize,
    t: Shared,
    poll: &PollConfig,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Common, ConfigError> {
    let prefix = format!("{}[{i}]", cloud.section);
    let key = |field: &str| format!("{prefix}.{field}");
    let region = region_of(&key("region"), t.region, cloud.example_region)?;
    let name = target_name(&key("name"), t.name, &region)?;
    let credentials = if t.credential_kind == "static" {
        Some(static_keys(
            cloud,
            &key,
            t.access_key,
            t.secret_key,
            t.security_token,
            base_dir,
            env,
        )?)
    } else {
        for ((field, _), written) in [
            (cloud.access_key, &t.access_key),
            (cloud.secret_key, &t.secret_key),
            (cloud.security_token, &t.security_token),
        ] {
            let set = written.0.is_some() || written.1.is_some();
            unused_by(&key(field), set, t.credential_kind, "static")?;
        }
        None
    };
    Ok(Common {
        credentials,
        concurrency: concurrency(&key("concurrency"), t.concurrency)?,
        collectors: collector_list(&key("collectors"), t.collectors)?,
        poll: target_poll(&prefix, t.poll, poll)?,
        name,
        region,
    })
}

/// The keys written in a `static` target: each from its value key, its `*_file` key
/// (followed when the file changes), or the SDK's environment variable.
fn static_keys(
    cloud: &CloudKeys,
    key: &dyn Fn(&str) -> String,
    access_key: Written,
    secret_key: Written,
    security_token: Written,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Credentials, ConfigError> {
    let (access_name, access_env) = cloud.access_key;
    let access_key = required_secret(
        &key(access_name),
        access_key.0,
        access_key.1,
        access_env,
        base_dir,
        env,
    )?;
    let (secret_name, secret_env) = cloud.secret_key;
    let secret_key = required_secret(
        &key(secret_name),
        secret_key.0,
        secret_key.1,
        secret_env,
        base_dir,
        env,
    )?;
    let (token_name, token_env) = cloud.security_token;
    let security_token = secret(
        &key(token_name),
        security_token.0,
        security_token.1,
        token_env,
        base_dir,
        env,
    )?;
    let (security_token, token_file) = security_token.unzip();
    let keys = Keys {
        access_key: access_key.0,
        secret_key: secret_key.0,
        security_token,
    };
    let files = KeyFiles {
        access_key: access_key.1,
        secret_key: secret_key.1,
        security_token: token_file.flatten(),
    };
    Ok(Credentials::from_files(keys, files))
}

/// Default upper bound on concurrent requests of one poll, per target.
pub const DEFAULT_CONCURRENCY: usize = 4;

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

/// Per-target overrides as written, for [`target_poll`].
pub(super) struct PollOverrides {
    /// `interval` as written on the target.
    pub interval: Option<HumanDuration>,
    /// `timeout` as written on the target.
    pub timeout: Option<HumanDuration>,
    /// `rate_limit_per_minute` as written on the target.
    pub rate_limit_per_minute: Option<u32>,
}

/// Resolves a target's poll settings; `prefix` is the target's key, e.g. `huaweicloud[0]`.
pub(super) fn target_poll(
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
