//! `app_sessions`: application-streaming sessions per server group and session state in
//! the lookback window, from `GET /v1/{project_id}/session/list-sessions`.
//!
//! Two plans give the same series. Paging reads every session, 100 per page, folding
//! each page into counts so memory does not grow with the number of sessions.
//! Counting lists the server groups and asks list-sessions for the `count` of each
//! group and state with `limit=1`, which costs less API quota when sessions are many
//! and groups few. Each poll takes whichever plan the last poll says is cheaper, and
//! falls back to paging when the counts do not add up to the total.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CollectError, Collector, HuaweiTargetContext, PollFuture, plausible, snake_case};
use futures_util::StreamExt;

use crate::cloud::huawei::workspace_app::{
    self, API_LIST_APP_SERVER_GROUPS, API_LIST_SESSIONS, ListSessionsQuery, MAX_PAGE_SIZE,
    ServerGroup, SessionPage, SessionSummary,
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
        let raw = session.session_state.as_deref().unwrap_or("");
        // The documented states map to known labels without allocating; anything else
        // is snake-cased.
        let state = match UPSTREAM_STATES
            .iter()
            .find(|(upstream, _)| *upstream == raw)
        {
            Some((_, label)) => std::borrow::Cow::Borrowed(*label),
            None => std::borrow::Cow::Owned(snake_case(raw)),
        };
        let states = match self.groups.get_mut(group) {
            Some(s) => s,
            None => self
                .groups
                .entry(group.to_string())
                .or_insert_with(|| KNOWN_STATES.iter().map(|s| (s.to_string(), 0)).collect()),
        };
        match states.get_mut(state.as_ref()) {
            Some(n) => *n += 1,
            None => {
                states.insert(state.into_owned(), 1);
            }
        }
    }
}

impl SessionTally {
    /// Writes the counts into a gauge labelled `server_group`, `session_state`.
    pub fn set(&self, gauge: &prometheus::GaugeVec) {
        for (group, states) in &self.groups {
            for (state, n) in states {
                gauge
                    .with_label_values(&[group.as_str(), state.as_str()])
                    .set(*n as f64);
            }
        }
    }
}

/// Upstream session states and their label values; the count plan asks for each.
pub const UPSTREAM_STATES: [(&str, &str); 5] = [
    ("Active", "active"),
    ("Disconnected", "disconnected"),
    ("AppcInit", "appc_init"),
    ("SignedOut", "signed_out"),
    ("InitFail", "init_fail"),
];

/// How a poll reads the sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPlan {
    /// Read every session, 100 per page: ⌈N/100⌉ calls.
    Paging,
    /// Ask for counts (`limit=1`) per server group and state: ⌈G/100⌉ + 5G + 1 calls.
    Counts,
    /// Whichever of the two the last poll says is cheaper.
    Auto,
}

/// Calls of a paging poll for `sessions` sessions.
pub fn paging_calls(sessions: u64) -> u64 {
    sessions.div_ceil(u64::from(MAX_PAGE_SIZE)).max(1)
}

/// Calls of a count poll for `groups` server groups: the group listing, five counts
/// per group, and one total to check that every session was counted.
pub fn count_calls(groups: u64) -> u64 {
    groups.div_ceil(u64::from(MAX_PAGE_SIZE)).max(1) + 5 * groups + 1
}

/// What the last poll learned, to plan the next one.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// Sessions in the window.
    sessions: Option<u64>,
    /// Server groups listed.
    groups: Option<u64>,
}

/// Polls application-streaming sessions of one target.
pub struct AppSessionsCollector {
    /// The target's client, configuration and project ID.
    ctx: Arc<HuaweiTargetContext>,
    /// What the last poll saw.
    seen: std::sync::Mutex<Seen>,
}

