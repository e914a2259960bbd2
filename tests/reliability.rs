//! A flaky, throttling, lying cloud: every fault the simulator can inject, what the
//! exporter's metrics say about it, and the cause its log gives for each failed poll.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Harness, Scrape};
use workspace_exporter::simulator::scenario::DEMO_PROJECT_ID;
use workspace_exporter::simulator::{Fault, Route, Scenario, SimDesktopGroup, SimSession};

fn scenario() -> Scenario {
    let mut s = Scenario::empty();
    s.desktop_groups = vec![SimDesktopGroup {
        static_name: "Finance".into(),
        in_use_num: 7,
        running_num: 9,
        ..Default::default()
    }];
    s.time_counts = vec!["00:00 : 4".into(), "01:00 : 6".into()];
    s.sessions = (0..250)
        .map(|i| SimSession {
            server_group_id: Some("asg-1".into()),
            server_group_name: Some("Office".into()),
            state: if i % 5 == 0 { "Disconnected" } else { "Active" }.into(),
        })
        .collect();
    s
}

/// The log lines of one test's exporter. The subscriber is the default of the test's
/// thread only, and a `#[tokio::test]` runs every task of its exporter on that thread,
/// so tests running side by side do not mix their lines.
#[derive(Clone, Default)]
struct Logs(
    /// Everything written so far.
    Arc<Mutex<Vec<u8>>>,
);

/// Appends to a [`Logs`] buffer.
struct LogWriter(
    /// The buffer of the [`Logs`].
    Arc<Mutex<Vec<u8>>>,
);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let buffer = logs.0.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || LogWriter(buffer.clone()))
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// The last "poll failed" (or "poll abandoned") line of `collector`; panics when
    /// there is none.
    fn last_failure(&self, collector: &str) -> String {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines()
            .rev()
            .find(|l| {
                (l.contains("poll failed") || l.contains("poll abandoned"))
                    && l.contains(&format!("collector=\"{collector}\""))
            })
            .unwrap_or_else(|| panic!("no failed poll of {collector} in the log:\n{text}"))
            .to_string()
    }

    /// Asserts that the last failed poll of `collector` names `cause`.
    fn assert_cause(&self, collector: &str, cause: &str) {
        let line = self.last_failure(collector);
        assert!(
            line.contains(cause),
            "expected {cause:?} as the cause: {line}"
        );
    }
}

/// An exporter and the log lines of this test.
struct Run {
    /// The exporter and its simulator.
    h: Harness,
    /// What the exporter logged.
    logs: Logs,
    /// Keeps the test's subscriber installed.
    _guard: tracing::subscriber::DefaultGuard,
}

impl std::ops::Deref for Run {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.h
    }
}

/// An exporter with `poll` settings (a complete `[poll]` section) and a configured
/// project, so IAM is not part of the picture.
async fn start(poll: &str) -> Run {
    start_with(poll, "").await
}

/// As [`start`], with `extra` keys in the target's section.
async fn start_with(poll: &str, extra: &str) -> Run {
    let (logs, guard) = Logs::capture();
    let sim = common::start_sim(scenario()).await;
    let toml = format!(
        "{poll}\n{}",
        common::target_toml(
            &sim.url(),
            "prod",
            &format!("project_id = \"{DEMO_PROJECT_ID}\"\n{extra}")
        )
    );
    Run {
        h: common::start_exporter(sim, &toml).await,
        logs,
        _guard: guard,
    }
}

const QUICK: &str = "[poll]\nretry_backoff = \"1ms\"\nrate_limit_per_minute = 600000\n";

fn up(m: &Scrape, collector: &str) -> f64 {
    m.value(
        "workspace_exporter_collector_up",
        &[("collector", collector)],
    )
    .unwrap()
}

fn requests(m: &Scrape, api: &str, code: &str) -> Option<f64> {
    m.value(
        "workspace_exporter_api_requests_total",
        &[("api", api), ("code", code)],
    )
}

fn in_use(m: &Scrape) -> Option<f64> {
    m.value(
        "huaweicloud_workspace_desktop_sessions",
        &[("desktop_group", "Finance"), ("session_state", "in_use")],
    )
}

