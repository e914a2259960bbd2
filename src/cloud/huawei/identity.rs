//! Where a `[[huaweicloud]]` target's keys come from: the keys written in the
//! configuration, or temporary keys from the ECS metadata service (the agency bound to
//! the instance) or from an OIDC ID token exchanged at IAM; optionally with an agency
//! of another account assumed on top (cross-account). Configuration builds a
//! [`HuaweiCredentialSpec`]; the exporter turns it into live [`Credentials`] with
//! [`HuaweiCredentialSpec::build`]. Sits before "sign": the client asks the credentials
//! for keys before each request.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::client::{ApiRequest, HuaweiClient};
use crate::clock::WallClock;
use crate::cloud::credentials::{
    Credentials, FetchError, FetchFuture, KeySource, Keys, TemporaryKeys, read_secret_file,
};
use crate::cloud::http::{ApiError, header_value};
use crate::cloud::identity::{
    METADATA_TOKEN_TTL_SECONDS, decode_secret_answer, fetch_error, joined, parse_expiry,
    refreshing, send_unsigned, source_settings,
};
use crate::cloud::retry::ClientSettings;
use crate::secret::Secret;

/// `api` label of the metadata session-token request.
pub const API_METADATA_TOKEN: &str = "metadata_token";
/// `api` label of the metadata security-key request.
pub const API_METADATA_SECURITYKEY: &str = "metadata_securitykey";
/// `api` label of the ID-token exchange.
pub const API_IAM_ID_TOKEN: &str = "iam_id_token";
/// `api` label of the temporary-key requests (by token, or assuming an agency).
pub const API_IAM_SECURITY_TOKENS: &str = "iam_securitytokens";

/// Default metadata endpoint (the ECS/BMS link-local address).
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";

/// Where the keys of the base identity come from.
#[derive(Debug, Clone)]
pub enum HuaweiSource {
    /// `credentials = "static"`: keys written in the configuration.
    Static(Credentials),
    /// `credentials = "ecs_metadata"`: the agency bound to this ECS/BMS.
    EcsMetadata {
        /// `metadata_endpoint`.
        endpoint: Url,
    },
    /// `credentials = "oidc"`: an OIDC ID token exchanged at IAM.
    Oidc {
        /// `idp_id`: the identity provider's name in IAM.
        idp_id: String,
        /// `id_token_file`: re-read on every exchange (the kubelet rotates it).
        id_token_file: PathBuf,
        /// Lifetime asked of the temporary keys.
        duration: Duration,
    },
}

/// Which account's agency to assume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgencyDomain {
    /// `domain_name`.
    Name(String),
    /// `domain_id`.
    Id(String),
}

/// `[huaweicloud.assume_agency]`: an agency of another account, assumed with the base
/// identity's keys.
#[derive(Debug, Clone)]
pub struct AssumeAgency {
    /// The account that owns the agency.
    pub domain: AgencyDomain,
    /// `agency_name`.
    pub agency_name: String,
    /// Lifetime asked of the temporary keys (15 minutes to 24 hours).
    pub duration: Duration,
}

/// How a Huawei Cloud target obtains its keys, as configured.
#[derive(Debug, Clone)]
pub struct HuaweiCredentialSpec {
    /// The base identity.
    pub source: HuaweiSource,
    /// An agency assumed on top, when cross-account.
    pub assume_agency: Option<AssumeAgency>,
}

impl HuaweiCredentialSpec {
    /// The configured source in the operator's words, for `--config.check`.
    pub fn describe(&self) -> String {
        let base = match &self.source {
            HuaweiSource::Static(_) => "static keys".to_string(),
            HuaweiSource::EcsMetadata { endpoint } => format!("ECS metadata at {endpoint}"),
            HuaweiSource::Oidc { idp_id, .. } => {
                format!("OIDC ID token via identity provider {idp_id}")
            }
        };
        match &self.assume_agency {
            Some(a) => format!(
                "{base}, then agency {} of {}",
                a.agency_name,
                a.domain.describe()
            ),
            None => base,
        }
    }

    /// The keys written in the configuration, for a `static` target without an agency.
    pub fn written_keys(&self) -> Option<std::sync::Arc<Keys>> {
        match (&self.source, &self.assume_agency) {
            (HuaweiSource::Static(c), None) => c.written_keys(),
            _ => None,
        }
    }

    /// Whether the keys expire (and are refreshed).
    pub fn is_temporary(&self) -> bool {
        !matches!(self.source, HuaweiSource::Static(_)) || self.assume_agency.is_some()
    }

