//! The `sag_online_clients` collector end to end against the simulator's SAG side.

mod common;

use common::{Scrape, load_config};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workspace_exporter::simulator::scenario::{DEMO_SAG_ACCESS_KEY_ID, DEMO_SAG_ACCESS_KEY_SECRET};
use workspace_exporter::simulator::{Route, Scenario, SimSagInstance, SimSagUser};

fn user(name: &str, clients: &[(&str, u64)]) -> SimSagUser {
    SimSagUser {
        name: name.into(),
        clients: clients.iter().map(|(ip, t)| (ip.to_string(), *t)).collect(),
    }
}

/// `sag-hq`: 12 accounts listed 5 per page (3 pages); every third one offline.
/// `sag-branch`: accounts named in the configuration, one of which does not exist.
fn scenario() -> Scenario {
    let mut s = Scenario::empty();
    s.sag_max_page_size = 5;
    s.sag_instances = vec![
        SimSagInstance {
            smartag_id: "sag-hq".into(),
            region: "cn-shanghai".into(),
            users: (1..=12)
                .map(|i| {
                    if i % 3 == 0 {
                        user(&format!("staff{i:02}"), &[])
                    } else {
                        SimSagUser {
                            name: format!("staff{i:02}"),
                            clients: vec![(format!("10.0.0.{i}"), 1_700_000_000 + i)],
                        }
                    }
                })
                .collect(),
        },
        SimSagInstance {
            smartag_id: "sag-branch".into(),
            region: "cn-shanghai".into(),
            users: vec![
                user(
                    "alice smith@corp.example",
                    &[
                        ("192.168.1.7", 1_700_000_100),
                        ("192.168.1.8", 1_700_000_200),
                    ],
                ),
                user("bob", &[]),
            ],
        },
    ];
    s
}

fn config(sim_url: &str, secret: &str) -> String {
    format!(
        r#"
[[alibabacloud_sag]]
name = "sag"
region = "cn-shanghai"
access_key_id = "{DEMO_SAG_ACCESS_KEY_ID}"
access_key_secret = "{secret}"
endpoint = "{sim_url}"
interval = "1h"
concurrency = 3

[[alibabacloud_sag.instances]]
smartag_id = "sag-hq"

[[alibabacloud_sag.instances]]
smartag_id = "sag-branch"
users = ["alice smith@corp.example", "bob", "no such user"]
"#
    )
}

