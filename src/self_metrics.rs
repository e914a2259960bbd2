//! The exporter's own metrics: is each collector healthy, how long it polled, when it
//! last succeeded, and how every upstream request ended.
//!
//! Written by the scheduler (per poll) and by the cloud clients (per request); read by
//! the [`store`](crate::store) when it encodes the `/metrics` body.

use prometheus::core::Collector as _;
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, GaugeVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// The exporter's own metrics, in their own registry.
pub struct SelfMetrics {
    /// Holds every metric below; gathered on each body encode.
    registry: Registry,
    /// `workspace_exporter_collector_up{target,collector}`: 1 after a successful last poll.
    collector_up: IntGaugeVec,
    /// `workspace_exporter_collector_duration_seconds{target,collector}`: last poll's duration.
    collector_duration: GaugeVec,
    /// `workspace_exporter_collector_last_success_timestamp_seconds{target,collector}`.
    last_success: GaugeVec,
    /// `workspace_exporter_api_requests_total{target,api,code}`.
    api_requests: IntCounterVec,
    /// `workspace_exporter_poll_api_calls{target,collector}`: requests of the last poll.
    poll_api_calls: IntGaugeVec,
    /// `workspace_exporter_api_throttled_total{target,api}`.
    api_throttled: IntCounterVec,
    /// `workspace_exporter_collector_rate_limit_wait_seconds{target,collector}`: time
    /// the last poll spent queued behind the client-side rate limit, so an operator can
    /// tell a quota-bound poll from a slow cloud.
    rate_limit_wait: GaugeVec,
    /// `workspace_exporter_collector_planned_api_calls{target,collector}`: calls the
    /// next poll expects, to see how fresh the data can be at the rate limit.
    planned_api_calls: IntGaugeVec,
    /// `workspace_exporter_shard_info{shard,total_shards}`: 1 on a sharded replica.
    shard_info: IntGaugeVec,
    /// `workspace_exporter_shard_targets`: targets this replica polls (all, unless
    /// sharded).
    shard_targets: IntGauge,
    /// `workspace_exporter_credentials_expiry_timestamp_seconds{target}`: when the
    /// target's temporary credentials expire, to alert before they do (absent for keys
    /// that do not expire).
    credentials_expiry: GaugeVec,
    /// `workspace_exporter_credentials_refreshes_total{target,result}`.
    credentials_refreshes: IntCounterVec,
    /// `workspace_exporter_runtime_tasks`: alive async tasks (a leak shows as growth).
    runtime_tasks: IntGauge,
    /// `workspace_exporter_config_last_reload_successful`.
    reload_successful: IntGauge,
    /// `workspace_exporter_config_last_reload_success_timestamp_seconds`.
    reload_success_time: Gauge,
}

