//! The Huawei Cloud HTTP client: builds the header set the SDK would send, signs it with
//! [`signer`](super::signer), sends it with reqwest, counts it in the self-metrics, and
//! reads the answer within the body-size limit. Errors say which API failed and why,
//! with the upstream `error_code` / `error_msg` when there is one.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use url::Url;

use super::signer::{self, RequestToSign};
use crate::self_metrics::SelfMetrics;

pub use crate::config::HuaweiCredentials;

/// Largest error body read to extract `error_code` / `error_msg`.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Why an upstream call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No response arrived (connection, TLS, timeout).
    #[error("{api}: request failed: {message}")]
    Transport {
        /// The API operation.
        api: &'static str,
        /// The cause, with its chain of sources.
        message: String,
    },
    /// The service answered with a status ≥ 400.
    #[error("{api}: HTTP {status}{}", describe_upstream(.code, .message, .request_id))]
    Status {
        /// The API operation.
        api: &'static str,
        /// HTTP status code.
        status: u16,
        /// Upstream `error_code`, when the body had one.
        code: Option<String>,
        /// Upstream `error_msg`, when the body had one.
        message: Option<String>,
        /// `X-Request-Id` response header, for support tickets.
        request_id: Option<String>,
    },
    /// The body was larger than `poll.max_body_bytes`.
    #[error("{api}: response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The API operation.
        api: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
    /// The body did not decode into the documented shape.
    #[error("{api}: malformed response: {message}")]
    Decode {
        /// The API operation.
        api: &'static str,
        /// Where and why decoding failed.
        message: String,
    },
}

fn describe_upstream(
    code: &Option<String>,
    message: &Option<String>,
    request_id: &Option<String>,
) -> String {
    let mut out = String::new();
    match (code, message) {
        (Some(c), Some(m)) => out.push_str(&format!(" ({c}: {m})")),
        (Some(c), None) => out.push_str(&format!(" ({c})")),
        (None, Some(m)) => out.push_str(&format!(" ({m})")),
        (None, None) => {}
    }
    if let Some(id) = request_id {
        out.push_str(&format!(" [request id {id}]"));
    }
    out
}

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
    credentials: HuaweiCredentials,
    /// Target name for the self-metrics.
    target: String,
    /// Where requests are counted.
    metrics: Arc<SelfMetrics>,
    /// Per-request timeout.
    timeout: Duration,
    /// Largest body read.
    max_body_bytes: u64,
}

impl HuaweiClient {
    /// Creates a client for one target.
    pub fn new(
        http: reqwest::Client,
        credentials: HuaweiCredentials,
        target: String,
        metrics: Arc<SelfMetrics>,
        timeout: Duration,
        max_body_bytes: u64,
    ) -> Self {
        HuaweiClient {
            http,
            credentials,
            target,
            metrics,
            timeout,
            max_body_bytes,
        }
    }

    /// Sends a signed GET and returns the response if its status is below 400.
    pub async fn send(&self, req: &ApiRequest<'_>) -> Result<reqwest::Response, ApiError> {
        let api = req.api;
        let base_path = req.endpoint.path().trim_end_matches('/');
        let path = format!("{base_path}{}", req.path);
        let host = match req.endpoint.port() {
            Some(port) => format!("{}:{port}", req.endpoint.host_str().unwrap_or_default()),
            None => req.endpoint.host_str().unwrap_or_default().to_string(),
        };
        let mut headers: Vec<(String, String)> = Vec::with_capacity(7);
        if let Some(project_id) = req.project_id {
            headers.push(("Content-Type".into(), "application/json".into()));
            headers.push(("X-Project-Id".into(), project_id.to_string()));
        }
        headers.push(("User-Agent".into(), crate::USER_AGENT.into()));
        if let Some(token) = &self.credentials.security_token {
            headers.push(("X-Security-Token".into(), token.expose().to_string()));
        }
        headers.push((signer::DATE_HEADER.into(), signer::sdk_date(Utc::now())));
        headers.push(("Host".into(), host));
        let to_sign = RequestToSign {
            method: "GET",
            path: &path,
            query: &req.query,
            headers: &headers,
            body: b"",
        };
        let signature = signer::sign(
            &to_sign,
            self.credentials.access_key.expose(),
            self.credentials.secret_key.expose(),
        )
        .expect("X-Sdk-Date is set above");
        let mut url = req.endpoint.clone();
        url.set_path(&path);
        let query = signer::canonical_query(&req.query);
        url.set_query((!query.is_empty()).then_some(query.as_str()));

        let mut builder = self.http.get(url).timeout(self.timeout);
        for (name, value) in &headers {
            let sensitive = name.eq_ignore_ascii_case("X-Security-Token");
            builder = builder.header(header_name(name), header_value(value, sensitive, api)?);
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
            return Err(self.status_error(api, response).await);
        }
        Ok(response)
    }

