//! `online_users`: users connected now, from the most recent hourly bucket of
//! `GET /v2/{project_id}/connections/online-users?query_type=DAY`.

use std::sync::Arc;

use super::{CollectError, Collector, Poll, PollFuture, plausible};
use crate::cloud::huawei::HuaweiTargetContext;
use crate::cloud::huawei::workspace::{self, API_ONLINE_USERS};

/// Online users gauge.
pub const ONLINE_USERS: &str = "huaweicloud_workspace_online_users";

/// Polls the online-user count of one target.
pub struct OnlineUsersCollector {
    /// The target's client, configuration and project ID.
    ctx: Arc<HuaweiTargetContext>,
}

impl OnlineUsersCollector {
    /// A collector for the target behind `ctx`.
    pub fn new(ctx: Arc<HuaweiTargetContext>) -> Self {
        OnlineUsersCollector { ctx }
    }

    async fn poll_once(
        &self,
        poll: Poll,
    ) -> Result<Vec<prometheus::proto::MetricFamily>, CollectError> {
        let client = self.ctx.client.for_poll(&poll.usage);
        let project_id = self.ctx.project_id(&client).await?;
        let answer = workspace::online_users(
            &client,
            &self.ctx.target.workspace_endpoint,
            project_id,
            "DAY",
        )
        .await?;
        let series = super::huawei_series(&self.ctx, project_id);
        match answer.time_counts.last() {
            Some(latest) => {
                let (_, count) =
                    workspace::parse_time_count(latest).map_err(|e| CollectError::Data {
                        api: API_ONLINE_USERS,
                        problem: e.to_string(),
                    })?;
                let count = plausible(
                    API_ONLINE_USERS,
                    || format!("time_counts entry {latest:?}"),
                    count,
                )?;
                series
                    .gauge_vec(
                        ONLINE_USERS,
                        "Users logged in to Workspace desktops in the most recent hourly bucket of today's online-user history; refreshed every poll interval.",
                        &[],
                    )
                    .with_label_values(&[] as &[&str])
                    .set(count as f64);
            }
            None => {
                tracing::debug!(target_name = %self.ctx.target.name, "online_users: time_counts is empty; no sample this poll");
            }
        }
        Ok(series.finish())
    }
}

impl Collector for OnlineUsersCollector {
    fn poll(&self, poll: Poll) -> PollFuture<'_> {
        Box::pin(self.poll_once(poll))
    }

    /// One call a poll (the project's IAM discovery happens once, on the first).
    fn planned_api_calls(&self) -> Option<u64> {
        Some(1)
    }
}
