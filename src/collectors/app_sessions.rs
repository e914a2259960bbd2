//! `app_sessions`: application-streaming sessions per server group and session state in
//! the lookback window, from `GET /v1/{project_id}/session/list-sessions`.
//!
//! Sits at poll → decode → convert for one data source. Every plan gives the same
//! series; they differ in API calls, which the tenant's quota (about 100 a minute)
//! makes the cost that matters. A plan splits the five documented session states in
//! two (see [`StatePlan`]):
//!
//! - **paged** states are read in one paging run filtered on those states, 100
//!   sessions per call, each page folded into counts so memory does not grow with the
//!   number of sessions;
//! - **counted** states are asked per server group with `limit=1`, whose `count` is
//!   the number of matching sessions: one call per group and state, after listing the
//!   groups.
//!
//! Unless every state is paged, one unfiltered `limit=1` call gives the total, and a
//! poll whose parts do not add up to it (undocumented states, sessions outside the
//! listed groups, churn) pages everything instead. `auto` picks the cheapest of the
//! 32 splits from what the last poll learned (per-state totals, group count, states
//! that cannot be counted); the first poll learns the per-state totals with one call
//! per state.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CollectError, Collector, Poll, PollFuture, plausible, snake_case};
use crate::cloud::huawei::{HuaweiClient, HuaweiTargetContext};
use crate::config::SessionPlan;
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

/// Calls of a paging run over `sessions` sessions (at least one: the first page says
/// how many there are).
pub fn paging_calls(sessions: u64) -> u64 {
    sessions.div_ceil(u64::from(MAX_PAGE_SIZE)).max(1)
}

/// Calls of a count poll for `groups` server groups: the group listing, five counts
/// per group, and one total to check that every session was counted.
pub fn count_calls(groups: u64) -> u64 {
    StatePlan::COUNTS.calls(&TenantShape {
        per_state: [0; 5],
        total: 0,
        groups,
    })
}

/// What plans are priced on: the tenant as the last poll saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantShape {
    /// Sessions per documented state, in [`UPSTREAM_STATES`] order.
    pub per_state: [u64; 5],
    /// Sessions in the window, whatever their state.
    pub total: u64,
    /// Application server groups.
    pub groups: u64,
}

/// Which of the five documented states a poll pages (bit `i` for
/// `UPSTREAM_STATES[i]`); the others are counted per server group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatePlan {
    /// Paged states, one bit each.
    pub paged: u8,
}

/// Every state's bit.
const ALL_STATES: u8 = 0b1_1111;

/// The cheapest plan that does not page everything still lists the groups, counts one
/// state of one group and asks for the total: when paging everything takes no more
/// calls than that, it is the best plan whatever the tenant.
const CHEAPEST_SPLIT: u64 = 3;

impl StatePlan {
    /// Page every state: no filter, no group listing, no total.
    pub const PAGING: StatePlan = StatePlan { paged: ALL_STATES };
    /// Count every state per server group.
    pub const COUNTS: StatePlan = StatePlan { paged: 0 };

    /// Whether state `i` is paged.
    pub fn pages(self, i: usize) -> bool {
        self.paged & (1 << i) != 0
    }

    /// The `session_state` filter of the paging run (`None`: every state, unfiltered).
    fn filter(self) -> Option<String> {
        if self == StatePlan::PAGING {
            return None;
        }
        let states: Vec<&str> = (0..UPSTREAM_STATES.len())
            .filter(|&i| self.pages(i))
            .map(|i| UPSTREAM_STATES[i].0)
            .collect();
        Some(states.join(","))
    }

    /// API calls of this plan for `shape`: ⌈N_P/100⌉ for the paged states (none when
    /// no state is paged), ⌈G/100⌉ + |C|·G for the counted states (none when every
    /// state is paged), and one total unless every state is paged.
    pub fn calls(self, shape: &TenantShape) -> u64 {
        if self == StatePlan::PAGING {
            return paging_calls(shape.total);
        }
        let paged_sessions: u64 = (0..5)
            .filter(|&i| self.pages(i))
            .map(|i| shape.per_state[i])
            .sum();
        let paged = if self.paged == 0 {
            0
        } else {
            paging_calls(paged_sessions)
        };
        let counted_states = 5 - u64::from(self.paged.count_ones());
        let listing = shape.groups.div_ceil(u64::from(MAX_PAGE_SIZE)).max(1);
        paged + listing + counted_states * shape.groups + 1
    }

