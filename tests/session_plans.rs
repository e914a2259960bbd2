//! The two ways `app_sessions` reads sessions: paging through every session, or asking
//! for counts per server group and state. Each poll takes the cheaper one; both must
//! give the same series.

mod common;

use common::Scrape;
use workspace_exporter::collectors::app_sessions::{count_calls, paging_calls};
use workspace_exporter::simulator::scenario::split_typically;
use workspace_exporter::simulator::{Route, Scenario, SimSession};

/// `groups` server groups (every third without a name), `sessions` sessions spread
/// over them in the five documented states, plus `odd` sessions in an undocumented
/// state or without a group.
fn scenario(groups: usize, sessions: usize, odd: usize) -> Scenario {
    let states = [
        "Active",
        "Disconnected",
        "AppcInit",
        "SignedOut",
        "InitFail",
    ];
    let mut s = Scenario::empty();
    s.server_groups = (0..groups)
        .map(|g| {
            (
                format!("asg-{g:03}"),
                (g % 3 != 0).then(|| format!("Group {g}")),
            )
        })
        .collect();
    s.sessions = (0..sessions)
        .map(|i| {
            let (id, name) = &s.server_groups[(i * 7) % groups];
            SimSession {
                server_group_id: Some(id.clone()),
                server_group_name: name.clone(),
                state: states[(i * 3 + i / 11) % 5].into(),
            }
        })
        .collect();
    for i in 0..odd {
        s.sessions.push(SimSession {
            server_group_id: (i % 2 == 0).then(|| "asg-000".into()),
            server_group_name: None,
            state: if i % 2 == 0 { "Reconnecting" } else { "Active" }.into(),
        });
    }
    s
}

