//! `[[huaweicloud]]` targets: resolved from the schema, with the endpoints their
//! region implies.

use std::path::Path;
use std::time::Duration;

use url::Url;

use super::checks::{endpoint, positive};
use super::credentials::{HUAWEI_KINDS, HuaweiWritten, assume_agency, huawei_source, kind_of};
use super::schema::{RawHuaweiTarget, SessionPlan};
use super::target::{CloudKeys, Common, PollOverrides, Shared, TargetPoll, resolve_common};
use super::{ConfigError, PollConfig};
use crate::cloud::huawei::identity::HuaweiCredentialSpec;

/// How `[[huaweicloud]]` names the shared keys.
const CLOUD_KEYS: CloudKeys = CloudKeys {
    section: "huaweicloud",
    example_region: "cn-north-4",
    access_key: ("access_key", "HUAWEICLOUD_SDK_AK"),
    secret_key: ("secret_key", "HUAWEICLOUD_SDK_SK"),
    security_token: ("security_token", "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
};

/// Default lookback window for application-streaming sessions.
pub const DEFAULT_SESSION_LOOKBACK: Duration = Duration::from_secs(24 * 3600);

/// Regions whose application-streaming API lives on `appstream.{region}` rather than on
/// the Workspace endpoint (api-notes.md).
const APPSTREAM_REGIONS: &[&str] = &[
    "cn-north-4",
    "cn-north-9",
    "cn-east-3",
    "cn-south-1",
    "cn-southwest-2",
];

/// One validated `[[huaweicloud]]` target.
#[derive(Debug, Clone)]
pub struct HuaweiTarget {
    /// Unique target name (`target` label of the self-metrics).
    pub name: String,
    /// Region, e.g. `cn-north-4` (`region` label of cloud series).
    pub region: String,
    /// Configured project ID; `None` means discover through IAM.
    pub project_id: Option<String>,
    /// Where the keys that sign every request come from.
    pub credentials: HuaweiCredentialSpec,
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

/// Resolves `[[huaweicloud]]` number `i`.
pub(super) fn resolve(
    i: usize,
    t: RawHuaweiTarget,
    poll: &PollConfig,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HuaweiTarget, ConfigError> {
    let key = |field: &str| format!("huaweicloud[{i}].{field}");
    let kind = kind_of(&key("credentials"), t.credentials, &HUAWEI_KINDS)?;
    let Common {
        name,
        region,
        credentials,
        poll,
        concurrency,
        collectors,
    } = resolve_common(
        &CLOUD_KEYS,
        i,
        Shared {
            name: t.name,
            region: t.region,
            access_key: (t.access_key, t.access_key_file),
            secret_key: (t.secret_key, t.secret_key_file),
            security_token: (t.security_token, t.security_token_file),
            poll: PollOverrides {
                interval: t.interval,
                timeout: t.timeout,
                rate_limit_per_minute: t.rate_limit_per_minute,
            },
            concurrency: t.concurrency,
            collectors: t.collectors,
            credential_kind: kind,
        },
        poll,
        base_dir,
        env,
    )?;
    let prefix = format!("huaweicloud[{i}]");
    let source = huawei_source(
        &prefix,
        kind,
        credentials,
        HuaweiWritten {
            idp_id: t.idp_id,
            id_token_file: t.id_token_file,
            metadata_endpoint: t.metadata_endpoint,
        },
        base_dir,
        env,
    )?;
    let credentials = HuaweiCredentialSpec {
        source,
        assume_agency: assume_agency(&prefix, t.assume_agency)?,
    };
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
        credentials,
        collectors,
        session_plan: t.session_plan.unwrap_or(SessionPlan::Auto),
        concurrency,
        session_lookback: positive(
            &key("session_lookback"),
            t.session_lookback,
            DEFAULT_SESSION_LOOKBACK,
        )?,
        poll,
        workspace_endpoint,
        app_endpoint,
        iam_endpoint,
        region,
    })
}
