//! The status page (`/`) and its JSON twin (`/status`) against the simulator: a failing
//! collector shows as down with the upstream error code on both, no credential ever
//! appears, the page is well-formed (parsed strictly, as XML, since it is written as
//! polyglot HTML) with one row per target × collector, the links follow the configured
//! metrics path, the web configuration's basic auth guards both, SAG is mentioned
//! exactly when an SAG target exists, and the demo says it is a demo. A real browser
//! (headless Chromium, installed by `.ci/run`) renders it too.

mod common;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workspace_exporter::simulator::scenario::{
    DEMO_PROJECT_ID, DEMO_SAG_INSTANCES, DEMO_SAG_REGION,
};
use workspace_exporter::simulator::{Fault, Route, Scenario, SimCredential};
use workspace_exporter::web_config::WebConfigSource;

/// Keys only this test uses, so that finding any of them in a page is a leak.
const AK: &str = "STATUSPAGEAKEXAMPLE01";
const SK: &str = "sk-status-page-never-shown-7f3e9a1c";
const TOKEN: &str = "tok-status-page-never-shown-b42d8e";
const SAG_AK: &str = "LTAISTATUSPAGE000001";
const SAG_SK: &str = "sag-sk-status-page-never-shown-51c0";
const SAG_TOKEN: &str = "sag-tok-status-page-never-shown-9a2f";

/// The demo's data, accepting only this test's keys (with their security tokens).
fn scenario() -> Scenario {
    let mut s = Scenario::demo();
    s.credentials = vec![SimCredential {
        access_key: AK.into(),
        secret_key: SK.into(),
        security_token: Some(TOKEN.into()),
    }];
    s.sag_credentials = vec![SimCredential {
        access_key: SAG_AK.into(),
        secret_key: SAG_SK.into(),
        security_token: Some(SAG_TOKEN.into()),
    }];
    s
}

fn huawei(url: &str) -> String {
    format!(
        "[[huaweicloud]]\nname = \"prod\"\nregion = \"cn-north-4\"\nproject_id = \"{DEMO_PROJECT_ID}\"\ninterval = \"1h\"\naccess_key = \"{AK}\"\nsecret_key = \"{SK}\"\nsecurity_token = \"{TOKEN}\"\nworkspace_endpoint = \"{url}\"\napp_endpoint = \"{url}\"\niam_endpoint = \"{url}\"\n"
    )
}

fn sag(url: &str) -> String {
    let instances: String = DEMO_SAG_INSTANCES
        .iter()
        .map(|id| format!("[[alibabacloud_sag.instances]]\nsmartag_id = \"{id}\"\n"))
        .collect();
    format!(
        "[[alibabacloud_sag]]\nname = \"branch-sag\"\nregion = \"{DEMO_SAG_REGION}\"\ninterval = \"1h\"\naccess_key_id = \"{SAG_AK}\"\naccess_key_secret = \"{SAG_SK}\"\nsecurity_token = \"{SAG_TOKEN}\"\nendpoint = \"{url}\"\n{instances}"
    )
}

const SECRETS: [&str; 6] = [AK, SK, TOKEN, SAG_AK, SAG_SK, SAG_TOKEN];

fn assert_no_secret(body: &str, what: &str) {
    for secret in SECRETS {
        assert!(!body.contains(secret), "{what} shows {secret}:\n{body}");
    }
}

/// The text of an element and its descendants.
fn text_of(node: roxmltree::Node<'_, '_>) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

/// A page parsed strictly: every tag closed, every attribute quoted, every `&` an
/// entity. Panics with the parser's error and the page otherwise.
struct Page {
    /// The document's source.
    html: String,
}

/// `<!DOCTYPE html>` is a DTD to an XML parser: allowed, nothing else relaxed.
fn options<'a>() -> roxmltree::ParsingOptions<'a> {
    roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    }
}

impl Page {
    fn parse(html: String) -> Page {
        if let Err(e) = roxmltree::Document::parse_with_options(&html, options()) {
            panic!("the page is not well-formed: {e}\n{html}");
        }
        Page { html }
    }