/// Query parameters shared by every call of one poll.
struct Window<'a> {
    project_id: &'a str,
    begin: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl AppSessionsCollector {
    /// A collector for the target behind `ctx`.
    pub fn new(ctx: Arc<HuaweiTargetContext>) -> Self {
        AppSessionsCollector {
            ctx,
            seen: std::sync::Mutex::new(Seen::default()),
        }
    }

    async fn poll_once(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<prometheus::proto::MetricFamily>, CollectError> {
        let project_id = self.ctx.project_id().await?;
        let lookback = chrono::Duration::from_std(self.ctx.target.session_lookback)
            .unwrap_or(chrono::Duration::MAX);
        let window = Window {
            project_id,
            begin: now
                .checked_sub_signed(lookback)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            end: now,
        };
        let plan = match self.ctx.target.session_plan {
            SessionPlan::Auto => self.plan(&window).await?,
            fixed => fixed,
        };
        let tally = match plan {
            SessionPlan::Counts => match self.by_counts(&window).await? {
                Some(tally) => tally,
                None => self.by_paging(&window).await?,
            },
            _ => self.by_paging(&window).await?,
        };
        let series = self.ctx.series(project_id);
        let gauge = series.gauge_vec(
            APP_SESSIONS,
            "Application-streaming sessions started in the lookback window, by server group and session state; refreshed every poll interval.",
            &["server_group", "session_state"],
        );
        tally.set(&gauge);
        Ok(series.finish())
    }

    /// Chooses the cheaper plan from what the last poll saw. Without history, one
    /// `limit=1` call gives the number of sessions; when paging them would take more
    /// than a few calls, the server groups are counted too.
    async fn plan(&self, window: &Window<'_>) -> Result<SessionPlan, CollectError> {
        let mut seen = *self.seen.lock().expect("plan lock");
        if seen.sessions.is_none() {
            seen.sessions = Some(self.count(window, None, None).await?);
        }
        let sessions = seen.sessions.unwrap_or(0);
        if seen.groups.is_none() && paging_calls(sessions) > count_calls(1) {
            seen.groups = Some(self.list_groups(window).await?.len() as u64);
        }
        *self.seen.lock().expect("plan lock") = seen;
        Ok(match seen.groups {
            Some(groups) if count_calls(groups) < paging_calls(sessions) => SessionPlan::Counts,
            _ => SessionPlan::Paging,
        })
    }

    /// Reads every session of the window, page by page. The first page gives the
    /// total and the server's page size; the remaining pages are fetched with up to
    /// `concurrency` in flight, and each must hold exactly the sessions its offset
    /// promises, so no session is missed or counted twice.
    async fn by_paging(&self, window: &Window<'_>) -> Result<SessionTally, CollectError> {
        let mut tally = SessionTally::default();
        let first = self.page(window, 0).await?;
        let expected = plausible(API_LIST_SESSIONS, || "count".to_string(), first.count)?;
        let stride = first.items.len() as u64;
        check_page(0, stride, expected, MAX_PAGE_SIZE, &first)?;
        for item in &first.items {
            tally.add(item);
        }
        {
            let mut seen = self.seen.lock().expect("plan lock");
            seen.sessions = Some(expected);
        }
        if stride >= expected {
            return Ok(tally);
        }
        let mut pages = futures_util::stream::iter((stride..expected).step_by(stride as usize))
            .map(|offset| async move { (offset, self.page(window, offset).await) })
            .buffer_unordered(self.ctx.target.concurrency);
        while let Some((offset, page)) = pages.next().await {
            let page = page?;
            check_page(offset, stride, expected, MAX_PAGE_SIZE, &page)?;
            for item in &page.items {
                tally.add(item);
            }
        }
        Ok(tally)
    }

    /// One page of every session in the window.
    async fn page(&self, window: &Window<'_>, offset: u64) -> Result<SessionPage, CollectError> {
        let mut query = ListSessionsQuery::window(window.begin, window.end);
        query.offset = offset;
        Ok(workspace_app::list_sessions(
            &self.ctx.client,
            &self.ctx.target.app_endpoint,
            window.project_id,
            &query,
        )
        .await?)
    }

    /// Counts sessions per listed server group and known state. Returns `None` when
    /// the counts do not add up to the total (sessions in other states, or outside
    /// the listed groups): only paging sees those.
    async fn by_counts(&self, window: &Window<'_>) -> Result<Option<SessionTally>, CollectError> {
        let groups = self.list_groups(window).await?;
        let total = self.count(window, None, None).await?;
        let queries: Vec<(usize, usize)> = (0..groups.len())
            .flat_map(|g| (0..UPSTREAM_STATES.len()).map(move |s| (g, s)))
            .collect();
        let counts: Vec<Result<(usize, usize, u64), CollectError>> =
            futures_util::stream::iter(queries)
                .map(|(g, s)| {
                    let group_id = groups[g].id.clone();
                    async move {
                        let n = self
                            .count(window, Some(UPSTREAM_STATES[s].0), Some(group_id))
                            .await?;
                        Ok((g, s, n))
                    }
                })
                .buffer_unordered(self.ctx.target.concurrency)
                .collect()
                .await;
        let mut per_group = vec![[0u64; 5]; groups.len()];
        let mut sum = 0u64;
        for c in counts {
            let (g, s, n) = c?;
            per_group[g][s] = n;
            sum = sum.saturating_add(n);
        }
        {
            let mut seen = self.seen.lock().expect("plan lock");
            seen.sessions = Some(total);
            seen.groups = Some(groups.len() as u64);
        }
        if sum != total {
            tracing::debug!(
                target_name = %self.ctx.target.name,
                counted = sum,
                total,
                "session counts do not add up (other states, ungrouped sessions, or churn); paging instead"
            );
            return Ok(None);
        }
        let mut tally = SessionTally::default();
        for (group, counts) in groups.iter().zip(per_group) {
            if counts.iter().all(|n| *n == 0) {
                continue;
            }
            let label = group
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or(group.id.as_str());
            let states = tally
                .groups
                .entry(label.to_string())
                .or_insert_with(|| KNOWN_STATES.iter().map(|s| (s.to_string(), 0)).collect());
            for ((_, state), n) in UPSTREAM_STATES.iter().zip(counts) {
                *states.entry(state.to_string()).or_insert(0) += n;
            }
        }
        Ok(Some(tally))
    }

    /// The number of sessions matching the filters, from one `limit=1` call.
    async fn count(
        &self,
        window: &Window<'_>,
        state: Option<&'static str>,
        group: Option<String>,
    ) -> Result<u64, CollectError> {
        let mut query = ListSessionsQuery::window(window.begin, window.end);
        query.limit = 1;
        query.session_state = state;
        query.app_server_group_id = group;
        let page = workspace_app::list_sessions(
            &self.ctx.client,
            &self.ctx.target.app_endpoint,
            window.project_id,
            &query,
        )
        .await?;
        plausible(API_LIST_SESSIONS, || "count".to_string(), page.count)
    }

    /// Every server group, page by page.
    async fn list_groups(&self, window: &Window<'_>) -> Result<Vec<ServerGroup>, CollectError> {
        let mut groups = Vec::new();
        loop {
            let page = workspace_app::list_app_server_groups(
                &self.ctx.client,
                &self.ctx.target.app_endpoint,
                window.project_id,
                groups.len() as u64,
            )
            .await?;
            plausible(
                API_LIST_APP_SERVER_GROUPS,
                || "count".to_string(),
                page.count,
            )?;
            let before = groups.len();
            groups.extend(page.items);
            if groups.len() as u64 >= page.count {
                return Ok(groups);
            }
            if groups.len() == before {
                return Err(CollectError::Data {
                    api: API_LIST_APP_SERVER_GROUPS,
                    problem: format!(
                        "page at offset {before} is empty although count says {} groups",
                        page.count
                    ),
                });
            }
        }
    }
}

/// Checks one page of a paging poll: the page at `offset` must repeat the first page's
/// `count` (`expected`) and hold `min(stride, expected - offset)` sessions, `stride`
/// being the first page's size. At offset 0 (where the stride is learnt) it must hold
/// at most `limit`, and something unless the window is empty.
pub fn check_page(
    offset: u64,
    stride: u64,
    expected: u64,
    limit: u32,
    page: &SessionPage,
) -> Result<(), CollectError> {
    let data_error = |problem: String| CollectError::Data {
        api: API_LIST_SESSIONS,
        problem,
    };
    if page.count != expected {
        return Err(data_error(format!(
            "count changed while paging (first page said {expected}, offset {offset} says {}); the poll will be retried",
            page.count
        )));
    }
    let items = page.items.len() as u64;
    if items > u64::from(limit) {
        return Err(data_error(format!(
            "page at offset {offset} has {items} items, more than the requested limit {limit}"
        )));
    }
    let want = if offset == 0 {
        items.max(u64::from(expected > 0))
    } else {
        stride.min(expected.saturating_sub(offset))
    };
    if items == 0 && want > 0 {
        return Err(data_error(format!(
            "page at offset {offset} is empty although count says {expected} sessions"
        )));
    }
    if items != want {
        return Err(data_error(format!(
            "page at offset {offset} has {items} sessions, {want} expected (first page had {stride}, count says {expected})"
        )));
    }
    Ok(())
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

    fn page(count: u64, items: usize) -> SessionPage {
        SessionPage {
            count,
            items: vec![s(Some("G"), None, Some("Active")); items],
        }
    }

    #[test]
    fn concurrent_pages_must_hold_what_their_offset_promises() {
        // 250 sessions, pages of 100: 100, 100, 50.
        assert!(check_page(0, 100, 250, 100, &page(250, 100)).is_ok());
        assert!(check_page(100, 100, 250, 100, &page(250, 100)).is_ok());
        assert!(check_page(200, 100, 250, 100, &page(250, 50)).is_ok());
        // A short page in the middle would lose sessions; a long last one would count
        // some twice; an empty one, a changed count or an overlong page are refused.
        let problem = |r: Result<(), CollectError>| match r {
            Err(CollectError::Data { problem, .. }) => problem,
            other => panic!("expected a data error, got {other:?}"),
        };
        assert!(
            problem(check_page(100, 100, 250, 100, &page(250, 99)))
                .contains("offset 100 has 99 sessions, 100 expected")
        );
        assert!(problem(check_page(200, 100, 250, 100, &page(250, 51))).contains("51 sessions"));
        assert!(problem(check_page(100, 100, 250, 100, &page(250, 0))).contains("is empty"));
        assert!(problem(check_page(100, 100, 250, 100, &page(251, 100))).contains("count changed"));
        assert!(
            problem(check_page(0, 0, 250, 100, &page(250, 101)))
                .contains("more than the requested limit")
        );
        assert!(problem(check_page(0, 0, 250, 100, &page(250, 0))).contains("is empty"));
        // A server with smaller pages sets the stride with its first page.
        assert!(check_page(0, 40, 250, 100, &page(250, 40)).is_ok());
        assert!(check_page(240, 40, 250, 100, &page(250, 10)).is_ok());
        // An empty window is one empty page.
        assert!(check_page(0, 0, 0, 100, &page(0, 0)).is_ok());
    }

    #[test]
    fn documented_states_map_to_their_snake_cased_labels() {
        for (upstream, label) in UPSTREAM_STATES {
            assert_eq!(snake_case(upstream), label);
            assert!(KNOWN_STATES.contains(&label));
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
