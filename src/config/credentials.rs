//! A target's `credentials` setting and the keys that go with it, for both clouds:
//! which source (`static`, instance metadata, OIDC), the settings each source needs
//! (from its key or the SDK's environment variable), and the cross-account section on
//! top. Produces the clouds' credential specs; nothing is fetched here, so
//! `--config.check` validates the shape without calling any endpoint.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ConfigError;
use super::checks::endpoint;
use super::schema::{HumanDuration, RawAssumeAgency, RawAssumeRole};
use crate::cloud::alibaba::identity::{
    AlibabaSource, AssumeRole, DEFAULT_METADATA_ENDPOINT as ALIBABA_METADATA,
};
use crate::cloud::credentials::Credentials;
use crate::cloud::huawei::identity::{
    AgencyDomain, AssumeAgency, DEFAULT_METADATA_ENDPOINT as HUAWEI_METADATA, HuaweiSource,
};

/// Lifetime asked of temporary keys when the configuration does not say.
pub const DEFAULT_TEMPORARY_DURATION: Duration = Duration::from_secs(3600);

/// Session name of assumed roles when the configuration does not say.
pub const DEFAULT_SESSION_NAME: &str = "workspace-exporter";

/// The `credentials` values of one cloud, `static` first.
pub(super) struct Kinds(pub &'static [&'static str]);

/// The Huawei sources.
pub(super) const HUAWEI_KINDS: Kinds = Kinds(&["static", "ecs_metadata", "oidc"]);
/// The Alibaba sources.
pub(super) const ALIBABA_KINDS: Kinds = Kinds(&["static", "ecs_ram_role", "oidc"]);

/// The `credentials` value, checked against `kinds`; absent is `static`.
pub(super) fn kind_of(
    key: &str,
    value: Option<String>,
    kinds: &Kinds,
) -> Result<&'static str, ConfigError> {
    let Some(value) = value else {
        return Ok("static");
    };
    kinds
        .0
        .iter()
        .find(|k| **k == value.trim())
        .copied()
        .ok_or_else(|| {
            ConfigError::new(
                key,
                format!(
                    "{value:?} is not a credential source; use one of: {}",
                    kinds.0.join(", ")
                ),
            )
        })
}

/// Fails when a key that only `needed_by` reads is set under another source.
pub(super) fn unused_by(
    key: &str,
    set: bool,
    kind: &str,
    needed_by: &str,
) -> Result<(), ConfigError> {
    if set && kind != needed_by {
        return Err(ConfigError::new(
            key,
            format!(
                "is only read with credentials = \"{needed_by}\" (this target has credentials = \"{kind}\"): remove it, or set credentials = \"{needed_by}\""
            ),
        ));
    }
    Ok(())
}

/// A setting a source needs: from its key or the SDK's environment variable.
fn needed(
    key: &str,
    value: Option<String>,
    env_name: &str,
    kind: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    value
        .or_else(|| env(env_name))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ConfigError::new(
                key,
                format!(
                    "missing: credentials = \"{kind}\" needs {key} or the environment variable {env_name}"
                ),
            )
        })
}

