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
fn every_kind_of_bad_configuration_exits_2_naming_the_key() {
    let cases: &[(&str, String, &[&str])] = &[
        ("wrong type", format!("[poll]\nmax_retries = \"three\"\n{GOOD}"), &["poll.max_retries"]),
        ("bad URL", format!("{GOOD}workspace_endpoint = \"not a url\"\n"), &["huaweicloud[0].workspace_endpoint", "not a URL"]),
        ("unreadable secret file", GOOD.replace("sk.txt", "secrets-dir"), &["huaweicloud[0].secret_key_file", "secrets-dir"]),
        ("duplicate names", format!("{GOOD}{GOOD}"), &["huaweicloud[1].name", "duplicate"]),
        ("no targets", "[poll]\ninterval = \"30s\"\n".to_string(), &["huaweicloud", "no targets"]),
        ("empty SAG instances", "[[alibabacloud_sag]]\nregion = \"cn-shanghai\"\naccess_key_id = \"a\"\naccess_key_secret = \"b\"\n".to_string(), &["alibabacloud_sag[0].instances"]),
        ("staleness below interval", format!("[poll]\nmax_staleness = \"10s\"\n{GOOD}"), &["poll.max_staleness"]),
        ("concurrency out of range", format!("{GOOD}concurrency = 0\n"), &["huaweicloud[0].concurrency", "out of range 1..=64"]),
    ];
    for (name, config, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sk.txt"), "s").unwrap();
        std::fs::create_dir(dir.path().join("secrets-dir")).unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        let out = Command::new(BIN)
            .arg(format!("--config.file={}", path.display()))
            .env_remove("HUAWEICLOUD_SDK_AK")
            .env_remove("HUAWEICLOUD_SDK_SK")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        for e in *expected {
            assert!(stderr.contains(e), "{name}: expected {e:?} in {stderr}");
        }
    }
}

/// A secret written without quotes, with an unterminated quote, or as a number is
/// refused at `--config.check` and at start-up, naming the key and the line, and the
/// message never repeats the value.
#[test]
fn a_malformed_secret_is_refused_without_echoing_it() {
    const VALUE: &str = "demo-secret-key-not-a-real-one";
    let head = "[[huaweicloud]]\nregion = \"cn-north-4\"\naccess_key = \"AK\"\n";
    for (line, shown) in [
        (format!("secret_key = {VALUE}\n"), VALUE),
        (format!("secret_key = \"{VALUE}\n"), VALUE),
        (
            "secret_key = 123456789012345\n".to_string(),
            "123456789012345",
        ),
    ] {
        let config = format!("{head}{line}");
        let (code, out) = check(&config, &[]);
        assert_eq!(code, 2, "{line}: {out}");
        assert!(out.contains("huaweicloud[0].secret_key"), "{line}: {out}");
        assert!(!out.contains(shown), "{line}: the secret was echoed: {out}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, &config).unwrap();
        let started = Command::new(BIN)
            .arg(format!("--config.file={}", path.display()))
            .arg("--web.listen-address=127.0.0.1:0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&started.stderr);
        assert_eq!(started.status.code(), Some(2), "{line}: {stderr}");
        assert!(stderr.contains("huaweicloud[0].secret_key"), "{stderr}");
        assert!(
            !stderr.contains(shown),
            "{line}: the secret was echoed: {stderr}"
        );
    }
}

#[test]
fn a_bad_web_configuration_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sk.txt"), "s").unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, GOOD).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  session_tickets: true\n").unwrap();
    let out = Command::new(BIN)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.config.file={}", web.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("session_tickets"), "{stderr}");
}

#[test]
fn version_flag_prints_the_version() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(workspace_exporter::VERSION));
}

