//! The status page's state: how each target × collector fared in its last poll, and
//! where each target's credentials come from.
//!
//! It sits beside the [`store`](crate::store) in the data flow. The exporter declares
//! the targets when it builds the polling loops (and again on a reload); the scheduler
//! writes one [`PollRecord`] after each poll, just before it records the poll in the
//! store (so a caller woken by the store finds the status written too); the server
//! reads a [`StatusReport`] for `GET /status` (JSON) and renders it with
//! [`render_html`] for `GET /` (HTML, no JavaScript).
//!
//! It holds nothing secret: errors are the `Display` text of the API and collect
//! errors, which never contain a credential, cut to one line of at most
//! [`MAX_ERROR_CHARS`] characters; credential sources are described in the
//! operator's words (an endpoint, a role name), never with a key.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::clock::WallClock;
use crate::self_metrics::SelfMetrics;

/// Longest error message kept per collector, in characters; longer ones are cut and end
/// with `…`.
pub const MAX_ERROR_CHARS: usize = 300;

/// Which cloud a target is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum CloudKind {
    /// Huawei Cloud Workspace (`[[huaweicloud]]`).
    #[serde(rename = "huaweicloud")]
    Huawei,
    /// Alibaba Cloud Smart Access Gateway (`[[alibabacloud_sag]]`).
    #[serde(rename = "alibabacloud_sag")]
    AlibabaSag,
}

impl CloudKind {
    /// The configuration section of the cloud's targets, as `/status` names it.
    pub fn section(self) -> &'static str {
        match self {
            CloudKind::Huawei => "huaweicloud",
            CloudKind::AlibabaSag => "alibabacloud_sag",
        }
    }

    /// The cloud and service in words, for the page.
    pub fn title(self) -> &'static str {
        match self {
            CloudKind::Huawei => "Huawei Cloud Workspace",
            CloudKind::AlibabaSag => "Alibaba Cloud Smart Access Gateway (SAG)",
        }
    }
}

/// A configured target, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// The target's `name`.
    pub name: String,
    /// Its cloud.
    pub cloud: CloudKind,
    /// Where its keys come from, in the operator's words (never a key).
    pub credentials: String,
    /// Whether those keys expire and are refreshed.
    pub temporary_credentials: bool,
}

/// How a poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Everything was read.
    Success,
    /// Part of the poll failed; the series of the rest are exported.
    Partial,
    /// Nothing usable; the last good series are kept until they are stale.
    Failed,
}

/// What the scheduler reports after one poll.
#[derive(Debug, Clone)]
pub struct PollRecord {
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
    /// Upstream requests it made (retries included).
    pub api_calls: u64,
    /// Time it spent queued behind the client-side rate limit.
    pub rate_limit_wait: Duration,
    /// How long from now until the loop polls again.
    pub next_poll_in: Duration,
    /// Why it failed (a failed or partial poll), as the error's `Display` text.
    pub error: Option<String>,
}

/// The state of one target × collector.
#[derive(Debug, Clone, Default)]
struct SlotState {
    /// How the last poll ended; `None` before the first.
    outcome: Option<Outcome>,
    /// When the last poll ended.
    last_poll: Option<SystemTime>,
    /// When the last successful poll ended.
    last_success: Option<SystemTime>,
    /// How long the last poll took.
    duration: Option<Duration>,
    /// Upstream requests of the last poll.
    api_calls: Option<u64>,
    /// Rate-limit queueing of the last poll.
    rate_limit_wait: Option<Duration>,
    /// When the next poll is due.
    next_poll: Option<SystemTime>,
    /// The last error, one line, bounded; kept after a later success, with its time.
    last_error: Option<(SystemTime, String)>,
}

