//! The simulated identity services of both clouds: the ECS metadata services (Huawei
//! agency keys, Alibaba RAM role keys), Huawei IAM's ID-token and security-token
//! endpoints, and Alibaba STS (`AssumeRole`, `AssumeRoleWithOIDC`). Not part of the
//! exporter's data flow: they issue short-lived credentials that the simulated APIs
//! accept until they expire and refuse after (`401 APIGW.0307` on Huawei,
//! `InvalidSecurityToken.Expired` on Alibaba), so tests and the demo exercise refresh.
//!
//! Expiry follows tokio's clock, so a test on a paused clock sees credentials expire
//! without waiting; the expiry times in answers come from a wall clock that follows it.

use std::collections::HashMap;
use std::time::Duration;

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::time::Instant;

use super::{Reply, Scenario, SimCredential, SimRequest, json_reply};
use crate::clock::WallClock;

/// What the simulated identity services accept and issue.
#[derive(Debug, Clone)]
pub struct SimIdentity {
    /// Longest lifetime of issued credentials (a request for longer gets this).
    pub lifetime: Duration,
    /// Huawei: the agency bound to the simulated ECS instance; `None` answers that no
    /// agency is bound.
    pub ecs_agency: Option<String>,
    /// Huawei OIDC: the identity provider and the one ID token it accepts.
    pub huawei_oidc: Option<(String, String)>,
    /// Huawei agencies another account lets the caller assume: (domain name, agency).
    pub agencies: Vec<(String, String)>,
    /// Alibaba: the RAM role attached to the simulated ECS instance.
    pub ram_role: Option<String>,
    /// Alibaba RRSA: (OIDC provider ARN, role ARN, the one token accepted).
    pub alibaba_oidc: Option<(String, String, String)>,
    /// Alibaba roles the caller may assume with `AssumeRole`.
    pub roles: Vec<String>,
}

impl Default for SimIdentity {
    fn default() -> Self {
        SimIdentity {
            lifetime: Duration::from_secs(15 * 60),
            ecs_agency: None,
            huawei_oidc: None,
            agencies: Vec::new(),
            ram_role: None,
            alibaba_oidc: None,
            roles: Vec::new(),
        }
    }
}

/// The identity provider the demo's IAM trusts.
pub const DEMO_IDP_ID: &str = "demo-idp";
/// The one OIDC ID token the demo's IAM accepts (not a real token).
pub const DEMO_ID_TOKEN: &str = "demo-id-token-not-a-real-one";
/// The account and agency the demo lets callers assume.
pub const DEMO_AGENCY: (&str, &str) = ("demo-customer", "workspace-monitor");
/// The RAM role attached to the demo's simulated ECS instance.
pub const DEMO_RAM_ROLE: &str = "demo-monitor-role";
/// The role the demo's RRSA exchange assumes.
pub const DEMO_RRSA_ROLE_ARN: &str = "acs:ram::1234567890123456:role/demo-rrsa";
/// The demo's OIDC provider in RAM.
pub const DEMO_OIDC_PROVIDER_ARN: &str = "acs:ram::1234567890123456:oidc-provider/demo-ack";
/// The one OIDC token the demo's STS accepts (not a real token).
pub const DEMO_OIDC_TOKEN: &str = "demo-oidc-token-not-a-real-one";
/// The role the demo lets callers assume with `AssumeRole`.
pub const DEMO_ROLE_ARN: &str = "acs:ram::1234567890123456:role/workspace-monitor";

impl SimIdentity {
    /// Every identity service on, with 15-minute credentials, so the demo and
    /// `simulate` exercise refresh.
    pub fn demo() -> Self {
        SimIdentity {
            lifetime: Duration::from_secs(15 * 60),
            ecs_agency: Some("demo-agency".into()),
            huawei_oidc: Some((DEMO_IDP_ID.into(), DEMO_ID_TOKEN.into())),
            agencies: vec![(DEMO_AGENCY.0.into(), DEMO_AGENCY.1.into())],
            ram_role: Some(DEMO_RAM_ROLE.into()),
            alibaba_oidc: Some((
                DEMO_OIDC_PROVIDER_ARN.into(),
                DEMO_RRSA_ROLE_ARN.into(),
                DEMO_OIDC_TOKEN.into(),
            )),
            roles: vec![DEMO_ROLE_ARN.into()],
        }
    }
}