    /// The plan with the fewest calls among the 32 splits that page every state in
    /// `must_page`; on a tie, the one that pages more (fewer ways to miss a session).
    pub fn cheapest(shape: &TenantShape, must_page: u8) -> StatePlan {
        let counted_total: u64 = shape.per_state.iter().sum();
        if shape.total > counted_total {
            // Sessions in undocumented states: only paging everything sees them.
            return StatePlan::PAGING;
        }
        (0..=ALL_STATES)
            .rev()
            .map(|paged| StatePlan { paged })
            .filter(|p| p.paged & must_page == must_page)
            .min_by_key(|p| p.calls(shape))
            .unwrap_or(StatePlan::PAGING)
    }
}

/// What the last poll learned, to plan the next one.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// Sessions per documented state.
    per_state: Option<[u64; 5]>,
    /// Sessions in the window.
    total: Option<u64>,
    /// Server groups listed (by a poll that counted).
    groups: Option<u64>,
    /// Distinct server groups in the sessions of the last full paging: a lower bound
    /// on the group count while no poll has listed the groups.
    groups_seen: u64,
    /// States with sessions outside the listed groups (or without a group): counting
    /// per group would miss them, so they are paged.
    must_page: u8,
    /// Polls since a state was last found uncountable. Polls that page everything
    /// cannot tell whether the evidence still holds (sessions in a deleted group age
    /// out of the window), so it is forgotten after [`RECHECK_AFTER_POLLS`] and the
    /// next split checks again.
    must_page_age: u32,
}

/// Polls after which states found uncountable are tried again (at worst one split
/// that falls back to paging per this many polls).
const RECHECK_AFTER_POLLS: u32 = 10;

impl Seen {
    /// Records that state `i` cannot be counted per group.
    fn uncountable(&mut self, i: usize) {
        self.must_page |= 1 << i;
        self.must_page_age = 0;
    }

    /// Ages the evidence by one poll, forgetting it when it is old.
    fn age(&mut self) {
        if self.must_page == 0 {
            self.must_page_age = 0;
            return;
        }
        self.must_page_age += 1;
        if self.must_page_age >= RECHECK_AFTER_POLLS {
            self.must_page = 0;
            self.must_page_age = 0;
        }
    }

    /// The tenant's shape, once the per-state totals are known.
    fn shape(&self) -> Option<TenantShape> {
        Some(TenantShape {
            per_state: self.per_state?,
            total: self.total?,
            groups: self.groups.unwrap_or(self.groups_seen.max(1)),
        })
    }

    /// The plan the next poll takes in `auto`.
    fn cheapest(&self) -> StatePlan {
        match self.shape() {
            Some(shape) => StatePlan::cheapest(&shape, self.must_page),
            None => StatePlan::PAGING,
        }
    }
}

/// One paging run folded into counts, with what the planner learns from it.
#[derive(Debug, Default)]
struct Fold {
    /// Counts per server group and state.
    tally: SessionTally,
    /// Sessions per documented state.
    per_state: [u64; 5],
    /// Sessions per documented state that a count per listed group would miss: no
    /// group ID, or (when the groups were listed) an ID not among them.
    outside: [u64; 5],
    /// Distinct server group IDs seen.
    group_ids: HashSet<String>,
}

impl Fold {
    fn add(&mut self, session: &SessionSummary, listed: Option<&HashSet<&str>>) {
        self.tally.add(session);
        let raw = session.session_state.as_deref().unwrap_or("");
        let Some(i) = UPSTREAM_STATES.iter().position(|(up, _)| *up == raw) else {
            return;
        };
        self.per_state[i] += 1;
        let id = session
            .app_server_group_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty());
        match id {
            Some(id) => {
                if listed.is_some_and(|l| !l.contains(id)) {
                    self.outside[i] += 1;
                }
                if !self.group_ids.contains(id) {
                    self.group_ids.insert(id.to_string());
                }
            }
            None => self.outside[i] += 1,
        }
    }
}