/// What the lock guards.
#[derive(Debug, Default)]
struct Inner {
    /// Targets of the running configuration polled by this replica, in order.
    targets: Vec<TargetInfo>,
    /// One entry per target × collector.
    slots: BTreeMap<(String, &'static str), SlotState>,
}

/// The status of every target × collector; shared by the scheduler (writes) and the
/// server (reads).
pub struct Status {
    /// Whether this is `workspace-exporter demo` (the page says so).
    demo: bool,
    /// What "now" is (tokio's clock in tests that pause it).
    clock: WallClock,
    /// When the exporter started.
    started: SystemTime,
    /// Where temporary credentials' expiry is read from.
    self_metrics: Arc<SelfMetrics>,
    /// Targets and slots.
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Status")
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

impl Status {
    /// An empty status, started now by `clock`; `demo` marks the demo's exporter.
    pub fn new(demo: bool, clock: WallClock, self_metrics: Arc<SelfMetrics>) -> Self {
        Status {
            demo,
            clock,
            started: clock.now(),
            self_metrics,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Replaces the targets (after a start or reload) and forgets the slots not in
    /// `slots`; the slots that remain keep their history.
    pub fn set_targets<'a>(
        &self,
        targets: Vec<TargetInfo>,
        slots: impl IntoIterator<Item = (&'a str, &'static str)>,
    ) {
        let keep: std::collections::BTreeSet<(&str, &str)> = slots.into_iter().collect();
        let mut inner = self.inner.lock().expect("status lock");
        inner.targets = targets;
        inner
            .slots
            .retain(|(target, collector), _| keep.contains(&(target.as_str(), *collector)));
    }

    /// Declares a slot whose loop polls first in `first_poll_in` (a slot that exists
    /// already keeps its history).
    pub fn register(&self, target: &str, collector: &'static str, first_poll_in: Duration) {
        let next = self.clock.now() + first_poll_in;
        let mut inner = self.inner.lock().expect("status lock");
        inner
            .slots
            .entry((target.to_string(), collector))
            .or_default()
            .next_poll = Some(next);
    }

    /// Records a finished poll of `collector` of `target`.
    pub fn record(&self, target: &str, collector: &'static str, poll: PollRecord) {
        let now = self.clock.now();
        let error = poll.error.as_deref().map(one_line);
        let mut inner = self.inner.lock().expect("status lock");
        let slot = inner
            .slots
            .entry((target.to_string(), collector))
            .or_default();
        slot.outcome = Some(poll.outcome);
        slot.last_poll = Some(now);
        if poll.outcome == Outcome::Success {
            slot.last_success = Some(now);
        }
        slot.duration = Some(poll.duration);
        slot.api_calls = Some(poll.api_calls);
        slot.rate_limit_wait = Some(poll.rate_limit_wait);
        slot.next_poll = Some(now + poll.next_poll_in);
        if let Some(error) = error {
            slot.last_error = Some((now, error));
        }
    }

    /// Everything the page shows, as of now.
    pub fn report(&self) -> StatusReport {
        let now = self.clock.now();
        let inner = self.inner.lock().expect("status lock");
        let mut clouds: Vec<CloudKind> = inner.targets.iter().map(|t| t.cloud).collect();
        clouds.sort();
        clouds.dedup();
        let targets = inner
            .targets
            .iter()
            .map(|t| TargetReport {
                name: t.name.clone(),
                cloud: t.cloud,
                credentials: t.credentials.clone(),
                temporary_credentials: t.temporary_credentials,
                credentials_expiry_timestamp_seconds: if t.temporary_credentials {
                    self.self_metrics.credentials_expiry(&t.name)
                } else {
                    None
                },
                collectors: inner
                    .slots
                    .iter()
                    .filter(|((target, _), _)| *target == t.name)
                    .map(|((_, collector), slot)| collector_report(collector, slot, now))
                    .collect(),
            })
            .collect();
        StatusReport {
            version: crate::VERSION,
            demo: self.demo,
            generated_timestamp_seconds: unix_seconds(now),
            started_timestamp_seconds: unix_seconds(self.started),
            uptime_seconds: seconds_between(self.started, now),
            sag: clouds.contains(&CloudKind::AlibabaSag),
            clouds,
            targets,
        }
    }
}

fn collector_report(collector: &'static str, slot: &SlotState, now: SystemTime) -> CollectorReport {
    CollectorReport {
        collector,
        state: match slot.outcome {
            None => "pending",
            Some(Outcome::Success) => "success",
            Some(Outcome::Partial) => "partial",
            Some(Outcome::Failed) => "failed",
        },
        up: slot.outcome == Some(Outcome::Success),
        last_poll_timestamp_seconds: slot.last_poll.map(unix_seconds),
        last_success_timestamp_seconds: slot.last_success.map(unix_seconds),
        last_success_age_seconds: slot.last_success.map(|t| seconds_between(t, now)),
        last_poll_duration_seconds: slot.duration.map(|d| d.as_secs_f64()),
        api_calls: slot.api_calls,
        rate_limit_wait_seconds: slot.rate_limit_wait.map(|d| d.as_secs_f64()),
        next_poll_timestamp_seconds: slot.next_poll.map(unix_seconds),
        next_poll_in_seconds: slot.next_poll.map(|t| seconds_between(now, t)),
        last_error: slot.last_error.as_ref().map(|(_, e)| e.clone()),
        last_error_timestamp_seconds: slot.last_error.as_ref().map(|(t, _)| unix_seconds(*t)),
    }
}

/// `GET /status`: the exporter and every target × collector.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The exporter's version.
    pub version: &'static str,
    /// Whether this is `workspace-exporter demo` (simulated clouds).
    pub demo: bool,
    /// When this report was made, Unix seconds.
    pub generated_timestamp_seconds: f64,
    /// When the exporter started, Unix seconds.
    pub started_timestamp_seconds: f64,
    /// Seconds since the exporter started.
    pub uptime_seconds: f64,
    /// Whether any target is an Alibaba Cloud SAG target.
    pub sag: bool,
    /// The clouds of the targets this replica polls, by configuration section.
    pub clouds: Vec<CloudKind>,
    /// The targets this replica polls, in configuration order.
    pub targets: Vec<TargetReport>,
}

/// One target of a [`StatusReport`].
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// The target's `name`.
    pub name: String,
    /// Its cloud, by configuration section.
    pub cloud: CloudKind,
    /// Where its keys come from.
    pub credentials: String,
    /// Whether the keys expire and are refreshed.
    pub temporary_credentials: bool,
    /// When the current temporary keys expire, Unix seconds; `null` for keys that do not
    /// expire and before the first refresh.
    pub credentials_expiry_timestamp_seconds: Option<f64>,
    /// Its collectors, by name.
    pub collectors: Vec<CollectorReport>,
}

/// One target × collector of a [`StatusReport`]. Fields about the last poll are `null`
/// until the first poll ends.
#[derive(Debug, Clone, Serialize)]
pub struct CollectorReport {
    /// The collector's name.
    pub collector: &'static str,
    /// How the last poll ended: `pending` (none yet), `success`, `partial`, `failed`.
    pub state: &'static str,
    /// Whether the last poll succeeded (`workspace_exporter_collector_up`).
    pub up: bool,
    /// When the last poll ended, Unix seconds.
    pub last_poll_timestamp_seconds: Option<f64>,
    /// When the last successful poll ended, Unix seconds.
    pub last_success_timestamp_seconds: Option<f64>,
    /// Seconds since then.
    pub last_success_age_seconds: Option<f64>,
    /// How long the last poll took.
    pub last_poll_duration_seconds: Option<f64>,
    /// Upstream requests of the last poll, retries included.
    pub api_calls: Option<u64>,
    /// Time the last poll spent queued behind the client-side rate limit, in seconds.
    pub rate_limit_wait_seconds: Option<f64>,
    /// When the next poll is due, Unix seconds.
    pub next_poll_timestamp_seconds: Option<f64>,
    /// Seconds until then (0 when due now).
    pub next_poll_in_seconds: Option<f64>,
    /// The last error, one line (kept after the collector recovers; see its time).
    pub last_error: Option<String>,
    /// When that error happened, Unix seconds.
    pub last_error_timestamp_seconds: Option<f64>,
}

/// `text` on one line (line breaks and tabs become spaces, other control characters
/// are dropped), at most [`MAX_ERROR_CHARS`] characters.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_ERROR_CHARS * 4));
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c.is_control() || (c == ' ' && last_space) {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    if out.chars().count() > MAX_ERROR_CHARS {
        let mut cut: String = out.chars().take(MAX_ERROR_CHARS - 1).collect();
        cut.push('…');
        return cut;
    }
    out
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Seconds from `earlier` to `later`, 0 when `later` is before.
fn seconds_between(earlier: SystemTime, later: SystemTime) -> f64 {
    later
        .duration_since(earlier)
        .unwrap_or_default()
        .as_secs_f64()
}

/// `text` with the characters HTML gives a meaning escaped, for element content and
/// quoted attribute values alike.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A duration for people: `850ms`, `4.2s`, `3m 20s`, `2h 5m`.
fn human(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0}ms", seconds * 1000.0)
    } else if seconds < 10.0 {
        format!("{seconds:.1}s")
    } else {
        let s = seconds.round() as u64;
        let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
        match (d, h, m) {
            (0, 0, 0) => format!("{s}s"),
            (0, 0, _) => format!("{m}m {s}s"),
            (0, _, _) => format!("{h}h {m}m"),
            _ => format!("{d}d {h}h"),
        }
    }
}