/// A misspelled region with the default endpoints fails `--config.check`, naming the
/// key, the value and the nearest known region; with its endpoints set it passes.
#[test]
fn a_misspelled_region_suggests_the_nearest_known_one() {
    let files = [("sk.txt", "SK")];
    let (code, text) = check(&GOOD.replace("cn-north-4", "cn-nort-4"), &files);
    assert_eq!(code, 2, "{text}");
    for part in [
        "huaweicloud[0].region",
        "\"cn-nort-4\"",
        "did you mean \"cn-north-4\"?",
        "workspace_endpoint",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }

    let sag = "[[alibabacloud_sag]]\nregion = \"cn-shangai\"\naccess_key_id = \"a\"\naccess_key_secret = \"b\"\n[[alibabacloud_sag.instances]]\nsmartag_id = \"s\"\n";
    let (code, text) = check(sag, &[]);
    assert_eq!(code, 2, "{text}");
    for part in [
        "alibabacloud_sag[0].region",
        "\"cn-shangai\"",
        "did you mean \"cn-shanghai\"?",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }

    let explicit = GOOD.replace("cn-north-4", "xx-private-1")
        + "workspace_endpoint = \"https://workspace.example.net\"\napp_endpoint = \"https://workspace.example.net\"\niam_endpoint = \"https://iam.example.net\"\n";
    let (code, text) = check(&explicit, &files);
    assert_eq!(code, 0, "{text}");
}

/// The flags `--help` lists for `args` (the words starting with `--`).
fn help_flags(args: &[&str]) -> Vec<String> {
    let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches([',', '.', ')', '`']).to_string())
        .collect()
}

/// Each subcommand's `--help` lists the flags it takes and none it would ignore.
#[test]
fn subcommand_help_lists_only_the_flags_that_apply() {
    let exporter_only = [
        "--web.enable-lifecycle",
        "--shard",
        "--total-shards",
        "--shard.from-hostname",
        "--config.check",
    ];
    let serving = [
        "--web.listen-address",
        "--web.telemetry-path",
        "--web.config.file",
        "--web.max-requests",
        "--web.write-timeout",
    ];
    let cases: [(&[&str], Vec<&str>, Vec<&str>); 4] = [
        (
            &[],
            [
                &["--config.file", "--log.level"][..],
                &serving,
                &exporter_only,
            ]
            .concat(),
            vec!["--demo.interval", "--output"],
        ),
        (
            &["demo"],
            [
                &serving[..],
                &["--demo.interval", "--demo.chaos", "--log.level"],
            ]
            .concat(),
            [&exporter_only[..], &["--config.file", "--output"]].concat(),
        ),
        (
            &["export-connections"],
            vec!["--config.file", "--output", "--target", "--log.format"],
            [&exporter_only[..], &serving].concat(),
        ),
        (
            &["simulate"],
            vec!["--listen-address", "--log.level"],
            [&exporter_only[..], &serving, &["--config.file"]].concat(),
        ),
    ];
    for (args, listed, absent) in cases {
        let flags = help_flags(args);
        for flag in listed {
            assert!(
                flags.iter().any(|f| f == flag),
                "{args:?} lacks {flag}: {flags:?}"
            );
        }
        for flag in absent {
            assert!(
                !flags.iter().any(|f| f == flag),
                "{args:?} lists {flag}: {flags:?}"
            );
        }
    }
}

