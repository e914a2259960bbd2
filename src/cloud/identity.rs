//! What the temporary-credential sources of both clouds share: sending an unsigned
//! request (instance metadata, an OIDC exchange) with the target's retries and rate
//! limit, reading answers that hold credentials without ever quoting them, and reading
//! expiry times. Sits before "sign": the sources in `huawei::identity` and
//! `alibaba::identity` hand their keys to [`credentials`](super::credentials).

use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;

use super::credentials::{Credentials, FetchError, KeySource, Refreshing};
use super::http::{ApiError, host_header, read_limited};
use super::retry::{CallSite, ClientSettings, send_with_retries};

/// Lifetime asked of the instance metadata services for their session token (6 hours,
/// as both SDKs ask).
pub const METADATA_TOKEN_TTL_SECONDS: &str = "21600";

/// The settings a target's credential sources send with: the target's limits,
/// retries and metrics, charged to no poll (a refresh serves every collector).
pub fn source_settings(settings: &ClientSettings) -> ClientSettings {
    let mut settings = settings.clone();
    settings.usage = None;
    settings
}

/// Temporary keys of the target `settings` names, from `source`, refreshed by `clock`;
/// their refresh counters exist from now on.
pub fn refreshing(
    settings: &ClientSettings,
    clock: crate::clock::WallClock,
    source: Box<dyn KeySource>,
) -> Credentials {
    settings.metrics.declare_credentials(&settings.target);
    Credentials::Temporary(std::sync::Arc::new(Refreshing::new(
        &settings.target,
        source,
        clock,
        settings.metrics.clone(),
    )))
}

/// Sends an unsigned request built by `build` (retried as every call is) and reads
/// its body within the size limit.
pub async fn send_unsigned(
    settings: &ClientSettings,
    api: &'static str,
    url: &url::Url,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<(reqwest::header::HeaderMap, Vec<u8>), ApiError> {
    let host = host_header(url);
    let site = CallSite {
        target: &settings.target,
        api,
        host: &host,
    };
    let response = send_with_retries(site, settings, || {
        let mut builder = build();
        if let Some(timeout) = settings.timeout {
            builder = builder.timeout(timeout);
        }
        std::future::ready(Ok(builder))
    })
    .await?;
    let headers = response.headers().clone();
    let body = read_limited(response, settings.max_body_bytes, api).await?;
    Ok((headers, body))
}

/// Decodes an answer that holds credentials. A failure names the field that did not
/// fit but never quotes a value, since the value may be a secret.
pub fn decode_secret_answer<T: DeserializeOwned>(
    api: &'static str,
    body: &[u8],
) -> Result<T, FetchError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let what = match e.inner().classify() {
            serde_json::error::Category::Data => "a field is missing or has the wrong type",
            _ => "not JSON",
        };
        FetchError::new(format!(
            "{api}: malformed credential answer ({what}, at {path})"
        ))
    })
}

/// Reads an expiry time such as `2026-11-30T12:00:00.000000Z` or
/// `2026-11-30T12:00:00Z`.
pub fn parse_expiry(api: &'static str, text: &str) -> Result<SystemTime, FetchError> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(SystemTime::from)
        .map_err(|_| {
            FetchError::new(format!(
                "{api}: the expiry {text:?} is not a time like 2026-11-30T12:00:00Z"
            ))
        })
}

/// `base` with `path` appended to its path.
pub fn joined(base: &url::Url, path: &str) -> url::Url {
    let mut url = base.clone();
    let full = format!("{}{path}", base.path().trim_end_matches('/'));
    url.set_path(&full);
    url
}

/// A requested lifetime in whole seconds, as the APIs take it.
pub fn duration_seconds(duration: Duration) -> String {
    duration.as_secs().to_string()
}

/// An [`ApiError`] as the cause of a failed fetch.
pub fn fetch_error(e: ApiError) -> FetchError {
    FetchError::new(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_answers_fail_without_quoting_values() {
        #[derive(Debug, serde::Deserialize)]
        struct Answer {
            #[allow(dead_code)]
            secret: u32,
        }
        let e = decode_secret_answer::<Answer>("t", br#"{"secret":"s3cr3t-value"}"#).unwrap_err();
        assert!(!e.message.contains("s3cr3t"), "{e}");
        assert!(e.message.contains("secret"), "{e}");
        assert!(parse_expiry("t", "2026-11-30T12:00:00.000000Z").is_ok());
        assert!(parse_expiry("t", "2026-11-30T12:00:00Z").is_ok());
        assert!(parse_expiry("t", "tomorrow").is_err());
    }
}
