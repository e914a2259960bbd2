//! Collectors: the "decode → convert" step. One file per data source; each implements
//! [`Collector`], calls its cloud client, and turns the answers into a fresh set of
//! series. The [`scheduler`](crate::scheduler), not the collector, times each poll,
//! records success or failure and hands the series to the [`store`](crate::store).

pub mod app_sessions;
pub mod desktop_status;
pub mod online_users;
pub mod sag_online_clients;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, Opts, Registry};
use tokio::sync::OnceCell;

use crate::cloud::huawei::iam::{self, DiscoveryError};
use crate::cloud::huawei::{ApiError, HuaweiClient};
use crate::config::{HuaweiCollectorKind, HuaweiTarget};

/// What one poll produces: the collector's complete set of metric families.
pub type PollFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<MetricFamily>, CollectError>> + Send + 'a>>;

/// One data source of one target.
pub trait Collector: Send + Sync {
    /// The `collector` label value, e.g. `desktop_status`.
    fn name(&self) -> &'static str;

    /// Polls the cloud once and returns every series this collector exports. `now` is
    /// the poll's start time (injected so tests can pin it).
    fn poll(&self, now: DateTime<Utc>) -> PollFuture<'_>;

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

/// What every collector of one `[[huaweicloud]]` target shares: its configuration, its
/// signed client and its project ID (configured, or discovered once through IAM).
pub struct HuaweiTargetContext {
    /// The target's validated configuration.
    pub target: HuaweiTarget,
    /// The signed HTTP client for this target.
    pub client: HuaweiClient,
    /// The project ID, resolved on first use and then kept.
    project_id: OnceCell<String>,
}

impl HuaweiTargetContext {
    /// Creates the context; a configured project ID is used as is.
    pub fn new(target: HuaweiTarget, client: HuaweiClient) -> Self {
        let project_id = match &target.project_id {
            Some(p) => OnceCell::new_with(Some(p.clone())),
            None => OnceCell::new(),
        };
        HuaweiTargetContext {
            target,
            client,
            project_id,
        }
    }

    /// The project ID, discovering it through IAM the first time if needed. A failed
    /// discovery is retried on the next poll.
    pub async fn project_id(&self) -> Result<&str, DiscoveryError> {
        self.project_id
            .get_or_try_init(|| async {
                let id = iam::discover_project_id(
                    &self.client,
                    &self.target.iam_endpoint,
                    &self.target.region,
                )
                .await?;
                tracing::info!(target_name = %self.target.name, project_id = %id, "discovered project ID through IAM");
                Ok(id)
            })
            .await
            .map(String::as_str)
    }

    /// A series builder labelled with this target's region and project.
    pub fn series(&self, project_id: &str) -> SeriesBuilder {
        SeriesBuilder::new(&[("region", &self.target.region), ("project_id", project_id)])
    }
}

/// The collectors a Huawei target runs, in configuration order.
pub fn huawei_collectors(ctx: Arc<HuaweiTargetContext>) -> Vec<Arc<dyn Collector>> {
    ctx.target
        .collectors
        .iter()
        .map(|kind| -> Arc<dyn Collector> {
            match kind {
                HuaweiCollectorKind::DesktopStatus => {
                    Arc::new(desktop_status::DesktopStatusCollector::new(ctx.clone()))
                }
                HuaweiCollectorKind::OnlineUsers => {
                    Arc::new(online_users::OnlineUsersCollector::new(ctx.clone()))
                }
                HuaweiCollectorKind::AppSessions => {
                    Arc::new(app_sessions::AppSessionsCollector::new(ctx.clone()))
                }
            }
        })
        .collect()
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
    use super::{SeriesBuilder, snake_case};

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
