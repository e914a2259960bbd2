//! What a scraper gets: content negotiation (text 0.0.4, OpenMetrics 1.0, gzip), process
//! metrics, and an OpenMetrics body a strict parser accepts.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use workspace_exporter::simulator::{Scenario, SimDesktopGroup};

fn scenario() -> Scenario {
    let mut s = Scenario::demo();
    s.desktop_groups.push(SimDesktopGroup {
        static_name: "Quote \" Backslash \\ Newline \n Ünïcode".into(),
        in_use_num: 2,
        ..Default::default()
    });
    s
}

async fn fetch(
    h: &common::Harness,
    accept: Option<&str>,
    encoding: Option<&str>,
) -> reqwest::Response {
    let mut req = h.http.get(h.url("/metrics"));
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    if let Some(e) = encoding {
        req = req.header("accept-encoding", e);
    }
    req.send().await.unwrap()
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn gzip_and_openmetrics_are_negotiated() {
    let h = common::start(scenario(), "").await;
    let plain = fetch(&h, None, None).await;
    assert_eq!(
        plain.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["vary"], "Accept, Accept-Encoding");
    let plain = plain.text().await.unwrap();
    assert!(
        plain.contains("process_resident_memory_bytes"),
        "process metrics missing"
    );
    assert!(plain.contains("process_open_fds"));

    let zipped = fetch(&h, None, Some("gzip, deflate, br")).await;
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let bytes = zipped.bytes().await.unwrap();
    assert!(bytes.len() < plain.len());
    assert_eq!(gunzip(&bytes), plain);

    let om = fetch(
        &h,
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
        None,
    )
    .await;
    assert_eq!(
        om.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let om = om.text().await.unwrap();
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE workspace_exporter_api_requests counter\n"));
    assert!(om.contains("\nworkspace_exporter_api_requests_total{"));

    let om_zipped = fetch(&h, Some("application/openmetrics-text"), Some("gzip")).await;
    assert_eq!(om_zipped.headers()["content-encoding"], "gzip");
    assert_eq!(gunzip(&om_zipped.bytes().await.unwrap()), om);

    strict_openmetrics_check(&om);
}

/// Parses the body with `prometheus_client`'s OpenMetrics parser, which rejects
/// anything outside the specification. Required in CI; skipped elsewhere when the
/// module is missing.
fn strict_openmetrics_check(body: &str) {
    let script = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(sys.stdin.read()))
names = {f.name for f in families}
assert "huaweicloud_workspace_desktop_sessions" in names, names
assert "workspace_exporter_api_requests" in names, names
weird = [s for f in families for s in f.samples if s.labels.get("desktop_group", "").startswith("Quote")]
assert weird and weird[0].labels["desktop_group"] == 'Quote " Backslash \\ Newline \n Ünïcode', weird
print(len(families))
"#;
    let available = Command::new("python3")
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            std::env::var_os("WORKSPACE_EXPORTER_CI").is_none(),
            "python3 with prometheus_client is required"
        );
        eprintln!("python3 prometheus_client not installed: strict OpenMetrics check skipped");
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser rejected the body: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
}
