//! Retries and client-side rate limiting, shared by the cloud clients.
//!
//! Sits under every cloud client (poll → **send** → decode). Every attempt first takes
//! a token from the target's bucket for the API host, so the exporter stays under the
//! documented quota (about 100 requests per minute) however many collectors poll; the
//! collectors sharing a host take turns. A throttled answer (429, or an Alibaba
//! `Throttling*` code) pauses every call of the target to that host for its
//! `Retry-After` (seconds or HTTP date) or `x-acs-retry-after` (milliseconds, as the
//! Alibaba SDK reads it), or a backoff, and the call tries again. 5xx and transport
//! failures are retried up to `max_retries` times with exponential backoff and full
//! jitter (or the wait the answer asks for). Other 4xx answers are final.
//!
//! Each poll's calls and the time they spent queued are counted in its [`PollUsage`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::cloud::http::{ApiError, ClientSettings, error_chain, status_error};

/// What one poll spends upstream: its calls and the time they spent queued behind the
/// target's rate limit. The scheduler creates one per poll, hands it to the collector,
/// which hands it to its client ([`ClientSettings::usage`](crate::cloud::http::ClientSettings)),
/// and reads it afterwards.
#[derive(Debug)]
pub struct PollUsage {
    /// The collector polling: its name is the queue its calls wait in, so that
    /// collectors sharing an API host take turns.
    collector: &'static str,
    /// Upstream requests sent, retries included.
    calls: AtomicU64,
    /// Wall time during which at least one of the poll's calls was queued.
    waits: StdMutex<WaitClock>,
}

/// Wall time with at least one call queued (several queued at once count once).
#[derive(Debug, Default)]
struct WaitClock {
    /// Calls queued now.
    queued: u32,
    /// When `queued` last went from 0 to 1.
    since: Option<Instant>,
    /// Queued time of the periods that have ended.
    total: Duration,
}

impl PollUsage {
    /// Usage of one poll of `collector`.
    pub fn new(collector: &'static str) -> Self {
        PollUsage {
            collector,
            calls: AtomicU64::new(0),
            waits: StdMutex::new(WaitClock::default()),
        }
    }

    /// Upstream requests sent so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Time spent queued behind the rate limit so far (a wait in progress included).
    pub fn rate_limit_wait(&self) -> Duration {
        let clock = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        clock.total + clock.since.map_or(Duration::ZERO, |s| s.elapsed())
    }

    fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks one call as queued until the guard is dropped (also when the waiting
    /// future is cancelled).
    fn queued(self: &Arc<Self>) -> QueuedGuard {
        let mut clock = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        if clock.queued == 0 {
            clock.since = Some(Instant::now());
        }
        clock.queued += 1;
        QueuedGuard(self.clone())
    }
}

/// Ends one queued call's wait when dropped.
struct QueuedGuard(Arc<PollUsage>);

impl Drop for QueuedGuard {
    fn drop(&mut self) {
        let mut clock = self.0.waits.lock().unwrap_or_else(|e| e.into_inner());
        clock.queued = clock.queued.saturating_sub(1);
        if clock.queued == 0
            && let Some(since) = clock.since.take()
        {
            clock.total += since.elapsed();
        }
    }
}

/// The window `rate_limit_per_minute` counts requests in.
const WINDOW: Duration = Duration::from_secs(60);

/// Longest wait between two attempts, whatever the server asks.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(120);

/// Throttled answers one call may get before it fails, on top of `max_retries`: a
/// throttled call waits for the host's pause and tries again rather than fail.
pub const MAX_THROTTLED_RETRIES: u32 = 8;

/// Client-side rate limit of one target: a token bucket per API host, shared by the
/// target's collectors.
///
/// A call takes a token at once when one is free and nobody is queued. Otherwise it
/// queues under its collector's name, and a dispatcher task hands out tokens as they
/// refill, taking the collectors in turn. Besides the bucket, no 60 seconds ever see
/// more than `per_minute` requests, so the initial burst never pushes a minute over the
/// configured rate: a one-call poll waits for at most one call of
/// each other collector queued on the host, never for a whole long poll. A throttled
/// answer pauses the host: no call goes out until the pause ends.
#[derive(Debug)]
pub struct RateLimiter {
    /// Requests per minute per host.
    per_minute: u32,
    /// One bucket and queue per host.
    hosts: StdMutex<HashMap<String, Arc<HostQueue>>>,
}

/// Bucket, pause and queues of one API host.
#[derive(Debug)]
struct HostQueue {
    /// Refill rate, tokens per second.
    rate: f64,
    /// Burst size.
    capacity: f64,
    /// Most requests in any 60 seconds: the configured rate, which the burst must not
    /// push past.
    per_window: usize,
    /// Mutable state; never held across an await.
    state: StdMutex<HostState>,
}

#[derive(Debug)]
struct HostState {
    /// Tokens available (fractional while refilling).
    tokens: f64,
    /// When `tokens` was last refilled.
    last: Instant,
    /// When the requests of the last 60 seconds went out, oldest first.
    recent: VecDeque<Instant>,
    /// No call goes out before this (a throttled answer's pause).
    paused_until: Option<Instant>,
    /// Queued calls per collector, oldest first.
    queues: BTreeMap<&'static str, VecDeque<oneshot::Sender<()>>>,
    /// The collector served last, so the next token goes to the one after it.
    served_last: Option<&'static str>,
    /// Whether a dispatcher task is handing out tokens.
    dispatching: bool,
}

impl HostState {
    fn refill(&mut self, now: Instant, rate: f64, capacity: f64) {
        if now > self.last {
            self.tokens =
                (self.tokens + now.duration_since(self.last).as_secs_f64() * rate).min(capacity);
            self.last = now;
        }
    }

