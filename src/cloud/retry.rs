//! Sending with retries, shared by the cloud clients, and the settings every client of
//! one target sends with ([`ClientSettings`]).
//!
//! Sits under every cloud client (poll → **send** → decode). Every attempt first takes
//! a token from the target's bucket for the API host ([`quota`](crate::cloud::quota)), so the exporter stays under the
//! documented quota (about 100 requests per minute) however many collectors poll; the
//! collectors sharing a host take turns. A throttled answer (429, or an Alibaba
//! `Throttling*` code) pauses every call of the target to that host for its
//! `Retry-After` (seconds or HTTP date) or `x-acs-retry-after` (milliseconds, as the
//! Alibaba SDK reads it), or a backoff, and the call tries again. 5xx and transport
//! failures are retried up to `max_retries` times with exponential backoff and full
//! jitter (or the wait the answer asks for). Other 4xx answers are final.
//!
//! Each poll's calls and the time they spent queued are counted in its [`PollUsage`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

use crate::cloud::credentials::{Credentials, Keys};
use crate::cloud::http::{ApiError, error_chain, status_error};
use crate::cloud::quota::{PollUsage, RateLimiter};
use crate::config::TargetPoll;
use crate::self_metrics::SelfMetrics;

/// Longest wait between two attempts, whatever the server asks.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(120);

/// Throttled answers one call may get before it fails, on top of `max_retries`: a
/// throttled call waits for the host's pause and tries again rather than fail.
pub const MAX_THROTTLED_RETRIES: u32 = 8;

/// What every cloud client of one target needs besides its credentials.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Target name, for the self-metrics and logs.
    pub target: String,
    /// Where requests are counted.
    pub metrics: Arc<SelfMetrics>,
    /// Limit on a whole request, body included; `None` for downloads of unknown size,
    /// which rely on the HTTP client's read timeout instead.
    pub timeout: Option<Duration>,
    /// Largest body read.
    pub max_body_bytes: u64,
    /// Retries of throttled, 5xx and failed requests.
    pub retry: RetryPolicy,
    /// The target's request rate limit, shared by its collectors.
    pub limiter: Arc<RateLimiter>,
    /// The poll these calls belong to, charged with them (`None` outside a poll, e.g.
    /// `export-connections`); set per poll by the clients' `for_poll`.
    pub usage: Option<Arc<PollUsage>>,
}

impl ClientSettings {
    /// Settings for `target` polled as `poll` says.
    pub fn new(
        target: &str,
        poll: &TargetPoll,
        max_body_bytes: u64,
        metrics: Arc<SelfMetrics>,
    ) -> Self {
        ClientSettings {
            target: target.to_string(),
            metrics,
            timeout: Some(poll.timeout),
            max_body_bytes,
            retry: RetryPolicy {
                max_retries: poll.max_retries,
                retry_backoff: poll.retry_backoff,
            },
            limiter: Arc::new(RateLimiter::new(poll.rate_limit_per_minute)),
            usage: None,
        }
    }
}

/// How one client retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Upper bound of the first retry's random wait; doubles per retry.
    pub retry_backoff: Duration,
}

impl RetryPolicy {
    /// Full-jitter backoff before retry number `retry` (0-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        let bound = self
            .retry_backoff
            .saturating_mul(1u32 << retry.min(16))
            .min(Duration::from_secs(30));
        bound.mul_f64(fastrand::f64())
    }
}