    fn doc(&self) -> roxmltree::Document<'_> {
        roxmltree::Document::parse_with_options(&self.html, options()).unwrap()
    }

    /// The header cells and the body rows (cell texts) of the table with `id`.
    fn table(&self, id: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let doc = self.doc();
        let table = doc
            .descendants()
            .find(|n| n.has_tag_name("table") && n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no table {id}:\n{}", self.html));
        let section = |name: &str| {
            table
                .children()
                .find(|n| n.has_tag_name(name))
                .unwrap_or_else(|| panic!("table {id} has no {name}"))
        };
        let rows = |section: roxmltree::Node<'_, '_>, cell: &str| -> Vec<Vec<String>> {
            section
                .children()
                .filter(|n| n.is_element())
                .map(|tr| {
                    assert!(tr.has_tag_name("tr"), "{:?} in table {id}", tr.tag_name());
                    tr.children()
                        .filter(|n| n.is_element())
                        .map(|td| {
                            assert!(td.has_tag_name(cell), "{:?} in a {cell} row", td.tag_name());
                            text_of(td)
                        })
                        .collect()
                })
                .collect()
        };
        let mut head = rows(section("thead"), "th");
        assert_eq!(head.len(), 1, "one header row in table {id}");
        (head.remove(0), rows(section("tbody"), "td"))
    }

    /// Every link target.
    fn links(&self) -> Vec<String> {
        self.doc()
            .descendants()
            .filter(|n| n.has_tag_name("a"))
            .filter_map(|n| n.attribute("href").map(str::to_string))
            .collect()
    }
}

/// The row of `collector` of `target` in the collectors table, by header name.
fn row<'a>(
    head: &'a [String],
    rows: &[Vec<String>],
    target: &str,
    collector: &str,
) -> std::collections::BTreeMap<&'a str, String> {
    let found = rows
        .iter()
        .find(|r| r[0] == target && r[1] == collector)
        .unwrap_or_else(|| panic!("no row for {target}/{collector} in {rows:?}"));
    assert_eq!(found.len(), head.len(), "{found:?}");
    head.iter().map(String::as_str).zip(found.clone()).collect()
}

/// `GET /status`, parsed.
async fn status_json(h: &common::Harness) -> serde_json::Value {
    serde_json::from_str(&h.get("/status").await.text().await.unwrap()).unwrap()
}

