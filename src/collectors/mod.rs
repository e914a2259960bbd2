//! Collectors: the "decode → convert" step. One file per data source; each implements
//! [`Collector`], calls its cloud client, and turns the answers into a fresh set of
//! series. Every collector is one row of [`REGISTRY`], which configuration checking,
//! the exporter's wiring and `--config.check` read. The [`scheduler`](crate::scheduler), not the collector, times each poll,
//! records success or failure and hands the series to the [`store`](crate::store).

pub mod app_sessions;
pub mod desktop_status;
pub mod online_users;
pub mod sag_online_clients;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::cloud::alibaba::SagTargetContext;
use crate::cloud::alibaba::sag::{
    API_DESCRIBE_CLIENT_USERS, API_DESCRIBE_ONLINE_CLIENT_STATISTICS,
    API_DESCRIBE_USER_ONLINE_CLIENTS,
};
use crate::cloud::huawei::iam::DiscoveryError;
use crate::cloud::huawei::workspace::{API_CONNECTIONS_STATUS, API_ONLINE_USERS};
use crate::cloud::huawei::workspace_app::{API_LIST_APP_SERVER_GROUPS, API_LIST_SESSIONS};
use crate::cloud::huawei::{ApiError, HuaweiTargetContext};
use crate::cloud::quota::PollUsage;
use crate::config::ConfigError;
use chrono::{DateTime, Utc};
use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, Opts, Registry};

/// Every collector: its name (the `collector` label and the value in a target's
/// `collectors` list), whether a target runs it when its list is not given, a line for
/// `--config.check` and the README, and how to build it for a target of its cloud.
/// Adding a collector is one file and one row here.
pub static REGISTRY: &[Registration] = &[
    Registration {
        name: "desktop_status",
        default_enabled: true,
        apis: &[API_CONNECTIONS_STATUS],
        summary: "desktops per desktop group by power, assignment and login state",
        factory: Factory::Huawei(|t| Arc::new(desktop_status::DesktopStatusCollector::new(t))),
    },
    Registration {
        name: "online_users",
        default_enabled: true,
        apis: &[API_ONLINE_USERS],
        summary: "users online now (latest bucket of today's history)",
        factory: Factory::Huawei(|t| Arc::new(online_users::OnlineUsersCollector::new(t))),
    },
    Registration {
        name: "app_sessions",
        default_enabled: true,
        apis: &[API_LIST_SESSIONS, API_LIST_APP_SERVER_GROUPS],
        summary: "application-streaming sessions per server group and state",
        factory: Factory::Huawei(|t| Arc::new(app_sessions::AppSessionsCollector::new(t))),
    },
    Registration {
        name: "sag_online_clients",
        default_enabled: true,
        apis: &[
            API_DESCRIBE_USER_ONLINE_CLIENTS,
            API_DESCRIBE_CLIENT_USERS,
            API_DESCRIBE_ONLINE_CLIENT_STATISTICS,
        ],
        summary: "SAG APP client accounts online, and since when",
        factory: Factory::AlibabaSag(|t| {
            Arc::new(sag_online_clients::SagOnlineClientsCollector::new(t))
        }),
    },
];

/// One row of [`REGISTRY`].
#[derive(Debug)]
pub struct Registration {
    /// The collector's name.
    pub name: &'static str,
    /// Whether a target without a `collectors` list runs it.
    pub default_enabled: bool,
    /// The upstream operations it calls (the `api` label), so their counters start at
    /// 0 before the first call.
    pub apis: &'static [&'static str],
    /// What it exports, in a few words.
    pub summary: &'static str,
    /// How to build it; its variant says which cloud's targets run it.
    pub factory: Factory,
}

/// How a collector is built from a target of its cloud.
#[derive(Debug, Clone, Copy)]
pub enum Factory {
    /// A `[[huaweicloud]]` collector.
    Huawei(fn(Arc<HuaweiTargetContext>) -> Arc<dyn Collector>),
    /// An `[[alibabacloud_sag]]` collector.
    AlibabaSag(fn(Arc<SagTargetContext>) -> Arc<dyn Collector>),
}

/// The clouds, by their configuration section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// `[[huaweicloud]]`.
    Huawei,
    /// `[[alibabacloud_sag]]`.
    AlibabaSag,
}

