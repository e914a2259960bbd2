//! `desktop_status`: desktops per desktop group by power status, assignment and login
//! (session) state, from `GET /v2/{project_id}/connections/status`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CollectError, Collector, HuaweiTargetContext, PollFuture, plausible};
use crate::cloud::huawei::workspace::{self, API_CONNECTIONS_STATUS, DesktopGroupStatus};

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

    async fn poll_once(&self) -> Result<Vec<prometheus::proto::MetricFamily>, CollectError> {
        let project_id = self.ctx.project_id().await?;
        let answer = workspace::connections_status(
            &self.ctx.client,
            &self.ctx.target.workspace_endpoint,
            project_id,
        )
        .await?;

        // Groups with the same name (or no name) are summed rather than overwritten.
        let mut groups: BTreeMap<String, [u64; 13]> = BTreeMap::new();
        for g in &answer.statics {
            let name = match g.static_name.as_deref().map(str::trim) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => "unknown".to_string(),
            };
            let values = counts_of(g);
            for (field, n) in FIELDS.iter().zip(values) {
                plausible(
                    API_CONNECTIONS_STATUS,
                    || format!("desktop group {name:?}: {field}"),
                    n,
                )?;
            }
            let counts = groups.entry(name).or_default();
            for (sum, n) in counts.iter_mut().zip(values) {
                *sum = sum.saturating_add(n);
            }
        }

        let series = self.ctx.series(project_id);
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
        for (group, c) in &groups {
            let set = |vec: &prometheus::GaugeVec, label: &str, value: u64| {
                vec.with_label_values(&[group.as_str(), label])
                    .set(value as f64);
            };
            set(&desktops, "running", c[0]);
            set(&desktops, "stopped", c[1]);
            set(&desktops, "hibernated", c[2]);
            set(&desktops, "other", c[3]);
            set(&assignments, "attached", c[4]);
            set(&assignments, "unattached", c[5]);
            set(&assignments, "cannot_attach", c[6]);
            set(&assignments, "in_process", c[7]);
            set(&sessions, "in_use", c[8]);
            set(&sessions, "ready", c[9]);
            set(&sessions, "disconnected", c[10]);
            set(&sessions, "unregistered", c[11]);
            set(&sessions, "unknown", c[12]);
        }
        Ok(series.finish())
    }
}

/// Upstream field names, in the order of [`counts_of`].
const FIELDS: [&str; 13] = [
    "running_num",
    "stop_num",
    "hibernate_num",
    "other_num",
    "attached_num",
    "unattached_num",
    "cannot_attach_num",
    "in_process_num",
    "in_use_num",
    "ready_num",
    "disconnected_num",
    "unregistered_num",
    "unknown_num",
];

fn counts_of(g: &DesktopGroupStatus) -> [u64; 13] {
    [
        g.running_num,
        g.stop_num,
        g.hibernate_num,
        g.other_num,
        g.attached_num,
        g.unattached_num,
        g.cannot_attach_num,
        g.in_process_num,
        g.in_use_num,
        g.ready_num,
        g.disconnected_num,
        g.unregistered_num,
        g.unknown_num,
    ]
}

impl Collector for DesktopStatusCollector {
    fn name(&self) -> &'static str {
        "desktop_status"
    }

    fn poll(&self, _now: DateTime<Utc>) -> PollFuture<'_> {
        Box::pin(self.poll_once())
    }
}
