//! End-to-end: the simulator and the exporter on loopback ports, talking real HTTP;
//! assertions on exact `/metrics` values for a fixed scenario.

mod common;

use common::{Harness, Scrape, start};
use workspace_exporter::simulator::scenario::DEMO_PROJECT_ID;
use workspace_exporter::simulator::{
    Fault, Route, Scenario, SimCredential, SimDesktopGroup, SimSession,
};

/// A desktop group name with a space, a quote, a backslash and non-ASCII letters.
const AWKWARD_GROUP: &str = "Sales \"EMEA\" \\ Zürich Ωmega";

fn group(name: &str, base: u64) -> SimDesktopGroup {
    // running base+1, stop base+2, … unknown base+13, in the table's order.
    SimDesktopGroup::from_counts(name, std::array::from_fn(|i| base + 1 + i as u64))
}

/// 1,234 sessions, interleaved so every page mixes groups and states:
/// "Office Apps": 400 Active, 100 Disconnected, 50 AppcInit, 40 SignedOut, 10 InitFail;
/// id-only "asg-2": 500 Active, 34 Reconnecting; no group at all: 100 SignedOut.
fn sessions() -> Vec<SimSession> {
    let mut buckets: Vec<Vec<SimSession>> = Vec::new();
    let mut add = |id: Option<&str>, name: Option<&str>, state: &str, n: usize| {
        buckets.push(
            (0..n)
                .map(|_| SimSession {
                    server_group_id: id.map(str::to_string),
                    server_group_name: name.map(str::to_string),
                    state: state.into(),
                })
                .collect(),
        );
    };
    add(Some("asg-1"), Some("Office Apps"), "Active", 400);
    add(Some("asg-1"), Some("Office Apps"), "Disconnected", 100);
    add(Some("asg-1"), Some("Office Apps"), "AppcInit", 50);
    add(Some("asg-1"), Some("Office Apps"), "SignedOut", 40);
    add(Some("asg-1"), Some("Office Apps"), "InitFail", 10);
    add(Some("asg-2"), None, "Active", 500);
    add(Some("asg-2"), None, "Reconnecting", 34);
    add(None, None, "SignedOut", 100);
    let mut out = Vec::new();
    while buckets.iter().any(|b| !b.is_empty()) {
        for b in &mut buckets {
            if let Some(s) = b.pop() {
                out.push(s);
            }
        }
    }
    out
}

fn scenario() -> Scenario {
    let mut s = Scenario::empty();
    s.desktop_groups = vec![
        group("Finance", 0),
        group("Engineering", 100),
        group(AWKWARD_GROUP, 1000),
    ];
    s.time_counts = vec![
        "00:00 : 3".into(),
        "01:00:5".into(),
        "  02:00  :   17 ".into(),
    ];
    s.sessions = sessions();
    s
}

fn up(scrape: &Scrape, collector: &str) -> Option<f64> {
    scrape.value(
        "workspace_exporter_collector_up",
        &[("target", "prod"), ("collector", collector)],
    )
}