impl Cloud {
    /// The configuration section of its targets.
    pub fn section(self) -> &'static str {
        match self {
            Cloud::Huawei => "huaweicloud",
            Cloud::AlibabaSag => "alibabacloud_sag",
        }
    }
}

impl Registration {
    /// The cloud whose targets run this collector.
    pub fn cloud(&self) -> Cloud {
        match self.factory {
            Factory::Huawei(_) => Cloud::Huawei,
            Factory::AlibabaSag(_) => Cloud::AlibabaSag,
        }
    }
}

/// The collectors a target of `cloud` runs: those named in its `collectors` list
/// (`written`, as configuration checked it: no duplicates), or the cloud's
/// default-enabled ones when the list is empty (not given). `index` is the target's
/// position in its section, for the error's key.
pub fn selected(
    cloud: Cloud,
    index: usize,
    written: &[String],
) -> Result<Vec<&'static Registration>, ConfigError> {
    let of_cloud = || REGISTRY.iter().filter(move |r| r.cloud() == cloud);
    if written.is_empty() {
        return Ok(of_cloud().filter(|r| r.default_enabled).collect());
    }
    written
        .iter()
        .enumerate()
        .map(|(j, name)| {
            of_cloud().find(|r| r.name == name).ok_or_else(|| {
                let valid: Vec<&str> = of_cloud().map(|r| r.name).collect();
                ConfigError::new(
                    format!("{}[{index}].collectors[{j}]", cloud.section()),
                    format!(
                        "unknown collector {name:?}; valid collectors: {}",
                        valid.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// Checks every target's `collectors` list against [`REGISTRY`]; returns how many
/// collectors the configuration runs in all.
pub fn check(config: &crate::config::Config) -> Result<usize, ConfigError> {
    let mut count = 0;
    for (i, t) in config.huaweicloud.iter().enumerate() {
        count += selected(Cloud::Huawei, i, &t.collectors)?.len();
    }
    for (i, t) in config.alibabacloud_sag.iter().enumerate() {
        count += selected(Cloud::AlibabaSag, i, &t.collectors)?.len();
    }
    Ok(count)
}

/// What one poll produces: the collector's complete set of metric families.
pub type PollFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<MetricFamily>, CollectError>> + Send + 'a>>;

/// What a collector gets for one poll from the scheduler.
#[derive(Debug, Clone)]
pub struct Poll {
    /// The poll's start time (injected so tests can pin it).
    pub now: DateTime<Utc>,
    /// Where the poll's calls and rate-limit waits are counted.
    pub usage: Arc<PollUsage>,
}

/// One data source of one target.
pub trait Collector: Send + Sync {
    /// Polls the cloud once and returns every series this collector exports. Its
    /// calls go through clients made for this poll (`for_poll(&poll.usage)`), so the
    /// scheduler can count them.
    fn poll(&self, poll: Poll) -> PollFuture<'_>;

    /// Upstream calls the next poll expects to make, when the collector plans its
    /// polls; `None` lets the scheduler assume as many as the last poll made.
    fn planned_api_calls(&self) -> Option<u64> {
        None
    }
}

/// Counts above this are treated as corrupt upstream data rather than exported: no
/// Workspace tenant has ten million desktops, users or sessions in one group.
pub const MAX_PLAUSIBLE_COUNT: u64 = 10_000_000;

/// Fails with a data error when `value` is above [`MAX_PLAUSIBLE_COUNT`].
pub fn plausible(
    api: &'static str,
    what: impl FnOnce() -> String,
    value: u64,
) -> Result<u64, CollectError> {
    if value > MAX_PLAUSIBLE_COUNT {
        return Err(CollectError::Data {
            api,
            problem: format!(
                "{} = {value} is implausible (more than {MAX_PLAUSIBLE_COUNT})",
                what()
            ),
        });
    }
    Ok(value)
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// An upstream call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The project ID could not be discovered.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// Part of the poll failed: `series` holds what the rest produced.
    #[error("{} of the poll's calls failed; first: {}", .failures.len(), .failures.first().map(String::as_str).unwrap_or(""))]
    Partial {
        /// Series of the parts that succeeded.
        series: Vec<MetricFamily>,
        /// One line per failed part.
        failures: Vec<String>,
    },
    /// The upstream answered, but what it said does not add up.
    #[error("{api}: {problem}")]
    Data {
        /// The API operation.
        api: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// Builds one poll's series in a fresh registry, so a snapshot never mixes polls.
pub struct SeriesBuilder {
    /// Fresh per poll.
    registry: Registry,
    /// Labels every series carries (`region`, `project_id`); given to each family so
    /// that a series' labels come out sorted by name, the same way in every poll.
    const_labels: HashMap<String, String>,
}

impl SeriesBuilder {
    /// A builder whose series all carry `const_labels`.
    pub fn new(const_labels: &[(&str, &str)]) -> Self {
        SeriesBuilder {
            registry: Registry::new(),
            const_labels: const_labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Registers a gauge family with the given variable labels.
    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
        let opts = Opts::new(name, help).const_labels(self.const_labels.clone());
        let gauge = GaugeVec::new(opts, labels).expect("valid metric definition");
        self.registry
            .register(Box::new(gauge.clone()))
            .expect("metric names are unique within a collector");
        gauge
    }

    /// The finished series.
    pub fn finish(self) -> Vec<MetricFamily> {
        self.registry.gather()
    }
}

/// A series builder labelled with a Huawei target's region and project.
pub fn huawei_series(ctx: &HuaweiTargetContext, project_id: &str) -> SeriesBuilder {
    SeriesBuilder::new(&[("region", &ctx.target.region), ("project_id", project_id)])
}

/// Turns an upstream value such as `AppcInit` or `Some Thing` into `appc_init` /
/// `some_thing`, the shape of label values.
pub fn snake_case(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let mut prev: Option<char> = None;
    for c in value.trim().chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            prev = Some(c);
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev = None;
        }
    }
    let trimmed = out.trim_end_matches('_');
    if trimmed.is_empty() {
        "unknown".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{Cloud, REGISTRY, SeriesBuilder, selected, snake_case};

    #[test]
    fn a_target_without_a_list_runs_the_default_collectors() {
        let names = |cloud| -> Vec<&str> {
            selected(cloud, 0, &[])
                .unwrap()
                .iter()
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(
            names(Cloud::Huawei),
            ["desktop_status", "online_users", "app_sessions"]
        );
        assert_eq!(names(Cloud::AlibabaSag), ["sag_online_clients"]);
        let mut all: Vec<&str> = REGISTRY.iter().map(|r| r.name).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), REGISTRY.len(), "collector names are unique");
    }

    #[test]
    fn an_unknown_collector_is_named() {
        let list = ["desktop_status".to_string(), "nope".to_string()];
        let err = selected(Cloud::Huawei, 0, &list).unwrap_err();
        assert_eq!(err.key, "huaweicloud[0].collectors[1]");
        assert!(err.problem.contains("\"nope\""), "{err}");
        assert!(
            err.problem
                .contains("desktop_status, online_users, app_sessions")
        );
        // A collector of another cloud is unknown here.
        let err = selected(Cloud::AlibabaSag, 2, &["app_sessions".to_string()]).unwrap_err();
        assert_eq!(err.key, "alibabacloud_sag[2].collectors[0]");
    }

    #[test]
    fn every_series_has_its_labels_sorted_by_name() {
        let series = SeriesBuilder::new(&[("region", "cn-north-4"), ("project_id", "p1")]);
        series
            .gauge_vec(
                "x_desktops",
                "Desktops.",
                &["session_state", "desktop_group"],
            )
            .with_label_values(&["in_use", "Finance"])
            .set(3.0);
        let rendered = crate::encoding::render(&series.finish());
        assert_eq!(
            std::str::from_utf8(&rendered[0].samples).unwrap(),
            "x_desktops{desktop_group=\"Finance\",project_id=\"p1\",region=\"cn-north-4\",session_state=\"in_use\"} 3\n"
        );
    }

    #[test]
    fn snake_case_matches_documented_states() {
        assert_eq!(snake_case("Active"), "active");
        assert_eq!(snake_case("AppcInit"), "appc_init");
        assert_eq!(snake_case("SignedOut"), "signed_out");
        assert_eq!(snake_case("InitFail"), "init_fail");
        assert_eq!(snake_case("Pre-Connect State"), "pre_connect_state");
        assert_eq!(snake_case("  "), "unknown");
        assert_eq!(snake_case("SESSION_LOCKED"), "session_locked");
    }
}
