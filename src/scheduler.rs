//! The scheduler: one polling loop per target × collector.
//!
//! Drives the data flow (**poll** → decode → convert → snapshot): the first poll starts
//! soon after start (the loops' first polls spread over a few milliseconds per loop, at
//! most 5 s), then one every interval at a phase of the loop's own, from a hash of its
//! target and collector names, so that many targets do not poll in lockstep. A loop runs its polls one after another, so a
//! poll never overlaps the previous one; when a poll outlasts the interval, the ticks
//! it covered are skipped with a warning. A poll past its deadline is abandoned and
//! counts as failed; time the poll spent queued behind the target's own rate limit does
//! not count against the deadline, so a quota-bound poll runs to its end. Every poll is
//! timed here, not in the collector, its API calls and rate-limit wait are counted
//! (through the [`PollUsage`] it hands the collector), and its outcome goes to the
//! [`Status`] (with the next poll's due time) and then to the [`Store`]. When a collector's
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
use crate::status::{Outcome, PollRecord, Status};
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
    status: Arc<Status>,
    requests: &PollRequests,
    shutdown: CancellationToken,
    tasks: &mut JoinSet<()>,
) {
    let count = jobs.len();
    for job in jobs {
        store.register(job.key.clone(), job.poll.max_staleness);
        let schedule = Schedule::of(&job.key, job.poll.interval, count);
        status.register(&job.key.target, job.key.collector, schedule.first);
        tasks.spawn(run_loop(
            job,
            schedule,
            store.clone(),
            status.clone(),
            requests.subscribe(),
            shutdown.clone(),
        ));
    }
}

/// When a loop polls: its first poll a little after start (spread over a window that
/// grows with the number of loops, at most [`FIRST_POLL_SPREAD_MAX`]), then every
/// interval at a stable phase, so that many targets do not poll in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Delay of the first poll after the loop starts.
    pub first: Duration,
    /// Offset within the interval of the later polls: they start at
    /// `start + phase + k × interval`, from the first such time at least half an
    /// interval after start (see [`Schedule::second_poll`]).
    pub phase: Duration,
}

/// The first polls of all loops are spread over at most this long after start.
pub const FIRST_POLL_SPREAD_MAX: Duration = Duration::from_secs(5);

/// Spread of the first polls per loop: 10 loops start within 100 ms, 500 or more
/// within [`FIRST_POLL_SPREAD_MAX`].
pub const FIRST_POLL_SPREAD_PER_LOOP: Duration = Duration::from_millis(10);

impl Schedule {
    /// The schedule of the loop `key`, one of `loops`, polling every `interval`: both
    /// offsets come from the FNV-1a hash of `target/collector`, so they are stable
    /// across restarts and differ between loops.
    pub fn of(key: &SlotKey, interval: Duration, loops: usize) -> Schedule {
        let hash = crate::shard::fnv1a64(format!("{}/{}", key.target, key.collector).as_bytes());
        let window = FIRST_POLL_SPREAD_PER_LOOP
            .saturating_mul(u32::try_from(loops).unwrap_or(u32::MAX))
            .min(FIRST_POLL_SPREAD_MAX)
            .min(interval);
        // The hash's top 53 bits as a fraction of the window.
        let fraction = (hash >> 11) as f64 / (1u64 << 53) as f64;
        let nanos = interval.as_nanos().max(1);
        Schedule {
            first: window.mul_f64(fraction),
            phase: Duration::from_nanos((u128::from(hash) % nanos) as u64),
        }
    }
}

impl Schedule {
    /// When the second poll starts, for a loop started at `start`: the first point of
    /// its phase at least half an interval after start, so the gap after the first
    /// poll is between half an interval and one and a half, never almost two.
    pub fn second_poll(&self, start: Instant, interval: Duration) -> Instant {
        if self.phase >= interval / 2 {
            start + self.phase
        } else {
            start + self.phase + interval
        }
    }
}

async fn run_loop(
    job: Job,
    schedule: Schedule,
    store: Arc<Store>,
    status: Arc<Status>,
    mut requests: watch::Receiver<u64>,
    shutdown: CancellationToken,
) {
    let interval = job.poll.interval;
    let start = Instant::now();
    let mut ticker = tokio::time::interval_at(start + schedule.first, interval);
    // The ticker's next deadline, mirrored for the status page (tokio does not expose it).
    let mut due = start + schedule.first;
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut phased = false;
    let mut quota_warning = QuotaWarning::default();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => due = after_tick(due, interval),
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
        let error = match &result {
            None => Some(format!(
                "poll abandoned: no answer within the deadline of {:.0} s",
                job.poll.deadline.as_secs_f64()
            )),
            Some(Err(e)) => Some(e.to_string()),
            Some(Ok(_)) => None,
        };
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
        // Where the ticker will be once the code below re-phases or resets it.
        due = if elapsed >= interval {
            Instant::now() + interval
        } else if !phased {
            schedule.second_poll(start, interval)
        } else {
            due
        };
        status.record(
            &job.key.target,
            job.key.collector,
            PollRecord {
                outcome: match &outcome {
                    PollOutcome::Success(_) => Outcome::Success,
                    PollOutcome::Partial(_) => Outcome::Partial,
                    PollOutcome::Failed => Outcome::Failed,
                },
                duration: elapsed,
                api_calls: usage.calls(),
                rate_limit_wait: waited,
                next_poll_in: due.saturating_duration_since(Instant::now()),
                error,
            },
        );
        store.record(&job.key, outcome, epoch, elapsed, SystemTime::now());
        if !phased {
            // From the second poll on, the loop's own phase within the interval.
            phased = true;
            ticker = tokio::time::interval_at(schedule.second_poll(start, interval), interval);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        }
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

/// The ticker's deadline after it fired for `due`: one interval later, or one interval
/// from now when the tick came late ([`MissedTickBehavior::Delay`], as tokio decides it).
fn after_tick(due: Instant, interval: Duration) -> Instant {
    let now = Instant::now();
    if now > due + Duration::from_millis(5) {
        now + interval
    } else {
        due + interval
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

    #[test]
    fn poll_offsets_are_stable_within_the_interval_and_spread() {
        let interval = Duration::from_secs(60);
        let key = |t: usize, c: &'static str| SlotKey {
            target: format!("tenant-{t:03}"),
            collector: c,
        };
        let mut phases = std::collections::BTreeSet::new();
        for t in 0..200 {
            for c in ["desktop_status", "online_users", "app_sessions"] {
                let s = Schedule::of(&key(t, c), interval, 600);
                assert_eq!(s, Schedule::of(&key(t, c), interval, 600), "stable");
                assert!(s.phase < interval);
                assert!(s.first < FIRST_POLL_SPREAD_MAX);
                // The second poll comes half an interval to one and a half after start,
                // on the loop's phase.
                let start = Instant::now();
                let second = s.second_poll(start, interval) - start;
                assert!(
                    second >= interval / 2 && second < interval * 3 / 2,
                    "{second:?}"
                );
                assert_eq!(second.as_nanos() % interval.as_nanos(), s.phase.as_nanos());
                phases.insert(s.phase.as_secs());
            }
        }
        // 600 loops over 60 one-second slots: nearly every second has polls.
        assert!(phases.len() > 55, "{} distinct seconds", phases.len());
        // Few loops start within a few milliseconds per loop; the window never passes
        // the interval.
        assert!(
            Schedule::of(&key(1, "app_sessions"), interval, 4).first < Duration::from_millis(40)
        );
        let short = Duration::from_millis(20);
        let s = Schedule::of(&key(1, "app_sessions"), short, 1000);
        assert!(s.first < short && s.phase < short);
    }
}