/// Which cloud's APIs accept an issued credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// Huawei Cloud.
    Huawei,
    /// Alibaba Cloud.
    Alibaba,
}

/// A credential the simulator issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Which cloud accepts it.
    pub cloud: Cloud,
    /// The keys and token.
    pub credential: SimCredential,
    /// When the simulated APIs stop accepting it (tokio's clock).
    pub expires: Instant,
    /// Which service issued it, e.g. `ecs_metadata`, `agency`.
    pub origin: &'static str,
}

impl Issued {
    /// Whether it has expired.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.expires
    }
}

/// Everything the identity services issued and what was done with it.
#[derive(Debug)]
pub struct Issuer {
    /// Dates the expiry times in answers.
    clock: WallClock,
    /// Issued credentials by access key.
    credentials: HashMap<String, Issued>,
    /// Issued metadata session tokens and IAM unscoped tokens, with their expiry.
    tokens: HashMap<String, Instant>,
    /// Serial number of the next credential.
    next: u64,
    /// Requests to the simulated APIs signed with an issued credential, by origin.
    pub signed_by: HashMap<&'static str, u64>,
    /// Requests refused because their credential had expired.
    pub expired_signatures: u64,
}

impl Issuer {
    /// An issuer dating its answers by a clock that follows tokio's from now.
    pub fn new() -> Self {
        Issuer {
            clock: WallClock::follows_tokio(),
            credentials: HashMap::new(),
            tokens: HashMap::new(),
            next: 1,
            signed_by: HashMap::new(),
            expired_signatures: 0,
        }
    }

    /// Makes every issued credential expire now.
    pub fn revoke_all(&mut self) {
        let now = Instant::now();
        for issued in self.credentials.values_mut() {
            issued.expires = issued.expires.min(now);
        }
    }

    /// The issued credential with this access key.
    pub fn lookup(&self, access_key: &str) -> Option<&Issued> {
        self.credentials.get(access_key)
    }

    fn issue(
        &mut self,
        cloud: Cloud,
        origin: &'static str,
        lifetime: Duration,
    ) -> (SimCredential, String) {
        // Forget what expired long ago, so a long demo does not grow.
        let now = Instant::now();
        self.credentials
            .retain(|_, c| c.expires + Duration::from_secs(3600) > now);
        self.tokens.retain(|_, t| *t > now);
        let n = self.next;
        self.next += 1;
        let credential = SimCredential {
            access_key: format!(
                "STS{}{n:013}",
                if cloud == Cloud::Huawei { "HW" } else { "AL" }
            ),
            secret_key: format!("sim-temporary-secret-{n}-{:016x}", fastrand::u64(..)),
            security_token: Some(format!(
                "sim-security-token-{n}-{:032x}",
                fastrand::u128(..)
            )),
        };
        self.credentials.insert(
            credential.access_key.clone(),
            Issued {
                cloud,
                credential: credential.clone(),
                expires: now + lifetime,
                origin,
            },
        );
        let expires_at = chrono::DateTime::<chrono::Utc>::from(self.clock.now() + lifetime);
        (
            credential,
            expires_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        )
    }

    fn token(&mut self, prefix: &str, lifetime: Duration) -> String {
        let token = format!("{prefix}-{:032x}", fastrand::u128(..));
        self.tokens.insert(token.clone(), Instant::now() + lifetime);
        token
    }

    fn token_valid(&self, token: Option<&str>) -> bool {
        token
            .and_then(|t| self.tokens.get(t))
            .is_some_and(|expires| Instant::now() < *expires)
    }
}

impl Default for Issuer {
    fn default() -> Self {
        Self::new()
    }
}

/// The identity route a request goes to, if any (its body is then read).
pub(crate) fn route_of(
    method: &Method,
    path: &str,
    query: &str,
    acs_action: Option<&str>,
) -> Option<super::Route> {
    use super::Route;
    if path.starts_with("/meta-data/")
        || path.starts_with("/openstack/")
        || path.starts_with("/latest/")
    {
        Some(Route::IdentityMetadata)
    } else if path.starts_with("/v3.0/") {
        Some(Route::IdentityIam)
    } else if path == "/"
        && ((method == Method::POST && acs_action == Some("AssumeRole"))
            || query.contains("Action=AssumeRoleWithOIDC"))
    {
        Some(Route::IdentitySts)
    } else {
        None
    }
}

