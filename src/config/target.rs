//! What every target shares, whatever its cloud: how it polls (`[poll]` defaults with
//! its own overrides applied) and its upper bound on concurrent requests.

use std::time::Duration;

use super::checks::{nonzero, positive};
use super::{ConfigError, HumanDuration, PollConfig};

/// Default upper bound on concurrent requests of one poll, per target.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// How one target polls, with `[poll]` defaults and per-target overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPoll {
    /// Time between poll starts.
    pub interval: Duration,
    /// Limit on one upstream request.
    pub timeout: Duration,
    /// Limit on a whole poll; a poll past it is abandoned and counts as failed.
    pub deadline: Duration,
    /// After the last successful poll, how long its series stay while polls fail.
    pub max_staleness: Duration,
    /// Retries of a throttled, 5xx or failed request.
    pub max_retries: u32,
    /// Upper bound of the first retry's random wait (doubles per retry).
    pub retry_backoff: Duration,
    /// Requests per minute per API host (client-side token bucket).
    pub rate_limit_per_minute: u32,
}

/// Per-target overrides as written, for [`target_poll`].
pub(super) struct PollOverrides {
    /// `interval` as written on the target.
    pub interval: Option<HumanDuration>,
    /// `timeout` as written on the target.
    pub timeout: Option<HumanDuration>,
    /// `rate_limit_per_minute` as written on the target.
    pub rate_limit_per_minute: Option<u32>,
}

/// Resolves a target's poll settings; `prefix` is the target's key, e.g. `huaweicloud[0]`.
pub(super) fn target_poll(
    prefix: &str,
    o: PollOverrides,
    poll: &PollConfig,
) -> Result<TargetPoll, ConfigError> {
    let interval = positive(&format!("{prefix}.interval"), o.interval, poll.interval)?;
    let timeout = positive(&format!("{prefix}.timeout"), o.timeout, poll.timeout)?;
    let deadline = poll.deadline.unwrap_or(interval.mul_f64(0.8));
    let max_staleness = poll.max_staleness.unwrap_or(interval * 3);
    if max_staleness < interval {
        return Err(ConfigError::new(
            "poll.max_staleness",
            format!(
                "{} is shorter than the interval of {prefix} ({}): series would vanish between successful polls",
                humantime::format_duration(max_staleness),
                humantime::format_duration(interval)
            ),
        ));
    }
    let rate_limit_per_minute = nonzero(
        format!("{prefix}.rate_limit_per_minute"),
        o.rate_limit_per_minute,
        poll.rate_limit_per_minute,
    )?;
    Ok(TargetPoll {
        interval,
        timeout,
        deadline,
        max_staleness,
        max_retries: poll.max_retries,
        retry_backoff: poll.retry_backoff,
        rate_limit_per_minute,
    })
}
