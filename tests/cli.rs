//! The binary as an operator runs it: `--config.check` messages and exit codes, graceful
//! shutdown on SIGTERM, and no secret in the logs even at trace level.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use workspace_exporter::simulator::{Scenario, SimCredential};

const BIN: &str = env!("CARGO_BIN_EXE_workspace-exporter");

fn check(config: &str, files: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(BIN)
        .arg(format!("--config.file={}", path.display()))
        .arg("--config.check")
        .env_remove("HUAWEICLOUD_SDK_AK")
        .env_remove("HUAWEICLOUD_SDK_SK")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

const GOOD: &str =
    "[[huaweicloud]]\nregion = \"cn-north-4\"\naccess_key = \"AK\"\nsecret_key_file = \"sk.txt\"\n";

#[test]
fn config_check_accepts_a_valid_file() {
    let (code, out) = check(GOOD, &[("sk.txt", "the-secret\n")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("configuration OK"), "{out}");
    assert!(!out.contains("the-secret"));
}

#[test]
fn config_check_names_an_unknown_key() {
    let (code, out) = check(
        &format!("{GOOD}colectors = [\"online_users\"]\n"),
        &[("sk.txt", "s")],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("huaweicloud[0]") && out.contains("colectors"),
        "{out}"
    );
}

#[test]
fn config_check_names_a_bad_duration() {
    let (code, out) = check(
        &format!("[poll]\ninterval = \"every minute\"\n{GOOD}"),
        &[("sk.txt", "s")],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("poll.interval") && out.contains("invalid duration"),
        "{out}"
    );
}

#[test]
fn config_check_names_a_missing_secret() {
    let (code, out) = check(GOOD, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("huaweicloud[0].secret_key_file") && out.contains("sk.txt"),
        "{out}"
    );
    let (code, out) = check(
        "[[huaweicloud]]\nregion = \"cn-north-4\"\naccess_key = \"AK\"\n",
        &[],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("huaweicloud[0].secret_key") && out.contains("HUAWEICLOUD_SDK_SK"),
        "{out}"
    );
}

#[test]
fn version_flag_prints_the_version() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(workspace_exporter::VERSION));
}

/// Runs the binary against the simulator with temporary credentials at trace level,
/// waits for all three first polls, stops it with SIGTERM, and checks the exit and
/// that no credential reached the logs or `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_cleanly_and_logs_hold_no_secret() {
    const AK: &str = "LOGTESTAK00000000001";
    const SK: &str = "log-test-secret-key-Zq9";
    const TOKEN: &str = "log-test-security-token-Xy7";
    let mut scenario = Scenario::demo();
    scenario.credentials = vec![SimCredential {
        access_key: AK.into(),
        secret_key: SK.into(),
        security_token: Some(TOKEN.into()),
    }];
    let sim = common::start_sim(scenario).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sk"), format!("{SK}\n")).unwrap();
    let config = common::target_toml(&sim.url(), "prod", &format!("security_token = \"{TOKEN}\""))
        .replace(
            &format!("secret_key = \"{}\"", common::SK),
            "secret_key_file = \"sk\"",
        )
        .replace(common::AK, AK);
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();

    let mut child = Command::new(BIN)
        .arg(format!("--config.file={}", path.display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .arg("--log.level=trace")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut logs = Vec::new();
    let mut address = None;
    let mut polls = 0;
    while address.is_none() || polls < 3 {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("exporter logs its progress");
        if line.contains("workspace-exporter listening") {
            address = line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("address="))
                .map(str::to_string);
        }
        if line.contains("poll succeeded") {
            polls += 1;
        }
        assert!(!line.contains("poll failed"), "{line}");
        logs.push(line);
    }
    let address = address.unwrap();
    let body = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("huaweicloud_workspace_desktops"));

    let started = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "still running 2 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
    reader.join().unwrap();
    logs.extend(rx.try_iter());
    let all = logs.join("\n");
    assert!(all.contains("shutting down"), "{all}");
    for secret in [SK, TOKEN] {
        assert!(!all.contains(secret), "a credential reached the logs");
        assert!(!body.contains(secret), "a credential reached /metrics");
    }
}