/// Polls application-streaming sessions of one target.
pub struct AppSessionsCollector {
    /// The target's client, configuration and project ID.
    ctx: Arc<HuaweiTargetContext>,
    /// What the last poll saw.
    seen: std::sync::Mutex<Seen>,
}

/// The client and query parameters shared by every call of one poll.
struct Window<'a> {
    client: &'a HuaweiClient,
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

    fn seen(&self) -> Seen {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn poll_once(
        &self,
        poll: Poll,
    ) -> Result<Vec<prometheus::proto::MetricFamily>, CollectError> {
        let now = poll.now;
        let client = self.ctx.client.for_poll(&poll.usage);
        let project_id = self.ctx.project_id(&client).await?;
        let lookback = chrono::Duration::from_std(self.ctx.target.session_lookback)
            .unwrap_or(chrono::Duration::MAX);
        let window = Window {
            client: &client,
            project_id,
            begin: now
                .checked_sub_signed(lookback)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            end: now,
        };
        let mut seen = self.seen();
        let tally = match self.ctx.target.session_plan {
            SessionPlan::Paging => self.page_everything(&window, &mut seen, None).await,
            SessionPlan::Counts => {
                self.split(&window, &mut seen, StatePlan::COUNTS, None, None)
                    .await
            }
            SessionPlan::Auto => self.auto(&window, &mut seen).await,
        };
        seen.age();
        // What was learned is kept even when the poll failed half-way.
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = seen;
        let tally = tally?;
        let series = super::huawei_series(&self.ctx, project_id);
        let gauge = series.gauge_vec(
            APP_SESSIONS,
            "Application-streaming sessions started in the lookback window, by server group and session state; refreshed every poll interval.",
            &["server_group", "session_state"],
        );
        tally.set(&gauge);
        Ok(series.finish())
    }

    /// The cheapest plan from history. Without history, the first page of every
    /// session gives the total; when paging them all is not obviously cheapest, one
    /// `limit=1` call per state gives the per-state totals, and the groups are listed
    /// when a split would count some states.
    async fn auto(
        &self,
        window: &Window<'_>,
        seen: &mut Seen,
    ) -> Result<SessionTally, CollectError> {
        let mut first_page = None;
        if seen.shape().is_none() {
            let first = self.page(window, None, 0).await?;
            let total = plausible(API_LIST_SESSIONS, || "count".to_string(), first.count)?;
            if paging_calls(total) <= CHEAPEST_SPLIT {
                return self.page_everything(window, seen, Some(first)).await;
            }
            let counts: Vec<Result<(usize, u64), CollectError>> =
                futures_util::stream::iter(0..UPSTREAM_STATES.len())
                    .map(|i| async move {
                        let n = self.count(window, Some(UPSTREAM_STATES[i].0), None).await?;
                        Ok((i, n))
                    })
                    .buffer_unordered(self.ctx.target.concurrency)
                    .collect()
                    .await;
            let mut per_state = [0u64; 5];
            for c in counts {
                let (i, n) = c?;
                per_state[i] = n;
            }
            seen.per_state = Some(per_state);
            seen.total = Some(total);
            first_page = Some(first);
        }
        if seen.cheapest() == StatePlan::PAGING {
            return self.page_everything(window, seen, first_page).await;
        }
        // A split counts some states per group: list the groups (the split needs them
        // anyway), and choose again with their true number.
        let groups = self.list_groups(window).await?;
        seen.groups = Some(groups.len() as u64);
        let plan = seen.cheapest();
        if plan == StatePlan::PAGING {
            return self.page_everything(window, seen, first_page).await;
        }
        let total = first_page.map(|p| p.count);
        self.split(window, seen, plan, Some(groups), total).await
    }

    /// Reads every session of the window, page by page (see [`Self::page_run`]),
    /// starting from `first` when the poll already has the first page.
    async fn page_everything(
        &self,
        window: &Window<'_>,
        seen: &mut Seen,
        first: Option<SessionPage>,
    ) -> Result<SessionTally, CollectError> {
        let mut fold = Fold::default();
        let total = self.page_run(window, None, first, &mut fold, None).await?;
        seen.total = Some(total);
        seen.per_state = Some(fold.per_state);
        seen.groups_seen = fold.group_ids.len() as u64;
        // Without a group listing only sessions lacking a group ID are known to be
        // uncountable; earlier evidence stays until a split checks it or it ages out.
        for (i, outside) in fold.outside.iter().enumerate() {
            if *outside > 0 {
                seen.uncountable(i);
            }
        }
        Ok(fold.tally)
    }

    /// One poll of `plan` when it counts some states: the paged states in one
    /// filtered paging run, the counted ones per listed group, and the total to check
    /// that nothing was missed; pages everything when the parts do not add up.
    async fn split(
        &self,
        window: &Window<'_>,
        seen: &mut Seen,
        plan: StatePlan,
        groups: Option<Vec<ServerGroup>>,
        total: Option<u64>,
    ) -> Result<SessionTally, CollectError> {
        let groups = match groups {
            Some(g) => g,
            None => self.list_groups(window).await?,
        };
        seen.groups = Some(groups.len() as u64);
        let total = match total {
            Some(t) => t,
            None => self.count(window, None, None).await?,
        };
        let listed: HashSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        let mut fold = Fold::default();
        let paged = if plan.paged == 0 {
            0
        } else {
            self.page_run(window, plan.filter(), None, &mut fold, Some(&listed))
                .await?
        };
        let counted: Vec<usize> = (0..UPSTREAM_STATES.len())
            .filter(|&i| !plan.pages(i))
            .collect();
        let queries: Vec<(usize, usize)> = (0..groups.len())
            .flat_map(|g| counted.iter().map(move |&s| (g, s)))
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
        let mut counted_per_state = [0u64; 5];
        for c in counts {
            let (g, s, n) = c?;
            per_group[g][s] = n;
            counted_per_state[s] = counted_per_state[s].saturating_add(n);
        }
        let sum = counted_per_state
            .iter()
            .fold(paged, |a, n| a.saturating_add(*n));
        if sum != total {
            tracing::debug!(
                target_name = %self.ctx.target.name,
                counted = sum,
                total,
                "session counts do not add up (other states, sessions outside the listed groups, or churn); paging instead"
            );
            let tally = self.page_everything(window, seen, None).await?;
            // A counted state whose count fell short of what paging found has sessions
            // outside the listed groups: page it from now on (until a split that pages
            // it finds none outside).
            if let Some(per_state) = seen.per_state {
                for &s in &counted {
                    if counted_per_state[s] != per_state[s] {
                        seen.uncountable(s);
                    }
                }
            }
            return Ok(tally);
        }
        let mut per_state = fold.per_state;
        for &s in &counted {
            per_state[s] = counted_per_state[s];
        }
        seen.per_state = Some(per_state);
        seen.total = Some(total);
        for i in 0..UPSTREAM_STATES.len() {
            let outside = plan.pages(i) && fold.outside[i] > 0;
            if outside {
                seen.uncountable(i);
            } else {
                seen.must_page &= !(1 << i);
            }
        }
        let mut tally = fold.tally;
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
            for &s in &counted {
                *states.entry(UPSTREAM_STATES[s].1.to_string()).or_insert(0) += counts[s];
            }
        }
        Ok(tally)
    }

    /// Reads every session matching `states` (all when `None`), page by page, into
    /// `fold`, and returns their number. The first page (fetched here unless given)
    /// gives the total and the server's page size; the remaining pages are fetched with
    /// up to `concurrency` in flight, and each must hold exactly the sessions its offset
    /// promises, so no session is missed or counted twice.
    async fn page_run(
        &self,
        window: &Window<'_>,
        states: Option<String>,
        first: Option<SessionPage>,
        fold: &mut Fold,
        listed: Option<&HashSet<&str>>,
    ) -> Result<u64, CollectError> {
        let first = match first {
            Some(page) => page,
            None => self.page(window, states.clone(), 0).await?,
        };
        let expected = plausible(API_LIST_SESSIONS, || "count".to_string(), first.count)?;
        let stride = first.items.len() as u64;
        check_page(0, stride, expected, MAX_PAGE_SIZE, &first)?;
        for item in &first.items {
            fold.add(item, listed);
        }
        if stride >= expected {
            return Ok(expected);
        }
        let states = &states;
        let mut pages = futures_util::stream::iter((stride..expected).step_by(stride as usize))
            .map(|offset| async move { (offset, self.page(window, states.clone(), offset).await) })
            .buffer_unordered(self.ctx.target.concurrency);
        while let Some((offset, page)) = pages.next().await {
            let page = page?;
            check_page(offset, stride, expected, MAX_PAGE_SIZE, &page)?;
            for item in &page.items {
                fold.add(item, listed);
            }
        }
        Ok(expected)
    }

    /// One page of the sessions in `states` (all when `None`).
    async fn page(
        &self,
        window: &Window<'_>,
        states: Option<String>,
        offset: u64,
    ) -> Result<SessionPage, CollectError> {
        let mut query = ListSessionsQuery::window(window.begin, window.end);
        query.offset = offset;
        query.session_state = states;
        Ok(workspace_app::list_sessions(
            window.client,
            &self.ctx.target.app_endpoint,
            window.project_id,
            &query,
        )
        .await?)
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
        query.session_state = state.map(str::to_string);
        query.app_server_group_id = group;
        let page = workspace_app::list_sessions(
            window.client,
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
                window.client,
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

    /// Calls the next poll expects, from what the last poll learned.
    fn planned(&self) -> Option<u64> {
        let seen = self.seen();
        let shape = seen.shape();
        match self.ctx.target.session_plan {
            SessionPlan::Paging => seen.total.map(paging_calls),
            SessionPlan::Counts => seen.groups.map(count_calls),
            SessionPlan::Auto => shape.map(|s| seen.cheapest().calls(&s)),
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
    fn poll(&self, poll: Poll) -> PollFuture<'_> {
        Box::pin(self.poll_once(poll))
    }

    fn planned_api_calls(&self) -> Option<u64> {
        self.planned()
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
    fn the_issue_examples_are_priced_as_the_issue_prices_them() {
        // G = 60; Active 4,000, Disconnected 800, AppcInit 200, SignedOut 54,000,
        // InitFail 1,000.
        let shape = TenantShape {
            per_state: [4_000, 800, 200, 54_000, 1_000],
            total: 60_000,
            groups: 60,
        };
        assert_eq!(StatePlan::PAGING.calls(&shape), 600);
        assert_eq!(StatePlan::COUNTS.calls(&shape), 302);
        let best = StatePlan::cheapest(&shape, 0);
        assert_eq!(best.paged, 0b1_0111, "page all but SignedOut");
        assert_eq!(best.calls(&shape), 122);
        assert_eq!(
            best.filter().as_deref(),
            Some("Active,Disconnected,AppcInit,InitFail")
        );
        // SignedOut cannot be counted (sessions outside the groups): page it too.
        assert_eq!(StatePlan::cheapest(&shape, 0b0_1000), StatePlan::PAGING);
        // G = 200; 2,000 live, 95,000 SignedOut, 3,000 InitFail.
        let shape = TenantShape {
            per_state: [1_500, 400, 100, 95_000, 3_000],
            total: 100_000,
            groups: 200,
        };
        assert_eq!(StatePlan::PAGING.calls(&shape), 1_000);
        assert_eq!(StatePlan::COUNTS.calls(&shape), 1_003);
        assert_eq!(StatePlan::cheapest(&shape, 0).calls(&shape), 253);
        // Sessions in an undocumented state: only paging sees them.
        let odd = TenantShape {
            total: 100_001,
            ..shape
        };
        assert_eq!(StatePlan::cheapest(&odd, 0), StatePlan::PAGING);
        // A tie goes to the plan that pages more.
        let tiny = TenantShape {
            per_state: [1, 1, 1, 0, 0],
            total: 3,
            groups: 1,
        };
        assert_eq!(StatePlan::cheapest(&tiny, 0), StatePlan::PAGING);
        assert_eq!(StatePlan::PAGING.filter(), None);
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