/// A Unix time as `2024-05-01 12:00:00 UTC`.
fn utc(unix: f64) -> String {
    chrono::DateTime::from_timestamp(unix.floor() as i64, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// The status page: `report` as HTML that reads the same in a terminal browser, linking
/// to the metrics at `telemetry_path`. Everything taken from the configuration or from
/// upstream is escaped.
pub fn render_html(report: &StatusReport, telemetry_path: &str) -> String {
    let mut h = String::with_capacity(4096);
    let demo = if report.demo { " (demo)" } else { "" };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <title>workspace-exporter{demo}</title>\n<style>\n\
         table {{ border-collapse: collapse; }}\n\
         th, td {{ border: 1px solid #999; padding: 2px 6px; text-align: left; vertical-align: top; }}\n\
         .up {{ color: #070; }} .down {{ color: #b00; font-weight: bold; }} .pending {{ color: #666; }}\n\
         </style>\n</head>\n<body>\n<h1>workspace-exporter {version}{demo}</h1>\n",
        version = escape_html(report.version),
    );
    if report.demo {
        h.push_str(
            "<p><strong>Demo mode</strong>: the targets below poll the built-in simulator, \
             not a real cloud.</p>\n",
        );
    }
    let now = report.generated_timestamp_seconds;
    let _ = writeln!(
        h,
        "<p>Up {uptime}, since {since}. Page generated {generated}.</p>",
        uptime = human(report.uptime_seconds),
        since = utc(report.started_timestamp_seconds),
        generated = utc(now),
    );
    let _ = writeln!(
        h,
        "<p><a href=\"{metrics}\">Metrics</a> | <a href=\"/-/healthy\">Health</a> | \
         <a href=\"/-/ready\">Readiness</a> | <a href=\"/status\">This page as JSON</a></p>",
        metrics = escape_html(telemetry_path),
    );
    let clouds: Vec<&str> = report.clouds.iter().map(|c| c.title()).collect();
    if clouds.is_empty() {
        h.push_str("<p>No target is configured for this replica.</p>\n");
    } else {
        let _ = writeln!(h, "<p>Clouds: {}.</p>", escape_html(&clouds.join(", ")));
    }
    if report.sag {
        h.push_str(
            "<p>SAG targets export the online clients of their Smart Access Gateway APP \
             instances.</p>\n",
        );
    }

    h.push_str(
        "<h2>Targets</h2>\n<table id=\"targets\">\n<thead><tr><th>target</th><th>cloud</th>\
         <th>credentials</th><th>credentials expire</th><th>collectors up</th></tr></thead>\n<tbody>\n",
    );
    for t in &report.targets {
        let expiry = match (
            t.temporary_credentials,
            t.credentials_expiry_timestamp_seconds,
        ) {
            (false, _) => "never (static keys)".to_string(),
            (true, None) => "not known yet".to_string(),
            (true, Some(at)) if at > now => format!("{} (in {})", utc(at), human(at - now)),
            (true, Some(at)) => format!("{} (expired {} ago)", utc(at), human(now - at)),
        };
        let up = t.collectors.iter().filter(|c| c.up).count();
        let _ = writeln!(
            h,
            "<tr><td>{name}</td><td>{cloud}</td><td>{credentials}</td><td>{expiry}</td>\
             <td>{up} of {all}</td></tr>",
            name = escape_html(&t.name),
            cloud = escape_html(t.cloud.title()),
            credentials = escape_html(&t.credentials),
            expiry = escape_html(&expiry),
            all = t.collectors.len(),
        );
    }
    h.push_str("</tbody>\n</table>\n");

    h.push_str(
        "<h2>Collectors</h2>\n<table id=\"collectors\">\n<thead><tr><th>target</th>\
         <th>collector</th><th>status</th><th>last success</th><th>last poll took</th>\
         <th>API calls</th><th>rate-limit wait</th><th>next poll</th><th>last error</th>\
         </tr></thead>\n<tbody>\n",
    );
    for t in &report.targets {
        for c in &t.collectors {
            let (class, state) = match c.state {
                "pending" => ("pending", "PENDING"),
                "success" => ("up", "UP"),
                "partial" => ("down", "DOWN (partial)"),
                _ => ("down", "DOWN"),
            };
            let ago =
                |s: Option<f64>| s.map_or("never".to_string(), |s| format!("{} ago", human(s)));
            let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
            let next = c.next_poll_in_seconds.map(|s| {
                if s <= 0.0 {
                    "now".to_string()
                } else {
                    format!("in {}", human(s))
                }
            });
            let error = match (&c.last_error, c.last_error_timestamp_seconds) {
                (Some(e), Some(at)) => format!("{} ago: {e}", human((now - at).max(0.0))),
                (Some(e), None) => e.clone(),
                (None, _) => "-".to_string(),
            };
            let _ = writeln!(
                h,
                "<tr class=\"{class}\"><td>{target}</td><td>{collector}</td><td>{state}</td>\
                 <td>{success}</td><td>{took}</td><td>{calls}</td><td>{wait}</td><td>{next}</td>\
                 <td>{error}</td></tr>",
                target = escape_html(&t.name),
                collector = escape_html(c.collector),
                success = escape_html(&ago(c.last_success_age_seconds)),
                took = or_dash(c.last_poll_duration_seconds.map(human)),
                calls = or_dash(c.api_calls.map(|n| n.to_string())),
                wait = or_dash(c.rate_limit_wait_seconds.map(human)),
                next = or_dash(next),
                error = escape_html(&error),
            );
        }
    }
    h.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status::new(false, WallClock::System, Arc::new(SelfMetrics::new()))
    }

    fn target(name: &str, cloud: CloudKind) -> TargetInfo {
        TargetInfo {
            name: name.into(),
            cloud,
            credentials: "static keys".into(),
            temporary_credentials: false,
        }
    }

    fn failed(error: &str) -> PollRecord {
        PollRecord {
            outcome: Outcome::Failed,
            duration: Duration::from_millis(120),
            api_calls: 4,
            rate_limit_wait: Duration::from_millis(30),
            next_poll_in: Duration::from_secs(60),
            error: Some(error.into()),
        }
    }

    #[test]
    fn errors_are_cut_to_one_bounded_line() {
        assert_eq!(one_line("a\nb\r\n\tc  d \u{7}"), "a b c d");
        let long = "x".repeat(1000);
        let cut = one_line(&long);
        assert_eq!(cut.chars().count(), MAX_ERROR_CHARS);
        assert!(cut.ends_with('…'));
        let exact = "y".repeat(MAX_ERROR_CHARS);
        assert_eq!(one_line(&exact), exact);
    }

    #[test]
    fn everything_from_outside_is_escaped() {
        let s = status();
        let name = "<b>\"evil\"&'";
        s.set_targets(
            vec![target(name, CloudKind::Huawei)],
            [(name, "desktop_status")],
        );
        s.register(name, "desktop_status", Duration::ZERO);
        s.record(
            name,
            "desktop_status",
            failed("HTTP 500 (X: <script>alert(1)</script>)"),
        );
        let html = render_html(&s.report(), "/metrics");
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;b&gt;&quot;evil&quot;&amp;&#39;"));
    }

    #[test]
    fn a_reload_keeps_the_history_of_remaining_slots_only() {
        let s = status();
        s.set_targets(
            vec![
                target("a", CloudKind::Huawei),
                target("b", CloudKind::AlibabaSag),
            ],
            [("a", "desktop_status"), ("b", "sag_online_clients")],
        );
        s.record("a", "desktop_status", failed("boom"));
        s.record("b", "sag_online_clients", failed("bang"));
        let report = s.report();
        assert!(report.sag);
        assert_eq!(report.clouds, [CloudKind::Huawei, CloudKind::AlibabaSag]);
        s.set_targets(
            vec![target("a", CloudKind::Huawei)],
            [("a", "desktop_status")],
        );
        let report = s.report();
        assert!(!report.sag);
        assert_eq!(report.targets.len(), 1);
        let c = &report.targets[0].collectors[0];
        assert_eq!((c.state, c.up, c.api_calls), ("failed", false, Some(4)));
        assert_eq!(c.last_error.as_deref(), Some("boom"));
        assert!(c.last_success_timestamp_seconds.is_none());
        let next = c.next_poll_in_seconds.unwrap();
        assert!(next > 59.0 && next <= 60.0, "{next}");
    }

    #[test]
    fn a_success_clears_down_but_keeps_the_last_error_with_its_time() {
        let s = status();
        s.set_targets(
            vec![target("a", CloudKind::Huawei)],
            [("a", "online_users")],
        );
        s.register("a", "online_users", Duration::from_millis(5));
        let pending = s.report().targets[0].collectors[0].clone();
        assert_eq!((pending.state, pending.up), ("pending", false));
        assert!(pending.last_poll_timestamp_seconds.is_none());
        s.record("a", "online_users", failed("first"));
        s.record(
            "a",
            "online_users",
            PollRecord {
                outcome: Outcome::Success,
                error: None,
                ..failed("")
            },
        );
        let c = s.report().targets[0].collectors[0].clone();
        assert_eq!((c.state, c.up), ("success", true));
        assert_eq!(c.last_error.as_deref(), Some("first"));
        assert!(c.last_error_timestamp_seconds.is_some());
        assert!(c.last_success_age_seconds.unwrap() < 1.0);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(0.25), "250ms");
        assert_eq!(human(4.24), "4.2s");
        assert_eq!(human(13.4), "13s");
        assert_eq!(human(200.0), "3m 20s");
        assert_eq!(human(7500.0), "2h 5m");
        assert_eq!(human(90_000.0), "1d 1h");
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
    }
}
