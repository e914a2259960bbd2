//! Credentials that change while the exporter runs: keys read from files follow the
//! files (a rotated Kubernetes Secret, a Vault agent template) without a reload.

mod common;

use std::path::Path;

use workspace_exporter::simulator::scenario::DEMO_PROJECT_ID;
use workspace_exporter::simulator::{Scenario, SimCredential};

fn up(m: &common::Scrape) -> Vec<f64> {
    m.find("workspace_exporter_collector_up", &[("target", "prod")])
        .iter()
        .map(|s| s.value)
        .collect()
}

/// Writes `value` to `path` the way Kubernetes and Vault agents do: a new file renamed
/// over the old one.
fn rotate(path: &Path, value: &str) {
    let new = path.with_extension("new");
    std::fs::write(&new, format!("{value}\n")).unwrap();
    std::fs::rename(&new, path).unwrap();
}

#[tokio::test]
async fn a_rotated_key_file_takes_effect_without_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (ak, sk, token) = (
        dir.path().join("ak"),
        dir.path().join("sk"),
        dir.path().join("token"),
    );
    rotate(&ak, "AK-ONE");
    rotate(&sk, "sk-one");
    rotate(&token, "token-one");
    let mut scenario = Scenario::demo();
    scenario.credentials = vec![SimCredential {
        access_key: "AK-ONE".into(),
        secret_key: "sk-one".into(),
        security_token: Some("token-one".into()),
    }];
    let sim = common::start_sim(scenario).await;
    let url = sim.url();
    let toml = format!(
        "[[huaweicloud]]\nname = \"prod\"\nregion = \"cn-north-4\"\nproject_id = \"{DEMO_PROJECT_ID}\"\naccess_key_file = \"{}\"\nsecret_key_file = \"{}\"\nsecurity_token_file = \"{}\"\ninterval = \"1h\"\nworkspace_endpoint = \"{url}\"\napp_endpoint = \"{url}\"\niam_endpoint = \"{url}\"\n",
        ak.display(),
        sk.display(),
        token.display()
    );
    let h = common::start_exporter(sim, &toml).await;
    let m = h.scrape().await;
    assert_eq!(up(&m), [1.0, 1.0, 1.0]);
    let reloads = m.value(
        "workspace_exporter_config_last_reload_success_timestamp_seconds",
        &[],
    );

    // The keys are rotated: the cloud now accepts only the new ones.
    h.sim.update(|s| {
        s.credentials = vec![SimCredential {
            access_key: "AK-TWO".into(),
            secret_key: "sk-two-is-longer".into(),
            security_token: Some("token-two".into()),
        }]
    });
    rotate(&ak, "AK-TWO");
    rotate(&sk, "sk-two-is-longer");
    rotate(&token, "token-two");
    h.exporter.poll_now().await;
    let m = h.scrape().await;
    assert_eq!(up(&m), [1.0, 1.0, 1.0], "signed with the new keys");
    assert_eq!(h.sim.rejected_signatures(), 0);
    assert_eq!(
        m.value(
            "workspace_exporter_config_last_reload_success_timestamp_seconds",
            &[]
        ),
        reloads,
        "no reload happened"
    );
    for secret in ["sk-one", "sk-two-is-longer", "token-two"] {
        assert!(!m.text.contains(secret));
    }

    // A rotation that leaves a file empty for a moment keeps the keys in use.
    rotate(&sk, "");
    h.exporter.poll_now().await;
    assert_eq!(up(&h.scrape().await), [1.0, 1.0, 1.0]);
}
