//! The quota table: for each example tenant, the API calls per `app_sessions` poll of
//! each plan against the optimum computed from the tenant, and how long a poll takes
//! at the default `rate_limit_per_minute = 100`. Runs the real exporter against the
//! simulator on loopback, on tokio's paused clock, so minutes of quota pass in
//! milliseconds. Run with `cargo bench --bench quota`; prints a Markdown table
//! (`bench/run` includes it in its report).

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workspace_exporter::config::Config;
use workspace_exporter::exporter::{self, StartOptions};
use workspace_exporter::simulator::scenario::{
    self, DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY, SESSION_STATES,
};
use workspace_exporter::simulator::{Scenario, Simulator};

/// An example tenant: name, server groups, sessions per state.
struct Tenant {
    name: &'static str,
    groups: usize,
    per_state: [usize; 5],
}

fn tenants() -> Vec<Tenant> {
    vec![
        Tenant {
            name: "ordinary day (`simulate`'s default)",
            groups: 60,
            per_state: scenario::split_typically(60_000),
        },
        Tenant {
            name: "large, mostly signed out",
            groups: 200,
            per_state: [1_500, 400, 100, 95_000, 3_000],
        },
        Tenant {
            name: "large, a fifth in each state",
            groups: 200,
            per_state: scenario::split_evenly(100_000),
        },
        Tenant {
            name: "many sessions, few groups",
            groups: 20,
            per_state: scenario::split_evenly(100_000),
        },
        Tenant {
            name: "few sessions, many groups",
            groups: 200,
            per_state: scenario::split_evenly(2_000),
        },
        Tenant {
            name: "small",
            groups: 3,
            per_state: [120, 30, 10, 70, 10],
        },
    ]
}

fn scenario_of(t: &Tenant) -> Scenario {
    let mut s = Scenario::empty();
    s.server_groups = (0..t.groups)
        .map(|g| (format!("asg-{g:04}"), Some(format!("Server group {g}"))))
        .collect();
    s.set_sessions(t.per_state);
    s
}

/// One poll's numbers.
#[derive(Debug, Clone, Copy)]
struct Poll {
    calls: f64,
    seconds: f64,
}

/// Polls `t` twice with `plan` at 100 requests a minute: the first poll (no history)
/// and, a minute later, the second (planned from the first).
async fn measure(t: &Tenant, plan: &str) -> (Poll, Poll) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Simulator::start(listener, scenario_of(t)).unwrap();
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[poll]\nrate_limit_per_minute = 100\n\n[[huaweicloud]]\nname = \"t\"\nregion = \"cn-north-4\"\nproject_id = \"{DEMO_PROJECT_ID}\"\naccess_key = \"{DEMO_ACCESS_KEY}\"\nsecret_key = \"{DEMO_SECRET_KEY}\"\ncollectors = [\"app_sessions\"]\nsession_plan = \"{plan}\"\ninterval = \"1h\"\nworkspace_endpoint = \"{url}\"\napp_endpoint = \"{url}\"\niam_endpoint = \"{url}\"\n"
        ),
    )
    .unwrap();
    let config = Config::load_with_env(&path, &[]).unwrap();
    let shutdown = CancellationToken::new();
    let options = StartOptions {
        direct: true,
        ..StartOptions::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = exporter::start(&config, options, listener, shutdown.clone()).unwrap();
    running.ready().await;
    let read = || {
        let families = running.store().self_metrics().gather();
        let value = |name: &str| {
            families
                .iter()
                .find(|f| f.name() == name)
                .and_then(|f| f.get_metric().first())
                .map(|m| m.get_gauge().get_value())
                .unwrap_or(f64::NAN)
        };
        Poll {
            calls: value("workspace_exporter_poll_api_calls"),
            seconds: value("workspace_exporter_collector_duration_seconds"),
        }
    };
    let first = read();
    // A minute later, so the second poll starts with the quota of a fresh minute.
    tokio::time::sleep(Duration::from_secs(60)).await;
    running.poll_now().await;
    let second = read();
    shutdown.cancel();
    running.wait().await;
    (first, second)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    println!(
        "| tenant | server groups | sessions ({}) | paging | counts | auto: first poll | auto: next polls | optimum | auto poll time at 100/min |",
        SESSION_STATES.join(" / ")
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for t in tenants() {
        let (_, paging) = runtime.block_on(measure(&t, "paging"));
        let (_, counts) = runtime.block_on(measure(&t, "counts"));
        let (first, auto) = runtime.block_on(measure(&t, "auto"));
        let best = scenario_of(&t).optimal_app_session_calls();
        let mark = if auto.calls == best as f64 {
            ""
        } else {
            " (NOT optimal)"
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {}{mark} | {best} | {:.0} s |",
            t.name,
            t.groups,
            t.per_state.map(|n| n.to_string()).join(" / "),
            paging.calls,
            counts.calls,
            first.calls,
            auto.calls,
            auto.seconds,
        );
    }
}
