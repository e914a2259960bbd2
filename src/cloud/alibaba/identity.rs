//! Where an `[[alibabacloud_sag]]` target's keys come from: the keys written in the
//! configuration, or temporary keys from the RAM role attached to the ECS instance or
//! from RRSA (an OIDC token exchanged with `AssumeRoleWithOIDC`); optionally with a
//! role of another account assumed on top (`AssumeRole`, cross-account). Configuration
//! builds an [`AlibabaCredentialSpec`]; the exporter turns it into live
//! [`Credentials`] with [`AlibabaCredentialSpec::build`]. Sits before "sign".

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::client::{AlibabaClient, RpcRequest};
use crate::clock::WallClock;
use crate::cloud::credentials::{
    Credentials, FetchError, FetchFuture, KeySource, Keys, TemporaryKeys, read_secret_file,
};
use crate::cloud::http::{ApiError, header_value};
use crate::cloud::identity::{
    METADATA_TOKEN_TTL_SECONDS, decode_secret_answer, duration_seconds, fetch_error, joined,
    parse_expiry, refreshing, send_unsigned, source_settings,
};
use crate::cloud::retry::ClientSettings;
use crate::secret::Secret;

/// STS API version.
pub const STS_VERSION: &str = "2015-04-01";
/// `api` label of the metadata session-token request.
pub const API_METADATA_TOKEN: &str = "metadata_token";
/// `api` label of the RAM role requests to the metadata service.
pub const API_METADATA_RAM_ROLE: &str = "metadata_ram_role";
/// `api` label of `AssumeRoleWithOIDC`.
pub const API_STS_ASSUME_ROLE_WITH_OIDC: &str = "sts_assume_role_with_oidc";
/// `api` label of `AssumeRole`.
pub const API_STS_ASSUME_ROLE: &str = "sts_assume_role";

/// Default metadata endpoint.
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://100.100.100.200";
/// Default STS endpoint.
pub const DEFAULT_STS_ENDPOINT: &str = "https://sts.aliyuncs.com";

/// Where the keys of the base identity come from.
#[derive(Debug, Clone)]
pub enum AlibabaSource {
    /// `credentials = "static"`: keys written in the configuration.
    Static(Credentials),
    /// `credentials = "ecs_ram_role"`: the RAM role attached to this ECS instance.
    EcsRamRole {
        /// `metadata_endpoint`.
        endpoint: Url,
        /// `ecs_ram_role_name`; discovered from the metadata service when absent.
        role_name: Option<String>,
    },
    /// `credentials = "oidc"`: RRSA, `AssumeRoleWithOIDC`.
    Oidc {
        /// `role_arn`.
        role_arn: String,
        /// `oidc_provider_arn`.
        oidc_provider_arn: String,
        /// `oidc_token_file`: re-read on every exchange.
        oidc_token_file: PathBuf,
        /// Lifetime asked of the keys.
        duration: Duration,
    },
}

/// `[alibabacloud_sag.assume_role]`: a role of another account, assumed with the base
/// identity's keys.
#[derive(Debug, Clone)]
pub struct AssumeRole {
    /// `role_arn`.
    pub role_arn: String,
    /// `session_name`.
    pub session_name: String,
    /// Lifetime asked of the keys (15 minutes to 12 hours).
    pub duration: Duration,
    /// `external_id`, when the role's trust policy requires one.
    pub external_id: Option<String>,
}

/// How an Alibaba Cloud target obtains its keys, as configured.
#[derive(Debug, Clone)]
pub struct AlibabaCredentialSpec {
    /// The base identity.
    pub source: AlibabaSource,
    /// `sts_endpoint`: where `AssumeRoleWithOIDC` and `AssumeRole` go.
    pub sts_endpoint: Url,
    /// A role assumed on top, when cross-account.
    pub assume_role: Option<AssumeRole>,
    /// Session name of `AssumeRoleWithOIDC`.
    pub session_name: String,
}

impl AlibabaCredentialSpec {
    /// The configured source in the operator's words, for `--config.check`.
    pub fn describe(&self) -> String {
        let base = match &self.source {
            AlibabaSource::Static(_) => "static keys".to_string(),
            AlibabaSource::EcsRamRole {
                endpoint,
                role_name,
            } => match role_name {
                Some(role) => format!("ECS RAM role {role} at {endpoint}"),
                None => format!("the ECS RAM role at {endpoint}"),
            },
            AlibabaSource::Oidc { role_arn, .. } => format!("RRSA (OIDC) as {role_arn}"),
        };
        match &self.assume_role {
            Some(r) => format!("{base}, then role {}", r.role_arn),
            None => base,
        }
    }

    /// The keys written in the configuration, for a `static` target without a role.
    pub fn written_keys(&self) -> Option<std::sync::Arc<Keys>> {
        match (&self.source, &self.assume_role) {
            (AlibabaSource::Static(c), None) => c.written_keys(),
            _ => None,
        }
    }