/// One failing collector (online users answer 500), everything else healthy: the page
/// and `/status` show it down with the upstream code, the others up, and no key.
#[tokio::test]
async fn a_failing_collector_shows_its_upstream_error_and_no_secret() {
    let sim = common::start_sim(scenario()).await;
    sim.set_fault(Route::OnlineUsers, Some(Fault::Status(500)));
    let url = sim.url();
    let toml = format!(
        "[server]\ntelemetry_path = \"/stats\"\n{}{}",
        huawei(&url),
        sag(&url)
    );
    let h = common::start_exporter(sim, &toml).await;

    let response = h.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let html = response.text().await.unwrap();
    assert_no_secret(&html, "the status page");
    assert!(!html.contains("<script"), "no JavaScript: {html}");
    let page = Page::parse(html);
    let links = page.links();
    for link in ["/stats", "/-/healthy", "/-/ready", "/status"] {
        assert!(
            links.iter().any(|l| l == link),
            "no link to {link}: {links:?}"
        );
    }
    assert!(!links.iter().any(|l| l == "/metrics"), "{links:?}");
    assert!(page.html.contains(workspace_exporter::VERSION));
    assert!(page.html.contains("SAG"), "{}", page.html);
    assert!(!page.html.contains("demo"), "not a demo: {}", page.html);

    let (head, rows) = page.table("collectors");
    assert_eq!(
        head,
        [
            "target",
            "collector",
            "status",
            "last success",
            "last poll took",
            "API calls",
            "rate-limit wait",
            "next poll",
            "last error"
        ]
    );
    // Huawei's three collectors and SAG's one.
    assert_eq!(rows.len(), 4, "{rows:?}");
    let failing = row(&head, &rows, "prod", "online_users");
    assert_eq!(failing["status"], "DOWN");
    assert_eq!(failing["last success"], "never");
    assert!(
        failing["last error"].contains("HTTP 500") && failing["last error"].contains("WKS.0500"),
        "{failing:?}"
    );
    assert!(failing["last error"].contains("injected fault"));
    // The first try and three retries (the project ID is configured: no discovery).
    assert_eq!(failing["API calls"], "4", "{failing:?}");
    assert!(failing["next poll"].starts_with("in "), "{failing:?}");
    for (target, collector) in [
        ("prod", "desktop_status"),
        ("prod", "app_sessions"),
        ("branch-sag", "sag_online_clients"),
    ] {
        let ok = row(&head, &rows, target, collector);
        assert_eq!(ok["status"], "UP", "{ok:?}");
        assert_eq!(ok["last error"], "-", "{ok:?}");
        assert!(ok["last success"].ends_with(" ago"), "{ok:?}");
        assert_ne!(ok["API calls"], "-");
    }
    let (head, targets) = page.table("targets");
    assert_eq!(head[..3], ["target", "cloud", "credentials"]);
    assert_eq!(targets.len(), 2);
    assert_eq!(
        targets[0][..3],
        ["prod", "Huawei Cloud Workspace", "static keys"]
    );
    assert_eq!(targets[0][4], "2 of 3");
    assert_eq!(targets[1][0], "branch-sag");
    assert!(targets[1][1].contains("SAG"));

    let response = h.get("/status").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = response.text().await.unwrap();
    assert_no_secret(&body, "/status");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["version"], workspace_exporter::VERSION);
    assert_eq!(json["demo"], false);
    assert_eq!(json["sag"], true);
    assert_eq!(
        json["clouds"],
        serde_json::json!(["huaweicloud", "alibabacloud_sag"])
    );
    assert!(json["uptime_seconds"].as_f64().unwrap() >= 0.0);
    let prod = &json["targets"][0];
    assert_eq!(prod["name"], "prod");
    assert_eq!(prod["cloud"], "huaweicloud");
    assert_eq!(prod["credentials"], "static keys");
    assert_eq!(prod["temporary_credentials"], false);
    assert!(prod["credentials_expiry_timestamp_seconds"].is_null());
    let collectors = prod["collectors"].as_array().unwrap();
    let online = collectors
        .iter()
        .find(|c| c["collector"] == "online_users")
        .unwrap();
    assert_eq!(online["state"], "failed");
    assert_eq!(online["up"], false);
    assert!(online["last_success_timestamp_seconds"].is_null());
    assert_eq!(online["api_calls"], 4);
    let error = online["last_error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 500") && error.contains("WKS.0500"),
        "{error}"
    );
    assert!(!error.contains('\n'));
    let next = online["next_poll_in_seconds"].as_f64().unwrap();
    // At the loop's phase, half an hour to an hour and a half after start (the first
    // poll is not phased).
    assert!(next > 1700.0 && next <= 5400.0, "hourly interval: {next}");
    let status = collectors
        .iter()
        .find(|c| c["collector"] == "desktop_status")
        .unwrap();
    assert_eq!(status["state"], "success");
    assert_eq!(status["up"], true);
    assert!(status["last_error"].is_null());
    assert!(status["last_success_age_seconds"].as_f64().unwrap() < 60.0);
    assert!(status["last_poll_duration_seconds"].as_f64().unwrap() > 0.0);
    assert!(status["rate_limit_wait_seconds"].as_f64().is_some());

    // Once the cloud recovers, the collector is up again; its last error stays, dated.
    h.sim.set_fault(Route::OnlineUsers, None);
    h.exporter.poll_now().await;
    let json = status_json(&h).await;
    let online = json["targets"][0]["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["collector"] == "online_users")
        .unwrap()
        .clone();
    assert_eq!(online["up"], true, "{online}");
    assert!(online["last_error"].as_str().unwrap().contains("WKS.0500"));
    assert!(online["last_error_timestamp_seconds"].as_f64().is_some());
}

/// Without an SAG target the page does not talk about SAG.
#[tokio::test]
async fn sag_is_mentioned_only_with_an_sag_target() {
    let sim = common::start_sim(scenario()).await;
    let toml = huawei(&sim.url());
    let h = common::start_exporter(sim, &toml).await;
    let page = Page::parse(h.get("/").await.text().await.unwrap());
    assert!(!page.html.contains("SAG"), "{}", page.html);
    assert!(page.links().iter().any(|l| l == "/metrics"));
    let (_, rows) = page.table("collectors");
    assert_eq!(rows.len(), 3);
    let json = status_json(&h).await;
    assert_eq!(json["sag"], false);
    assert_eq!(json["clouds"], serde_json::json!(["huaweicloud"]));
}