/// A flag may stand before the subcommand's name when it applies to it (as scripts
/// write `--config.file=F export-connections`); one that does not apply is refused with
/// exit 2, naming it and where to look.
#[test]
fn a_flag_before_a_subcommand_applies_or_is_refused() {
    let missing = "/nonexistent/ux-test/config.toml";
    for args in [
        vec![
            format!("--config.file={missing}"),
            "export-connections".into(),
        ],
        vec![
            "export-connections".into(),
            format!("--config.file={missing}"),
        ],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .args(["--output", "-"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(missing), "{args:?}: {stderr}");
    }
    for (args, flag) in [
        (vec!["--web.max-requests=0", "demo"], "--web.max-requests"),
        (vec!["--shard=1", "demo"], "--shard"),
        (
            vec![
                "--web.listen-address=:0",
                "export-connections",
                "--output",
                "-",
            ],
            "--web.listen-address",
        ),
        (vec!["--config.check", "simulate"], "--config.check"),
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        if flag != "--web.max-requests" {
            assert!(stderr.contains("does not apply"), "{args:?}: {stderr}");
            assert!(stderr.contains("--help"), "{args:?}: {stderr}");
        }
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
}

/// The exporter binary running as a child process, its log lines collected.
struct Running {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// Every line read so far.
    logs: Vec<String>,
}

impl Running {
    fn start(args: &[String]) -> Running {
        let mut child = Command::new(BIN)
            .args(args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            reader: Some(reader),
            logs: Vec::new(),
        }
    }

    /// Where the log stands now, for [`Running::wait_for_since`].
    fn mark(&self) -> usize {
        self.logs.len()
    }

    /// Reads log lines until `count` of them contain `pattern`; returns the last one.
    fn wait_for(&mut self, pattern: &str, count: usize) -> String {
        let mark = self.mark();
        self.wait_for_since(mark, pattern, count)
    }

    /// Like [`Running::wait_for`], counting lines already read since `mark` too.
    fn wait_for_since(&mut self, mark: usize, pattern: &str, count: usize) -> String {
        let mut seen = 0;
        for line in &self.logs[mark..] {
            if line.contains(pattern) {
                seen += 1;
                if seen == count {
                    return line.clone();
                }
            }
        }
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    panic!(
                        "no log line with {pattern:?}; so far:\n{}",
                        self.logs.join("\n")
                    )
                });
            self.logs.push(line.clone());
            if line.contains(pattern) {
                seen += 1;
                if seen == count {
                    return line;
                }
            }
        }
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Sends SIGTERM and waits for the exit, at most two seconds; returns the code.
    fn terminate(&mut self) -> Option<i32> {
        let started = Instant::now();
        self.signal("TERM");
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "still running 2 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        self.reader.take().unwrap().join().unwrap();
        self.logs.extend(self.lines.try_iter());
        status.code()
    }
}

impl Drop for Running {
    /// A test that fails half-way must not leave the exporter running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

    let mut exporter = Running::start(&[
        format!("--config.file={}", path.display()),
        "--web.listen-address=127.0.0.1:0".into(),
        "--log.level=trace".into(),
    ]);
    let listening = exporter.wait_for("workspace-exporter listening", 1);
    let address = listening
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("address="))
        .unwrap()
        .to_string();
    // Counted from the start: a poll may finish before the "listening" line.
    exporter.wait_for_since(0, "poll succeeded", 3);
    let body = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("huaweicloud_workspace_desktops"));

    assert_eq!(exporter.terminate(), Some(0));
    let all = exporter.logs.join("\n");
    assert!(all.contains("shutting down"), "{all}");
    assert!(!all.contains("poll failed"), "{all}");
    for secret in [SK, TOKEN] {
        assert!(!all.contains(secret), "a credential reached the logs");
        assert!(!body.contains(secret), "a credential reached /metrics");
    }
}