fn huawei_error(status: StatusCode, code: &str, message: &str) -> Reply {
    super::huawei::error(status, code, message)
}

fn sts_error(status: StatusCode, code: &str, message: &str) -> Reply {
    json_reply(
        status,
        &json!({"RequestId": "SIM-STS-0001", "Code": code, "Message": message}),
        "x-acs-request-id",
    )
}

fn text(body: String) -> Reply {
    let mut r = Reply::new(bytes::Bytes::from(body));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    r
}

/// Answers a request to an identity service.
pub(crate) fn answer(scenario: &Scenario, issuer: &mut Issuer, req: &SimRequest<'_>) -> Reply {
    let identity = &scenario.identity;
    let lifetime_of = |requested: Option<u64>| {
        requested
            .map(Duration::from_secs)
            .unwrap_or(identity.lifetime)
            .min(identity.lifetime)
    };
    let metadata_token_ok = |issuer: &Issuer, header: &str| issuer.token_valid(req.header(header));
    match (req.method, req.path) {
        // Huawei ECS metadata.
        (&Method::PUT, "/meta-data/latest/api/token") => {
            match req
                .header("x-metadata-token-ttl-seconds")
                .and_then(|v| v.parse::<u64>().ok())
            {
                Some(ttl) if (1..=21600).contains(&ttl) => {
                    text(issuer.token("sim-hw-metadata", Duration::from_secs(ttl)))
                }
                _ => huawei_error(
                    StatusCode::BAD_REQUEST,
                    "Metadata.0001",
                    "X-Metadata-Token-Ttl-Seconds must be 1 to 21600",
                ),
            }
        }
        (&Method::GET, "/openstack/latest/securitykey") => {
            if !metadata_token_ok(issuer, "x-metadata-token") {
                return huawei_error(
                    StatusCode::UNAUTHORIZED,
                    "Metadata.0401",
                    "a valid X-Metadata-Token is required",
                );
            }
            if identity.ecs_agency.is_none() {
                return huawei_error(
                    StatusCode::NOT_FOUND,
                    "Metadata.0404",
                    "Please configure Cloud Service Agency first",
                );
            }
            let (c, expires_at) = issuer.issue(Cloud::Huawei, "ecs_metadata", identity.lifetime);
            huawei_credential(StatusCode::OK, c, expires_at)
        }
        // Huawei IAM: OIDC ID token → unscoped token.
        (&Method::POST, "/v3.0/OS-AUTH/id-token/tokens") => {
            let Some((idp, accepted)) = &identity.huawei_oidc else {
                return huawei_error(
                    StatusCode::NOT_FOUND,
                    "IAM.0004",
                    "identity provider not found",
                );
            };
            if req.header("x-idp-id") != Some(idp.as_str()) {
                return huawei_error(
                    StatusCode::NOT_FOUND,
                    "IAM.0004",
                    "identity provider not found",
                );
            }
            let body: serde_json::Value = serde_json::from_slice(req.body).unwrap_or_default();
            if body["auth"]["id_token"]["id"].as_str() != Some(accepted.as_str()) {
                return huawei_error(
                    StatusCode::UNAUTHORIZED,
                    "IAM.1002",
                    "The ID token is invalid or has expired.",
                );
            }
            let token = issuer.token("sim-hw-unscoped", Duration::from_secs(24 * 3600));
            let mut reply = json_reply(
                StatusCode::CREATED,
                &json!({"token": {"methods": ["mapped"], "expires_at": "2099-01-01T00:00:00.000000Z"}}),
                "x-request-id",
            );
            reply.headers_mut().insert(
                "x-subject-token",
                HeaderValue::from_str(&token).expect("token is ASCII"),
            );
            reply
        }
        // Huawei IAM: temporary keys, by token or by assuming an agency.
        (&Method::POST, "/v3.0/OS-CREDENTIAL/securitytokens") => {
            let body: serde_json::Value = serde_json::from_slice(req.body).unwrap_or_default();
            let identity_body = &body["auth"]["identity"];
            let method = identity_body["methods"][0].as_str();
            match method {
                Some("token") => {
                    let token = identity_body["token"]["id"].as_str();
                    if !issuer.token_valid(token) {
                        return huawei_error(
                            StatusCode::UNAUTHORIZED,
                            "IAM.0001",
                            "The token is invalid or has expired.",
                        );
                    }
                    let lifetime = lifetime_of(identity_body["token"]["duration_seconds"].as_u64());
                    let (c, expires_at) = issuer.issue(Cloud::Huawei, "oidc", lifetime);
                    huawei_credential(StatusCode::CREATED, c, expires_at)
                }
                Some("assume_role") => {
                    if let Some(reply) = rejected_huawei(scenario, req) {
                        return reply;
                    }
                    let a = &identity_body["assume_role"];
                    let wanted = (a["domain_name"].as_str(), a["agency_name"].as_str());
                    let known = identity
                        .agencies
                        .iter()
                        .any(|(d, n)| wanted == (Some(d.as_str()), Some(n.as_str())));
                    if !known {
                        return huawei_error(
                            StatusCode::FORBIDDEN,
                            "IAM.0003",
                            "You do not have permission to assume this agency.",
                        );
                    }
                    let lifetime = lifetime_of(a["duration_seconds"].as_u64());
                    let (c, expires_at) = issuer.issue(Cloud::Huawei, "agency", lifetime);
                    huawei_credential(StatusCode::CREATED, c, expires_at)
                }
                _ => huawei_error(
                    StatusCode::BAD_REQUEST,
                    "IAM.0011",
                    "auth.identity.methods must be token or assume_role",
                ),
            }
        }
        // Alibaba ECS metadata.
        (&Method::PUT, "/latest/api/token") => {
            match req
                .header("x-aliyun-ecs-metadata-token-ttl-seconds")
                .and_then(|v| v.parse::<u64>().ok())
            {
                Some(ttl) if (1..=21600).contains(&ttl) => {
                    text(issuer.token("sim-al-metadata", Duration::from_secs(ttl)))
                }
                _ => sts_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameter",
                    "X-aliyun-ecs-metadata-token-ttl-seconds must be 1 to 21600",
                ),
            }
        }
        (&Method::GET, path) if path.starts_with("/latest/meta-data/ram/security-credentials/") => {
            if !metadata_token_ok(issuer, "x-aliyun-ecs-metadata-token") {
                return sts_error(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "a valid X-aliyun-ecs-metadata-token is required",
                );
            }
            let Some(role) = &identity.ram_role else {
                return sts_error(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "no RAM role is attached to this instance",
                );
            };
            match path.trim_start_matches("/latest/meta-data/ram/security-credentials/") {
                "" => text(role.clone()),
                asked if asked == role => {
                    let (c, expires_at) =
                        issuer.issue(Cloud::Alibaba, "ecs_ram_role", identity.lifetime);
                    json_reply(
                        StatusCode::OK,
                        &json!({
                            "Code": "Success",
                            "AccessKeyId": c.access_key,
                            "AccessKeySecret": c.secret_key,
                            "SecurityToken": c.security_token,
                            "Expiration": alibaba_time(&expires_at),
                            "LastUpdated": "2026-11-30T00:00:00Z",
                        }),
                        "x-acs-request-id",
                    )
                }
                _ => sts_error(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "no such role on this instance",
                ),
            }
        }
        // Alibaba STS.
        (&Method::POST, "/") if req.header("x-acs-action") == Some("AssumeRole") => {
            if req.header("x-acs-version") != Some(crate::cloud::alibaba::identity::STS_VERSION) {
                return sts_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidVersion",
                    "x-acs-version must be 2015-04-01",
                );
            }
            if let Some(reply) = rejected_alibaba(scenario, req) {
                return reply;
            }
            let role = req.param("RoleArn").unwrap_or_default();
            if !identity.roles.iter().any(|r| r == role) {
                return sts_error(
                    StatusCode::FORBIDDEN,
                    "NoPermission.RoleArn",
                    "You are not authorized to assume the specified role.",
                );
            }
            if req.param("RoleSessionName").is_none_or(|s| s.len() < 2) {
                return sts_error(
                    StatusCode::BAD_REQUEST,
                    "MissingRoleSessionName",
                    "RoleSessionName is mandatory for this action.",
                );
            }
            let lifetime = lifetime_of(req.param("DurationSeconds").and_then(|d| d.parse().ok()));
            let (c, expires_at) = issuer.issue(Cloud::Alibaba, "assume_role", lifetime);
            sts_credentials(c, &expires_at)
        }
        (_, "/") => {
            // Parameters in the query (as the credentials SDK sends them) or in a form
            // body (as the exporter does, keeping the token out of URLs).
            let mut form: HashMap<String, String> =
                url::form_urlencoded::parse(req.body).into_owned().collect();
            for (k, v) in req.query {
                form.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let Some((provider, role, token)) = &identity.alibaba_oidc else {
                return sts_error(
                    StatusCode::BAD_REQUEST,
                    "EntityNotExist.OIDCProvider",
                    "The OIDC provider does not exist.",
                );
            };
            if form.get("OIDCProviderArn") != Some(provider) || form.get("RoleArn") != Some(role) {
                return sts_error(
                    StatusCode::BAD_REQUEST,
                    "EntityNotExist.Role",
                    "The role or OIDC provider does not exist.",
                );
            }
            if form.get("OIDCToken") != Some(token) {
                return sts_error(
                    StatusCode::BAD_REQUEST,
                    "AuthenticationFail.OIDCToken.Invalid",
                    "The OIDC token is invalid.",
                );
            }
            let lifetime = lifetime_of(form.get("DurationSeconds").and_then(|d| d.parse().ok()));
            let (c, expires_at) = issuer.issue(Cloud::Alibaba, "oidc", lifetime);
            sts_credentials(c, &expires_at)
        }
        _ => huawei_error(
            StatusCode::NOT_FOUND,
            "APIGW.0101",
            "no such identity endpoint",
        ),
    }
}