#[tokio::test]
async fn a_429_is_retried_after_the_time_retry_after_asks_for() {
    let h = start(QUICK).await;
    h.sim.set_fault_times(
        Route::ConnectionsStatus,
        Fault::Throttle(Some("1".into())),
        1,
    );
    h.sim.update(|s| s.desktop_groups[0].in_use_num = 8);
    let started = Instant::now();
    h.exporter.poll_now().await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    let m = h.scrape().await;
    assert_eq!(up(&m, "desktop_status"), 1.0);
    assert_eq!(in_use(&m), Some(8.0));
    assert_eq!(requests(&m, "connections_status", "429"), Some(1.0));
    assert_eq!(
        m.value(
            "workspace_exporter_api_throttled_total",
            &[("target", "prod"), ("api", "connections_status")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_4xx_other_than_429_is_not_retried() {
    let h = start(QUICK).await;
    h.sim
        .set_fault(Route::OnlineUsers, Some(Fault::Status(403)));
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(up(&m, "online_users"), 0.0);
    assert_eq!(requests(&m, "online_users", "403"), Some(1.0));
    h.logs.assert_cause("online_users", "HTTP 403");
    // The last good value stays.
    assert_eq!(
        m.value("huaweicloud_workspace_online_users", &[]),
        Some(6.0)
    );
}

#[tokio::test]
async fn a_5xx_that_clears_within_the_retries_is_invisible_in_up() {
    let h = start(QUICK).await;
    h.sim
        .set_fault_times(Route::ListSessions, Fault::Status(503), 2);
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(up(&m, "app_sessions"), 1.0);
    assert_eq!(requests(&m, "list_sessions", "503"), Some(2.0));
}

#[tokio::test]
async fn a_slow_upstream_times_out_per_request() {
    let h = start(&format!("{QUICK}timeout = \"200ms\"\nmax_retries = 1\n")).await;
    h.sim.set_fault(
        Route::OnlineUsers,
        Some(Fault::Latency(Duration::from_secs(5))),
    );
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(up(&m, "online_users"), 0.0);
    assert_eq!(requests(&m, "online_users", "error"), Some(2.0));
    h.logs.assert_cause("online_users", "timed out");
}

#[tokio::test]
async fn metrics_answer_fast_while_the_upstream_hangs_and_the_deadline_ends_the_poll() {
    let h = start(&format!("{QUICK}timeout = \"1h\"\ndeadline = \"5s\"\n")).await;
    h.sim.set_fault(Route::ConnectionsStatus, Some(Fault::Hang));
    let poll = h.exporter.poll_now();
    tokio::pin!(poll);
    // While the poll hangs upstream, scrapes are served from the last snapshot.
    let mut times = Vec::new();
    for _ in 0..7 {
        tokio::select! {
            _ = &mut poll => panic!("the poll finished although the upstream hangs"),
            m = async {
                let started = Instant::now();
                let m = h.scrape().await;
                (started.elapsed(), m)
            } => {
                let (elapsed, m) = m;
                times.push(elapsed);
                assert_eq!(in_use(&m), Some(7.0));
            }
        }
    }
    // The median, so that one scheduling hiccup of a loaded test machine does not
    // decide; any scrape waiting for the hung upstream would take seconds.
    times.sort();
    assert!(
        times[times.len() / 2] < Duration::from_millis(100),
        "scrapes took {times:?}"
    );
    assert!(
        times.iter().all(|t| *t < Duration::from_secs(1)),
        "scrapes took {times:?}"
    );
    poll.await;
    let m = h.scrape().await;
    assert_eq!(up(&m, "desktop_status"), 0.0);
    h.logs
        .assert_cause("desktop_status", "longer than the deadline");
    assert_eq!(up(&m, "online_users"), 1.0);
    assert_eq!(in_use(&m), Some(7.0));
}

#[tokio::test]
async fn bad_bodies_fail_the_poll_and_keep_the_last_good_series() {
    let good_row = r#""static_name":"Finance","running_num":1,"stop_num":0,"hibernate_num":0,"other_num":0,"attached_num":0,"unattached_num":0,"cannot_attach_num":0,"in_process_num":0,"in_use_num":1,"unregistered_num":0,"ready_num":0,"disconnected_num":0"#;
    let cases = [
        ("garbage", "{not json at all".to_string()),
        (
            "html",
            "<html><body>502 Bad Gateway</body></html>".to_string(),
        ),
        (
            "truncated",
            r#"{"statics":[{"static_name":"Finance","running_num":1"#.to_string(),
        ),
        (
            "wrong type",
            format!(r#"{{"statics":[{{{good_row},"unknown_num":"many"}}]}}"#),
        ),
        (
            "missing field",
            format!(r#"{{"statics":[{{{good_row}}}]}}"#),
        ),
        (
            "negative",
            format!(r#"{{"statics":[{{{good_row},"unknown_num":-1}}]}}"#),
        ),
        (
            "absurd",
            format!(r#"{{"statics":[{{{good_row},"unknown_num":99999999999}}]}}"#),
        ),
        ("statics not a list", r#"{"statics":{"a":1}}"#.to_string()),
    ];
    let h = start(QUICK).await;
    for (name, body) in cases {
        h.sim
            .set_fault(Route::ConnectionsStatus, Some(Fault::Body(body)));
        h.exporter.poll_now().await;
        let m = h.scrape().await;
        assert_eq!(up(&m, "desktop_status"), 0.0, "{name}");
        let cause = match name {
            "garbage" | "html" => "malformed response",
            "truncated" => "EOF while parsing",
            "wrong type" => "invalid type",
            "missing field" => "missing field `unknown_num`",
            "negative" => "invalid value",
            "absurd" => "implausible",
            _ => "expected a sequence",
        };
        h.logs.assert_cause("desktop_status", cause);
        assert_eq!(in_use(&m), Some(7.0), "{name}");
    }
    h.sim.set_fault(Route::ConnectionsStatus, None);
    h.exporter.poll_now().await;
    assert_eq!(up(&h.scrape().await, "desktop_status"), 1.0);
}

#[tokio::test]
async fn an_unparsable_latest_time_count_fails_online_users() {
    let h = start(QUICK).await;
    for body in [
        r#"{"time_counts":["00:00 : 4","01:00 : lots"]}"#,
        r#"{"time_counts":["00:00 : 4","no separator"]}"#,
        r#"{"time_counts":["00:00 : 4","01:00 : 99999999999"]}"#,
        r#"{"time_counts":[1,2]}"#,
    ] {
        h.sim
            .set_fault(Route::OnlineUsers, Some(Fault::Body(body.into())));
        h.exporter.poll_now().await;
        let m = h.scrape().await;
        assert_eq!(up(&m, "online_users"), 0.0, "{body}");
        let cause = if body.contains("lots") {
            "not a non-negative integer"
        } else if body.contains("no separator") {
            "no ':' separator"
        } else if body.contains("99999999999") {
            "implausible"
        } else {
            "malformed response"
        };
        h.logs.assert_cause("online_users", cause);
        assert_eq!(
            m.value("huaweicloud_workspace_online_users", &[]),
            Some(6.0),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_body_cut_short_fails_the_poll() {
    let h = start(QUICK).await;
    h.sim
        .set_fault(Route::ConnectionsStatus, Some(Fault::CutBodyAfter(10)));
    h.exporter.poll_now().await;
    assert_eq!(up(&h.scrape().await, "desktop_status"), 0.0);
    h.logs.assert_cause("desktop_status", "connection closed");
}

#[tokio::test]
async fn an_oversized_body_is_refused_while_reading() {
    let h = start(&format!("{QUICK}max_body_bytes = 1048576\n")).await;
    h.sim.set_fault(
        Route::ConnectionsStatus,
        Some(Fault::Oversized(64 * 1024 * 1024)),
    );
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(up(&m, "desktop_status"), 0.0);
    assert_eq!(in_use(&m), Some(7.0));
    h.logs
        .assert_cause("desktop_status", "exceeds the limit of 1048576 bytes");
}

#[tokio::test]
async fn a_count_that_changes_between_pages_fails_app_sessions() {
    // One page at a time, so the number of pages asked for shows where paging stopped.
    let h = start_with(QUICK, "concurrency = 1").await;
    let before = h.sim.requests(Route::ListSessions);
    h.sim
        .set_fault(Route::ListSessions, Some(Fault::CountDrift));
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(up(&m, "app_sessions"), 0.0);
    h.logs
        .assert_cause("app_sessions", "count changed while paging");
    assert_eq!(
        h.sim.requests(Route::ListSessions) - before,
        2,
        "paging stops at the first inconsistency"
    );
    assert_eq!(
        m.value(
            "huaweicloud_workspace_app_sessions",
            &[("server_group", "Office"), ("session_state", "active")]
        ),
        Some(200.0)
    );
}

#[tokio::test]
async fn empty_pages_before_count_is_reached_end_the_loop() {
    let h = start_with(QUICK, "concurrency = 1").await;
    let before = h.sim.requests(Route::ListSessions);
    h.sim
        .set_fault(Route::ListSessions, Some(Fault::EmptyPages));
    h.exporter.poll_now().await;
    assert_eq!(up(&h.scrape().await, "app_sessions"), 0.0);
    assert_eq!(h.sim.requests(Route::ListSessions) - before, 2);
    h.logs
        .assert_cause("app_sessions", "is empty although count says");
}
