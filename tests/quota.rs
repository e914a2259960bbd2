//! Living within the API quota, on tokio's paused clock (the simulator runs in the
//! test's runtime, so simulated minutes pass in milliseconds): a quota-bound
//! `app_sessions` poll at the default rate limit finishes with exact values, a 429
//! pauses every call to its host, and a one-call collector is not queued behind a long
//! poll on the same host.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::Scrape;
use tokio::time::Instant;
use workspace_exporter::cloud::huawei::HuaweiClient;
use workspace_exporter::cloud::huawei::HuaweiTargetContext;
use workspace_exporter::cloud::huawei::workspace;
use workspace_exporter::cloud::quota::PollUsage;
use workspace_exporter::cloud::retry::ClientSettings;
use workspace_exporter::collectors::{self, Cloud, Collector, Factory, Poll};
use workspace_exporter::self_metrics::SelfMetrics;
use workspace_exporter::simulator::scenario::{self, DEMO_PROJECT_ID};
use workspace_exporter::simulator::{Fault, Route, Scenario, Simulator};

/// The tenant of ordinary size: 60 server groups, 60,000 sessions of the last
/// 24 h, 54,000 of them signed out.
fn ordinary_tenant() -> Scenario {
    let mut s = Scenario::empty();
    s.server_groups = (0..60)
        .map(|g| (format!("asg-{g:02}"), Some(format!("Apps {g}"))))
        .collect();
    s.set_sessions(scenario::split_typically(60_000));
    s
}

/// Sessions per server group label and state label, counted from the scenario itself.
fn expected(s: &Scenario) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for session in &s.sessions {
        let group = session.server_group_name.clone().unwrap();
        let state = workspace_exporter::collectors::snake_case(&session.state);
        *out.entry((group, state)).or_insert(0.0) += 1.0;
    }
    out
}

fn exported(m: &Scrape) -> BTreeMap<(String, String), f64> {
    m.find("huaweicloud_workspace_app_sessions", &[])
        .into_iter()
        .filter(|s| s.value != 0.0)
        .map(|s| {
            (
                (
                    s.labels["server_group"].clone(),
                    s.labels["session_state"].clone(),
                ),
                s.value,
            )
        })
        .collect()
}

fn gauge(m: &Scrape, name: &str) -> f64 {
    m.value(name, &[("target", "prod"), ("collector", "app_sessions")])
        .unwrap_or_else(|| panic!("{name} missing"))
}

