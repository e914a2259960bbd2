//! `desktop_status`: desktops per desktop group by power status, assignment and login
//! (session) state, from `GET /v2/{project_id}/connections/status`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{CollectError, Collector, Poll, PollFuture, plausible};
use crate::cloud::huawei::HuaweiTargetContext;
use crate::cloud::huawei::workspace::{
    self, API_CONNECTIONS_STATUS, DESKTOP_COUNTS, DesktopCountKind,
};

/// Desktops by power status.
pub const DESKTOPS: &str = "huaweicloud_workspace_desktops";
/// Desktops by assignment state.
pub const DESKTOP_ASSIGNMENTS: &str = "huaweicloud_workspace_desktop_assignments";
/// Desktops by login (session) state.
pub const DESKTOP_SESSIONS: &str = "huaweicloud_workspace_desktop_sessions";

/// Polls desktop login states of one target.
pub struct DesktopStatusCollector {
    /// The target's client, configuration and project ID.
    ctx: Arc<HuaweiTargetContext>,
}

impl DesktopStatusCollector {
    /// A collector for the target behind `ctx`.
    pub fn new(ctx: Arc<HuaweiTargetContext>) -> Self {
        DesktopStatusCollector { ctx }
    }

    async fn poll_once(
        &self,
        poll: Poll,
    ) -> Result<Vec<prometheus::proto::MetricFamily>, CollectError> {
        let client = self.ctx.client.for_poll(&poll.usage);
        let project_id = self.ctx.project_id(&client).await?;
        let answer =
            workspace::connections_status(&client, &self.ctx.target.workspace_endpoint, project_id)
                .await?;

        // Groups with the same name (or no name) are summed rather than overwritten.
        let mut groups: BTreeMap<String, [u64; 13]> = BTreeMap::new();
        for g in &answer.statics {
            let name = match g.static_name.trim() {
                "" => "unknown".to_string(),
                n => n.to_string(),
            };
            let values = g.counts();
            for (count, n) in DESKTOP_COUNTS.iter().zip(values) {
                plausible(
                    API_CONNECTIONS_STATUS,
                    || format!("desktop group {name:?}: {}", count.field),
                    n,
                )?;
            }
            let counts = groups.entry(name).or_default();
            for (sum, n) in counts.iter_mut().zip(values) {
                *sum = sum.saturating_add(n);
            }
        }

        let series = super::huawei_series(&self.ctx, project_id);
        let desktops = series.gauge_vec(
            DESKTOPS,
            "Desktops in the desktop group by power status (running, stopped, hibernated, other); refreshed every poll interval.",
            &["desktop_group", "status"],
        );
        let assignments = series.gauge_vec(
            DESKTOP_ASSIGNMENTS,
            "Desktops in the desktop group by assignment state (attached, unattached, cannot_attach, in_process); refreshed every poll interval.",
            &["desktop_group", "assignment"],
        );
        let sessions = series.gauge_vec(
            DESKTOP_SESSIONS,
            "Desktops in the desktop group by login state (in_use, ready = idle, disconnected, unregistered, unknown); refreshed every poll interval.",
            &["desktop_group", "session_state"],
        );
        for (group, values) in &groups {
            for (count, n) in DESKTOP_COUNTS.iter().zip(values) {
                let gauge = match count.kind {
                    DesktopCountKind::Power => &desktops,
                    DesktopCountKind::Assignment => &assignments,
                    DesktopCountKind::Login => &sessions,
                };
                gauge
                    .with_label_values(&[group.as_str(), count.label])
                    .set(*n as f64);
            }
        }
        Ok(series.finish())
    }
}

impl Collector for DesktopStatusCollector {
    fn poll(&self, poll: Poll) -> PollFuture<'_> {
        Box::pin(self.poll_once(poll))
    }

    /// One call a poll (the project's IAM discovery happens once, on the first).
    fn planned_api_calls(&self) -> Option<u64> {
        Some(1)
    }
}