async fn run(
    secret: &str,
) -> (
    Scrape,
    workspace_exporter::simulator::Simulator,
    CancellationToken,
) {
    let sim = common::start_sim(scenario()).await;
    let (config, _dir) = load_config(&config(&sim.url(), secret));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let exporter = workspace_exporter::exporter::start(
        &config,
        Default::default(),
        listener,
        shutdown.clone(),
    )
    .unwrap();
    exporter.ready().await;
    let text = reqwest::get(format!("http://{}/metrics", exporter.local_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (Scrape::parse(&text), sim, shutdown)
}

#[tokio::test]
async fn exports_online_clients_of_configured_and_discovered_accounts() {
    let (m, sim, shutdown) = run(DEMO_SAG_ACCESS_KEY_SECRET).await;
    let online = |id: &str, user: &str| {
        m.value(
            "alibabacloud_sag_user_online_clients",
            &[
                ("region", "cn-shanghai"),
                ("smartag_id", id),
                ("user", user),
            ],
        )
    };
    // Discovered: all 12 accounts over 3 pages.
    assert_eq!(sim.requests(Route::SagClientUsers), 3);
    for i in 1..=12u64 {
        let name = format!("staff{i:02}");
        let expected = if i % 3 == 0 { 0.0 } else { 1.0 };
        assert_eq!(online("sag-hq", &name), Some(expected), "{name}");
        let since = m.value(
            "alibabacloud_sag_client_online_since_timestamp_seconds",
            &[
                ("smartag_id", "sag-hq"),
                ("user", &name),
                ("client_ip", &format!("10.0.0.{i}")),
            ],
        );
        assert_eq!(
            since,
            (i % 3 != 0).then_some((1_700_000_000 + i) as f64),
            "{name}"
        );
    }
    // Configured: a name with a space and '@' travels through signing intact.
    assert_eq!(online("sag-branch", "alice smith@corp.example"), Some(2.0));
    assert_eq!(
        m.value(
            "alibabacloud_sag_client_online_since_timestamp_seconds",
            &[
                ("user", "alice smith@corp.example"),
                ("client_ip", "192.168.1.8")
            ]
        ),
        Some(1_700_000_200.0)
    );
    assert_eq!(online("sag-branch", "bob"), Some(0.0));
    // The rejected account has no series, the others still export, and up says the
    // poll as a whole did not succeed.
    assert_eq!(online("sag-branch", "no such user"), None);
    assert_eq!(
        m.value(
            "workspace_exporter_collector_up",
            &[("target", "sag"), ("collector", "sag_online_clients")]
        ),
        Some(0.0)
    );
    assert_eq!(
        m.value(
            "workspace_exporter_api_requests_total",
            &[
                ("target", "sag"),
                ("api", "describe_user_online_clients"),
                ("code", "400")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.value(
            "workspace_exporter_api_requests_total",
            &[
                ("target", "sag"),
                ("api", "describe_user_online_clients"),
                ("code", "200")
            ]
        ),
        // Detail only for the 8 accounts of sag-hq with clients online; sag-branch's
        // statistics call is refused (one invalid name), so its 3 accounts are asked
        // one by one.
        Some(10.0)
    );
    let statistics = |code: &str| {
        m.value(
            "workspace_exporter_api_requests_total",
            &[
                ("api", "describe_user_online_client_statistics"),
                ("code", code),
            ],
        )
    };
    assert_eq!(statistics("200"), Some(1.0));
    assert_eq!(statistics("400"), Some(1.0));
    assert_eq!(
        m.value(
            "workspace_exporter_poll_api_calls",
            &[("collector", "sag_online_clients")]
        ),
        Some((3 + 2 + 8 + 3) as f64)
    );
    assert_eq!(sim.rejected_signatures(), 0);
    shutdown.cancel();
}

#[tokio::test]
async fn a_bad_signature_is_rejected() {
    let (m, sim, shutdown) = run("wrong-secret").await;
    // Every request of the poll is rejected (400, not retried), and each is counted.
    let counted: f64 = m
        .find(
            "workspace_exporter_api_requests_total",
            &[("target", "sag")],
        )
        .iter()
        .inspect(|s| assert_eq!(s.labels["code"], "400", "{s:?}"))
        .map(|s| s.value)
        .sum();
    assert_eq!(sim.rejected_signatures(), 5);
    assert_eq!(counted, 5.0);
    assert!(
        m.find("alibabacloud_sag_user_online_clients", &[])
            .is_empty()
    );
    assert_eq!(
        m.value(
            "workspace_exporter_collector_up",
            &[("target", "sag"), ("collector", "sag_online_clients")]
        ),
        Some(0.0)
    );
    assert!(!m.text.contains("wrong-secret"));
    shutdown.cancel();
}

#[tokio::test]
async fn client_detail_is_fetched_only_for_accounts_with_clients_online() {
    let mut s = Scenario::empty();
    s.sag_instances = vec![SimSagInstance {
        smartag_id: "sag-big".into(),
        region: "cn-shanghai".into(),
        users: (0..120)
            .map(|i| {
                if i % 30 == 0 {
                    user(&format!("u{i:03}"), &[("10.1.0.1", 1_700_000_000)])
                } else {
                    user(&format!("u{i:03}"), &[])
                }
            })
            .collect(),
    }];
    let sim = common::start_sim(s).await;
    let toml = config(&sim.url(), DEMO_SAG_ACCESS_KEY_SECRET)
        .split("[[alibabacloud_sag.instances]]")
        .next()
        .unwrap()
        .to_string()
        + "[[alibabacloud_sag.instances]]\nsmartag_id = \"sag-big\"\n";
    let h = common::start_exporter(sim, &toml).await;
    let m = h.scrape().await;
    assert_eq!(
        m.find("alibabacloud_sag_user_online_clients", &[]).len(),
        120
    );
    assert_eq!(
        m.find(
            "alibabacloud_sag_client_online_since_timestamp_seconds",
            &[]
        )
        .len(),
        4
    );
    // 3 pages of accounts (50 each), 3 statistics calls (50 each), 4 detail calls.
    assert_eq!(h.sim.requests(Route::SagClientUsers), 3);
    assert_eq!(h.sim.requests(Route::SagStatistics), 3);
    assert_eq!(h.sim.requests(Route::SagUserOnlineClients), 4);
    assert_eq!(
        m.value(
            "workspace_exporter_poll_api_calls",
            &[("collector", "sag_online_clients")]
        ),
        Some(10.0)
    );
}
