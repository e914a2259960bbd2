//! `app_sessions`: application-streaming sessions per server group and session state in
//! the lookback window, from `GET /v1/{project_id}/session/list-sessions`. Pages of 100
//! are read one at a time and folded into counts, so memory does not grow with the
//! number of sessions.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CollectError, Collector, HuaweiTargetContext, PollFuture, plausible, snake_case};
use crate::cloud::huawei::workspace_app::{
    self, API_LIST_SESSIONS, ListSessionsQuery, MAX_PAGE_SIZE, SessionSummary,
};

/// App sessions gauge.
pub const APP_SESSIONS: &str = "huaweicloud_workspace_app_sessions";

/// Session states exported for every server group seen, zeros included.
pub const KNOWN_STATES: [&str; 5] = [
    "active",
    "disconnected",
    "appc_init",
    "signed_out",
    "init_fail",
];

/// Counts of sessions per server group and state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SessionTally {
    /// server group → session state → sessions.
    pub groups: BTreeMap<String, BTreeMap<String, u64>>,
}

impl SessionTally {
    /// Counts one session.
    pub fn add(&mut self, session: &SessionSummary) {
        let group = [&session.app_server_group_name, &session.app_server_group_id]
            .into_iter()
            .filter_map(|v| v.as_deref().map(str::trim))
            .find(|v| !v.is_empty())
            .unwrap_or("unknown");
        let state = snake_case(session.session_state.as_deref().unwrap_or(""));
        let states = match self.groups.get_mut(group) {
            Some(s) => s,
            None => self
                .groups
                .entry(group.to_string())
                .or_insert_with(|| KNOWN_STATES.iter().map(|s| (s.to_string(), 0)).collect()),
        };
        *states.entry(state).or_insert(0) += 1;
    }
}

/// Polls application-streaming sessions of one target.
pub struct AppSessionsCollector {
    /// The target's client, configuration and project ID.
    ctx: Arc<HuaweiTargetContext>,
}

impl AppSessionsCollector {
    /// A collector for the target behind `ctx`.
    pub fn new(ctx: Arc<HuaweiTargetContext>) -> Self {
        AppSessionsCollector { ctx }
    }

    async fn poll_once(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<prometheus::proto::MetricFamily>, CollectError> {
        let project_id = self.ctx.project_id().await?;
        let lookback = chrono::Duration::from_std(self.ctx.target.session_lookback)
            .unwrap_or(chrono::Duration::MAX);
        let begin = now
            .checked_sub_signed(lookback)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut tally = SessionTally::default();
        let mut query = ListSessionsQuery {
            begin,
            end: now,
            limit: MAX_PAGE_SIZE,
            offset: 0,
        };
        let mut total: Option<u64> = None;
        let data_error = |problem: String| CollectError::Data {
            api: API_LIST_SESSIONS,
            problem,
        };
        loop {
            let page = workspace_app::list_sessions(
                &self.ctx.client,
                &self.ctx.target.app_endpoint,
                project_id,
                &query,
            )
            .await?;
            let expected = *total.get_or_insert(page.count);
            plausible(API_LIST_SESSIONS, || "count".to_string(), page.count)?;
            if page.count != expected {
                return Err(data_error(format!(
                    "count changed while paging (first page said {expected}, offset {} says {}); the poll will be retried",
                    query.offset, page.count
                )));
            }
            if page.items.len() > query.limit as usize {
                return Err(data_error(format!(
                    "page at offset {} has {} items, more than the requested limit {}",
                    query.offset,
                    page.items.len(),
                    query.limit
                )));
            }
            for item in &page.items {
                tally.add(item);
            }
            query.offset += page.items.len() as u64;
            if query.offset >= expected {
                break;
            }
            if page.items.is_empty() {
                return Err(data_error(format!(
                    "page at offset {} is empty although count says {expected} sessions",
                    query.offset
                )));
            }
        }

        let series = self.ctx.series(project_id);
        let gauge = series.gauge_vec(
            APP_SESSIONS,
            "Application-streaming sessions started in the lookback window, by server group and session state; refreshed every poll interval.",
            &["server_group", "session_state"],
        );
        for (group, states) in &tally.groups {
            for (state, n) in states {
                gauge
                    .with_label_values(&[group.as_str(), state.as_str()])
                    .set(*n as f64);
            }
        }
        Ok(series.finish())
    }
}

impl Collector for AppSessionsCollector {
    fn name(&self) -> &'static str {
        "app_sessions"
    }

    fn poll(&self, now: DateTime<Utc>) -> PollFuture<'_> {
        Box::pin(self.poll_once(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: Option<&str>, id: Option<&str>, state: Option<&str>) -> SessionSummary {
        SessionSummary {
            app_server_group_name: name.map(str::to_string),
            app_server_group_id: id.map(str::to_string),
            session_state: state.map(str::to_string),
        }
    }

    #[test]
    fn group_falls_back_to_id_then_unknown_and_states_are_snake_cased() {
        let mut t = SessionTally::default();
        t.add(&s(Some("Group A"), Some("id-a"), Some("Active")));
        t.add(&s(Some(""), Some("id-b"), Some("AppcInit")));
        t.add(&s(None, None, Some("Reconnecting")));
        assert_eq!(t.groups["Group A"]["active"], 1);
        assert_eq!(t.groups["Group A"]["init_fail"], 0);
        assert_eq!(t.groups["id-b"]["appc_init"], 1);
        assert_eq!(t.groups["unknown"]["reconnecting"], 1);
        assert!(!t.groups["Group A"].contains_key("reconnecting"));
        assert_eq!(t.groups["unknown"].len(), 6);
    }
}
