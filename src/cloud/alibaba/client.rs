//! The Alibaba Cloud RPC client: `POST /` with the parameters in the query and an empty
//! body, signed with [`signer`](super::signer) (`ACS3-HMAC-SHA256`), sent with reqwest,
//! counted in the self-metrics, and read within the body-size limit.

use std::sync::Arc;

use chrono::Utc;
use serde::de::DeserializeOwned;
use url::Url;

use super::signer::{self, RequestToSign};
use crate::cloud::credentials::{Credentials, Keys};
use crate::cloud::http::{ApiError, decode, header_value, host_header, read_limited};
use crate::cloud::quota::PollUsage;
use crate::cloud::retry::{CallSite, ClientSettings, send_signed};
use crate::cloud::signing::hex_sha256;

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
    credentials: Credentials,
    /// Target name, limits, retries and metrics.
    settings: ClientSettings,
}

impl AlibabaClient {
    /// Creates a client for one target.
    pub fn new(http: reqwest::Client, credentials: Credentials, settings: ClientSettings) -> Self {
        AlibabaClient {
            http,
            credentials,
            settings,
        }
    }

    /// This client for one poll: its calls are counted in, and queue at the rate limit
    /// under the name of, `usage`.
    pub fn for_poll(&self, usage: &Arc<PollUsage>) -> Self {
        let mut client = self.clone();
        client.settings.usage = Some(usage.clone());
        client
    }

    /// Calls an RPC action (retried as [`crate::cloud::retry`] describes) and decodes
    /// its JSON answer.
    pub async fn call<T: DeserializeOwned>(&self, req: &RpcRequest<'_>) -> Result<T, ApiError> {
        let body = self.call_raw(req).await?;
        decode(req.api, &body)
    }

    /// Calls an RPC action and returns its body undecoded (for answers that hold
    /// credentials, decoded without quoting them).
    pub async fn call_raw(&self, req: &RpcRequest<'_>) -> Result<Vec<u8>, ApiError> {
        let host = host_header(req.endpoint);
        let site = CallSite {
            target: &self.settings.target,
            api: req.api,
            host: &host,
        };
        let response = send_signed(site, &self.settings, &self.credentials, |keys| {
            self.build(req, &host, keys)
        })
        .await?;
        read_limited(response, self.settings.max_body_bytes, req.api).await
    }

    /// Builds one attempt signed with `keys` (new date and nonce).
    fn build(
        &self,
        req: &RpcRequest<'_>,
        host: &str,
        keys: &Keys,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        let api = req.api;
        let path = if req.endpoint.path().is_empty() {
            "/"
        } else {
            req.endpoint.path()
        };
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host.to_string()),
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
        if let Some(token) = &keys.security_token {
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
            keys.access_key.expose(),
            keys.secret_key.expose(),
        );
        let mut url = req.endpoint.clone();
        let query = signer::canonical_query(&req.query);
        url.set_query((!query.is_empty()).then_some(query.as_str()));
        let mut builder = self.http.post(url);
        if let Some(timeout) = self.settings.timeout {
            builder = builder.timeout(timeout);
        }
        for (name, value) in &headers {
            if name == "host" {
                continue; // reqwest derives Host from the URL; it is the same value.
            }
            let sensitive = name == "x-acs-security-token";
            builder = builder.header(name.as_str(), header_value(value, sensitive, api)?);
        }
        Ok(builder.header(
            reqwest::header::AUTHORIZATION,
            header_value(&signature.authorization, true, api)?,
        ))
    }
}
