//! `[[alibabacloud_sag]]` targets and their SAG APP instances, resolved from the schema.

use std::collections::BTreeSet;
use std::path::Path;

use url::Url;

use super::checks::endpoint;
use super::credentials::{
    ALIBABA_KINDS, AlibabaWritten, DEFAULT_SESSION_NAME, alibaba_source, assume_role, kind_of,
};
use super::schema::RawSagTarget;
use super::target::{CloudKeys, Common, PollOverrides, Shared, TargetPoll, resolve_common};
use super::{ConfigError, PollConfig};
use crate::cloud::alibaba::identity::{AlibabaCredentialSpec, DEFAULT_STS_ENDPOINT};

/// How `[[alibabacloud_sag]]` names the shared keys.
const CLOUD_KEYS: CloudKeys = CloudKeys {
    section: "alibabacloud_sag",
    example_region: "cn-shanghai",
    access_key: ("access_key_id", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
    secret_key: ("access_key_secret", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    security_token: ("security_token", "ALIBABA_CLOUD_SECURITY_TOKEN"),
};

/// One validated `[[alibabacloud_sag]]` target.
#[derive(Debug, Clone)]
pub struct SagTarget {
    /// Unique target name (`target` label of the self-metrics).
    pub name: String,
    /// Region, e.g. `cn-shanghai` (`region` label and `RegionId` parameter).
    pub region: String,
    /// Where the keys that sign every request come from.
    pub credentials: AlibabaCredentialSpec,
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

/// Resolves `[[alibabacloud_sag]]` number `i`.
pub(super) fn resolve(
    i: usize,
    t: RawSagTarget,
    poll: &PollConfig,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SagTarget, ConfigError> {
    let key = |field: &str| format!("alibabacloud_sag[{i}].{field}");
    let kind = kind_of(&key("credentials"), t.credentials, &ALIBABA_KINDS)?;
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
            access_key: (t.access_key_id, t.access_key_id_file),
            secret_key: (t.access_key_secret, t.access_key_secret_file),
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
    let sag_endpoint = endpoint(
        &key("endpoint"),
        t.endpoint,
        format!("https://smartag.{region}.aliyuncs.com"),
    )?;
    let prefix = format!("alibabacloud_sag[{i}]");
    let source = alibaba_source(
        &prefix,
        kind,
        credentials,
        AlibabaWritten {
            ecs_ram_role_name: t.ecs_ram_role_name,
            role_arn: t.role_arn,
            oidc_provider_arn: t.oidc_provider_arn,
            oidc_token_file: t.oidc_token_file,
            metadata_endpoint: t.metadata_endpoint,
        },
        base_dir,
        env,
    )?;
    let credentials = AlibabaCredentialSpec {
        source,
        sts_endpoint: endpoint(
            &key("sts_endpoint"),
            t.sts_endpoint,
            DEFAULT_STS_ENDPOINT.into(),
        )?,
        assume_role: assume_role(&prefix, t.assume_role)?,
        session_name: env("ALIBABA_CLOUD_ROLE_SESSION_NAME")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SESSION_NAME.into()),
    };
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
        credentials,
        endpoint: sag_endpoint,
        instances,
        poll,
        concurrency,
        collectors,
        region,
    })
}