impl std::fmt::Debug for SelfMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfMetrics").finish_non_exhaustive()
    }
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SelfMetrics {
    /// Creates the registry and registers every self-metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let collector_up = IntGaugeVec::new(
            Opts::new(
                "workspace_exporter_collector_up",
                "1 if the collector's last poll of its target succeeded, 0 if it failed.",
            ),
            &["target", "collector"],
        )
        .expect("valid metric");
        let collector_duration = GaugeVec::new(
            Opts::new(
                "workspace_exporter_collector_duration_seconds",
                "Duration of the collector's last poll of its target, in seconds.",
            ),
            &["target", "collector"],
        )
        .expect("valid metric");
        let last_success = GaugeVec::new(
            Opts::new(
                "workspace_exporter_collector_last_success_timestamp_seconds",
                "Unix time of the collector's last successful poll of its target.",
            ),
            &["target", "collector"],
        )
        .expect("valid metric");
        let api_requests = IntCounterVec::new(
            Opts::new(
                "workspace_exporter_api_requests_total",
                "Upstream API requests by target, API operation and HTTP status code ('error' when no response arrived).",
            ),
            &["target", "api", "code"],
        )
        .expect("valid metric");
        let poll_api_calls = IntGaugeVec::new(
            Opts::new(
                "workspace_exporter_poll_api_calls",
                "Upstream API requests (retries included) made by the collector's last poll of its target.",
            ),
            &["target", "collector"],
        )
        .expect("valid metric");
        let api_throttled = IntCounterVec::new(
            Opts::new(
                "workspace_exporter_api_throttled_total",
                "Upstream API responses that said the exporter was throttled (HTTP 429 or a Throttling error code).",
            ),
            &["target", "api"],
        )
        .expect("valid metric");
        let rate_limit_wait = GaugeVec::new(
            Opts::new(
                "workspace_exporter_collector_rate_limit_wait_seconds",
                "Time the collector's last poll of its target spent queued behind the client-side rate limit (rate_limit_per_minute, and pauses a throttled answer asked for), in seconds.",
            ),
            &["target", "collector"],
        )
        .expect("valid metric");
        let planned_api_calls = IntGaugeVec::new(
            Opts::new(
                "workspace_exporter_collector_planned_api_calls",
                "Upstream API requests the collector's next poll of its target expects to make (the plan it chose from what the last poll learned).",
            ),
            &["target", "collector"],
        )
        .expect("valid metric");
        let shard_info = IntGaugeVec::new(
            Opts::new(
                "workspace_exporter_shard_info",
                "Always 1 on a replica that polls one shard of the targets; the labels say which shard of how many.",
            ),
            &["shard", "total_shards"],
        )
        .expect("valid metric");
        let shard_targets = IntGauge::new(
            "workspace_exporter_shard_targets",
            "Targets this replica polls: every configured target, or those of its shard.",
        )
        .expect("valid metric");
        let credentials_expiry = GaugeVec::new(
            Opts::new(
                "workspace_exporter_credentials_expiry_timestamp_seconds",
                "Unix time when the target's temporary credentials expire; absent for keys that do not expire.",
            ),
            &["target"],
        )
        .expect("valid metric");
        let credentials_refreshes = IntCounterVec::new(
            Opts::new(
                "workspace_exporter_credentials_refreshes_total",
                "Attempts to fetch the target's temporary credentials, by result (success or failure).",
            ),
            &["target", "result"],
        )
        .expect("valid metric");
        let runtime_tasks = IntGauge::new(
            "workspace_exporter_runtime_tasks",
            "Async tasks alive in the exporter when the metrics were last encoded (polls, connections, timers).",
        )
        .expect("valid metric");
        let reload_successful = IntGauge::new(
            "workspace_exporter_config_last_reload_successful",
            "1 if the last configuration load (at start or on reload) succeeded, 0 if it was rejected.",
        )
        .expect("valid metric");
        let reload_success_time = Gauge::new(
            "workspace_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load.",
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "workspace_exporter_build_info",
                "Always 1; the version label says which workspace-exporter is running.",
            ),
            &["version"],
        )
        .expect("valid metric");
        build_info.with_label_values(&[crate::VERSION]).set(1);
        // process_* (CPU, memory, file descriptors, threads, start time), read when the
        // body is encoded.
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("unique metric names");
        for c in [
            Box::new(collector_up.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(collector_duration.clone()),
            Box::new(last_success.clone()),
            Box::new(api_requests.clone()),
            Box::new(poll_api_calls.clone()),
            Box::new(api_throttled.clone()),
            Box::new(rate_limit_wait.clone()),
            Box::new(planned_api_calls.clone()),
            Box::new(runtime_tasks.clone()),
            Box::new(credentials_expiry.clone()),
            Box::new(credentials_refreshes.clone()),
            Box::new(shard_info.clone()),
            Box::new(shard_targets.clone()),
            Box::new(reload_successful.clone()),
            Box::new(reload_success_time.clone()),
            Box::new(build_info),
        ] {
            registry.register(c).expect("unique metric names");
        }
        SelfMetrics {
            registry,
            collector_up,
            collector_duration,
            last_success,
            api_requests,
            poll_api_calls,
            api_throttled,
            rate_limit_wait,
            planned_api_calls,
            runtime_tasks,
            credentials_expiry,
            credentials_refreshes,
            shard_info,
            shard_targets,
            reload_successful,
            reload_success_time,
        }
    }

    /// Records the outcome of one poll.
    pub fn record_poll(
        &self,
        target: &str,
        collector: &str,
        success: bool,
        duration_seconds: f64,
        now_unix_seconds: f64,
    ) {
        let labels = [target, collector];
        self.collector_up
            .with_label_values(&labels)
            .set(i64::from(success));
        self.collector_duration
            .with_label_values(&labels)
            .set(duration_seconds);
        if success {
            self.last_success
                .with_label_values(&labels)
                .set(now_unix_seconds);
        }
    }

    /// Records what a poll spent upstream: its requests, the time they spent queued
    /// behind the rate limit, and the requests the next poll expects.
    pub fn record_api_usage(
        &self,
        target: &str,
        collector: &str,
        calls: u64,
        rate_limit_wait_seconds: f64,
        planned_calls: u64,
    ) {
        let labels = [target, collector];
        self.poll_api_calls
            .with_label_values(&labels)
            .set(i64::try_from(calls).unwrap_or(i64::MAX));
        self.rate_limit_wait
            .with_label_values(&labels)
            .set(rate_limit_wait_seconds);
        self.planned_api_calls
            .with_label_values(&labels)
            .set(i64::try_from(planned_calls).unwrap_or(i64::MAX));
    }

    /// Declares a collector before its first poll: `up` is 0 until a poll succeeds.
    pub fn register_collector(&self, target: &str, collector: &str) {
        self.collector_up
            .with_label_values(&[target, collector])
            .set(0);
    }

    /// Counts one upstream request; `code` is the HTTP status or `error`.
    pub fn api_request(&self, target: &str, api: &str, code: &str) {
        self.api_requests
            .with_label_values(&[target, api, code])
            .inc();
    }

    /// Declares a target whose credentials expire: both refresh counters exist at 0
    /// before the first refresh.
    pub fn declare_credentials(&self, target: &str) {
        for result in ["success", "failure"] {
            self.credentials_refreshes
                .with_label_values(&[target, result]);
        }
    }

    /// Counts one refresh of a target's temporary credentials; a successful one also
    /// sets their expiry.
    pub fn credentials_refreshed(&self, target: &str, success: bool, expires_at: Option<f64>) {
        let result = if success { "success" } else { "failure" };
        self.credentials_refreshes
            .with_label_values(&[target, result])
            .inc();
        if let Some(at) = expires_at {
            self.credentials_expiry.with_label_values(&[target]).set(at);
        }
    }

    /// When `target`'s temporary credentials expire (Unix seconds), as their last
    /// refresh reported; `None` before one (read without creating the series).
    pub fn credentials_expiry(&self, target: &str) -> Option<f64> {
        self.credentials_expiry
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .find(|m| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == "target" && l.value() == target)
            })
            .map(|m| m.get_gauge().get_value())
    }

    /// Records this replica's shard (when sharded) and the number of targets it polls.
    pub fn record_shard(&self, shard: Option<crate::shard::Shard>, targets: usize) {
        if let Some(shard) = shard {
            self.shard_info
                .with_label_values(&[
                    shard.index.to_string().as_str(),
                    shard.total.to_string().as_str(),
                ])
                .set(1);
        }
        self.shard_targets
            .set(i64::try_from(targets).unwrap_or(i64::MAX));
    }

    /// Records a configuration load at `now_unix_seconds`.
    pub fn record_reload(&self, success: bool, now_unix_seconds: f64) {
        self.reload_successful.set(i64::from(success));
        if success {
            self.reload_success_time.set(now_unix_seconds);
        }
    }

    /// Forgets the per-collector series of a collector that no longer runs.
    pub fn forget_collector(&self, target: &str, collector: &str) {
        let labels = [target, collector];
        let _ = self.collector_up.remove_label_values(&labels);
        let _ = self.collector_duration.remove_label_values(&labels);
        let _ = self.last_success.remove_label_values(&labels);
        let _ = self.poll_api_calls.remove_label_values(&labels);
        let _ = self.rate_limit_wait.remove_label_values(&labels);
        let _ = self.planned_api_calls.remove_label_values(&labels);
    }

    /// Forgets the per-target API counters (`api_requests_total`,
    /// `api_throttled_total`) of a target that is no longer configured. A target added
    /// back later starts its counters from zero, which Prometheus reads as a reset.
    pub fn forget_target(&self, target: &str) {
        let _ = self.credentials_expiry.remove_label_values(&[target]);
        for vec in [
            &self.api_requests,
            &self.api_throttled,
            &self.credentials_refreshes,
        ] {
            for family in vec.collect() {
                for metric in family.get_metric() {
                    let labels: std::collections::HashMap<&str, &str> = metric
                        .get_label()
                        .iter()
                        .map(|pair| (pair.name(), pair.value()))
                        .collect();
                    if labels.get("target") == Some(&target) {
                        let _ = vec.remove(&labels);
                    }
                }
            }
        }
    }

    /// Declares the operations a target calls: their throttle counters exist, at 0,
    /// before anything is throttled, so `rate()` and dashboards see them from the start.
    pub fn declare_apis(&self, target: &str, apis: &[&str]) {
        for api in apis {
            self.api_throttled.with_label_values(&[target, api]);
        }
    }

    /// Counts one throttled response.
    pub fn api_throttled(&self, target: &str, api: &str) {
        self.api_throttled.with_label_values(&[target, api]).inc();
    }

    /// The current values of every self-metric.
    pub fn gather(&self) -> Vec<MetricFamily> {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            self.runtime_tasks
                .set(i64::try_from(handle.metrics().num_alive_tasks()).unwrap_or(i64::MAX));
        }
        self.registry.gather()
    }

    /// Number of self-metric series currently held (for tests and debugging).
    pub fn series_count(&self) -> usize {
        self.collector_up
            .collect()
            .iter()
            .map(|f| f.get_metric().len())
            .sum()
    }
}
