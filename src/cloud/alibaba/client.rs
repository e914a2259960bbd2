//! The Alibaba Cloud RPC client: `POST /` with the parameters in the query and an empty
//! body, signed with [`signer`](super::signer) (`ACS3-HMAC-SHA256`), sent with reqwest,
//! counted in the self-metrics, and read within the body-size limit.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::de::DeserializeOwned;
use url::Url;

use super::signer::{self, RequestToSign};
use crate::cloud::http::{ApiError, decode, error_chain, header_value, read_limited, status_error};
use crate::cloud::signing::hex_sha256;
use crate::config::AlibabaCredentials;
use crate::self_metrics::SelfMetrics;

/// One RPC call, before signing.
#[derive(Debug, Clone)]
pub struct RpcRequest<'a> {
    /// Operation name for the `api` label, e.g. `describe_user_online_clients`.
    pub api: &'static str,
    /// The RPC action, e.g. `DescribeUserOnlineClients`.
    pub action: &'static str,
    /// API version, e.g. `2018-03-13`.
    pub version: &'static str,
    /// Endpoint base URL.
    pub endpoint: &'a Url,
    /// Parameters, raw.
    pub query: Vec<(String, String)>,
}

/// A signed-request client for one Alibaba Cloud target.
#[derive(Debug, Clone)]
pub struct AlibabaClient {
    /// Shared connection pool.
    http: reqwest::Client,
    /// Credentials of this target.
    credentials: AlibabaCredentials,
    /// Target name for the self-metrics.
    target: String,
    /// Where requests are counted.
    metrics: Arc<SelfMetrics>,
    /// Per-request timeout.
    timeout: Duration,
    /// Largest body read.
    max_body_bytes: u64,
}

impl AlibabaClient {
    /// Creates a client for one target.
    pub fn new(
        http: reqwest::Client,
        credentials: AlibabaCredentials,
        target: String,
        metrics: Arc<SelfMetrics>,
        timeout: Duration,
        max_body_bytes: u64,
    ) -> Self {
        AlibabaClient {
            http,
            credentials,
            target,
            metrics,
            timeout,
            max_body_bytes,
        }
    }

    /// Calls an RPC action and decodes its JSON answer.
    pub async fn call<T: DeserializeOwned>(&self, req: &RpcRequest<'_>) -> Result<T, ApiError> {
        let api = req.api;
        let host = match req.endpoint.port() {
            Some(port) => format!("{}:{port}", req.endpoint.host_str().unwrap_or_default()),
            None => req.endpoint.host_str().unwrap_or_default().to_string(),
        };
        let path = if req.endpoint.path().is_empty() {
            "/"
        } else {
            req.endpoint.path()
        };
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host),
            ("x-acs-action".into(), req.action.into()),
            ("x-acs-version".into(), req.version.into()),
            ("x-acs-date".into(), signer::acs_date(Utc::now())),
            (
                "x-acs-signature-nonce".into(),
                format!("{:032x}", fastrand::u128(..)),
            ),
            ("x-acs-content-sha256".into(), hex_sha256(b"")),
            ("accept".into(), "application/json".into()),
            ("user-agent".into(), crate::USER_AGENT.into()),
        ];
        if let Some(token) = &self.credentials.security_token {
            headers.push(("x-acs-security-token".into(), token.expose().to_string()));
        }
        let signature = signer::sign(
            &RequestToSign {
                method: "POST",
                path,
                query: &req.query,
                headers: &headers,
                body: b"",
            },
            self.credentials.access_key_id.expose(),
            self.credentials.access_key_secret.expose(),
        );
        let mut url = req.endpoint.clone();
        let query = signer::canonical_query(&req.query);
        url.set_query((!query.is_empty()).then_some(query.as_str()));
        let mut builder = self.http.post(url).timeout(self.timeout);
        for (name, value) in &headers {
            if name == "host" {
                continue; // reqwest derives Host from the URL; it is the same value.
            }
            let sensitive = name == "x-acs-security-token";
            builder = builder.header(name.as_str(), header_value(value, sensitive, api)?);
        }
        builder = builder.header(
            reqwest::header::AUTHORIZATION,
            header_value(&signature.authorization, true, api)?,
        );
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                self.metrics.api_request(&self.target, api, "error");
                return Err(ApiError::Transport {
                    api,
                    message: error_chain(&e),
                });
            }
        };
        let status = response.status();
        self.metrics.api_request(&self.target, api, status.as_str());
        if status.as_u16() >= 400 {
            return Err(status_error(api, response).await);
        }
        let body = read_limited(response, self.max_body_bytes, api).await?;
        decode(api, &body)
    }
}