/// The most requests that reached the simulator within any 60 seconds.
fn busiest_minute(arrivals: &[Instant]) -> usize {
    (0..arrivals.len())
        .map(|i| {
            arrivals[i..]
                .iter()
                .take_while(|t| **t < arrivals[i] + Duration::from_secs(60))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn a_quota_bound_poll_finishes_with_exact_values_at_the_default_rate_limit() {
    let tenant = ordinary_tenant();
    let want = expected(&tenant);
    let sim = common::start_sim(tenant).await;
    // Every poll setting at its default (interval 60 s, deadline 48 s, 100 requests a
    // minute); only quick retries, which this test does not need anyway.
    let url = sim.url();
    let toml = format!(
        "[poll]\nretry_backoff = \"1ms\"\n\n[[huaweicloud]]\nname = \"prod\"\nregion = \"cn-north-4\"\nproject_id = \"{DEMO_PROJECT_ID}\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\ncollectors = [\"app_sessions\"]\nworkspace_endpoint = \"{url}\"\napp_endpoint = \"{url}\"\niam_endpoint = \"{url}\"\n",
        common::AK,
        common::SK
    );
    let started = Instant::now();
    let h = common::start_exporter(sim, &toml).await;
    let m = h.scrape().await;
    assert_eq!(gauge(&m, "workspace_exporter_collector_up"), 1.0);
    assert_eq!(exported(&m), want);
    // The first poll learned the tenant (first page, five per-state totals, the group
    // listing) and then paged all but SignedOut and counted SignedOut per group: more
    // calls than 48 s of quota allow, and it still finished.
    let first_calls = gauge(&m, "workspace_exporter_poll_api_calls");
    assert_eq!(first_calls, 1.0 + 5.0 + 1.0 + 60.0 + 60.0);
    let duration = gauge(&m, "workspace_exporter_collector_duration_seconds");
    assert!(duration > 48.0, "the poll took {duration} s");
    assert!(started.elapsed() >= Duration::from_secs(48));
    let waited = gauge(&m, "workspace_exporter_collector_rate_limit_wait_seconds");
    assert!(
        waited > 0.0 && waited <= duration,
        "waited {waited} s of {duration} s"
    );
    assert_eq!(
        gauge(&m, "workspace_exporter_collector_planned_api_calls"),
        122.0
    );

    // The next poll is planned from what the first learned: the optimum, 122 calls.
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(gauge(&m, "workspace_exporter_collector_up"), 1.0);
    assert_eq!(gauge(&m, "workspace_exporter_poll_api_calls"), 122.0);
    assert_eq!(exported(&m), want);
    // The throttle counters of both operations exist from the start, at 0.
    let throttled = m.find("workspace_exporter_api_throttled_total", &[]);
    assert_eq!(
        throttled.len(),
        2,
        "list_sessions and list_app_server_groups"
    );
    assert!(throttled.iter().all(|s| s.value == 0.0));
    // No minute ever saw more than the configured 100 requests, burst included.
    let busiest = busiest_minute(&h.sim.arrivals());
    assert!(busiest <= 100, "{busiest} requests in one minute");
    assert!(
        busiest >= 90,
        "the poll used the quota it had ({busiest} a minute)"
    );
}

/// A target's client and collectors built from configuration, as the exporter builds
/// them, for tests that drive single polls.
struct Target {
    ctx: Arc<HuaweiTargetContext>,
    collectors: Vec<(&'static str, Arc<dyn Collector>)>,
    metrics: Arc<SelfMetrics>,
}

fn target(sim: &Simulator, extra: &str) -> (Target, tempfile::TempDir) {
    let toml = format!(
        "[poll]\nretry_backoff = \"1ms\"\n{}",
        common::target_toml(
            &sim.url(),
            "prod",
            &format!("project_id = \"{DEMO_PROJECT_ID}\"\n{extra}")
        )
    );
    let (config, dir) = common::load_config(&toml);
    let t = config.huaweicloud[0].clone();
    let metrics = Arc::new(SelfMetrics::new());
    let settings = ClientSettings::new(&t.name, &t.poll, 1 << 24, metrics.clone());
    let http = workspace_exporter::cloud::http::client(Duration::from_secs(5), false).unwrap();
    let credentials = t.credentials.build(
        &t.iam_endpoint,
        &http,
        &settings,
        workspace_exporter::clock::WallClock::System,
    );
    let client = HuaweiClient::new(http, credentials, settings);
    let ctx = Arc::new(HuaweiTargetContext::new(t, client));
    let collectors = collectors::selected(Cloud::Huawei, 0, &ctx.target.collectors)
        .unwrap()
        .into_iter()
        .filter_map(|row| match row.factory {
            Factory::Huawei(build) => Some((row.name, build(ctx.clone()))),
            Factory::AlibabaSag(_) => None,
        })
        .collect();
    (
        Target {
            ctx,
            collectors,
            metrics,
        },
        dir,
    )
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_pauses_every_call_to_that_host() {
    let sim = common::start_sim(Scenario::demo()).await;
    let (t, _dir) = target(&sim, "");
    sim.set_fault_times(
        Route::ConnectionsStatus,
        Fault::Throttle(Some("30".into())),
        1,
    );
    let ctx = t.ctx.clone();
    let start = Instant::now();
    let throttled = tokio::spawn(async move {
        let endpoint = ctx.target.workspace_endpoint.clone();
        workspace::connections_status(&ctx.client, &endpoint, DEMO_PROJECT_ID)
            .await
            .map(|_| Instant::now())
    });
    // One simulated second later (the paused clock moves only once the throttled call
    // is parked, so its 429 has been read by then), another call of the same target
    // to the same host, not throttled itself.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sim.requests(Route::ConnectionsStatus), 1);
    let online = workspace::online_users(
        &t.ctx.client,
        &t.ctx.target.workspace_endpoint,
        DEMO_PROJECT_ID,
        "DAY",
    )
    .await;
    let other_sent = Instant::now();
    assert!(
        online.is_ok(),
        "the paused call is not a failure: {online:?}"
    );
    assert!(
        other_sent - start >= Duration::from_secs(30),
        "online_users went out {:?} after the 429 asked for 30 s",
        other_sent - start
    );
    let retried = throttled
        .await
        .unwrap()
        .expect("the throttled call retried");
    assert!(retried - start >= Duration::from_secs(30));
    assert_eq!(sim.requests(Route::ConnectionsStatus), 2);
    assert_eq!(sim.requests(Route::OnlineUsers), 1);
    let text = workspace_exporter::encoding::render(&t.metrics.gather());
    let body: String = text
        .iter()
        .map(|f| String::from_utf8_lossy(&f.samples).into_owned())
        .collect();
    let m = Scrape::parse(&body);
    assert_eq!(
        m.value(
            "workspace_exporter_api_throttled_total",
            &[("api", "connections_status")]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.value(
            "workspace_exporter_api_requests_total",
            &[("api", "online_users"), ("code", "200")]
        ),
        Some(1.0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_one_call_poll_is_not_queued_behind_a_quota_bound_poll_on_the_same_host() {
    // 5,000 sessions paged 100 at a time with 16 pages in flight, at 10 requests a
    // minute (one every 6 s, bursts of one): the app_sessions poll needs about 5 min.
    let mut s = Scenario::demo();
    s.set_sessions(scenario::split_evenly(5_000));
    let sim = common::start_sim(s).await;
    let (t, _dir) = target(
        &sim,
        "session_plan = \"paging\"\nconcurrency = 16\nrate_limit_per_minute = 10",
    );
    let by_name = |name: &str| {
        t.collectors
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
            .clone()
    };
    let (sessions, desktops) = (by_name("app_sessions"), by_name("desktop_status"));
    let long = Arc::new(PollUsage::new("app_sessions"));
    let poll = |usage: &Arc<PollUsage>| Poll {
        now: chrono::Utc::now(),
        usage: usage.clone(),
    };
    let long_poll = {
        let poll = poll(&long);
        tokio::spawn(async move { sessions.poll(poll).await.map(|_| ()) })
    };
    // 30 simulated seconds into that poll, its pages queued at the limit, desktop_status
    // polls.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!((5..=7).contains(&long.calls()), "{}", long.calls());
    let short = Arc::new(PollUsage::new("desktop_status"));
    let start = Instant::now();
    let series = desktops.poll(poll(&short)).await;
    let took = start.elapsed();
    assert!(series.is_ok(), "{:?}", series.err());
    assert_eq!(short.calls(), 1);
    // It waits for at most the next token (6 s) and one more handed to app_sessions,
    // not for app_sessions' 16 queued pages (96 s).
    assert!(
        took <= Duration::from_secs(12),
        "desktop_status took {took:?} behind app_sessions"
    );
    assert!(long.calls() < 20, "app_sessions is still paging");
    long_poll.await.unwrap().unwrap();
    assert_eq!(long.calls(), 50);
    assert!(long.rate_limit_wait() >= Duration::from_secs(240));
}