    /// Whether the keys expire (and are refreshed).
    pub fn is_temporary(&self) -> bool {
        !matches!(self.source, AlibabaSource::Static(_)) || self.assume_role.is_some()
    }

    /// Live credentials: fetched through `http` with `settings` (the target's limits,
    /// retries and metrics), refreshed by `clock`.
    pub fn build(
        &self,
        http: &reqwest::Client,
        settings: &ClientSettings,
        clock: WallClock,
    ) -> Credentials {
        let settings = source_settings(settings);
        let refreshing = |source: Box<dyn KeySource>| refreshing(&settings, clock, source);
        let base = match &self.source {
            AlibabaSource::Static(credentials) => credentials.clone(),
            AlibabaSource::EcsRamRole {
                endpoint,
                role_name,
            } => refreshing(Box::new(EcsRamRole {
                http: http.clone(),
                settings: settings.clone(),
                endpoint: endpoint.clone(),
                role_name: role_name.clone(),
            })),
            AlibabaSource::Oidc {
                role_arn,
                oidc_provider_arn,
                oidc_token_file,
                duration,
            } => refreshing(Box::new(Oidc {
                http: http.clone(),
                settings: settings.clone(),
                sts_endpoint: self.sts_endpoint.clone(),
                role_arn: role_arn.clone(),
                oidc_provider_arn: oidc_provider_arn.clone(),
                oidc_token_file: oidc_token_file.clone(),
                session_name: self.session_name.clone(),
                duration: *duration,
            })),
        };
        match &self.assume_role {
            None => base,
            Some(role) => refreshing(Box::new(Assume {
                client: AlibabaClient::new(http.clone(), base, settings.clone()),
                sts_endpoint: self.sts_endpoint.clone(),
                role: role.clone(),
            })),
        }
    }
}

/// Temporary keys as STS and the metadata service return them.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsCredentials {
    /// AccessKey ID.
    access_key_id: Secret,
    /// AccessKey secret.
    access_key_secret: Secret,
    /// STS token.
    security_token: Secret,
    /// Expiry, e.g. `2026-11-30T12:00:00Z`.
    expiration: String,
}

impl StsCredentials {
    fn into_keys(self, api: &'static str) -> Result<TemporaryKeys, FetchError> {
        Ok(TemporaryKeys {
            expires_at: parse_expiry(api, &self.expiration)?,
            keys: Keys {
                access_key: self.access_key_id,
                secret_key: self.access_key_secret,
                security_token: Some(self.security_token),
            },
        })
    }
}

/// `{"Credentials": {...}}`, the answer of both STS actions.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsAnswer {
    /// The temporary keys.
    credentials: StsCredentials,
}

/// The metadata service's answer: a `Code` beside the keys.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetadataAnswer {
    /// `Success` when the keys are there.
    code: String,
    /// The keys, flattened beside `Code`.
    #[serde(flatten)]
    credentials: StsCredentials,
}

/// The RAM role attached to the ECS instance (`credentials = "ecs_ram_role"`).
struct EcsRamRole {
    /// Shared connection pool.
    http: reqwest::Client,
    /// The target's limits, retries and metrics.
    settings: ClientSettings,
    /// `metadata_endpoint`.
    endpoint: Url,
    /// `ecs_ram_role_name`.
    role_name: Option<String>,
}

impl EcsRamRole {
    async fn get(
        &self,
        url: &Url,
        token: Option<&reqwest::header::HeaderValue>,
    ) -> Result<Vec<u8>, FetchError> {
        let (_, body) = send_unsigned(&self.settings, API_METADATA_RAM_ROLE, url, || {
            let builder = self.http.get(url.clone());
            match token {
                Some(value) => builder.header("X-aliyun-ecs-metadata-token", value.clone()),
                None => builder,
            }
        })
        .await
        .map_err(|e| {
            FetchError::new(format!(
                "{e} (is a RAM role attached to this ECS instance?)"
            ))
        })?;
        Ok(body)
    }