/// The wait a response asks for: `Retry-After` (seconds or HTTP date) or
/// `x-acs-retry-after` (milliseconds), capped at [`MAX_RETRY_WAIT`].
pub fn requested_wait(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let wait = if let Some(v) = text("retry-after") {
        match v.parse::<u64>() {
            Ok(secs) => Some(Duration::from_secs(secs)),
            Err(_) => chrono::DateTime::parse_from_rfc2822(v).ok().map(|at| {
                (at.with_timezone(&chrono::Utc) - now)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
            }),
        }
    } else {
        text("x-acs-retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    };
    wait.map(|w| w.min(MAX_RETRY_WAIT))
}

/// Who is calling, for metrics and limits.
#[derive(Debug, Clone, Copy)]
pub struct CallSite<'a> {
    /// Target name.
    pub target: &'a str,
    /// API operation.
    pub api: &'static str,
    /// Host the request goes to (rate-limit bucket).
    pub host: &'a str,
}

/// Sends a request built fresh (and freshly signed) by `build` for every attempt,
/// counting each in the self-metrics, until it succeeds, fails for good, or the
/// retries run out.
pub async fn send_with_retries<F>(
    site: CallSite<'_>,
    settings: &ClientSettings,
    mut build: impl FnMut() -> F,
) -> Result<reqwest::Response, ApiError>
where
    F: std::future::Future<Output = Result<reqwest::RequestBuilder, ApiError>>,
{
    let (policy, limiter, metrics) = (settings.retry, &settings.limiter, &settings.metrics);
    let usage = settings.usage.as_ref();
    let mut retry = 0;
    let mut throttled_retries = 0;
    loop {
        limiter.acquire(site.host, usage).await;
        if let Some(usage) = usage {
            usage.count_call();
        }
        let (error, wait, throttled) = match build().await?.send().await {
            Err(e) => {
                metrics.api_request(site.target, site.api, "error");
                let error = ApiError::Transport {
                    api: site.api,
                    message: error_chain(&e),
                };
                (error, None, false)
            }
            Ok(response) => {
                let status = response.status();
                metrics.api_request(site.target, site.api, status.as_str());
                if status.as_u16() < 400 {
                    return Ok(response);
                }
                let wait = requested_wait(response.headers(), chrono::Utc::now());
                let error = status_error(site.api, response).await;
                let throttled = status.as_u16() == 429
                    || matches!(&error, ApiError::Status { code: Some(c), .. } if c.starts_with("Throttling"));
                if throttled {
                    metrics.api_throttled(site.target, site.api);
                } else if status.as_u16() < 500 {
                    return Err(error);
                }
                (error, wait, throttled)
            }
        };
        if throttled {
            // The cloud's quota, not a failure: every call of this target to the host
            // waits out the pause (the one requested, or a backoff), then this one
            // tries again, up to MAX_THROTTLED_RETRIES times on top of max_retries.
            if throttled_retries >= MAX_THROTTLED_RETRIES {
                return Err(error);
            }
            let wait = wait.unwrap_or_else(|| policy.backoff(throttled_retries));
            tracing::debug!(target_name = site.target, api = site.api, host = site.host, pause_seconds = wait.as_secs_f64(), error = %error, "throttled; pausing every call to this host");
            limiter.pause(site.host, Instant::now() + wait);
            throttled_retries += 1;
            continue;
        }
        if retry >= policy.max_retries {
            return Err(error);
        }
        let wait = wait.unwrap_or_else(|| policy.backoff(retry));
        tracing::debug!(target_name = site.target, api = site.api, retry = retry + 1, wait_seconds = wait.as_secs_f64(), error = %error, "retrying");
        tokio::time::sleep(wait).await;
        retry += 1;
    }
}

/// Sends a request signed with the target's keys: `sign` builds each attempt from the
/// keys current at that moment (refreshed first when due). When the cloud refuses
/// temporary keys that should still be valid (revoked, or this host's clock runs
/// behind the cloud's), new keys are fetched and the request is sent once more.
pub async fn send_signed(
    site: CallSite<'_>,
    settings: &ClientSettings,
    credentials: &Credentials,
    sign: impl Fn(&Keys) -> Result<reqwest::RequestBuilder, ApiError>,
) -> Result<reqwest::Response, ApiError> {
    let mut resent = false;
    loop {
        let used: std::sync::Mutex<Option<Arc<Keys>>> = std::sync::Mutex::new(None);
        let (sign, used_ref) = (&sign, &used);
        let result = send_with_retries(site, settings, move || async move {
            let keys = credentials
                .current()
                .await
                .map_err(|e| ApiError::Credentials {
                    api: site.api,
                    message: e.to_string(),
                })?;
            let request = sign(&keys);
            *used_ref.lock().unwrap_or_else(|e| e.into_inner()) = Some(keys);
            request
        })
        .await;
        match result {
            Err(e) if !resent && e.refuses_credentials() => {
                let used = used.into_inner().unwrap_or_else(|e| e.into_inner());
                if used.is_some_and(|keys| credentials.refused(&keys)) {
                    tracing::warn!(target_name = site.target, api = site.api, error = %e, "the cloud refused the temporary credentials before their expiry (revoked, or this host's clock runs behind); fetching new ones");
                    resent = true;
                    continue;
                }
                return Err(e);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_in_seconds_date_and_milliseconds() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T05:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(requested_wait(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 22 Nov 2026 05:30:09 GMT"),
        );
        assert_eq!(requested_wait(&h, now), Some(Duration::from_secs(9)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 22 Nov 2026 05:00:00 GMT"),
        );
        assert_eq!(requested_wait(&h, now), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("999999"));
        assert_eq!(requested_wait(&h, now), Some(MAX_RETRY_WAIT));
        let mut h = HeaderMap::new();
        h.insert("x-acs-retry-after", HeaderValue::from_static("1500"));
        assert_eq!(requested_wait(&h, now), Some(Duration::from_millis(1500)));
        h.insert("x-acs-retry-after", HeaderValue::from_static("soon"));
        assert_eq!(requested_wait(&h, now), None);
    }

    #[test]
    fn backoff_is_bounded_and_doubles() {
        let p = RetryPolicy {
            max_retries: 3,
            retry_backoff: Duration::from_millis(100),
        };
        for retry in 0..5 {
            let bound = Duration::from_millis(100 * (1 << retry));
            for _ in 0..100 {
                assert!(p.backoff(retry) <= bound);
            }
        }
        assert!(p.backoff(40) <= Duration::from_secs(30));
    }
}
