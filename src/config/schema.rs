//! The configuration file as written: every table and key, before secrets and
//! defaults are resolved. Unknown keys are rejected everywhere. The two clouds' target
//! tables repeat their shared keys (`name`, `region`, credentials, `interval`, ...):
//! serde's `flatten` cannot be combined with `deny_unknown_fields`, so the keys are
//! listed per table and resolved once by [`super::target`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::secret::Secret;

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
    /// Keys set by `WORKSPACE_EXPORTER__*` variables: (key, variable), so an error about
    /// such a key can name the variable. Not part of the file.
    #[serde(skip)]
    pub env_overrides: Vec<(String, String)>,
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
    /// This replica's shard (with `total_shards`).
    pub shard: Option<u32>,
    /// How many replicas share the targets.
    pub total_shards: Option<u32>,
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
    /// Where the keys come from: `static`, `ecs_metadata` or `oidc`.
    pub credentials: Option<String>,
    /// `oidc`: the identity provider's name in IAM.
    pub idp_id: Option<String>,
    /// `oidc`: the file holding the OIDC ID token.
    pub id_token_file: Option<PathBuf>,
    /// `ecs_metadata`: the metadata service's base URL.
    pub metadata_endpoint: Option<String>,
    /// Cross-account: an agency to assume on top of the keys.
    pub assume_agency: Option<RawAssumeAgency>,
}

/// `[huaweicloud.assume_agency]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssumeAgency {
    /// The account owning the agency, by name.
    pub domain_name: Option<String>,
    /// The account owning the agency, by ID.
    pub domain_id: Option<String>,
    /// The agency.
    pub agency_name: Option<String>,
    /// Lifetime of the temporary keys (15m to 24h).
    pub duration: Option<HumanDuration>,
}

/// `[alibabacloud_sag.assume_role]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssumeRole {
    /// The role, e.g. `acs:ram::1234567890123456:role/workspace-monitor`.
    pub role_arn: Option<String>,
    /// `RoleSessionName`.
    pub session_name: Option<String>,
    /// Lifetime of the temporary keys (15m to 12h).
    pub duration: Option<HumanDuration>,
    /// `ExternalId`, when the role's trust policy asks for one.
    pub external_id: Option<String>,
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
    /// Where the keys come from: `static`, `ecs_ram_role` or `oidc`.
    pub credentials: Option<String>,
    /// `ecs_ram_role`: the role's name (discovered when absent).
    pub ecs_ram_role_name: Option<String>,
    /// `oidc`: the role to assume.
    pub role_arn: Option<String>,
    /// `oidc`: the OIDC provider in RAM.
    pub oidc_provider_arn: Option<String>,
    /// `oidc`: the file holding the OIDC token.
    pub oidc_token_file: Option<PathBuf>,
    /// `ecs_ram_role`: the metadata service's base URL.
    pub metadata_endpoint: Option<String>,
    /// STS endpoint, for `oidc` and `assume_role`.
    pub sts_endpoint: Option<String>,
    /// Cross-account: a role to assume on top of the keys.
    pub assume_role: Option<RawAssumeRole>,
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

/// How `app_sessions` reads the sessions (`session_plan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPlan {
    /// Read every session, 100 per page: ⌈N/100⌉ calls.
    Paging,
    /// Ask for counts (`limit=1`) per server group and state: ⌈G/100⌉ + 5G + 1 calls.
    Counts,
    /// The cheapest split of states between paging and counting, from what the last
    /// poll learned.
    Auto,
}