/// The same with temporary credentials of every kind of secret the identity services
/// hand out (an OIDC ID token, an unscoped IAM token, metadata session tokens, temporary
/// keys and security tokens), base and assumed, on both clouds: none reaches the logs
/// at trace level or `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_credentials_never_reach_logs_or_metrics() {
    const ID_TOKEN: &str = "leak-test-id-token-Qw3";
    let mut scenario = Scenario::demo();
    scenario.identity.huawei_oidc = Some(("sim-idp".into(), ID_TOKEN.into()));
    scenario.identity.agencies = vec![("customer-a".into(), "workspace-monitor".into())];
    scenario.identity.ram_role = Some("ecs-monitor-role".into());
    scenario.identity.roles = vec!["acs:ram::1234567890123456:role/workspace-monitor".into()];
    let sim = common::start_sim(scenario).await;
    let url = sim.url();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("id-token"), format!("{ID_TOKEN}\n")).unwrap();
    let config = format!(
        r#"
[[huaweicloud]]
name = "prod"
region = "cn-north-4"
credentials = "oidc"
idp_id = "sim-idp"
id_token_file = "id-token"
workspace_endpoint = "{url}"
app_endpoint = "{url}"
iam_endpoint = "{url}"
[huaweicloud.assume_agency]
domain_name = "customer-a"
agency_name = "workspace-monitor"

[[alibabacloud_sag]]
name = "sag"
region = "cn-shanghai"
credentials = "ecs_ram_role"
metadata_endpoint = "{url}"
endpoint = "{url}"
sts_endpoint = "{url}"
[alibabacloud_sag.assume_role]
role_arn = "acs:ram::1234567890123456:role/workspace-monitor"
[[alibabacloud_sag.instances]]
smartag_id = "{}"
"#,
        workspace_exporter::simulator::scenario::DEMO_SAG_INSTANCES[0]
    );
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let mut exporter = Running::start(&[
        format!("--config.file={}", path.display()),
        "--web.listen-address=127.0.0.1:0".into(),
        "--log.level=trace".into(),
    ]);
    let listening = exporter.wait_for("workspace-exporter listening", 1);
    let address = listening
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("address="))
        .unwrap()
        .to_string();
    exporter.wait_for_since(0, "poll succeeded", 4);
    let body = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("workspace_exporter_credentials_expiry_timestamp_seconds{target=\"sag\"}")
    );
    assert!(
        body.contains("workspace_exporter_credentials_expiry_timestamp_seconds{target=\"prod\"}")
    );
    assert!(sim.signed_by("agency") > 0);
    assert!(sim.signed_by("assume_role") > 0);
    assert_eq!(exporter.terminate(), Some(0));
    let all = exporter.logs.join("\n");
    assert!(all.contains("fetched temporary credentials"), "{all}");
    for secret in [
        ID_TOKEN,
        "sim-temporary-secret-",
        "sim-security-token-",
        "sim-hw-unscoped-",
        "sim-al-metadata-",
    ] {
        assert!(!all.contains(secret), "{secret} reached the logs");
        assert!(!body.contains(secret), "{secret} reached /metrics");
    }
}