/// A file a source reads: relative paths are taken from the configuration's directory.
fn needed_file(
    key: &str,
    value: Option<PathBuf>,
    env_name: &str,
    kind: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf, ConfigError> {
    let path = match value {
        Some(p) => base_dir.join(p),
        None => PathBuf::from(needed(key, None, env_name, kind, env)?),
    };
    if path.as_os_str().is_empty() {
        return Err(ConfigError::new(key, "is empty"));
    }
    Ok(path)
}

/// A lifetime within `min..=max`, or the default.
fn lifetime(
    key: &str,
    value: Option<HumanDuration>,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let d = value.map_or(DEFAULT_TEMPORARY_DURATION, |HumanDuration(d)| d);
    if d < min || d > max {
        return Err(ConfigError::new(
            key,
            format!(
                "{} is outside the range the cloud accepts: {} to {}",
                humantime::format_duration(d),
                humantime::format_duration(min),
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(d)
}

/// A non-empty name made of the characters the clouds allow in names and ARNs.
fn plain(key: &str, value: String, what: &str) -> Result<String, ConfigError> {
    let value = value.trim().to_string();
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@:/+=,".contains(&b));
    if !ok {
        return Err(ConfigError::new(
            key,
            format!("{value:?} is not {what} (letters, digits and - _ . @ : / + = ,)"),
        ));
    }
    Ok(value)
}

/// What a Huawei target wrote about its keys, besides the static keys themselves.
pub(super) struct HuaweiWritten {
    /// `idp_id`.
    pub idp_id: Option<String>,
    /// `id_token_file`.
    pub id_token_file: Option<PathBuf>,
    /// `metadata_endpoint`.
    pub metadata_endpoint: Option<String>,
}

/// The Huawei base source; `static_keys` are the resolved keys of a `static` target.
pub(super) fn huawei_source(
    prefix: &str,
    kind: &'static str,
    static_keys: Option<Credentials>,
    w: HuaweiWritten,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HuaweiSource, ConfigError> {
    let key = |field: &str| format!("{prefix}.{field}");
    unused_by(
        &key("metadata_endpoint"),
        w.metadata_endpoint.is_some(),
        kind,
        "ecs_metadata",
    )?;
    unused_by(&key("idp_id"), w.idp_id.is_some(), kind, "oidc")?;
    unused_by(
        &key("id_token_file"),
        w.id_token_file.is_some(),
        kind,
        "oidc",
    )?;
    Ok(match (kind, static_keys) {
        ("ecs_metadata", _) => HuaweiSource::EcsMetadata {
            endpoint: endpoint(
                &key("metadata_endpoint"),
                w.metadata_endpoint,
                HUAWEI_METADATA.into(),
            )?,
        },
        ("oidc", _) => HuaweiSource::Oidc {
            idp_id: plain(
                &key("idp_id"),
                needed(
                    &key("idp_id"),
                    w.idp_id,
                    "HUAWEICLOUD_SDK_IDP_ID",
                    kind,
                    env,
                )?,
                "an identity provider name",
            )?,
            id_token_file: needed_file(
                &key("id_token_file"),
                w.id_token_file,
                "HUAWEICLOUD_SDK_ID_TOKEN_FILE",
                kind,
                base_dir,
                env,
            )?,
            duration: DEFAULT_TEMPORARY_DURATION,
        },
        (_, Some(keys)) => HuaweiSource::Static(keys),
        (_, None) => unreachable!("static targets resolve their keys"),
    })
}

/// `[huaweicloud.assume_agency]`.
pub(super) fn assume_agency(
    prefix: &str,
    raw: Option<RawAssumeAgency>,
) -> Result<Option<AssumeAgency>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let key = |field: &str| format!("{prefix}.assume_agency.{field}");
    let domain = match (raw.domain_name, raw.domain_id) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                key("domain_name"),
                "set either domain_name or domain_id, not both",
            ));
        }
        (Some(name), None) => {
            AgencyDomain::Name(plain(&key("domain_name"), name, "an account name")?)
        }
        (None, Some(id)) => AgencyDomain::Id(plain(&key("domain_id"), id, "an account ID")?),
        (None, None) => {
            return Err(ConfigError::new(
                key("domain_name"),
                "missing: set domain_name (or domain_id) of the account that owns the agency",
            ));
        }
    };
    let agency_name = raw
        .agency_name
        .ok_or_else(|| ConfigError::new(key("agency_name"), "missing: set the agency to assume"))?;
    Ok(Some(AssumeAgency {
        domain,
        agency_name: plain(&key("agency_name"), agency_name, "an agency name")?,
        duration: lifetime(
            &key("duration"),
            raw.duration,
            Duration::from_secs(15 * 60),
            Duration::from_secs(24 * 3600),
        )?,
    }))
}

/// What an Alibaba target wrote about its keys, besides the static keys themselves.
pub(super) struct AlibabaWritten {
    /// `ecs_ram_role_name`.
    pub ecs_ram_role_name: Option<String>,
    /// `role_arn`.
    pub role_arn: Option<String>,
    /// `oidc_provider_arn`.
    pub oidc_provider_arn: Option<String>,
    /// `oidc_token_file`.
    pub oidc_token_file: Option<PathBuf>,
    /// `metadata_endpoint`.
    pub metadata_endpoint: Option<String>,
}

/// The Alibaba base source; `static_keys` are the resolved keys of a `static` target.
pub(super) fn alibaba_source(
    prefix: &str,
    kind: &'static str,
    static_keys: Option<Credentials>,
    w: AlibabaWritten,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AlibabaSource, ConfigError> {
    let key = |field: &str| format!("{prefix}.{field}");
    unused_by(
        &key("metadata_endpoint"),
        w.metadata_endpoint.is_some(),
        kind,
        "ecs_ram_role",
    )?;
    unused_by(
        &key("ecs_ram_role_name"),
        w.ecs_ram_role_name.is_some(),
        kind,
        "ecs_ram_role",
    )?;
    unused_by(&key("role_arn"), w.role_arn.is_some(), kind, "oidc")?;
    unused_by(
        &key("oidc_provider_arn"),
        w.oidc_provider_arn.is_some(),
        kind,
        "oidc",
    )?;
    unused_by(
        &key("oidc_token_file"),
        w.oidc_token_file.is_some(),
        kind,
        "oidc",
    )?;
    Ok(match (kind, static_keys) {
        ("ecs_ram_role", _) => AlibabaSource::EcsRamRole {
            endpoint: endpoint(
                &key("metadata_endpoint"),
                w.metadata_endpoint,
                ALIBABA_METADATA.into(),
            )?,
            role_name: w
                .ecs_ram_role_name
                .map(|r| plain(&key("ecs_ram_role_name"), r, "a RAM role name"))
                .transpose()?,
        },
        ("oidc", _) => AlibabaSource::Oidc {
            role_arn: role_arn(
                &key("role_arn"),
                needed(
                    &key("role_arn"),
                    w.role_arn,
                    "ALIBABA_CLOUD_ROLE_ARN",
                    kind,
                    env,
                )?,
            )?,
            oidc_provider_arn: plain(
                &key("oidc_provider_arn"),
                needed(
                    &key("oidc_provider_arn"),
                    w.oidc_provider_arn,
                    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                    kind,
                    env,
                )?,
                "an OIDC provider ARN",
            )?,
            oidc_token_file: needed_file(
                &key("oidc_token_file"),
                w.oidc_token_file,
                "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
                kind,
                base_dir,
                env,
            )?,
            duration: DEFAULT_TEMPORARY_DURATION,
        },
        (_, Some(keys)) => AlibabaSource::Static(keys),
        (_, None) => unreachable!("static targets resolve their keys"),
    })
}

/// A RAM role ARN: `acs:ram::<account>:role/<name>`.
fn role_arn(key: &str, value: String) -> Result<String, ConfigError> {
    let value = plain(key, value, "a RAM role ARN")?;
    if !value.starts_with("acs:ram::") || !value.contains(":role/") {
        return Err(ConfigError::new(
            key,
            format!(
                "{value:?} is not a RAM role ARN like acs:ram::1234567890123456:role/workspace-monitor"
            ),
        ));
    }
    Ok(value)
}

/// `[alibabacloud_sag.assume_role]`.
pub(super) fn assume_role(
    prefix: &str,
    raw: Option<RawAssumeRole>,
) -> Result<Option<AssumeRole>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let key = |field: &str| format!("{prefix}.assume_role.{field}");
    let arn = raw.role_arn.ok_or_else(|| {
        ConfigError::new(
            key("role_arn"),
            "missing: set the role to assume, e.g. acs:ram::1234567890123456:role/workspace-monitor",
        )
    })?;
    let session_name = plain(
        &key("session_name"),
        raw.session_name
            .unwrap_or_else(|| DEFAULT_SESSION_NAME.into()),
        "a session name",
    )?;
    if !(2..=64).contains(&session_name.len()) {
        return Err(ConfigError::new(
            key("session_name"),
            "must be 2 to 64 characters long",
        ));
    }
    Ok(Some(AssumeRole {
        role_arn: role_arn(&key("role_arn"), arn)?,
        session_name,
        duration: lifetime(
            &key("duration"),
            raw.duration,
            Duration::from_secs(15 * 60),
            Duration::from_secs(12 * 3600),
        )?,
        external_id: raw
            .external_id
            .map(|id| plain(&key("external_id"), id, "an external ID"))
            .transpose()?,
    }))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::schema::RawConfig;
    use super::super::{Config, ConfigError};

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let raw = RawConfig::parse(text, &[])?;
        Config::from_raw(raw, Path::new("/etc/workspace-exporter"), &lookup)
    }

    fn huawei(lines: &str) -> String {
        format!("[[huaweicloud]]\nregion = \"cn-north-4\"\n{lines}\n")
    }

    fn alibaba(lines: &str) -> String {
        format!(
            "[[alibabacloud_sag]]\nregion = \"cn-shanghai\"\n{lines}\n[[alibabacloud_sag.instances]]\nsmartag_id = \"sag-1\"\n"
        )
    }

    #[test]
    fn oidc_without_its_settings_names_each_key_and_variable() {
        let err = load(&huawei("credentials = \"oidc\""), &[]).unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].idp_id");
        assert!(err.problem.contains("HUAWEICLOUD_SDK_IDP_ID"), "{err}");
        let err = load(&huawei("credentials = \"oidc\"\nidp_id = \"ack\""), &[]).unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].id_token_file");
        assert!(
            err.problem.contains("HUAWEICLOUD_SDK_ID_TOKEN_FILE"),
            "{err}"
        );
        assert!(err.problem.contains("credentials = \"oidc\""), "{err}");
        // Both from the SDK's variables, as a service-account token projection sets them.
        let c = load(
            &huawei("credentials = \"oidc\""),
            &[
                ("HUAWEICLOUD_SDK_IDP_ID", "ack"),
                (
                    "HUAWEICLOUD_SDK_ID_TOKEN_FILE",
                    "/var/run/secrets/tokens/oidc-token",
                ),
            ],
        )
        .unwrap();
        assert_eq!(
            c.huaweicloud[0].credentials.describe(),
            "OIDC ID token via identity provider ack"
        );

        let err = load(&alibaba("credentials = \"oidc\""), &[]).unwrap_err();
        assert_eq!(err.key, "alibabacloud_sag[0].role_arn");
        assert!(err.problem.contains("ALIBABA_CLOUD_ROLE_ARN"), "{err}");
        let c = load(
            &alibaba("credentials = \"oidc\"\noidc_token_file = \"token\""),
            &[
                ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"),
                (
                    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                    "acs:ram::1:oidc-provider/p",
                ),
            ],
        )
        .unwrap();
        assert!(c.alibabacloud_sag[0].credentials.is_temporary());
    }

    #[test]
    fn keys_of_another_source_are_refused_with_the_fix() {
        let err = load(
            &huawei("credentials = \"ecs_metadata\"\naccess_key = \"AK\"\nsecret_key = \"SK\""),
            &[],
        )
        .unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].access_key");
        assert!(
            err.problem
                .contains("only read with credentials = \"static\""),
            "{err}"
        );
        let err = load(
            &huawei("access_key = \"AK\"\nsecret_key = \"SK\"\nidp_id = \"x\""),
            &[],
        )
        .unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].idp_id");
        assert!(err.problem.contains("set credentials = \"oidc\""), "{err}");
        // The SDK's key variables are ignored by a source that does not read them.
        let c = load(
            &huawei("credentials = \"ecs_metadata\""),
            &[("HUAWEICLOUD_SDK_AK", "AK"), ("HUAWEICLOUD_SDK_SK", "SK")],
        )
        .unwrap();
        assert_eq!(
            c.huaweicloud[0].credentials.describe(),
            "ECS metadata at http://169.254.169.254/"
        );
        assert!(c.huaweicloud[0].credentials.written_keys().is_none());
    }

    #[test]
    fn an_unknown_source_lists_the_valid_ones() {
        let err = load(&huawei("credentials = \"ecs_ram_role\""), &[]).unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].credentials");
        assert!(
            err.problem
                .contains("\"ecs_ram_role\" is not a credential source; use one of: static, ecs_metadata, oidc"),
            "{err}"
        );
        let err = load(&alibaba("credentials = \"ecs_metadata\""), &[]).unwrap_err();
        assert!(err.problem.contains("static, ecs_ram_role, oidc"), "{err}");
    }

    #[test]
    fn cross_account_sections_are_checked() {
        let keys = "access_key = \"AK\"\nsecret_key = \"SK\"\n";
        let err = load(
            &huawei(&format!(
                "{keys}[huaweicloud.assume_agency]\ndomain_name = \"a\"\ndomain_id = \"b\"\nagency_name = \"m\""
            )),
            &[],
        )
        .unwrap_err();
        assert!(
            err.problem.contains("either domain_name or domain_id"),
            "{err}"
        );
        let err = load(
            &huawei(&format!(
                "{keys}[huaweicloud.assume_agency]\ndomain_name = \"a\"\nagency_name = \"m\"\nduration = \"10m\""
            )),
            &[],
        )
        .unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].assume_agency.duration");
        assert!(err.problem.contains("15m to 1day"), "{err}");
        let err = load(
            &huawei(&format!(
                "{keys}[huaweicloud.assume_agency]\ndomain_name = \"a\""
            )),
            &[],
        )
        .unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].assume_agency.agency_name");
        let err = load(
            &huawei(&format!(
                "{keys}[huaweicloud.assume_agency]\nagency = \"m\""
            )),
            &[],
        )
        .unwrap_err();
        assert!(err.key.contains("agency"), "{err}");

        let keys = "access_key_id = \"ID\"\naccess_key_secret = \"SECRET\"\n";
        let err = load(
            &alibaba(&format!(
                "{keys}[alibabacloud_sag.assume_role]\nrole_arn = \"arn:aws:iam::1:role/x\""
            )),
            &[],
        )
        .unwrap_err();
        assert_eq!(err.key, "alibabacloud_sag[0].assume_role.role_arn");
        assert!(err.problem.contains("acs:ram::"), "{err}");
        let c = load(
            &alibaba(&format!(
                "{keys}[alibabacloud_sag.assume_role]\nrole_arn = \"acs:ram::1234567890123456:role/workspace-monitor\"\nduration = \"12h\"\nexternal_id = \"abcd\""
            )),
            &[],
        )
        .unwrap();
        let spec = &c.alibabacloud_sag[0].credentials;
        assert_eq!(
            spec.describe(),
            "static keys, then role acs:ram::1234567890123456:role/workspace-monitor"
        );
        assert!(spec.is_temporary() && spec.written_keys().is_none());
    }

    #[test]
    fn a_relative_token_file_is_taken_from_the_configuration_directory() {
        let c = load(
            &huawei("credentials = \"oidc\"\nidp_id = \"ack\"\nid_token_file = \"token\""),
            &[],
        )
        .unwrap();
        match &c.huaweicloud[0].credentials.source {
            crate::cloud::huawei::identity::HuaweiSource::Oidc { id_token_file, .. } => {
                assert_eq!(id_token_file, Path::new("/etc/workspace-exporter/token"));
            }
            other => panic!("{other:?}"),
        }
    }
}
