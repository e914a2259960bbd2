//! HTTP plumbing shared by the cloud clients: the error type, reading a body within a
//! size limit, decoding JSON with the path of the field that did not fit, and reading
//! upstream error bodies.

use std::time::Duration;

use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;

/// The shared HTTP client could not be built (TLS setup).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct HttpClientError(String);

/// The HTTP client every cloud client shares: rustls, our User-Agent, and a connect
/// timeout; each request sets its own total timeout. With `proxy`, the usual
/// `HTTP(S)_PROXY` / `NO_PROXY` environment variables apply.
pub fn client(connect_timeout: Duration, proxy: bool) -> Result<reqwest::Client, HttpClientError> {
    let builder = reqwest::Client::builder();
    let builder = if proxy { builder } else { builder.no_proxy() };
    builder
        .use_rustls_tls()
        .user_agent(crate::USER_AGENT)
        .connect_timeout(connect_timeout)
        .read_timeout(connect_timeout.max(Duration::from_secs(30)))
        .build()
        .map_err(|e| HttpClientError(crate::cloud::http::error_chain(&e)))
}

/// The `Host` header value of an endpoint: host, and port when the URL names one.
pub fn host_header(endpoint: &url::Url) -> String {
    let host = endpoint.host_str().unwrap_or_default();
    match endpoint.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Largest error body read to extract the upstream error code and message.
const MAX_ERROR_BODY: u64 = 64 * 1024;

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
    /// The target has no valid credentials to sign with (their source failed).
    #[error("{api}: {message}")]
    Credentials {
        /// The API operation.
        api: &'static str,
        /// Why, from the credential source (never a credential).
        message: String,
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

impl ApiError {
    /// Whether the cloud refused the request's credentials: 401 (Huawei), or an
    /// Alibaba `InvalidSecurityToken.*` code (an expired or revoked STS token).
    pub fn refuses_credentials(&self) -> bool {
        match self {
            ApiError::Status { status, code, .. } => {
                *status == 401
                    || code
                        .as_deref()
                        .is_some_and(|c| c.starts_with("InvalidSecurityToken"))
            }
            _ => false,
        }
    }
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

/// A header value; `sensitive` ones print as "Sensitive" in any `Debug` output.
pub fn header_value(
    value: &str,
    sensitive: bool,
    api: &'static str,
) -> Result<HeaderValue, ApiError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| ApiError::Transport {
        api,
        message: "a header value (credential, project ID or host) contains characters HTTP does not allow"
            .into(),
    })?;
    v.set_sensitive(sensitive);
    Ok(v)
}

/// Turns a response with status >= 400 into an [`ApiError::Status`], reading at most
/// 64 KiB of the body for the upstream error code and message.
pub async fn status_error(api: &'static str, response: reqwest::Response) -> ApiError {
    let status = response.status().as_u16();
    let header_request_id = ["x-request-id", "x-acs-request-id"]
        .iter()
        .find_map(|name| {
            response
                .headers()
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
    let body = read_limited(response, MAX_ERROR_BODY, api)
        .await
        .unwrap_or_default();
    let (code, message, body_request_id) = parse_error_body(&body);
    ApiError::Status {
        api,
        status,
        code,
        message,
        request_id: header_request_id.or(body_request_id),
    }
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
    // Almost every answer decodes: take the fast path, and track the path to the
    // offending field only to explain a failure.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
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

/// Extracts `(code, message, request id)` from an error body in any of the shapes the
/// clouds use: Huawei `error_code`/`error_msg` (or `errorCode`/`errorMsg`,
/// `code`/`message`), Alibaba `Code`/`Message`/`RequestId`.
pub fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return (None, None, None);
    };
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| map.get(*n).and_then(|v| v.as_str()).map(str::to_string))
    };
    (
        field(&["error_code", "errorCode", "code", "Code"]),
        field(&["error_msg", "errorMsg", "message", "Message"]),
        field(&["request_id", "RequestId"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_in_every_shape() {
        assert_eq!(
            parse_error_body(br#"{"error_code":"WKS.0001","error_msg":"bad"}"#),
            (Some("WKS.0001".into()), Some("bad".into()), None)
        );
        assert_eq!(
            parse_error_body(br#"{"errorCode":"X","errorMsg":"y"}"#),
            (Some("X".into()), Some("y".into()), None)
        );
        assert_eq!(
            parse_error_body(br#"{"Code":"SAG.InstanceNoFound","Message":"m","RequestId":"r1"}"#),
            (
                Some("SAG.InstanceNoFound".into()),
                Some("m".into()),
                Some("r1".into())
            )
        );
        assert_eq!(parse_error_body(b"<html>"), (None, None, None));
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