    fn paused(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|until| *until > now)
    }

    /// When the 60-second window lets the next request out (`None`: now).
    fn window_full(&mut self, now: Instant, per_window: usize) -> Option<Instant> {
        while self.recent.front().is_some_and(|t| *t + WINDOW <= now) {
            self.recent.pop_front();
        }
        (self.recent.len() >= per_window)
            .then(|| self.recent.front().map(|t| *t + WINDOW))
            .flatten()
    }

    /// Whether a request may go out now: not paused, a token free, room in the window.
    fn may_send(&mut self, now: Instant, per_window: usize) -> bool {
        self.paused(now).is_none()
            && self.tokens >= 1.0
            && self.window_full(now, per_window).is_none()
    }

    /// Takes a token for a request going out now.
    fn take(&mut self, now: Instant) {
        self.tokens -= 1.0;
        self.recent.push_back(now);
    }

    /// The next queued call, taking collectors in turn after `served_last`.
    fn next_waiter(&mut self) -> Option<(&'static str, oneshot::Sender<()>)> {
        let name = match self.served_last {
            Some(last) => self
                .queues
                .range::<&str, _>((Bound::Excluded(last), Bound::Unbounded))
                .next()
                .or_else(|| self.queues.iter().next())
                .map(|(name, _)| *name)?,
            None => *self.queues.keys().next()?,
        };
        let queue = self.queues.get_mut(name)?;
        let sender = queue.pop_front();
        if queue.is_empty() {
            self.queues.remove(name);
        }
        sender.map(|s| (name, s))
    }
}