    async fn fetch_keys(&self) -> Result<TemporaryKeys, FetchError> {
        let token_url = joined(&self.endpoint, "/latest/api/token");
        let token = match send_unsigned(&self.settings, API_METADATA_TOKEN, &token_url, || {
            self.http.put(token_url.clone()).header(
                "X-aliyun-ecs-metadata-token-ttl-seconds",
                METADATA_TOKEN_TTL_SECONDS,
            )
        })
        .await
        {
            Ok((_, body)) => Some(
                header_value(
                    String::from_utf8_lossy(&body).trim(),
                    true,
                    API_METADATA_TOKEN,
                )
                .map_err(fetch_error)?,
            ),
            // A service without session tokens: read without one.
            Err(ApiError::Status {
                status: 403..=405, ..
            }) => None,
            Err(e) => return Err(fetch_error(e)),
        };
        let base = "/latest/meta-data/ram/security-credentials/";
        let role = match &self.role_name {
            Some(role) => role.clone(),
            None => {
                let body = self
                    .get(&joined(&self.endpoint, base), token.as_ref())
                    .await?;
                let text = String::from_utf8_lossy(&body);
                text.lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| {
                        FetchError::new(
                            "the metadata service lists no RAM role: attach one to the instance, or set ecs_ram_role_name",
                        )
                    })?
            }
        };
        let url = joined(&self.endpoint, &format!("{base}{role}"));
        let body = self.get(&url, token.as_ref()).await?;
        let answer: MetadataAnswer = decode_secret_answer(API_METADATA_RAM_ROLE, &body)?;
        if answer.code != "Success" {
            return Err(FetchError::new(format!(
                "{API_METADATA_RAM_ROLE}: the metadata service answered Code {:?} for role {role}",
                answer.code
            )));
        }
        answer.credentials.into_keys(API_METADATA_RAM_ROLE)
    }
}

impl KeySource for EcsRamRole {
    fn describe(&self) -> String {
        match &self.role_name {
            Some(role) => format!("ECS RAM role {role}"),
            None => "the ECS instance's RAM role".into(),
        }
    }

    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(self.fetch_keys())
    }
}

/// RRSA: an OIDC token exchanged with `AssumeRoleWithOIDC` (`credentials = "oidc"`).
struct Oidc {
    /// Shared connection pool.
    http: reqwest::Client,
    /// The target's limits, retries and metrics.
    settings: ClientSettings,
    /// STS base URL.
    sts_endpoint: Url,
    /// The role to assume.
    role_arn: String,
    /// The OIDC provider in RAM.
    oidc_provider_arn: String,
    /// The token's file.
    oidc_token_file: PathBuf,
    /// `RoleSessionName`.
    session_name: String,
    /// Lifetime asked of the keys.
    duration: Duration,
}

impl Oidc {
    async fn fetch_keys(&self) -> Result<TemporaryKeys, FetchError> {
        let token = read_secret_file(&self.oidc_token_file)
            .map_err(|e| FetchError::new(format!("oidc_token_file: {e}")))?;
        let mut url = self.sts_endpoint.clone();
        let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        url.query_pairs_mut()
            .append_pair("Action", "AssumeRoleWithOIDC")
            .append_pair("Format", "JSON")
            .append_pair("Version", STS_VERSION)
            .append_pair("Timestamp", &timestamp);
        // The token travels in the body, never in a URL that an error could quote.
        let form: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("RoleArn", &self.role_arn)
            .append_pair("OIDCProviderArn", &self.oidc_provider_arn)
            .append_pair("OIDCToken", token.expose())
            .append_pair("RoleSessionName", &self.session_name)
            .append_pair("DurationSeconds", &duration_seconds(self.duration))
            .finish();
        let (_, body) = send_unsigned(&self.settings, API_STS_ASSUME_ROLE_WITH_OIDC, &url, || {
            self.http
                .post(url.clone())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form.clone())
        })
        .await
        .map_err(fetch_error)?;
        let answer: StsAnswer = decode_secret_answer(API_STS_ASSUME_ROLE_WITH_OIDC, &body)?;
        answer.credentials.into_keys(API_STS_ASSUME_ROLE_WITH_OIDC)
    }
}

impl KeySource for Oidc {
    fn describe(&self) -> String {
        format!("RRSA (AssumeRoleWithOIDC as {})", self.role_arn)
    }

    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(self.fetch_keys())
    }
}

/// A role of another account, assumed with the base keys (`AssumeRole`).
struct Assume {
    /// Signs with the base identity's keys.
    client: AlibabaClient,
    /// STS base URL.
    sts_endpoint: Url,
    /// Which role.
    role: AssumeRole,
}

impl Assume {
    async fn fetch_keys(&self) -> Result<TemporaryKeys, FetchError> {
        let mut query = vec![
            ("RoleArn".to_string(), self.role.role_arn.clone()),
            (
                "RoleSessionName".to_string(),
                self.role.session_name.clone(),
            ),
            (
                "DurationSeconds".to_string(),
                duration_seconds(self.role.duration),
            ),
        ];
        if let Some(id) = &self.role.external_id {
            query.push(("ExternalId".to_string(), id.clone()));
        }
        let body = self
            .client
            .call_raw(&RpcRequest {
                api: API_STS_ASSUME_ROLE,
                action: "AssumeRole",
                version: STS_VERSION,
                endpoint: &self.sts_endpoint,
                query,
            })
            .await
            .map_err(fetch_error)?;
        let answer: StsAnswer = decode_secret_answer(API_STS_ASSUME_ROLE, &body)?;
        answer.credentials.into_keys(API_STS_ASSUME_ROLE)
    }
}

impl KeySource for Assume {
    fn describe(&self) -> String {
        format!("role {} (AssumeRole)", self.role.role_arn)
    }

    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(self.fetch_keys())
    }
}