/// `2026-11-30T12:00:00.000000Z` as Alibaba writes it: `2026-11-30T12:00:00Z`.
fn alibaba_time(huawei_style: &str) -> String {
    format!("{}Z", &huawei_style[..19])
}

fn huawei_credential(status: StatusCode, c: SimCredential, expires_at: String) -> Reply {
    json_reply(
        status,
        &json!({"credential": {
            "access": c.access_key,
            "secret": c.secret_key,
            "securitytoken": c.security_token,
            "expires_at": expires_at,
        }}),
        "x-request-id",
    )
}

fn sts_credentials(c: SimCredential, expires_at: &str) -> Reply {
    json_reply(
        StatusCode::OK,
        &json!({
            "RequestId": "SIM-STS-0002",
            "AssumedRoleUser": {"Arn": "acs:ram::1234567890123456:role/sim/workspace-exporter", "AssumedRoleId": "300000000000000000:workspace-exporter"},
            "Credentials": {
                "AccessKeyId": c.access_key,
                "AccessKeySecret": c.secret_key,
                "SecurityToken": c.security_token,
                "Expiration": alibaba_time(expires_at),
            }
        }),
        "x-acs-request-id",
    )
}

/// The rejection of a Huawei signature not made with a scenario's keys or a valid
/// issued credential.
fn rejected_huawei(scenario: &Scenario, req: &SimRequest<'_>) -> Option<Reply> {
    super::huawei::verify_signature(scenario, req)
        .err()
        .map(|msg| {
            huawei_error(
                StatusCode::UNAUTHORIZED,
                "APIGW.0301",
                &format!("Incorrect IAM authentication information: {msg}"),
            )
        })
}

/// The rejection of an ACS3 signature not made with a scenario's keys or a valid
/// issued credential.
fn rejected_alibaba(scenario: &Scenario, req: &SimRequest<'_>) -> Option<Reply> {
    super::sag::verify_signature(scenario, req)
        .err()
        .map(|msg| {
            sts_error(
                StatusCode::BAD_REQUEST,
                "SignatureDoesNotMatch",
                &format!("Specified signature does not match our calculation: {msg}"),
            )
        })
}

/// The answer to a request signed with an issued credential that has expired.
pub(crate) fn expired(cloud: Cloud) -> Reply {
    match cloud {
        Cloud::Huawei => huawei_error(
            StatusCode::UNAUTHORIZED,
            "APIGW.0307",
            "The token must be updated.",
        ),
        Cloud::Alibaba => super::sag::error(
            StatusCode::BAD_REQUEST,
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
        ),
    }
}
