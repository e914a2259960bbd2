//! The scheduler: one polling loop per target × collector.
//!
//! The first poll starts at once, then one every interval. A loop runs its polls one
//! after another, so a poll never overlaps the previous one; when a poll outlasts the
//! interval, the ticks it covered are skipped with a warning. A poll past its deadline
//! is abandoned and counts as failed. Every poll is timed here, not in the collector,
//! and its outcome goes to the [`Store`]. A poll request (see
//! [`PollRequests`]) starts an extra poll at once; tests use it to drive polls without
//! waiting for the clock.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::cloud::retry::POLL_API_CALLS;
use crate::collectors::{CollectError, Collector};
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
    /// The job polling `collector` of target `target`.
    pub fn new(target: &str, collector: Arc<dyn Collector>, poll: &TargetPoll) -> Self {
        Job {
            key: SlotKey {
                target: target.to_string(),
                collector: collector.name(),
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
        let counted_poll = POLL_API_CALLS.scope(Cell::new(0), async {
            let result =
                tokio::time::timeout(job.poll.deadline, job.collector.poll(Utc::now())).await;
            (result, POLL_API_CALLS.with(Cell::get))
        });
        let (result, api_calls) = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            r = counted_poll => r,
        };
        let elapsed = started.elapsed();
        let outcome = match result {
            Err(_) => {
                tracing::warn!(target_name = %job.key.target, collector = job.key.collector, deadline_seconds = job.poll.deadline.as_secs_f64(), "poll abandoned: it passed its deadline; keeping the last good series");
                PollOutcome::Failed
            }
            Ok(Ok(series)) => {
                tracing::debug!(target_name = %job.key.target, collector = job.key.collector, duration_seconds = elapsed.as_secs_f64(), "poll succeeded");
                PollOutcome::Success(series)
            }
            Ok(Err(CollectError::Partial { series, failures })) => {
                tracing::warn!(target_name = %job.key.target, collector = job.key.collector, duration_seconds = elapsed.as_secs_f64(), failed_calls = failures.len(), "poll partly failed; exporting what succeeded");
                PollOutcome::Partial(series)
            }
            Ok(Err(e)) => {
                tracing::warn!(target_name = %job.key.target, collector = job.key.collector, duration_seconds = elapsed.as_secs_f64(), error = %e, "poll failed; keeping the last good series");
                PollOutcome::Failed
            }
        };
        store
            .self_metrics()
            .record_api_calls(&job.key.target, job.key.collector, api_calls);
        store.record(&job.key, outcome, epoch, elapsed, SystemTime::now());
        if elapsed >= interval {
            let skipped = (elapsed.as_secs_f64() / interval.as_secs_f64()).floor();
            tracing::warn!(
                target_name = %job.key.target,
                collector = job.key.collector,
                duration_seconds = elapsed.as_secs_f64(),
                interval_seconds = interval.as_secs_f64(),
                skipped_ticks = skipped,
                "poll took longer than the interval; skipping the ticks it overlapped"
            );
            // Next poll one full interval from now, not immediately.
            ticker.reset();
        }
    }
}