#[tokio::test]
async fn exports_exact_values_for_a_fixed_scenario() {
    let h = start(scenario(), "session_plan = \"paging\"").await;
    let m = h.scrape().await;
    std::fs::write(
        common::sample_output_path().join("metrics-sample.prom"),
        &m.text,
    )
    .unwrap();

    let cloud = [("region", "cn-north-4"), ("project_id", DEMO_PROJECT_ID)];
    let desk = |metric: &str, group: &str, label: &str, value: &str| {
        let mut labels = cloud.to_vec();
        labels.push(("desktop_group", group));
        labels.push((label, value));
        m.value(metric, &labels)
    };
    for (group, base) in [
        ("Finance", 0.0),
        ("Engineering", 100.0),
        (AWKWARD_GROUP, 1000.0),
    ] {
        let d = "huaweicloud_workspace_desktops";
        assert_eq!(
            desk(d, group, "status", "running"),
            Some(base + 1.0),
            "{group}"
        );
        assert_eq!(desk(d, group, "status", "stopped"), Some(base + 2.0));
        assert_eq!(desk(d, group, "status", "hibernated"), Some(base + 3.0));
        assert_eq!(desk(d, group, "status", "other"), Some(base + 4.0));
        let a = "huaweicloud_workspace_desktop_assignments";
        assert_eq!(desk(a, group, "assignment", "attached"), Some(base + 5.0));
        assert_eq!(desk(a, group, "assignment", "unattached"), Some(base + 6.0));
        assert_eq!(
            desk(a, group, "assignment", "cannot_attach"),
            Some(base + 7.0)
        );
        assert_eq!(desk(a, group, "assignment", "in_process"), Some(base + 8.0));
        let s = "huaweicloud_workspace_desktop_sessions";
        assert_eq!(desk(s, group, "session_state", "in_use"), Some(base + 9.0));
        assert_eq!(
            desk(s, group, "session_state", "unregistered"),
            Some(base + 10.0)
        );
        assert_eq!(desk(s, group, "session_state", "ready"), Some(base + 11.0));
        assert_eq!(
            desk(s, group, "session_state", "disconnected"),
            Some(base + 12.0)
        );
        assert_eq!(
            desk(s, group, "session_state", "unknown"),
            Some(base + 13.0)
        );
    }
    assert_eq!(m.find("huaweicloud_workspace_desktops", &[]).len(), 12);
    assert_eq!(
        m.find("huaweicloud_workspace_desktop_sessions", &[]).len(),
        15
    );

    assert_eq!(
        m.value("huaweicloud_workspace_online_users", &cloud),
        Some(17.0)
    );

    let app = |group: &str, state: &str| {
        m.value(
            "huaweicloud_workspace_app_sessions",
            &[
                ("server_group", group),
                ("session_state", state),
                ("region", "cn-north-4"),
            ],
        )
    };
    assert_eq!(app("Office Apps", "active"), Some(400.0));
    assert_eq!(app("Office Apps", "disconnected"), Some(100.0));
    assert_eq!(app("Office Apps", "appc_init"), Some(50.0));
    assert_eq!(app("Office Apps", "signed_out"), Some(40.0));
    assert_eq!(app("Office Apps", "init_fail"), Some(10.0));
    assert_eq!(app("Office Apps", "reconnecting"), None);
    assert_eq!(app("asg-2", "active"), Some(500.0));
    assert_eq!(app("asg-2", "reconnecting"), Some(34.0));
    assert_eq!(app("asg-2", "init_fail"), Some(0.0));
    assert_eq!(app("unknown", "signed_out"), Some(100.0));
    assert_eq!(app("unknown", "active"), Some(0.0));
    let total: f64 = m
        .find("huaweicloud_workspace_app_sessions", &[])
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 1234.0);
    // 1,234 sessions at 100 per page.
    assert_eq!(h.sim.requests(Route::ListSessions), 13);

    for c in ["desktop_status", "online_users", "app_sessions"] {
        assert_eq!(up(&m, c), Some(1.0), "{c}");
        let last = m.value(
            "workspace_exporter_collector_last_success_timestamp_seconds",
            &[("target", "prod"), ("collector", c)],
        );
        assert!(last.unwrap() > 1.7e9);
        assert!(
            m.value(
                "workspace_exporter_collector_duration_seconds",
                &[("target", "prod"), ("collector", c)]
            )
            .is_some()
        );
    }
    let requests = |api: &str, code: &str| {
        m.value(
            "workspace_exporter_api_requests_total",
            &[("target", "prod"), ("api", api), ("code", code)],
        )
    };
    assert_eq!(requests("list_sessions", "200"), Some(13.0));
    assert_eq!(requests("connections_status", "200"), Some(1.0));
    assert_eq!(requests("online_users", "200"), Some(1.0));
    // Three collectors, one project discovery.
    assert_eq!(requests("iam_projects", "200"), Some(1.0));
    assert_eq!(
        m.value(
            "workspace_exporter_build_info",
            &[("version", workspace_exporter::VERSION)]
        ),
        Some(1.0)
    );
    assert_eq!(m.types["huaweicloud_workspace_desktops"], "gauge");
    assert_eq!(m.types["workspace_exporter_api_requests_total"], "counter");
    assert!(
        m.text
            .contains("# HELP huaweicloud_workspace_online_users ")
    );
    assert!(m.text.contains("refreshed every poll interval"));
}

