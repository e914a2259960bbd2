//! `config.example.toml` is the reference configuration: it must load, and its
//! documented environment overrides must work.

use std::path::Path;
use std::time::Duration;

use workspace_exporter::collectors::{self, Cloud};
use workspace_exporter::config::Config;

#[test]
fn the_example_configuration_loads() {
    let dir = tempfile::tempdir().unwrap();
    let sk = dir.path().join("hw_sk");
    std::fs::write(&sk, "example-secret\n").unwrap();
    // The example points at /run/secrets/hw_sk; redirect it the documented way.
    let ali_sk = dir.path().join("ali_sk");
    std::fs::write(&ali_sk, "example-ali-secret").unwrap();
    let (ak, ali_ak) = (dir.path().join("hw_ak"), dir.path().join("ali_ak"));
    std::fs::write(&ak, "HPUAEXAMPLEACCESSKEY\n").unwrap();
    std::fs::write(&ali_ak, "LTAIEXAMPLEACCESSKEY\n").unwrap();
    let env = vec![
        (
            "WORKSPACE_EXPORTER__HUAWEICLOUD__0__ACCESS_KEY_FILE".to_string(),
            ak.display().to_string(),
        ),
        (
            "WORKSPACE_EXPORTER__ALIBABACLOUD_SAG__0__ACCESS_KEY_ID_FILE".to_string(),
            ali_ak.display().to_string(),
        ),
        (
            "WORKSPACE_EXPORTER__HUAWEICLOUD__0__SECRET_KEY_FILE".to_string(),
            sk.display().to_string(),
        ),
        (
            "WORKSPACE_EXPORTER__ALIBABACLOUD_SAG__0__ACCESS_KEY_SECRET_FILE".to_string(),
            ali_sk.display().to_string(),
        ),
    ];
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config = Config::load_with_env(&path, &env).unwrap();
    assert_eq!(config.server.listen_address.port(), 9817);
    assert_eq!(config.poll.interval, Duration::from_secs(60));
    assert_eq!(config.poll.max_body_bytes, 32 * 1024 * 1024);
    let t = &config.huaweicloud[0];
    assert_eq!(t.name, "prod");
    assert_eq!(
        t.credentials.written_keys().unwrap().secret_key.expose(),
        "example-secret"
    );
    let every_huawei_collector: Vec<&str> = collectors::REGISTRY
        .iter()
        .filter(|r| r.cloud() == Cloud::Huawei)
        .map(|r| r.name)
        .collect();
    assert_eq!(t.collectors, every_huawei_collector);
    assert_eq!(t.session_lookback, Duration::from_secs(86400));
    assert_eq!(t.concurrency, 4);
    assert_eq!(
        t.workspace_endpoint.as_str(),
        "https://workspace.cn-north-4.myhuaweicloud.com/"
    );
}

#[test]
fn every_uncommented_key_of_the_example_is_a_real_key() {
    // Uncommenting the commented-out keys must still give a valid file (apart from
    // the either/or credential pairs), so the documentation cannot drift from the code.
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"))
            .unwrap();
    let mut uncommented = String::new();
    for line in text.lines() {
        let candidate = line.strip_prefix("# ").unwrap_or(line);
        let is_key = candidate.split_once(" = ").is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        });
        // A commented-out sub-table (`# [huaweicloud.assume_agency]`) is uncommented
        // with its keys.
        let is_table = candidate.starts_with('[')
            && !candidate.starts_with("[[")
            && candidate.ends_with(']')
            && candidate[1..candidate.len() - 1]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.');
        let either_or = [
            "access_key_file",
            "secret_key ",
            "security_token_file",
            "access_key_id_file",
            "access_key_secret ",
        ]
        .iter()
        .any(|k| candidate.starts_with(k));
        if (is_key || is_table) && !either_or {
            uncommented.push_str(candidate);
        } else if !line.starts_with('#') {
            uncommented.push_str(line);
        }
        uncommented.push('\n');
    }
    let raw = workspace_exporter::config::RawConfig::parse(&uncommented, &[]);
    assert!(raw.is_ok(), "{:?}\n{uncommented}", raw.err());
}

/// The README's collector table lists every registered collector with its section,
/// default and summary, and nothing else.
#[test]
fn the_readme_lists_every_registered_collector() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let rows: Vec<&str> = readme
        .lines()
        .filter(|l| {
            l.starts_with("| `")
                && (l.contains("` | `huaweicloud` |") || l.contains("` | `alibabacloud_sag` |"))
        })
        .collect();
    assert_eq!(rows.len(), collectors::REGISTRY.len(), "{rows:#?}");
    for r in collectors::REGISTRY {
        let row = format!(
            "| `{}` | `{}` | {} | {} |",
            r.name,
            r.cloud().section(),
            if r.default_enabled { "on" } else { "off" },
            r.summary
        );
        assert!(rows.contains(&row.as_str()), "README lacks {row}");
    }
}
