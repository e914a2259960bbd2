//! Temporary credentials on tokio's paused clock (the simulator runs in the test's
//! runtime and issues keys that live five minutes, so hours pass in milliseconds):
//! every source of both clouds, and each cross-account form, exports the same series
//! as written keys do, across several expiries, with no request signed by expired
//! keys; a failing source keeps the current keys while they are valid, then fails
//! clearly, then recovers.

mod common;

use std::time::Duration;

use common::Scrape;
use workspace_exporter::clock::WallClock;
use workspace_exporter::simulator::scenario::{
    DEMO_ACCESS_KEY, DEMO_SAG_ACCESS_KEY_ID, DEMO_SAG_ACCESS_KEY_SECRET, DEMO_SAG_INSTANCES,
    DEMO_SECRET_KEY,
};
use workspace_exporter::simulator::{Fault, Route, Scenario, Simulator};

/// How long the simulator's credentials live.
const LIFETIME: Duration = Duration::from_secs(5 * 60);

fn scenario() -> Scenario {
    let mut s = Scenario::demo();
    s.identity.lifetime = LIFETIME;
    s.identity.ecs_agency = Some("ecs-agency".into());
    s.identity.huawei_oidc = Some(("sim-idp".into(), "id-token-1".into()));
    s.identity.agencies = vec![("customer-a".into(), "workspace-monitor".into())];
    s.identity.ram_role = Some("ecs-monitor-role".into());
    s.identity.alibaba_oidc = Some((
        "acs:ram::1234567890123456:oidc-provider/ack-rrsa".into(),
        "acs:ram::1234567890123456:role/rrsa-monitor".into(),
        "oidc-token-1".into(),
    ));
    s.identity.roles = vec!["acs:ram::1234567890123456:role/workspace-monitor".into()];
    s
}

/// A Huawei target reading the simulator, with `credentials` lines of its own.
fn huawei(url: &str, credentials: &str) -> String {
    format!(
        "[[huaweicloud]]\nname = \"prod\"\nregion = \"cn-north-4\"\ninterval = \"1h\"\nworkspace_endpoint = \"{url}\"\napp_endpoint = \"{url}\"\niam_endpoint = \"{url}\"\n{credentials}\n"
    )
}

/// An Alibaba SAG target reading the simulator, with `credentials` lines of its own.
fn alibaba(url: &str, credentials: &str) -> String {
    let instances: String = DEMO_SAG_INSTANCES
        .iter()
        .map(|id| format!("[[alibabacloud_sag.instances]]\nsmartag_id = \"{id}\"\n"))
        .collect();
    format!(
        "[[alibabacloud_sag]]\nname = \"prod\"\nregion = \"cn-shanghai\"\ninterval = \"1h\"\nendpoint = \"{url}\"\nsts_endpoint = \"{url}\"\n{credentials}\n{instances}"
    )
}

fn huawei_static() -> String {
    format!("access_key = \"{DEMO_ACCESS_KEY}\"\nsecret_key = \"{DEMO_SECRET_KEY}\"")
}

fn alibaba_static() -> String {
    format!(
        "access_key_id = \"{DEMO_SAG_ACCESS_KEY_ID}\"\naccess_key_secret = \"{DEMO_SAG_ACCESS_KEY_SECRET}\""
    )
}