fn app_sessions(m: &Scrape) -> Vec<(String, String, f64)> {
    let mut v: Vec<_> = m
        .find("huaweicloud_workspace_app_sessions", &[])
        .into_iter()
        .map(|s| {
            (
                s.labels["server_group"].clone(),
                s.labels["session_state"].clone(),
                s.value,
            )
        })
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

fn calls(m: &Scrape) -> f64 {
    m.value(
        "workspace_exporter_poll_api_calls",
        &[("collector", "app_sessions")],
    )
    .unwrap()
}

/// Polls `scenario` with `plan`; returns the series and the calls of a second,
/// planned-from-history poll.
async fn run(s: Scenario, plan: &str) -> (Vec<(String, String, f64)>, f64, u64) {
    let h = common::start(
        s,
        &format!(
            "collectors = [\"app_sessions\"]\nproject_id = \"{}\"\nsession_plan = \"{plan}\"",
            workspace_exporter::simulator::scenario::DEMO_PROJECT_ID
        ),
    )
    .await;
    let before = h.sim.requests(Route::ListSessions) + h.sim.requests(Route::ListServerGroups);
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(
        m.value(
            "workspace_exporter_collector_up",
            &[("collector", "app_sessions")]
        ),
        Some(1.0)
    );
    let second =
        h.sim.requests(Route::ListSessions) + h.sim.requests(Route::ListServerGroups) - before;
    (app_sessions(&m), calls(&m), second)
}

#[tokio::test]
async fn many_sessions_in_few_groups_are_counted() {
    let s = || scenario(4, 5000, 0);
    let (paged, paged_calls, _) = run(s(), "paging").await;
    let (auto, auto_calls, auto_requests) = run(s(), "auto").await;
    assert_eq!(paged_calls, paging_calls(5000) as f64);
    assert_eq!(paged_calls, 50.0);
    assert_eq!(auto_calls, count_calls(4) as f64);
    assert_eq!(auto_calls, 22.0);
    assert_eq!(auto_requests, 22);
    assert_eq!(
        auto, paged,
        "the count plan must give the same series as paging"
    );
    let total: f64 = auto.iter().map(|(_, _, n)| n).sum();
    assert_eq!(total, 5000.0);
}

#[tokio::test]
async fn few_sessions_in_many_groups_are_paged() {
    let s = || scenario(30, 180, 0);
    let (counted, counted_calls, _) = run(s(), "counts").await;
    let (auto, auto_calls, _) = run(s(), "auto").await;
    assert_eq!(counted_calls, count_calls(30) as f64);
    assert_eq!(auto_calls, paging_calls(180) as f64);
    assert_eq!(auto_calls, 2.0);
    assert_eq!(auto, counted);
}

#[tokio::test]
async fn counts_that_miss_sessions_fall_back_to_paging() {
    // Undocumented states and ungrouped sessions are invisible to counts per group and
    // state; the total gives them away and the poll pages instead.
    let s = || scenario(3, 3000, 40);
    let (paged, _, _) = run(s(), "paging").await;
    let (counted, counted_calls, _) = run(s(), "counts").await;
    assert_eq!(counted, paged);
    assert!(
        paged
            .iter()
            .any(|(g, st, n)| g == "asg-000" && st == "reconnecting" && *n == 20.0),
        "{paged:?}"
    );
    assert!(
        paged
            .iter()
            .any(|(g, st, n)| g == "unknown" && st == "active" && *n == 20.0)
    );
    assert_eq!(counted_calls, (count_calls(3) + paging_calls(3040)) as f64);
}

/// 60 server groups and 60,000 sessions, 54,000 of them signed out.
fn mostly_signed_out() -> Scenario {
    let mut s = Scenario::empty();
    s.server_groups = (0..60)
        .map(|g| (format!("asg-{g:02}"), Some(format!("Apps {g}"))))
        .collect();
    s.set_sessions(split_typically(60_000));
    s
}

#[tokio::test]
async fn auto_takes_the_optimum_and_every_plan_gives_the_same_series() {
    // One tenant where paging wins, one where counting wins, one where a split wins.
    type Tenant = fn() -> Scenario;
    let tenants: [(&str, Tenant, u64); 3] = [
        ("paging wins", || scenario(30, 180, 0), 2),
        ("counts win", || scenario(4, 5000, 0), 22),
        ("a split wins", mostly_signed_out, 122),
    ];
    for (name, tenant, best) in tenants {
        assert_eq!(tenant().optimal_app_session_calls(), best, "{name}");
        let (auto, auto_calls, auto_requests) = run(tenant(), "auto").await;
        assert_eq!(auto_calls, best as f64, "{name}: the plan auto chose");
        assert_eq!(auto_requests, best, "{name}: requests the simulator saw");
        let (paged, _, _) = run(tenant(), "paging").await;
        let (counted, _, _) = run(tenant(), "counts").await;
        assert_eq!(auto, paged, "{name}: auto and paging");
        assert_eq!(counted, paged, "{name}: counts and paging");
        let total: f64 = paged.iter().map(|(_, _, n)| n).sum();
        assert_eq!(total, tenant().sessions.len() as f64, "{name}");
    }
}

#[tokio::test]
async fn a_state_with_sessions_outside_the_groups_is_paged_after_one_fallback() {
    // Mostly signed out, but 30 signed-out sessions belong to no listed group: counting
    // SignedOut per group misses them. The first split falls back to paging; from then
    // on SignedOut is paged too, and the series stay exact.
    let tenant = || {
        let mut s = mostly_signed_out();
        for _ in 0..30 {
            s.sessions.push(SimSession {
                server_group_id: Some("asg-gone".into()),
                server_group_name: Some("Retired".into()),
                state: "SignedOut".into(),
            });
        }
        s
    };
    let (paged, _, _) = run(tenant(), "paging").await;
    let (auto, auto_calls, _) = run(tenant(), "auto").await;
    assert_eq!(auto, paged);
    assert!(
        paged
            .iter()
            .any(|(g, st, n)| g == "Retired" && st == "signed_out" && *n == 30.0)
    );
    // The second poll pages everything: 60,030 sessions, 601 pages.
    assert_eq!(auto_calls, 601.0);
}
