//! The scheduler: one polling loop per target × collector.
//!
//! Drives the data flow (**poll** → decode → convert → snapshot): the first poll starts
//! at once, then one every interval. A loop runs its polls one after another, so a
//! poll never overlaps the previous one; when a poll outlasts the interval, the ticks
//! it covered are skipped with a warning. A poll past its deadline is abandoned and
//! counts as failed; time the poll spent queued behind the target's own rate limit does
//! not count against the deadline, so a quota-bound poll runs to its end. Every poll is
//! timed here, not in the collector, its API calls and rate-limit wait are counted
//! (through the [`PollUsage`] it hands the collector), and its outcome goes to the [`Store`]. When a collector's
//! planned calls cannot fit one interval at the rate limit, one warning says so. A
//! poll request (see [`PollRequests`]) starts an extra poll at once; tests use it to
//! drive polls without waiting for the clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::cloud::quota::PollUsage;
use crate::collectors::{CollectError, Collector, Poll};
use crate::config::TargetPoll;
use crate::store::{PollOutcome, SlotKey, Store};

/// Issues "poll now" requests to every loop; each request has an epoch number.
#[derive(Debug)]
pub struct PollRequests {
    /// The epoch of the latest request; loops watch it.
    sender: watch::Sender<u64>,
}

impl Default for PollRequests {
    fn default() -> Self {
        PollRequests {
            sender: watch::channel(0).0,
        }
    }
}

impl PollRequests {
    /// Asks every loop to poll now; returns the request's epoch.
    pub fn request(&self) -> u64 {
        let mut epoch = 0;
        self.sender.send_modify(|e| {
            *e += 1;
            epoch = *e;
        });
        epoch
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.sender.subscribe()
    }
}

/// One polling loop's work.
pub struct Job {
    /// Which slot the results go to.
    pub key: SlotKey,
    /// What to poll.
    pub collector: Arc<dyn Collector>,
    /// Interval, deadline and staleness of the target.
    pub poll: TargetPoll,
}

impl Job {
    /// The job polling `collector` (registered as `name`) of target `target`.
    pub fn new(
        target: &str,
        name: &'static str,
        collector: Arc<dyn Collector>,
        poll: &TargetPoll,
    ) -> Self {
        Job {
            key: SlotKey {
                target: target.to_string(),
                collector: name,
            },
            collector,
            poll: poll.clone(),
        }
    }
}

/// Starts one loop per job on `tasks`; loops end when `shutdown` is cancelled.
pub fn spawn(
    jobs: Vec<Job>,
    store: Arc<Store>,
    requests: &PollRequests,
    shutdown: CancellationToken,
    tasks: &mut JoinSet<()>,
) {
    for job in jobs {
        store.register(job.key.clone(), job.poll.max_staleness);
        tasks.spawn(run_loop(
            job,
            store.clone(),
            requests.subscribe(),
            shutdown.clone(),
        ));
    }
}

async fn run_loop(
    job: Job,
    store: Arc<Store>,
    mut requests: watch::Receiver<u64>,
    shutdown: CancellationToken,
) {
    let interval = job.poll.interval;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut quota_warning = QuotaWarning::default();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
            changed = requests.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        let epoch = *requests.borrow_and_update();
        let started = Instant::now();
        let usage = Arc::new(PollUsage::new(job.key.collector));
        let poll = job.collector.poll(Poll {
            now: Utc::now(),
            usage: usage.clone(),
        });
        let result = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            r = within_deadline(poll, started, job.poll.deadline, &usage) => r,
        };
        let elapsed = started.elapsed();
        let waited = usage.rate_limit_wait();
        let outcome = match result {
            None => {
                tracing::warn!(target_name = %job.key.target, collector = job.key.collector, deadline_seconds = job.poll.deadline.as_secs_f64(), rate_limit_wait_seconds = waited.as_secs_f64(), api_calls = usage.calls(), "poll abandoned: the cloud took longer than the deadline to answer (time queued behind the rate limit not counted); keeping the last good series");
                PollOutcome::Failed
            }
            Some(Ok(series)) => {
                tracing::debug!(target_name = %job.key.target, collector = job.key.collector, duration_seconds = elapsed.as_secs_f64(), rate_limit_wait_seconds = waited.as_secs_f64(), api_calls = usage.calls(), "poll succeeded");
                PollOutcome::Success(series)
            }
            Some(Err(CollectError::Partial { series, failures })) => {
                tracing::warn!(target_name = %job.key.target, collector = job.key.collector, duration_seconds = elapsed.as_secs_f64(), failed_calls = failures.len(), "poll partly failed; exporting what succeeded");
                PollOutcome::Partial(series)
            }
            Some(Err(e)) => {
                tracing::warn!(target_name = %job.key.target, collector = job.key.collector, duration_seconds = elapsed.as_secs_f64(), error = %e, "poll failed; keeping the last good series");
                PollOutcome::Failed
            }
        };
        let planned = job.collector.planned_api_calls().unwrap_or(usage.calls());
        store.self_metrics().record_api_usage(
            &job.key.target,
            job.key.collector,
            usage.calls(),
            waited.as_secs_f64(),
            planned,
        );
        let quota_bound = quota_warning.check(&job, planned);
        store.record(&job.key, outcome, epoch, elapsed, SystemTime::now());
        if elapsed >= interval {
            let skipped = (elapsed.as_secs_f64() / interval.as_secs_f64()).floor();
            // A quota-bound collector overruns every poll, as its one warning said:
            // repeat that at debug level only.
            if quota_bound {
                tracing::debug!(target_name = %job.key.target, collector = job.key.collector, duration_seconds = elapsed.as_secs_f64(), interval_seconds = interval.as_secs_f64(), skipped_ticks = skipped, "quota-bound poll took longer than the interval; skipping the ticks it overlapped");
            } else {
                tracing::warn!(
                    target_name = %job.key.target,
                    collector = job.key.collector,
                    duration_seconds = elapsed.as_secs_f64(),
                    interval_seconds = interval.as_secs_f64(),
                    skipped_ticks = skipped,
                    "poll took longer than the interval; skipping the ticks it overlapped"
                );
            }
            // Next poll one full interval from now, not immediately.
            ticker.reset();
        }
    }
}