/// The cloud series of a scrape (self-metrics aside), as sorted lines.
fn cloud_series(m: &Scrape) -> Vec<String> {
    let mut lines: Vec<String> = m
        .text
        .lines()
        .filter(|l| l.starts_with("huaweicloud_") || l.starts_with("alibabacloud_"))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn up(m: &Scrape) -> Vec<f64> {
    m.find("workspace_exporter_collector_up", &[("target", "prod")])
        .iter()
        .map(|s| s.value)
        .collect()
}

fn refreshes(m: &Scrape, result: &str) -> f64 {
    m.value(
        "workspace_exporter_credentials_refreshes_total",
        &[("target", "prod"), ("result", result)],
    )
    .unwrap_or_else(|| panic!("refreshes_total{{result={result}}} missing\n{}", m.text))
}

/// Polls every minute for `minutes`, checking every poll; returns the last scrape.
async fn poll_for(h: &common::Harness, minutes: u32, want: &[String]) -> Scrape {
    let mut last = h.scrape().await;
    for minute in 0..minutes {
        tokio::time::advance(Duration::from_secs(60)).await;
        h.exporter.poll_now().await;
        last = h.scrape().await;
        assert!(
            up(&last).iter().all(|v| *v == 1.0),
            "minute {minute}: a collector is down\n{}",
            last.text
        );
        assert_eq!(cloud_series(&last), want, "minute {minute}");
    }
    last
}

/// Runs a target whose keys come from `credentials` for 16 minutes (three expiries of
/// five-minute keys) and checks it exports what written keys export, refreshing in
/// time, with keys issued by `origin`.
async fn survives_expiries(
    target: fn(&str, &str) -> String,
    written: String,
    credentials: String,
    origin: &str,
) {
    survives_expiries_rotating(target, written, credentials, origin, None).await
}

/// [`survives_expiries`]; with `rotate`, the OIDC token file is rotated to a new token
/// (and the simulator accepts only that one) after the first poll, so the next
/// exchange must re-read the file.
async fn survives_expiries_rotating(
    target: fn(&str, &str) -> String,
    written: String,
    credentials: String,
    origin: &str,
    rotate: Option<(&std::path::Path, &str)>,
) {
    let clock = WallClock::follows_tokio();
    let sim = common::start_sim(scenario()).await;
    let url = sim.url();
    let want = cloud_series(&common::scrape_once(&target(&url, &written)).await);
    assert!(!want.is_empty());
    let credentials = credentials.replace("URL", &url);
    let h = common::start_exporter(sim, &target(&url, &credentials)).await;
    let m = h.scrape().await;
    assert!(up(&m).iter().all(|v| *v == 1.0), "{}", m.text);
    assert_eq!(cloud_series(&m), want);
    if let Some((file, token)) = rotate {
        write_token(file, token);
        h.sim.update(|s| {
            if let Some(oidc) = &mut s.identity.huawei_oidc {
                oidc.1 = token.into();
            }
            if let Some(oidc) = &mut s.identity.alibaba_oidc {
                oidc.2 = token.into();
            }
        });
    }
    let m = poll_for(&h, 16, &want).await;
    assert_eq!(
        h.sim.expired_signatures(),
        0,
        "a request was signed by expired keys"
    );
    assert!(
        h.sim.signed_by(origin) > 0,
        "no request signed by keys from {origin}"
    );
    // One fetch, then one refresh before each of three expiries; never one per
    // collector or per request.
    let successes = refreshes(&m, "success");
    assert!((4.0..=5.0).contains(&successes), "{successes} refreshes");
    assert_eq!(refreshes(&m, "failure"), 0.0);
    let expiry = m
        .value(
            "workspace_exporter_credentials_expiry_timestamp_seconds",
            &[("target", "prod")],
        )
        .expect("expiry gauge");
    let now = clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(expiry > now && expiry <= now + LIFETIME.as_secs_f64() + 1.0);
}

#[tokio::test(start_paused = true)]
async fn huawei_ecs_metadata_keys_are_refreshed_before_they_expire() {
    survives_expiries(
        huawei,
        huawei_static(),
        "credentials = \"ecs_metadata\"\nmetadata_endpoint = \"URL\"".into(),
        "ecs_metadata",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn huawei_agency_of_another_account_is_assumed_and_refreshed() {
    survives_expiries(
        huawei,
        huawei_static(),
        format!(
            "{}\n[huaweicloud.assume_agency]\ndomain_name = \"customer-a\"\nagency_name = \"workspace-monitor\"\nduration = \"15m\"",
            huawei_static()
        ),
        "agency",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn alibaba_ecs_ram_role_keys_are_refreshed_before_they_expire() {
    survives_expiries(
        alibaba,
        alibaba_static(),
        "credentials = \"ecs_ram_role\"\nmetadata_endpoint = \"URL\"".into(),
        "ecs_ram_role",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn alibaba_role_of_another_account_is_assumed_and_refreshed() {
    survives_expiries(
        alibaba,
        alibaba_static(),
        format!(
            "{}\n[alibabacloud_sag.assume_role]\nrole_arn = \"acs:ram::1234567890123456:role/workspace-monitor\"\nduration = \"15m\"",
            alibaba_static()
        ),
        "assume_role",
    )
    .await;
}

/// Writes a token file the way the kubelet does: a new file renamed over the old one.
fn write_token(path: &std::path::Path, token: &str) {
    let new = path.with_extension("new");
    std::fs::write(&new, format!("{token}\n")).unwrap();
    std::fs::rename(&new, path).unwrap();
}

#[tokio::test(start_paused = true)]
async fn huawei_oidc_id_token_is_exchanged_again_before_the_keys_expire() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("oidc-token");
    write_token(&token, "id-token-1");
    survives_expiries_rotating(
        huawei,
        huawei_static(),
        format!(
            "credentials = \"oidc\"\nidp_id = \"sim-idp\"\nid_token_file = \"{}\"",
            token.display()
        ),
        "oidc",
        Some((&token, "id-token-2")),
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn alibaba_rrsa_oidc_token_is_exchanged_again_before_the_keys_expire() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("oidc-token");
    write_token(&token, "oidc-token-1");
    survives_expiries_rotating(
        alibaba,
        alibaba_static(),
        format!(
            "credentials = \"oidc\"\nrole_arn = \"acs:ram::1234567890123456:role/rrsa-monitor\"\noidc_provider_arn = \"acs:ram::1234567890123456:oidc-provider/ack-rrsa\"\noidc_token_file = \"{}\"",
            token.display()
        ),
        "oidc",
        Some((&token, "oidc-token-2")),
    )
    .await;
}

/// Builds the live credentials of the first Huawei target of `toml`, as the exporter
/// does, with metrics of its own.
fn live_huawei_credentials(
    toml: &str,
    clock: WallClock,
) -> (
    workspace_exporter::cloud::credentials::Credentials,
    std::sync::Arc<workspace_exporter::self_metrics::SelfMetrics>,
) {
    let (config, _dir) = common::load_config(toml);
    let t = &config.huaweicloud[0];
    let metrics = std::sync::Arc::new(workspace_exporter::self_metrics::SelfMetrics::new());
    let settings = workspace_exporter::cloud::retry::ClientSettings::new(
        &t.name,
        &t.poll,
        1 << 20,
        metrics.clone(),
    );
    let http = workspace_exporter::cloud::http::client(Duration::from_secs(5), false).unwrap();
    (
        t.credentials
            .build(&t.iam_endpoint, &http, &settings, clock),
        metrics,
    )
}

#[tokio::test(start_paused = true)]
async fn a_failing_source_keeps_valid_keys_then_fails_clearly_then_recovers() {
    let sim = common::start_sim(scenario()).await;
    let url = sim.url();
    let toml = huawei(
        &url,
        &format!("credentials = \"ecs_metadata\"\nmetadata_endpoint = \"{url}\""),
    );
    let h = common::start_exporter(sim, &toml).await;
    assert!(up(&h.scrape().await).iter().all(|v| *v == 1.0));

    // The metadata service fails from now on. Four minutes in, the keys are due for
    // refresh: the refresh fails, and the current keys, still valid, keep working.
    h.sim
        .set_fault(Route::IdentityMetadata, Some(Fault::Status(503)));
    tokio::time::advance(Duration::from_secs(4 * 60 + 10)).await;
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert!(up(&m).iter().all(|v| *v == 1.0), "{}", m.text);
    assert!(refreshes(&m, "failure") >= 1.0);

    // Past expiry, with the source still failing: the collectors fail, and no request
    // goes out signed by the expired keys.
    tokio::time::advance(Duration::from_secs(60)).await;
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert!(up(&m).iter().all(|v| *v == 0.0), "{}", m.text);
    assert_eq!(h.sim.expired_signatures(), 0);

    // The source answers again: after its backoff (at most a minute), keys are fetched
    // and every collector recovers.
    h.sim.set_fault(Route::IdentityMetadata, None);
    tokio::time::advance(Duration::from_secs(61)).await;
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert!(up(&m).iter().all(|v| *v == 1.0), "{}", m.text);
    assert_eq!(h.sim.expired_signatures(), 0);
}

#[tokio::test(start_paused = true)]
async fn without_valid_keys_the_error_names_the_source_and_the_upstream_answer() {
    let mut s = scenario();
    s.identity.ecs_agency = None;
    let sim = common::start_sim(s).await;
    let url = sim.url();
    let toml = huawei(
        &url,
        &format!("credentials = \"ecs_metadata\"\nmetadata_endpoint = \"{url}\""),
    );
    let (credentials, metrics) = live_huawei_credentials(&toml, WallClock::follows_tokio());
    let error = credentials.current().await.unwrap_err().to_string();
    for part in [
        "no valid credentials from the ECS metadata service",
        "HTTP 404",
        "Metadata.0404",
        "Please configure Cloud Service Agency first",
        "is an agency bound to this ECS instance?",
        "retrying in",
    ] {
        assert!(error.contains(part), "{part:?} missing from: {error}");
    }
    // Until the backoff ends, callers fail at once without calling the source again.
    let calls = h_requests(&sim);
    assert!(credentials.current().await.is_err());
    assert_eq!(h_requests(&sim), calls);
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&metrics.gather())
        .unwrap();
    assert!(
        text.contains(
            "workspace_exporter_credentials_refreshes_total{result=\"failure\",target=\"prod\"} 1"
        ),
        "{text}"
    );
}

fn h_requests(sim: &Simulator) -> u64 {
    sim.requests(Route::IdentityMetadata)
}

#[tokio::test(start_paused = true)]
async fn keys_the_cloud_refuses_before_their_expiry_are_replaced_at_once() {
    for (target, credentials) in [
        (
            huawei as fn(&str, &str) -> String,
            "credentials = \"ecs_metadata\"\nmetadata_endpoint = \"URL\"",
        ),
        (
            alibaba,
            "credentials = \"ecs_ram_role\"\nmetadata_endpoint = \"URL\"",
        ),
    ] {
        let sim = common::start_sim(scenario()).await;
        let url = sim.url();
        let h = common::start_exporter(sim, &target(&url, &credentials.replace("URL", &url))).await;
        assert!(up(&h.scrape().await).iter().all(|v| *v == 1.0));
        // Two minutes later the cloud revokes the keys (or this host's clock runs
        // behind and they expired): the refusal fetches new keys and each request is
        // sent again, so no poll fails.
        tokio::time::advance(Duration::from_secs(120)).await;
        h.sim.revoke_issued();
        h.exporter.poll_now().await;
        let m = h.scrape().await;
        assert!(up(&m).iter().all(|v| *v == 1.0), "{}", m.text);
        assert_eq!(refreshes(&m, "success"), 2.0);
        let refused = h.sim.expired_signatures();
        assert!(refused >= 1);

        // Keys refused right after they were fetched are not fetched again (new ones
        // would be refused too): the poll fails, without a fetch per request.
        h.sim.revoke_issued();
        h.exporter.poll_now().await;
        let m = h.scrape().await;
        assert!(up(&m).iter().all(|v| *v == 0.0), "{}", m.text);
        assert_eq!(refreshes(&m, "success"), 2.0);
    }
}