#[tokio::test]
async fn a_vanished_group_disappears_with_the_next_poll() {
    let h = start(scenario(), "").await;
    assert!(
        h.scrape()
            .await
            .value(
                "huaweicloud_workspace_desktops",
                &[("desktop_group", "Engineering"), ("status", "running")]
            )
            .is_some()
    );
    h.sim.update(|s| {
        s.desktop_groups.retain(|g| g.static_name != "Engineering");
        s.sessions
            .retain(|s| s.server_group_id.as_deref() != Some("asg-2"));
    });
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert!(
        m.find(
            "huaweicloud_workspace_desktops",
            &[("desktop_group", "Engineering")]
        )
        .is_empty()
    );
    assert!(
        m.find(
            "huaweicloud_workspace_desktop_sessions",
            &[("desktop_group", "Engineering")]
        )
        .is_empty()
    );
    assert!(
        m.find(
            "huaweicloud_workspace_app_sessions",
            &[("server_group", "asg-2")]
        )
        .is_empty()
    );
    assert_eq!(
        m.value(
            "huaweicloud_workspace_desktops",
            &[("desktop_group", "Finance"), ("status", "running")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn an_upstream_500_sets_up_to_zero_and_keeps_the_last_values() {
    let h = start(scenario(), "").await;
    h.sim
        .set_fault(Route::ConnectionsStatus, Some(Fault::Status(500)));
    h.sim.update(|s| s.desktop_groups[0].in_use_num = 999);
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(up(&m, "desktop_status"), Some(0.0));
    assert_eq!(up(&m, "online_users"), Some(1.0));
    let in_use = [("desktop_group", "Finance"), ("session_state", "in_use")];
    assert_eq!(
        m.value("huaweicloud_workspace_desktop_sessions", &in_use),
        Some(9.0)
    );
    // The first attempt and three retries.
    assert_eq!(
        m.value(
            "workspace_exporter_api_requests_total",
            &[("api", "connections_status"), ("code", "500")]
        ),
        Some(4.0)
    );

    h.sim.set_fault(Route::ConnectionsStatus, None);
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(up(&m, "desktop_status"), Some(1.0));
    assert_eq!(
        m.value("huaweicloud_workspace_desktop_sessions", &in_use),
        Some(999.0)
    );
}

#[tokio::test]
async fn a_bad_signature_is_rejected() {
    let sim = common::start_sim(scenario()).await;
    let toml =
        common::target_toml(&sim.url(), "prod", "").replace(common::SK, "not-the-right-secret-key");
    let h = common::start_exporter(sim, &toml).await;
    let m = h.scrape().await;
    for c in ["desktop_status", "online_users", "app_sessions"] {
        assert_eq!(up(&m, c), Some(0.0), "{c}");
    }
    // Each collector's first poll looks the project up once; the 401 is not retried,
    // and nothing else is asked without a project.
    assert_eq!(h.sim.rejected_signatures(), 3);
    assert_eq!(
        m.value(
            "workspace_exporter_api_requests_total",
            &[("api", "iam_projects"), ("code", "401")]
        ),
        Some(3.0)
    );
    assert_eq!(
        m.find("workspace_exporter_api_requests_total", &[]).len(),
        1,
        "only IAM was asked"
    );
    assert!(m.find("huaweicloud_workspace_desktops", &[]).is_empty());
    assert!(!m.text.contains("not-the-right-secret-key"));
}

#[tokio::test]
async fn temporary_credentials_send_a_signed_security_token() {
    let mut s = scenario();
    s.credentials = vec![SimCredential {
        access_key: "STSAK0000000000000001".into(),
        secret_key: "sts-secret".into(),
        security_token: Some("token-with/slashes+and=equals".into()),
    }];
    let sim = common::start_sim(s).await;
    let toml = common::target_toml(
        &sim.url(),
        "prod",
        "security_token = \"token-with/slashes+and=equals\"",
    )
    .replace(common::AK, "STSAK0000000000000001")
    .replace(common::SK, "sts-secret");
    let h = common::start_exporter(sim, &toml).await;
    let m = h.scrape().await;
    assert_eq!(up(&m, "desktop_status"), Some(1.0));
    assert_eq!(h.sim.rejected_signatures(), 0);
    assert!(!m.text.contains("token-with"));

    // Without the token the same keys are refused.
    let mut s = scenario();
    s.credentials = vec![SimCredential {
        access_key: "STSAK0000000000000001".into(),
        secret_key: "sts-secret".into(),
        security_token: Some("token-with/slashes+and=equals".into()),
    }];
    let sim = common::start_sim(s).await;
    let toml = common::target_toml(&sim.url(), "prod", "")
        .replace(common::AK, "STSAK0000000000000001")
        .replace(common::SK, "sts-secret");
    let h2 = common::start_exporter(sim, &toml).await;
    assert_eq!(up(&h2.scrape().await, "desktop_status"), Some(0.0));
}

#[tokio::test]
async fn a_configured_project_id_skips_iam() {
    let h = start(scenario(), &format!("project_id = \"{DEMO_PROJECT_ID}\"")).await;
    let m = h.scrape().await;
    assert_eq!(up(&m, "app_sessions"), Some(1.0));
    assert_eq!(h.sim.requests(Route::IamProjects), 0);
}

#[tokio::test]
async fn http_endpoints_answer_as_documented() {
    let h = start(scenario(), "").await;
    let landing = h.get("/").await;
    assert_eq!(landing.status(), 200);
    assert!(landing.text().await.unwrap().contains("href=\"/metrics\""));
    assert_eq!(h.get("/-/healthy").await.status(), 200);
    assert_eq!(h.get("/-/ready").await.status(), 200);
    assert_eq!(h.get("/nope").await.status(), 404);
    let post = h.http.post(h.url("/metrics")).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn not_ready_until_every_collector_has_polled_once() {
    // An IAM endpoint that accepts connections and never answers keeps every
    // collector in its first poll.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging_url = format!("http://{}", hanging.local_addr().unwrap());
    let sim = common::start_sim(scenario()).await;
    let toml = common::target_toml(&sim.url(), "prod", "timeout = \"1h\"").replace(
        &format!("iam_endpoint = \"{}\"", sim.url()),
        &format!("iam_endpoint = \"{hanging_url}\""),
    );
    let (config, _dir) = common::load_config(&toml);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let exporter = workspace_exporter::exporter::start(
        &config,
        Default::default(),
        listener,
        shutdown.clone(),
    )
    .unwrap();
    let resp = reqwest::get(format!("http://{}/-/ready", exporter.local_addr()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body = resp.text().await.unwrap();
    for c in ["desktop_status", "online_users", "app_sessions"] {
        assert!(body.contains(&format!("prod/{c}")), "{body}");
    }
    // /metrics still answers, with the collectors down.
    let m = Scrape::parse(
        &reqwest::get(format!("http://{}/metrics", exporter.local_addr()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(up(&m, "online_users"), Some(0.0));
    // Closing the hanging endpoint resets the waiting connections: every first poll
    // ends (failed), and readiness turns 200.
    drop(hanging);
    tokio::time::timeout(std::time::Duration::from_secs(60), exporter.ready())
        .await
        .expect("the first polls never ended");
    let resp = reqwest::get(format!("http://{}/-/ready", exporter.local_addr()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "Ready\n");
    shutdown.cancel();
    exporter.wait().await;
}

#[tokio::test]
async fn two_targets_share_one_family_per_metric() {
    let sim = common::start_sim(scenario()).await;
    let toml = format!(
        "{}{}",
        common::target_toml(&sim.url(), "prod", "collectors = [\"online_users\"]"),
        common::target_toml(
            &sim.url(),
            "staging",
            // The simulator knows one project; naming it skips IAM's lookup by region.
            &format!(
                "collectors = [\"online_users\"]\nregion = \"cn-north-9\"\nproject_id = \"{DEMO_PROJECT_ID}\""
            )
        )
        .replace("region = \"cn-north-4\"\n", "")
    );
    let h: Harness = common::start_exporter(sim, &toml).await;
    let m = h.scrape().await;
    assert_eq!(m.find("workspace_exporter_collector_up", &[]).len(), 2);
    for target in ["prod", "staging"] {
        assert_eq!(
            m.value("workspace_exporter_collector_up", &[("target", target)]),
            Some(1.0),
            "{target}"
        );
    }
    // The store merges the two targets' snapshots of one family under one HELP and one
    // TYPE line, with both samples.
    for family in [
        "workspace_exporter_collector_up",
        "huaweicloud_workspace_online_users",
    ] {
        for header in ["# HELP", "# TYPE"] {
            assert_eq!(
                m.text.matches(&format!("{header} {family} ")).count(),
                1,
                "{header} {family}:\n{}",
                m.text
            );
        }
    }
    let online = m.find("huaweicloud_workspace_online_users", &[]);
    assert_eq!(online.len(), 2, "{}", m.text);
    let regions: std::collections::BTreeSet<&str> =
        online.iter().map(|s| s.labels["region"].as_str()).collect();
    assert_eq!(regions, ["cn-north-4", "cn-north-9"].into());
    // Each family's samples follow its own header, not another family's.
    let type_at = m
        .text
        .find("# TYPE huaweicloud_workspace_online_users ")
        .unwrap();
    let next_family = m.text[type_at..]
        .match_indices("# HELP ")
        .next()
        .map_or(m.text.len(), |(i, _)| type_at + i);
    assert_eq!(
        m.text[type_at..next_family]
            .lines()
            .filter(|l| l.starts_with("huaweicloud_workspace_online_users{"))
            .count(),
        2,
        "{}",
        m.text
    );
}