    /// Live credentials for `target`: fetched through `http` with `settings` (the
    /// target's limits, retries and metrics), refreshed by `clock`.
    pub fn build(
        &self,
        iam_endpoint: &Url,
        http: &reqwest::Client,
        settings: &ClientSettings,
        clock: WallClock,
    ) -> Credentials {
        let settings = source_settings(settings);
        let refreshing = |source: Box<dyn KeySource>| refreshing(&settings, clock, source);
        let base = match &self.source {
            HuaweiSource::Static(credentials) => credentials.clone(),
            HuaweiSource::EcsMetadata { endpoint } => refreshing(Box::new(EcsMetadata {
                http: http.clone(),
                settings: settings.clone(),
                endpoint: endpoint.clone(),
            })),
            HuaweiSource::Oidc {
                idp_id,
                id_token_file,
                duration,
            } => refreshing(Box::new(Oidc {
                http: http.clone(),
                settings: settings.clone(),
                iam_endpoint: iam_endpoint.clone(),
                idp_id: idp_id.clone(),
                id_token_file: id_token_file.clone(),
                duration: *duration,
            })),
        };
        match &self.assume_agency {
            None => base,
            Some(agency) => refreshing(Box::new(Agency {
                client: HuaweiClient::new(http.clone(), base, settings.clone()),
                iam_endpoint: iam_endpoint.clone(),
                agency: agency.clone(),
            })),
        }
    }
}

impl AgencyDomain {
    fn describe(&self) -> String {
        match self {
            AgencyDomain::Name(name) => format!("account {name}"),
            AgencyDomain::Id(id) => format!("account ID {id}"),
        }
    }
}

/// `{"credential": {...}}`, the answer of the metadata service and of IAM.
#[derive(Deserialize)]
struct CredentialAnswer {
    /// The temporary keys.
    credential: TemporaryCredential,
}

/// Temporary keys as Huawei Cloud returns them.
#[derive(Deserialize)]
struct TemporaryCredential {
    /// Access key.
    access: Secret,
    /// Secret key.
    secret: Secret,
    /// Security token.
    securitytoken: Secret,
    /// Expiry, e.g. `2026-11-30T12:00:00.000000Z`.
    expires_at: String,
}

fn temporary_keys(api: &'static str, body: &[u8]) -> Result<TemporaryKeys, FetchError> {
    let answer: CredentialAnswer = decode_secret_answer(api, body)?;
    let c = answer.credential;
    Ok(TemporaryKeys {
        expires_at: parse_expiry(api, &c.expires_at)?,
        keys: Keys {
            access_key: c.access,
            secret_key: c.secret,
            security_token: Some(c.securitytoken),
        },
    })
}

/// The ECS metadata service (`credentials = "ecs_metadata"`).
struct EcsMetadata {
    /// Shared connection pool.
    http: reqwest::Client,
    /// The target's limits, retries and metrics.
    settings: ClientSettings,
    /// `metadata_endpoint`.
    endpoint: Url,
}

impl EcsMetadata {
    async fn fetch_keys(&self) -> Result<TemporaryKeys, FetchError> {
        // A session token first (IMDSv2-style); an older service answers 404 or 405,
        // and then the keys are read without one, as the SDK does.
        let token_url = joined(&self.endpoint, "/meta-data/latest/api/token");
        let token = match send_unsigned(&self.settings, API_METADATA_TOKEN, &token_url, || {
            self.http
                .put(token_url.clone())
                .header("X-Metadata-Token-Ttl-Seconds", METADATA_TOKEN_TTL_SECONDS)
        })
        .await
        {
            Ok((_, body)) => Some(Secret::new(String::from_utf8_lossy(&body).trim())),
            Err(ApiError::Status {
                status: 404 | 405, ..
            }) => None,
            Err(e) => return Err(fetch_error(e)),
        };
        let token_header = match &token {
            Some(t) => Some(
                header_value(t.expose(), true, API_METADATA_SECURITYKEY).map_err(fetch_error)?,
            ),
            None => None,
        };
        let keys_url = joined(&self.endpoint, "/openstack/latest/securitykey");
        let (_, body) = send_unsigned(&self.settings, API_METADATA_SECURITYKEY, &keys_url, || {
            let builder = self.http.get(keys_url.clone());
            match &token_header {
                Some(value) => builder.header("X-Metadata-Token", value.clone()),
                None => builder,
            }
        })
        .await
        .map_err(|e| {
            FetchError::new(format!(
                "{e} (is an agency bound to this ECS instance? Bind one under ECS → Management Information → Agency)"
            ))
        })?;
        temporary_keys(API_METADATA_SECURITYKEY, &body)
    }
}

