//! Sharding targets across replicas: three exporters with `shard = 0..2` and
//! `total_shards = 3` on one simulator together poll and export every target exactly
//! once.

mod common;

use std::collections::BTreeSet;

use workspace_exporter::simulator::scenario::DEMO_PROJECT_ID;
use workspace_exporter::simulator::{Route, Scenario};

const TARGETS: usize = 9;

fn config(sim_url: &str, shard: u32) -> String {
    let mut toml = format!(
        "[server]\nshard = {shard}\ntotal_shards = 3\n\n[poll]\nretry_backoff = \"1ms\"\nrate_limit_per_minute = 600000\n"
    );
    for t in 0..TARGETS {
        toml.push_str(&common::target_toml(
            sim_url,
            &format!("tenant-{t:02}"),
            &format!("project_id = \"{DEMO_PROJECT_ID}\"\ncollectors = [\"desktop_status\"]"),
        ));
    }
    toml
}

#[tokio::test]
async fn three_shards_together_poll_every_target_once() {
    let sim = common::start_sim(Scenario::demo()).await;
    let url = sim.url();
    let mut replicas = vec![common::start_exporter(sim, &config(&url, 0)).await];
    for shard in 1..3 {
        // The harness holds a simulator of its own; these replicas poll the first one.
        let unused = common::start_sim(Scenario::empty()).await;
        replicas.push(common::start_exporter(unused, &config(&url, shard)).await);
    }
    let mut seen: Vec<BTreeSet<String>> = Vec::new();
    for (shard, h) in replicas.iter().enumerate() {
        let m = h.scrape().await;
        let targets: BTreeSet<String> = m
            .find("workspace_exporter_collector_up", &[])
            .iter()
            .map(|s| s.labels["target"].clone())
            .collect();
        let called: BTreeSet<String> = m
            .find("workspace_exporter_api_requests_total", &[])
            .iter()
            .map(|s| s.labels["target"].clone())
            .collect();
        assert_eq!(called, targets, "shard {shard} calls only its own targets");
        let shard_label = shard.to_string();
        assert_eq!(
            m.value(
                "workspace_exporter_shard_info",
                &[("shard", shard_label.as_str()), ("total_shards", "3")]
            ),
            Some(1.0)
        );
        assert_eq!(
            m.value("workspace_exporter_shard_targets", &[]),
            Some(targets.len() as f64)
        );
        for s in m.find("workspace_exporter_collector_up", &[]) {
            assert_eq!(s.value, 1.0, "{:?}", s.labels);
        }
        seen.push(targets);
    }
    let all: BTreeSet<String> = seen.iter().flatten().cloned().collect();
    assert_eq!(all.len(), TARGETS, "every target is polled: {seen:?}");
    assert_eq!(
        seen.iter().map(BTreeSet::len).sum::<usize>(),
        TARGETS,
        "no target is polled by two replicas: {seen:?}"
    );
    // One call per target reached the simulator: nobody polled a target twice.
    assert_eq!(
        replicas[0].sim.requests(Route::ConnectionsStatus),
        TARGETS as u64
    );
}

/// `--config.check` with shard flags prints the targets the shard owns; a shard that
/// does not exist, or one flag without the other, exits 2 naming the flag.
#[test]
fn config_check_prints_the_targets_of_a_shard() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let toml =
        config("http://127.0.0.1:9", 0).replace("[server]\nshard = 0\ntotal_shards = 3\n", "");
    std::fs::write(&path, toml).unwrap();
    let run = |flags: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_workspace-exporter"))
            .arg(format!("--config.file={}", path.display()))
            .arg("--config.check")
            .args(flags)
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let mut owned = BTreeSet::new();
    for shard in 0..3 {
        let (code, out) = run(&[&format!("--shard={shard}"), "--total-shards=3"]);
        assert_eq!(code, Some(0), "{out}");
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("shard {shard} of 3 polls ")))
            .unwrap_or_else(|| panic!("{out}"));
        let names = line.split_once(": ").unwrap().1;
        owned.extend(
            names
                .split(", ")
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        );
    }
    assert_eq!(owned.len(), TARGETS);
    let (code, out) = run(&["--shard=3", "--total-shards=3"]);
    assert_eq!(code, Some(2));
    assert!(out.contains("--shard: shard 3 does not exist"), "{out}");
    let (code, out) = run(&["--shard=1"]);
    assert_eq!(code, Some(2));
    assert!(out.contains("--shard: needs --total-shards"), "{out}");
}
