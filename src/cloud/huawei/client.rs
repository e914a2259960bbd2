//! The Huawei Cloud HTTP client: builds the header set the SDK would send, signs it with
//! [`signer`](super::signer), sends it with reqwest, counts it in the self-metrics, and
//! reads the answer within the body-size limit (shared plumbing in [`crate::cloud::http`]).

use std::sync::Arc;

use chrono::Utc;
use reqwest::header::HeaderName;
use serde::de::DeserializeOwned;
use url::Url;

use super::signer::{self, RequestToSign};
use crate::cloud::http::{decode, header_value, host_header, read_limited};
use crate::cloud::quota::PollUsage;
use crate::cloud::retry::{CallSite, ClientSettings, send_signed};

pub use crate::cloud::http::ApiError;

use crate::cloud::credentials::{Credentials, Keys};

/// One upstream request, before signing.
#[derive(Debug, Clone)]
pub struct ApiRequest<'a> {
    /// Operation name for the `api` label and error messages, e.g. `list_sessions`.
    pub api: &'static str,
    /// Endpoint base URL.
    pub endpoint: &'a Url,
    /// Resource path, starting with `/`.
    pub path: String,
    /// Query parameters, raw.
    pub query: Vec<(String, String)>,
    /// Sent as `X-Project-Id` (with `Content-Type: application/json`, as the SDK does
    /// for project-scoped APIs); `None` for IAM.
    pub project_id: Option<&'a str>,
}

/// A signed-request client for one Huawei Cloud target.
#[derive(Debug, Clone)]
pub struct HuaweiClient {
    /// Shared connection pool.
    http: reqwest::Client,
    /// Credentials of this target.
    credentials: Credentials,
    /// Target name, limits, retries and metrics.
    settings: ClientSettings,
}

impl HuaweiClient {
    /// Creates a client for one target.
    pub fn new(http: reqwest::Client, credentials: Credentials, settings: ClientSettings) -> Self {
        HuaweiClient {
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

    /// Sends a signed GET (retried as [`crate::cloud::retry`] describes) and returns the
    /// response if its status is below 400; the caller reads the body (see
    /// [`crate::export`] for streaming it to a file).
    pub async fn send(&self, req: &ApiRequest<'_>) -> Result<reqwest::Response, ApiError> {
        self.send_with_body(req, None).await
    }

    /// Sends a signed POST of the JSON `body` (retried like [`Self::send`]) and returns
    /// the answer's body undecoded, read within the body-size limit (for answers that
    /// hold credentials, decoded without quoting them).
    pub async fn post_raw(&self, req: &ApiRequest<'_>, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let response = self.send_with_body(req, Some(body)).await?;
        read_limited(response, self.settings.max_body_bytes, req.api).await
    }

    /// A GET (`body` is `None`) or a POST of `body`.
    async fn send_with_body(
        &self,
        req: &ApiRequest<'_>,
        body: Option<&[u8]>,
    ) -> Result<reqwest::Response, ApiError> {
        let base_path = req.endpoint.path().trim_end_matches('/');
        let path = format!("{base_path}{}", req.path);
        let host = host_header(req.endpoint);
        let mut url = req.endpoint.clone();
        url.set_path(&path);
        let query = signer::canonical_query(&req.query);
        url.set_query((!query.is_empty()).then_some(query.as_str()));
        let site = CallSite {
            target: &self.settings.target,
            api: req.api,
            host: &host,
        };
        let attempt = Attempt {
            req,
            path: &path,
            host: &host,
            url: &url,
            body,
        };
        send_signed(site, &self.settings, &self.credentials, |keys| {
            self.build(&attempt, keys)
        })
        .await
    }

    /// Builds one attempt signed with `keys`.
    fn build(
        &self,
        attempt: &Attempt<'_>,
        keys: &Keys,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        let Attempt {
            req,
            path,
            host,
            url,
            body,
        } = *attempt;
        let api = req.api;
        let mut headers: Vec<(String, String)> = Vec::with_capacity(7);
        if req.project_id.is_some() || body.is_some() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        if let Some(project_id) = req.project_id {
            headers.push(("X-Project-Id".into(), project_id.to_string()));
        }
        headers.push(("User-Agent".into(), crate::USER_AGENT.into()));
        if let Some(token) = &keys.security_token {
            headers.push(("X-Security-Token".into(), token.expose().to_string()));
        }
        headers.push((signer::DATE_HEADER.into(), signer::sdk_date(Utc::now())));
        headers.push(("Host".into(), host.to_string()));
        let to_sign = RequestToSign {
            method: if body.is_some() { "POST" } else { "GET" },
            path,
            query: &req.query,
            headers: &headers,
            body: body.unwrap_or_default(),
        };
        let signature = signer::sign(&to_sign, keys.access_key.expose(), keys.secret_key.expose())
            .expect("X-Sdk-Date is set above");
        let mut builder = match body {
            Some(body) => self.http.post(url.clone()).body(body.to_vec()),
            None => self.http.get(url.clone()),
        };
        if let Some(timeout) = self.settings.timeout {
            builder = builder.timeout(timeout);
        }
        for (name, value) in &headers {
            let sensitive = name.eq_ignore_ascii_case("X-Security-Token");
            builder = builder.header(header_name(name), header_value(value, sensitive, api)?);
        }
        Ok(builder.header(
            reqwest::header::AUTHORIZATION,
            header_value(&signature.authorization, true, api)?,
        ))
    }

    /// Sends a signed GET and decodes the JSON answer.
    pub async fn get_json<T: DeserializeOwned>(&self, req: &ApiRequest<'_>) -> Result<T, ApiError> {
        let response = self.send(req).await?;
        let body = read_limited(response, self.settings.max_body_bytes, req.api).await?;
        decode(req.api, &body)
    }
}

/// What every attempt of one request shares.
#[derive(Clone, Copy)]
struct Attempt<'a> {
    /// The request.
    req: &'a ApiRequest<'a>,
    /// Full path, endpoint path included.
    path: &'a str,
    /// `Host` header.
    host: &'a str,
    /// Full URL.
    url: &'a Url,
    /// Body of a POST.
    body: Option<&'a [u8]>,
}

fn header_name(name: &str) -> HeaderName {
    HeaderName::from_bytes(name.as_bytes()).expect("header names are constants")
}