impl KeySource for EcsMetadata {
    fn describe(&self) -> String {
        format!("the ECS metadata service at {}", self.endpoint)
    }

    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(self.fetch_keys())
    }
}

/// An OIDC ID token exchanged at IAM (`credentials = "oidc"`).
struct Oidc {
    /// Shared connection pool.
    http: reqwest::Client,
    /// The target's limits, retries and metrics.
    settings: ClientSettings,
    /// IAM base URL.
    iam_endpoint: Url,
    /// The identity provider's name in IAM.
    idp_id: String,
    /// The ID token's file.
    id_token_file: PathBuf,
    /// Lifetime asked of the keys.
    duration: Duration,
}

impl Oidc {
    async fn fetch_keys(&self) -> Result<TemporaryKeys, FetchError> {
        let id_token = read_secret_file(&self.id_token_file)
            .map_err(|e| FetchError::new(format!("id_token_file: {e}")))?;
        let body = serde_json::json!({"auth": {"id_token": {"id": id_token.expose()}}}).to_string();
        let url = joined(&self.iam_endpoint, "/v3.0/OS-AUTH/id-token/tokens");
        let idp = header_value(&self.idp_id, false, API_IAM_ID_TOKEN).map_err(fetch_error)?;
        let (headers, _) = send_unsigned(&self.settings, API_IAM_ID_TOKEN, &url, || {
            self.http
                .post(url.clone())
                .header("X-Idp-Id", idp.clone())
                .header("Content-Type", "application/json;charset=UTF-8")
                .body(body.clone())
        })
        .await
        .map_err(fetch_error)?;
        let token = headers
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(Secret::new)
            .ok_or_else(|| {
                FetchError::new(format!(
                    "{API_IAM_ID_TOKEN}: IAM answered without an X-Subject-Token header"
                ))
            })?;
        let body = serde_json::json!({"auth": {"identity": {"methods": ["token"], "token": {
            "id": token.expose(),
            "duration_seconds": self.duration.as_secs(),
        }}}})
        .to_string();
        let url = joined(&self.iam_endpoint, "/v3.0/OS-CREDENTIAL/securitytokens");
        let (_, answer) = send_unsigned(&self.settings, API_IAM_SECURITY_TOKENS, &url, || {
            self.http
                .post(url.clone())
                .header("Content-Type", "application/json;charset=UTF-8")
                .body(body.clone())
        })
        .await
        .map_err(fetch_error)?;
        temporary_keys(API_IAM_SECURITY_TOKENS, &answer)
    }
}

impl KeySource for Oidc {
    fn describe(&self) -> String {
        format!("the OIDC exchange with identity provider {}", self.idp_id)
    }

    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(self.fetch_keys())
    }
}

/// An agency of another account, assumed with the base keys.
struct Agency {
    /// Signs with the base identity's keys.
    client: HuaweiClient,
    /// IAM base URL.
    iam_endpoint: Url,
    /// Which agency.
    agency: AssumeAgency,
}

impl Agency {
    async fn fetch_keys(&self) -> Result<TemporaryKeys, FetchError> {
        let mut assume = serde_json::json!({
            "agency_name": self.agency.agency_name,
            "duration_seconds": self.agency.duration.as_secs(),
        });
        match &self.agency.domain {
            AgencyDomain::Name(name) => assume["domain_name"] = name.clone().into(),
            AgencyDomain::Id(id) => assume["domain_id"] = id.clone().into(),
        }
        let body = serde_json::json!({"auth": {"identity": {
            "methods": ["assume_role"],
            "assume_role": assume,
        }}})
        .to_string();
        let request = ApiRequest {
            api: API_IAM_SECURITY_TOKENS,
            endpoint: &self.iam_endpoint,
            path: "/v3.0/OS-CREDENTIAL/securitytokens".into(),
            query: Vec::new(),
            project_id: None,
        };
        let answer = self
            .client
            .post_raw(&request, body.as_bytes())
            .await
            .map_err(fetch_error)?;
        temporary_keys(API_IAM_SECURITY_TOKENS, &answer)
    }
}

impl KeySource for Agency {
    fn describe(&self) -> String {
        format!(
            "agency {} of {}",
            self.agency.agency_name,
            self.agency.domain.describe()
        )
    }

    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(self.fetch_keys())
    }
}