    /// Sends a signed GET and decodes the JSON answer.
    pub async fn get_json<T: DeserializeOwned>(&self, req: &ApiRequest<'_>) -> Result<T, ApiError> {
        let response = self.send(req).await?;
        let body = read_limited(response, self.max_body_bytes, req.api).await?;
        decode(req.api, &body)
    }

    async fn status_error(&self, api: &'static str, response: reqwest::Response) -> ApiError {
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_limited(response, MAX_ERROR_BODY as u64, api)
            .await
            .unwrap_or_default();
        let (code, message) = parse_error_body(&body);
        ApiError::Status {
            api,
            status,
            code,
            message,
            request_id,
        }
    }
}

fn header_name(name: &str) -> HeaderName {
    HeaderName::from_bytes(name.as_bytes()).expect("header names are constants")
}

fn header_value(value: &str, sensitive: bool, api: &'static str) -> Result<HeaderValue, ApiError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| ApiError::Transport {
        api,
        message: "a header value (credential, project ID or host) contains characters HTTP does not allow"
            .into(),
    })?;
    v.set_sensitive(sensitive);
    Ok(v)
}

/// Formats an error with its chain of causes.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Reads a response body, failing as soon as it exceeds `limit` bytes.
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: u64,
    api: &'static str,
) -> Result<Vec<u8>, ApiError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(ApiError::BodyTooLarge { api, limit });
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0).min(limit) as usize);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > limit {
                    return Err(ApiError::BodyTooLarge { api, limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(ApiError::Transport {
                    api,
                    message: format!("reading the response body: {}", error_chain(&e)),
                });
            }
        }
    }
}

/// Decodes a JSON body, naming the field that did not fit.
pub fn decode<T: DeserializeOwned>(api: &'static str, body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        };
        ApiError::Decode { api, message }
    })?;
    de.end().map_err(|e| ApiError::Decode {
        api,
        message: e.to_string(),
    })?;
    Ok(value)
}

/// Extracts `(code, message)` from an error body in any of the shapes Huawei services use.
pub fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return (None, None);
    };
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| map.get(*n).and_then(|v| v.as_str()).map(str::to_string))
    };
    (
        field(&["error_code", "errorCode", "code"]),
        field(&["error_msg", "errorMsg", "message"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_in_every_shape() {
        assert_eq!(
            parse_error_body(br#"{"error_code":"WKS.0001","error_msg":"bad"}"#),
            (Some("WKS.0001".into()), Some("bad".into()))
        );
        assert_eq!(
            parse_error_body(br#"{"errorCode":"X","errorMsg":"y"}"#),
            (Some("X".into()), Some("y".into()))
        );
        assert_eq!(parse_error_body(b"<html>"), (None, None));
    }

    #[test]
    fn decode_names_the_field() {
        #[derive(serde::Deserialize, Debug)]
        struct T {
            #[allow(dead_code)]
            items: Vec<Inner>,
        }
        #[derive(serde::Deserialize, Debug)]
        struct Inner {
            #[allow(dead_code)]
            n: u64,
        }
        let err = decode::<T>("x", br#"{"items":[{"n":1},{"n":-3}]}"#).unwrap_err();
        assert!(err.to_string().contains("items[1].n"), "{err}");
        let err = decode::<T>("x", br#"{"items":[]} trailing"#).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
    }
}