/// `workspace-exporter demo 2>&1 | head -1`: once the reader of standard error and
/// standard output is gone, the process keeps serving, and SIGTERM still stops it at
/// once with success (it used to panic or ignore the signal).
#[test]
fn sigterm_works_when_stderr_is_a_closed_pipe() {
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = Command::new(BIN)
        .args(["demo", "--web.listen-address=127.0.0.1:0"])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    let mut lines = BufReader::new(reader).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the demo exited before it listened")
            .unwrap();
        if line.contains("demo running") {
            break line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("address="))
                .unwrap()
                .to_string();
        }
    };
    // Close the only reader: every later write to stdout or stderr fails with EPIPE.
    drop(lines);
    let healthy = |path: &str| {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(healthy("/-/healthy").starts_with("HTTP/1.1 200"));
    assert!(healthy("/nowhere").starts_with("HTTP/1.1 404"));
    assert!(child.try_wait().unwrap().is_none(), "the demo died");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still running 20 s after SIGTERM with a closed stderr"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Reaped: its pid must not be signalled again.
    std::mem::forget(guard);
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// `demo` serves on `--web.telemetry-path`, refuses bad `--web.*` values and
/// `--config.file` (which it would not read) with exit 2 and a message naming the flag.
#[test]
fn demo_honours_serving_flags_and_refuses_a_config_file() {
    for (args, expected) in [
        (vec!["--config.file=config.toml"], "--config.file"),
        (vec!["--web.telemetry-path=metrics"], "--web.telemetry-path"),
        (vec!["--web.max-requests=0"], "--web.max-requests"),
    ] {
        let out = Command::new(BIN)
            .arg("demo")
            .args(&args)
            .arg("--web.listen-address=127.0.0.1:0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }

    let mut demo = Running::start(&[
        "demo".into(),
        "--web.listen-address=127.0.0.1:0".into(),
        "--web.telemetry-path=/stats".into(),
        "--web.max-requests=2".into(),
    ]);
    let line = demo.wait_for("demo running", 1);
    assert!(line.contains("/stats"), "{line}");
    let address = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("address="))
        .unwrap()
        .to_string();
    let get = |path: &str| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let stats = get("/stats");
    assert!(stats.starts_with("HTTP/1.1 200"), "{stats}");
    assert!(stats.contains("workspace_exporter_build_info"), "{stats}");
    assert!(get("/metrics").starts_with("HTTP/1.1 404"));
    assert_eq!(demo.terminate(), Some(0));
}

/// An empty `--web.config.file=` means plain HTTP, as with the reference.
#[test]
fn an_empty_web_config_flag_means_plain_http() {
    let mut demo = Running::start(&[
        "demo".into(),
        "--web.listen-address=127.0.0.1:0".into(),
        "--web.config.file=".into(),
    ]);
    let line = demo.wait_for("demo running", 1);
    assert!(line.contains("http://"), "{line}");
    assert_eq!(demo.terminate(), Some(0));
}

/// Kills a process left running by a failed test.
struct KillOnDrop(
    /// The process id.
    u32,
);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_an_invalid_file_keeps_the_old_configuration() {
    let sim = common::start_sim(Scenario::demo()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let one = common::target_toml(&sim.url(), "prod", "collectors = [\"online_users\"]");
    std::fs::write(&path, &one).unwrap();
    let mut exporter = Running::start(&[
        format!("--config.file={}", path.display()),
        "--web.listen-address=127.0.0.1:0".into(),
        "--log.level=debug".into(),
    ]);
    let listening = exporter.wait_for("workspace-exporter listening", 1);
    let address = listening
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("address="))
        .unwrap()
        .to_string();
    // Counted from the start: the poll may finish before the "listening" line.
    exporter.wait_for_since(0, "poll succeeded", 1);
    // Without --web.enable-lifecycle only the signal reloads.
    let refused = reqwest::Client::new()
        .post(format!("http://{address}/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    std::fs::write(&path, format!("{one}\ncolectors = []\n")).unwrap();
    exporter.signal("HUP");
    let rejected = exporter.wait_for("configuration reload rejected", 1);
    assert!(rejected.contains("colectors"), "{rejected}");

    let two = common::target_toml(
        &sim.url(),
        "prod",
        "collectors = [\"online_users\", \"desktop_status\"]",
    );
    std::fs::write(&path, two).unwrap();
    let mark = exporter.mark();
    exporter.signal("HUP");
    exporter.wait_for_since(mark, "configuration reloaded", 1);
    exporter.wait_for_since(mark, "collector=desktop_status", 1);
    exporter.wait_for_since(mark, "collector=online_users", 1);
    assert_eq!(exporter.terminate(), Some(0));
    assert!(
        !exporter
            .logs
            .iter()
            .any(|l| l.contains("take effect at the next restart")),
        "command-line overrides were mistaken for [server] changes"
    );
}

/// Without a configuration file, the message says how to start: copy the example,
/// point --config.file at one, or run the demo.
#[test]
fn a_missing_configuration_file_says_how_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .arg("--config.check")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for hint in [
        "config.toml does not exist",
        "cp config.example.toml config.toml",
        "--config.file=PATH",
        "workspace-exporter demo",
    ] {
        assert!(text.contains(hint), "{hint:?} missing from {text}");
    }
}

/// `--web.listen-address=:PORT` (the node_exporter form) listens on every interface;
/// a port already taken exits 1 naming the flag.
#[test]
fn listen_address_forms_and_a_taken_port() {
    let (code, out) = check(
        &format!("[server]\nlisten_address = \":9817\"\n{GOOD}"),
        &[("sk.txt", "s")],
    );
    assert_eq!(code, 0, "{out}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sk.txt"), "s").unwrap();
    std::fs::write(dir.path().join("config.toml"), GOOD).unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("already in use"), "{text}");
    assert!(text.contains("--web.listen-address"), "{text}");
    let out = Command::new(BIN)
        .arg("--web.listen-address=localhost")
        .arg("--config.check")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("\":9817\""), "{text}");
}