impl HostQueue {
    /// Hands out tokens to queued calls until no call is queued.
    async fn dispatch(self: Arc<Self>) {
        loop {
            let wake = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                state.refill(now, self.rate, self.capacity);
                match state.paused(now) {
                    Some(until) => until,
                    None => {
                        while state.may_send(now, self.per_window) {
                            match state.next_waiter() {
                                Some((name, waiter)) => {
                                    // A cancelled call (its poll was abandoned) takes
                                    // no token.
                                    if waiter.send(()).is_ok() {
                                        state.take(now);
                                        state.served_last = Some(name);
                                    }
                                }
                                None => break,
                            }
                        }
                        if state.queues.is_empty() {
                            state.dispatching = false;
                            return;
                        }
                        let refilled = now
                            + Duration::from_secs_f64((1.0 - state.tokens).max(0.0) / self.rate);
                        let window = state.window_full(now, self.per_window).unwrap_or(now);
                        refilled.max(window)
                    }
                }
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per minute per host, in bursts of up to
    /// a tenth of that (at least one).
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1),
            hosts: StdMutex::new(HashMap::new()),
        }
    }

    /// Requests per minute per host.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    fn host(&self, host: &str) -> Arc<HostQueue> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = hosts.get(host) {
            return q.clone();
        }
        let capacity = (f64::from(self.per_minute) / 10.0).max(1.0);
        let queue = Arc::new(HostQueue {
            rate: f64::from(self.per_minute) / 60.0,
            capacity,
            per_window: self.per_minute as usize,
            state: StdMutex::new(HostState {
                tokens: capacity,
                last: Instant::now(),
                recent: VecDeque::new(),
                paused_until: None,
                queues: BTreeMap::new(),
                served_last: None,
                dispatching: false,
            }),
        });
        hosts.insert(host.to_string(), queue.clone());
        queue
    }

    /// Waits until a request to `host` may go out. The poll making it (if any) names
    /// the queue and is charged the time spent waiting.
    pub async fn acquire(&self, host: &str, usage: Option<&Arc<PollUsage>>) {
        let queue = self.host(host);
        let ticket = {
            let mut state = queue.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            state.refill(now, queue.rate, queue.capacity);
            if state.queues.is_empty() && state.may_send(now, queue.per_window) {
                state.take(now);
                return;
            }
            let (tx, rx) = oneshot::channel();
            let name = usage.map_or("", |u| u.collector);
            state.queues.entry(name).or_default().push_back(tx);
            if !state.dispatching {
                state.dispatching = true;
                tokio::spawn(queue.clone().dispatch());
            }
            rx
        };
        let _queued = usage.map(PollUsage::queued);
        // The dispatcher answers every ticket it takes; an error would mean it was
        // dropped with the runtime, when nothing is sent anyway.
        let _ = ticket.await;
    }

    /// Holds every request to `host` until `until` (a throttled answer's pause). After
    /// the pause, requests resume at the steady rate, without a burst.
    pub fn pause(&self, host: &str, until: Instant) {
        let queue = self.host(host);
        let mut state = queue.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.paused_until.is_none_or(|p| p < until) {
            state.paused_until = Some(until);
        }
        state.tokens = 0.0;
        state.last = state.last.max(until);
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
    settings: &ClientSettings,
    mut build: impl FnMut() -> Result<reqwest::RequestBuilder, ApiError>,
) -> Result<reqwest::Response, ApiError> {
    let (policy, limiter, metrics) = (settings.retry, &settings.limiter, &settings.metrics);
    let usage = settings.usage.as_ref();
    let mut retry = 0;
    let mut throttled_retries = 0;
    loop {
        limiter.acquire(site.host, usage).await;
        if let Some(usage) = usage {
            usage.count_call();
        }
        let (error, wait, throttled) = match build()?.send().await {
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
            limiter.acquire("h", None).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..10 {
            limiter.acquire("h", None).await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(999) && elapsed <= Duration::from_millis(1001),
            "{elapsed:?}"
        );
        // Another host has its own bucket.
        let before = Instant::now();
        limiter.acquire("other", None).await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn no_minute_sees_more_than_the_rate_burst_included() {
        let limiter = RateLimiter::new(100); // bursts of 10
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..250 {
            limiter.acquire("h", None).await;
            sent.push(start.elapsed());
        }
        assert_eq!(sent[9], Duration::ZERO, "the burst goes out at once");
        for (i, at) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|t| **t < *at + WINDOW).count();
            assert!(
                in_window <= 100,
                "{in_window} requests in the minute from {at:?}"
            );
        }
        // The 101st request waits for the first minute to pass.
        assert!(sent[100] >= WINDOW, "{:?}", sent[100]);
    }

    #[tokio::test(start_paused = true)]
    async fn collectors_sharing_a_host_take_turns() {
        let limiter = Arc::new(RateLimiter::new(60)); // one a second, bursts of 6
        for _ in 0..6 {
            limiter.acquire("h", None).await;
        }
        // A long poll queues 20 calls; then a one-call poll arrives.
        let long = Arc::new(PollUsage::new("app_sessions"));
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (limiter, usage) = (limiter.clone(), long.clone());
            calls.spawn(async move {
                limiter.acquire("h", Some(&usage)).await;
                Instant::now()
            });
        }
        tokio::task::yield_now().await;
        let short = Arc::new(PollUsage::new("desktop_status"));
        let start = Instant::now();
        limiter.acquire("h", Some(&short)).await;
        let waited = start.elapsed();
        assert!(
            waited <= Duration::from_secs(2),
            "the one-call poll waited {waited:?} behind the long one"
        );
        assert_eq!(short.rate_limit_wait(), waited);
        let mut last = start;
        while let Some(at) = calls.join_next().await {
            last = last.max(at.unwrap());
        }
        // 20 calls at one a second, all counted as queued time of the long poll.
        assert!(last - start >= Duration::from_secs(19));
        assert!(long.rate_limit_wait() >= Duration::from_secs(19));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_call_to_the_host_then_resumes_without_a_burst() {
        let limiter = RateLimiter::new(600);
        let start = Instant::now();
        limiter.pause("h", start + Duration::from_secs(30));
        limiter.acquire("h", None).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(30) + Duration::from_millis(100)
        );
        limiter.acquire("other", None).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(30_100),
            "another host is not paused"
        );
    }
}
