//! Configuration reload: `POST /-/reload` (and SIGHUP, see `tests/cli.rs`) applies a
//! valid file, rejects an invalid one while the old configuration keeps running, and
//! reports both in the self-metrics.

mod common;

use common::{Harness, Scrape};
use workspace_exporter::simulator::{Scenario, SimDesktopGroup};

fn scenario() -> Scenario {
    let mut s = Scenario::empty();
    s.desktop_groups = vec![SimDesktopGroup {
        static_name: "Finance".into(),
        in_use_num: 3,
        ..Default::default()
    }];
    s.time_counts = vec!["00:00 : 2".into()];
    s
}

async fn reload(h: &Harness) -> (u16, String) {
    let resp = h.http.post(h.url("/-/reload")).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn write_config(h: &Harness, body: &str) {
    std::fs::write(h.config_path(), format!("{}{body}", common::TEST_POLL)).unwrap();
}

fn reload_ok(m: &Scrape) -> f64 {
    m.value("workspace_exporter_config_last_reload_successful", &[])
        .unwrap()
}

#[tokio::test]
async fn a_valid_file_is_applied_and_an_invalid_one_rejected() {
    let sim = common::start_sim(scenario()).await;
    let one = common::target_toml(&sim.url(), "prod", "collectors = [\"desktop_status\"]");
    let h = common::start_exporter_with_lifecycle(sim, &one).await;
    let m = h.scrape().await;
    assert_eq!(reload_ok(&m), 1.0);
    let started_at = m
        .value(
            "workspace_exporter_config_last_reload_success_timestamp_seconds",
            &[],
        )
        .unwrap();
    assert!(
        m.value(
            "workspace_exporter_collector_up",
            &[("collector", "online_users")]
        )
        .is_none()
    );

    // Add a collector and a second target.
    let two = format!(
        "{}{}",
        common::target_toml(
            &h.sim.url(),
            "prod",
            "collectors = [\"desktop_status\", \"online_users\"]"
        ),
        common::target_toml(&h.sim.url(), "staging", "collectors = [\"online_users\"]")
    );
    write_config(&h, &two);
    let (status, body) = reload(&h).await;
    assert_eq!(status, 200, "{body}");
    h.exporter.ready().await;
    let m = h.scrape().await;
    assert_eq!(reload_ok(&m), 1.0);
    assert!(
        m.value(
            "workspace_exporter_config_last_reload_success_timestamp_seconds",
            &[]
        )
        .unwrap()
            >= started_at
    );
    assert_eq!(
        m.value(
            "workspace_exporter_collector_up",
            &[("target", "staging"), ("collector", "online_users")]
        ),
        Some(1.0)
    );
    assert_eq!(m.find("huaweicloud_workspace_online_users", &[]).len(), 2);

    // An invalid file is rejected, naming the key; the running configuration stays.
    write_config(&h, &format!("{two}\nbogus_key = 1\n"));
    let (status, body) = reload(&h).await;
    assert_eq!(status, 500);
    assert!(body.contains("bogus_key"), "{body}");
    let m = h.scrape().await;
    assert_eq!(reload_ok(&m), 0.0);
    h.sim.update(|s| s.desktop_groups[0].in_use_num = 4);
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(
        m.value(
            "huaweicloud_workspace_desktop_sessions",
            &[("desktop_group", "Finance"), ("session_state", "in_use")]
        ),
        Some(4.0)
    );
    assert_eq!(
        m.value(
            "workspace_exporter_collector_up",
            &[("target", "staging"), ("collector", "online_users")]
        ),
        Some(1.0)
    );

    assert!(
        !m.find(
            "workspace_exporter_api_requests_total",
            &[("target", "staging")]
        )
        .is_empty()
    );

    // Removing a target removes its series, its own metrics included.
    write_config(&h, &one);
    let (status, _) = reload(&h).await;
    assert_eq!(status, 200);
    h.exporter.ready().await;
    let m = h.scrape().await;
    assert_eq!(reload_ok(&m), 1.0);
    assert!(
        m.find("workspace_exporter_collector_up", &[("target", "staging")])
            .is_empty()
    );
    assert!(m.find("huaweicloud_workspace_online_users", &[]).is_empty());
    assert_eq!(m.find("workspace_exporter_collector_up", &[]).len(), 1);
    assert!(
        m.find(
            "workspace_exporter_api_requests_total",
            &[("target", "staging")]
        )
        .is_empty()
    );
    assert!(
        !m.find(
            "workspace_exporter_api_requests_total",
            &[("target", "prod")]
        )
        .is_empty()
    );
}

/// `POST` and `PUT` reload (as in Prometheus); any other method gets 405 naming both.
#[tokio::test]
async fn reload_takes_post_or_put_only() {
    let sim = common::start_sim(scenario()).await;
    let toml = common::target_toml(&sim.url(), "prod", "");
    let h = common::start_exporter_with_lifecycle(sim, &toml).await;
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let resp = h
            .http
            .request(method.clone(), h.url("/-/reload"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method}");
        assert_eq!(resp.headers()["allow"], "POST, PUT", "{method}");
    }
    for method in [reqwest::Method::POST, reqwest::Method::PUT] {
        let resp = h
            .http
            .request(method.clone(), h.url("/-/reload"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{method}");
        assert_eq!(resp.text().await.unwrap(), "Configuration reloaded\n");
    }
}

/// Without `--web.enable-lifecycle`, `POST /-/reload` answers 403 with a one-line
/// reason and changes nothing.
#[tokio::test]
async fn reload_needs_the_lifecycle_flag() {
    let sim = common::start_sim(scenario()).await;
    let one = common::target_toml(&sim.url(), "prod", "collectors = [\"desktop_status\"]");
    let h = common::start_exporter(sim, &one).await;
    write_config(&h, "this is not TOML");
    let (status, body) = reload(&h).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.contains("--web.enable-lifecycle"), "{body}");
    let m = h.scrape().await;
    assert_eq!(reload_ok(&m), 1.0, "the refused request must not reload");
}

#[tokio::test]
async fn a_rejected_reload_does_not_echo_a_secret() {
    let sim = common::start_sim(scenario()).await;
    let toml = common::target_toml(&sim.url(), "prod", "");
    let h = common::start_exporter_with_lifecycle(sim, &toml).await;
    let broken = toml.replace(
        &format!("secret_key = \"{}\"", common::SK),
        "secret_key = demo-secret-key-not-a-real-one",
    );
    assert_ne!(broken, toml);
    write_config(&h, &broken);
    let (status, body) = reload(&h).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("huaweicloud[0].secret_key"), "{body}");
    assert!(body.contains("line "), "{body}");
    assert!(
        !body.contains("demo-secret"),
        "the secret was echoed: {body}"
    );
}
