//! Retries and client-side rate limiting, shared by the cloud clients.
//!
//! Every attempt first takes a token from the target's bucket for the API host, so the
//! exporter stays under the documented quota (about 100 requests per minute) however
//! many collectors poll. Throttled (429, or an Alibaba `Throttling*` code), 5xx and
//! transport failures are retried up to `max_retries` times with exponential backoff
//! and full jitter; a `Retry-After` (seconds or HTTP date) or `x-acs-retry-after`
//! (milliseconds, as the Alibaba SDK reads it) answer is honoured instead. Other 4xx
//! answers are final.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::cloud::http::{ApiError, error_chain, status_error};
use crate::self_metrics::SelfMetrics;

tokio::task_local! {
    /// Upstream requests made by the poll running on this task; the scheduler sets it
    /// up around each poll and reports it as `workspace_exporter_poll_api_calls`.
    pub static POLL_API_CALLS: std::cell::Cell<u64>;
}

/// Longest wait between two attempts, whatever the server asks.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(120);

/// Token buckets per API host for one target.
#[derive(Debug)]
pub struct RateLimiter {
    /// Requests per minute per host.
    per_minute: u32,
    /// Bucket state per host: (tokens, last refill). Tokens may go negative: that is a
    /// queue of reserved requests, each waiting its turn.
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per minute per host, in bursts of up to
    /// a tenth of that (at least one).
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn capacity(&self) -> f64 {
        (f64::from(self.per_minute) / 10.0).max(1.0)
    }

    /// Waits until a request to `host` may go out.
    pub async fn acquire(&self, host: &str) {
        let wait = {
            let mut buckets = self.buckets.lock().await;
            let now = Instant::now();
            let capacity = self.capacity();
            let rate = f64::from(self.per_minute) / 60.0;
            let (tokens, last) = buckets.entry(host.to_string()).or_insert((capacity, now));
            *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(capacity);
            *last = now;
            *tokens -= 1.0;
            if *tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-*tokens / rate)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
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
pub async fn send_with_retries(
    site: CallSite<'_>,
    policy: RetryPolicy,
    limiter: &RateLimiter,
    metrics: &SelfMetrics,
    mut build: impl FnMut() -> Result<reqwest::RequestBuilder, ApiError>,
) -> Result<reqwest::Response, ApiError> {
    let mut retry = 0;
    loop {
        limiter.acquire(site.host).await;
        let _ = POLL_API_CALLS.try_with(|n| n.set(n.get() + 1));
        let (error, wait) = match build()?.send().await {
            Err(e) => {
                metrics.api_request(site.target, site.api, "error");
                let error = ApiError::Transport {
                    api: site.api,
                    message: error_chain(&e),
                };
                (error, None)
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
                (error, wait)
            }
        };
        if retry >= policy.max_retries {
            return Err(error);
        }
        let wait = wait.unwrap_or_else(|| policy.backoff(retry));
        tracing::debug!(target_name = site.target, api = site.api, retry = retry + 1, wait_seconds = wait.as_secs_f64(), error = %error, "retrying");
        tokio::time::sleep(wait).await;
        retry += 1;
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

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_a_burst_then_the_rate() {
        let limiter = RateLimiter::new(600); // 10 per second, bursts of 60
        let start = Instant::now();
        for _ in 0..60 {
            limiter.acquire("h").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..10 {
            limiter.acquire("h").await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(999) && elapsed <= Duration::from_millis(1001),
            "{elapsed:?}"
        );
        // Another host has its own bucket.
        let before = Instant::now();
        limiter.acquire("other").await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }
}