/// Runs `poll` until it ends or has spent `deadline` outside the rate-limit queue
/// (`None`). The deadline guards against a cloud that stops answering; time queued
/// behind the exporter's own rate limit is planned cost and extends it.
async fn within_deadline<T>(
    poll: impl std::future::Future<Output = T>,
    started: Instant,
    deadline: Duration,
    usage: &PollUsage,
) -> Option<T> {
    tokio::pin!(poll);
    loop {
        let budget_end = started + deadline + usage.rate_limit_wait();
        tokio::select! {
            biased;
            r = &mut poll => return Some(r),
            _ = tokio::time::sleep_until(budget_end) => {
                // Queued time may have grown while we slept: only a deadline that is
                // still passed once that is counted ends the poll.
                if Instant::now() >= started + deadline + usage.rate_limit_wait() {
                    return None;
                }
            }
        }
    }
}

/// The "this poll cannot fit its interval" warning of one loop, logged again only when
/// its numbers change.
#[derive(Debug, Default)]
struct QuotaWarning {
    /// (planned calls, rate per minute) last warned about.
    warned: Option<(u64, u32)>,
}

impl QuotaWarning {
    /// Warns when `planned` calls cannot fit one interval (again only when the numbers
    /// change); returns whether they cannot.
    fn check(&mut self, job: &Job, planned: u64) -> bool {
        let rate = job.poll.rate_limit_per_minute.max(1);
        let poll_time = quota_poll_time(planned, rate);
        if poll_time <= job.poll.interval {
            self.warned = None;
            return false;
        }
        if self.warned == Some((planned, rate)) {
            return true;
        }
        self.warned = Some((planned, rate));
        tracing::warn!(
            target_name = %job.key.target,
            collector = job.key.collector,
            planned_api_calls = planned,
            rate_limit_per_minute = rate,
            poll_seconds = poll_time.as_secs_f64().round(),
            interval_seconds = job.poll.interval.as_secs_f64(),
            "a poll needs more API calls than one interval of quota allows: each poll runs to its end, so data is refreshed about every poll_seconds instead of every interval; raise rate_limit_per_minute (after the cloud quota is raised) or the interval"
        );
        true
    }
}

/// How long `calls` requests take at `per_minute` requests per minute.
pub fn quota_poll_time(calls: u64, per_minute: u32) -> Duration {
    Duration::from_secs_f64(calls as f64 * 60.0 / f64::from(per_minute.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Idle;

    impl Collector for Idle {
        fn poll(&self, _poll: Poll) -> crate::collectors::PollFuture<'_> {
            Box::pin(async { Ok(Vec::new()) })
        }
    }

    #[test]
    fn the_quota_warning_is_given_once_per_plan_and_cleared_when_it_fits() {
        let poll = TargetPoll {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(48),
            max_staleness: Duration::from_secs(180),
            max_retries: 3,
            retry_backoff: Duration::from_millis(500),
            rate_limit_per_minute: 100,
        };
        let job = Job::new("t", "app_sessions", Arc::new(Idle), &poll);
        let mut warning = QuotaWarning::default();
        // 100 calls at 100 a minute fit a 60 s interval; 122 do not (73 s).
        assert!(!warning.check(&job, 100));
        assert_eq!(warning.warned, None);
        assert!(warning.check(&job, 122));
        assert_eq!(warning.warned, Some((122, 100)));
        assert!(
            warning.check(&job, 122),
            "still quota-bound, not warned again"
        );
        assert!(warning.check(&job, 130));
        assert_eq!(warning.warned, Some((130, 100)), "new numbers, new warning");
        assert!(!warning.check(&job, 50));
        assert_eq!(warning.warned, None);
        assert_eq!(quota_poll_time(122, 100), Duration::from_secs_f64(73.2));
    }
}