/// Basic auth of `--web.config.file` guards the page and `/status` as it guards
/// `/metrics`, and its headers are added to their answers.
#[tokio::test]
async fn the_web_configuration_guards_the_status_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    let hash = bcrypt::hash("status-password", 4).unwrap();
    std::fs::write(
        &path,
        format!(
            "basic_auth_users:\n  ops: '{hash}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        ),
    )
    .unwrap();
    let web = Arc::new(WebConfigSource::load(&path).unwrap());
    let sim = common::start_sim(scenario()).await;
    let toml = huawei(&sim.url());
    let h = common::start_exporter_with_web(sim, &toml, Some(web)).await;
    for path in ["/", "/status"] {
        let denied = h.get(path).await;
        assert_eq!(denied.status(), 401, "{path}");
        assert_eq!(denied.headers()["x-frame-options"], "deny");
        let allowed = h
            .http
            .get(h.url(path))
            .basic_auth("ops", Some("status-password"))
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 200, "{path}");
        assert_eq!(allowed.headers()["x-frame-options"], "deny");
        assert!(allowed.text().await.unwrap().contains("online_users"));
    }
}

/// The demo's page says it is a demo and mentions SAG (the demo has an SAG target),
/// and the demo's temporary SAG keys (an ECS RAM role) show when they expire.
#[tokio::test]
async fn the_demo_says_it_is_a_demo() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let demo = workspace_exporter::demo::start(
        listener,
        shutdown.clone(),
        workspace_exporter::demo::DemoOptions::default(),
    )
    .await
    .unwrap();
    demo.exporter.ready().await;
    let url = |path: &str| format!("http://{}{path}", demo.exporter.local_addr());
    let html = reqwest::get(url("/")).await.unwrap().text().await.unwrap();
    let page = Page::parse(html);
    assert!(page.html.contains("(demo)"), "{}", page.html);
    assert!(page.html.contains("Demo mode"));
    assert!(page.html.contains("SAG"));
    let (head, targets) = page.table("targets");
    let sag = targets.iter().find(|t| t[0] == "demo-sag").unwrap();
    let expire = head.iter().position(|h| h == "credentials expire").unwrap();
    assert!(sag[2].contains("ECS RAM role"), "{sag:?}");
    assert!(sag[expire].contains(" (in "), "{sag:?}");
    let body = reqwest::get(url("/status")).await.unwrap().text().await;
    let json: serde_json::Value = serde_json::from_str(&body.unwrap()).unwrap();
    assert_eq!(json["demo"], true);
    assert_eq!(json["sag"], true);
    let sag = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "demo-sag")
        .unwrap();
    assert_eq!(sag["temporary_credentials"], true);
    assert!(
        sag["credentials_expiry_timestamp_seconds"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    shutdown.cancel();
    demo.exporter.wait().await;
}

/// The page as a real browser renders it: headless Chromium loads it from the
/// exporter, runs no script (there is none), and the DOM it builds holds both tables,
/// the failing collector marked down with its upstream code, and no secret. A
/// screenshot is left in the test's temporary directory for a person to look at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_renders_the_failing_collector() {
    if !common::tool_available("chromium", &["--version"]) {
        return;
    }
    let sim = common::start_sim(scenario()).await;
    sim.set_fault(Route::OnlineUsers, Some(Fault::Status(500)));
    let url = sim.url();
    let h = common::start_exporter(sim, &format!("{}{}", huawei(&url), sag(&url))).await;
    let page = h.url("/");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let browse = move |extra: Vec<String>| {
        let mut cmd = std::process::Command::new("chromium");
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--user-data-dir=/tmp/workspace-exporter-status-chromium",
        ])
        .args(extra);
        cmd.output().unwrap()
    };
    let dump = {
        let page = page.clone();
        tokio::task::spawn_blocking(move || browse(vec!["--dump-dom".into(), page]))
            .await
            .unwrap()
    };
    let dom = String::from_utf8_lossy(&dump.stdout).into_owned();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert_no_secret(&dom, "the DOM Chromium built");
    assert_eq!(dom.matches("<table").count(), 2, "{dom}");
    let online = dom
        .split("<tr")
        .find(|row| row.contains("online_users"))
        .unwrap_or_else(|| panic!("no online_users row: {dom}"));
    assert!(
        online.contains("DOWN") && online.contains("WKS.0500"),
        "{online}"
    );
    let shot_arg = format!("--screenshot={}", shot.display());
    let taken = tokio::task::spawn_blocking(move || {
        browse(vec![shot_arg, "--window-size=1280,900".into(), page])
    })
    .await
    .unwrap();
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
}
