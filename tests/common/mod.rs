//! Shared test harness: a simulator and an exporter on loopback ports, and a strict
//! parser for the text exposition format so tests can assert exact sample values.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use workspace_exporter::config::Config;
use workspace_exporter::exporter::{self, RunningExporter};
use workspace_exporter::simulator::{Scenario, Simulator};

/// Credentials the simulator accepts in [`Scenario::empty`].
pub const AK: &str = workspace_exporter::simulator::scenario::DEMO_ACCESS_KEY;
/// Secret key matching [`AK`].
pub const SK: &str = workspace_exporter::simulator::scenario::DEMO_SECRET_KEY;

/// A simulator plus an exporter polling it.
pub struct Harness {
    pub sim: Simulator,
    pub exporter: RunningExporter,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

/// A `[[huaweicloud]]` section pointing at `sim_url`, with the demo credentials and an
/// hour-long interval so only the first poll and explicit `poll_now` calls happen.
pub fn target_toml(sim_url: &str, name: &str, extra: &str) -> String {
    format!(
        r#"
[[huaweicloud]]
name = "{name}"
region = "cn-north-4"
access_key = "{AK}"
secret_key = "{SK}"
interval = "1h"
workspace_endpoint = "{sim_url}"
app_endpoint = "{sim_url}"
iam_endpoint = "{sim_url}"
{extra}
"#
    )
}

/// `[poll]` settings for tests: quick retries and no client-side rate limiting to
/// wait for. Prepended by [`load_config`] unless the configuration has its own.
pub const TEST_POLL: &str = "[poll]\nretry_backoff = \"1ms\"\nrate_limit_per_minute = 600000\n";

/// Writes `toml` to a temporary file and loads it the way the binary does.
pub fn load_config(toml: &str) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let toml = if toml.contains("[poll]") {
        toml.to_string()
    } else {
        format!("{TEST_POLL}{toml}")
    };
    let toml = toml.as_str();
    std::fs::write(&path, toml).unwrap();
    let config =
        Config::load_with_env(&path, &[]).unwrap_or_else(|e| panic!("config: {e}\n{toml}"));
    (config, dir)
}

pub async fn start_sim(scenario: Scenario) -> Simulator {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Simulator::start(listener, scenario).unwrap()
}

/// Starts an exporter for `config_toml` and waits until every collector polled once.
pub async fn start_exporter(sim: Simulator, config_toml: &str) -> Harness {
    start_exporter_with_web(sim, config_toml, None).await
}

/// [`start_exporter`] with `--web.enable-lifecycle`: `POST /-/reload` is served.
pub async fn start_exporter_with_lifecycle(sim: Simulator, config_toml: &str) -> Harness {
    start_exporter_with_options(sim, config_toml, None, true).await
}

/// [`start_exporter`] serving with a web configuration (TLS, basic auth).
pub async fn start_exporter_with_web(
    sim: Simulator,
    config_toml: &str,
    web: Option<std::sync::Arc<workspace_exporter::web_config::WebConfigSource>>,
) -> Harness {
    start_exporter_with_options(sim, config_toml, web, false).await
}

/// [`start_exporter`] with a web configuration and, with `lifecycle`,
/// `--web.enable-lifecycle`.
pub async fn start_exporter_with_options(
    sim: Simulator,
    config_toml: &str,
    web: Option<std::sync::Arc<workspace_exporter::web_config::WebConfigSource>>,
    lifecycle: bool,
) -> Harness {
    let (config, dir) = load_config(config_toml);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let file = exporter::ConfigFile {
        path: dir.path().join("config.toml"),
        server_as_written: config.server.clone(),
    };
    let options = exporter::StartOptions {
        config_file: Some(file),
        web,
        direct: true,
        enable_lifecycle: lifecycle,
        write_timeout: None,
        // Credential expiry follows tokio's clock, so tests that pause it see
        // temporary keys expire.
        clock: workspace_exporter::clock::WallClock::follows_tokio(),
        demo: false,
    };
    let exporter = exporter::start(&config, options, listener, shutdown.clone()).unwrap();
    exporter.ready().await;
    Harness {
        sim,
        exporter,
        http: reqwest::Client::new(),
        shutdown,
        _dir: dir,
    }
}

/// Starts an exporter for `config_toml` (its simulator already running), waits until
/// every collector polled once, scrapes `/metrics` once and stops it.
pub async fn scrape_once(config_toml: &str) -> Scrape {
    let (config, _dir) = load_config(config_toml);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = CancellationToken::new();
    let exporter =
        exporter::start(&config, Default::default(), listener, shutdown.clone()).unwrap();
    exporter.ready().await;
    let text = reqwest::get(format!("http://{}/metrics", exporter.local_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    shutdown.cancel();
    Scrape::parse(&text)
}

/// Simulator with `scenario` and one target named `prod` with `extra` keys.
pub async fn start(scenario: Scenario, extra: &str) -> Harness {
    let sim = start_sim(scenario).await;
    let toml = target_toml(&sim.url(), "prod", extra);
    start_exporter(sim, &toml).await
}

impl Harness {
    /// The configuration file the exporter was started from (and reloads from).
    pub fn config_path(&self) -> std::path::PathBuf {
        self._dir.path().join("config.toml")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.exporter.local_addr())
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// Scrapes `/metrics` and parses it strictly.
    pub async fn scrape(&self) -> Scrape {
        let resp = self.get("/metrics").await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = resp.text().await.unwrap();
        Scrape::parse(&text)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed `/metrics` body.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub text: String,
    pub samples: Vec<Sample>,
    /// `# TYPE` per metric name.
    pub types: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses the text format, panicking with the offending line on any violation
    /// (including a sample timestamp, which this exporter must never emit).
    pub fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE line has a kind");
                assert!(
                    types.insert(name.to_string(), kind.to_string()).is_none(),
                    "duplicate TYPE for {name}"
                );
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            samples.push(parse_sample(line).unwrap_or_else(|e| panic!("{e}: {line:?}")));
        }
        Scrape {
            text: text.to_string(),
            samples,
            types,
        }
    }

    /// Samples of `name` whose labels include every pair in `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample of `name` matching `labels`; `None` if there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.find(name, labels);
        assert!(
            found.len() <= 1,
            "{name}{labels:?} matches {} samples",
            found.len()
        );
        found.first().map(|s| s.value)
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        loop {
            let start = chars.peek().map(|(i, _)| *i).ok_or("unterminated labels")?;
            if after[start..].starts_with('}') {
                rest = &after[start + 1..];
                break;
            }
            let eq = after[start..].find('=').ok_or("label without '='")? + start;
            let label = after[start..eq].to_string();
            while chars.peek().is_some_and(|(i, _)| *i <= eq) {
                chars.next();
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value not quoted".into());
            }
            let mut value = String::new();
            loop {
                match chars.next().ok_or("unterminated label value")?.1 {
                    '\\' => match chars.next().ok_or("dangling escape")?.1 {
                        'n' => value.push('\n'),
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        c => return Err(format!("bad escape \\{c}")),
                    },
                    '"' => break,
                    '\n' => return Err("raw newline in label value".into()),
                    c => value.push(c),
                }
            }
            if labels.insert(label.clone(), value).is_some() {
                return Err(format!("duplicate label {label}"));
            }
            if chars.peek().is_some_and(|(_, c)| *c == ',') {
                chars.next();
            }
        }
    }
    let parts: Vec<&str> = rest.split_whitespace().collect();
    match parts.as_slice() {
        [value] => Ok(Sample {
            name: name.to_string(),
            labels,
            value: value.parse().map_err(|_| format!("bad value {value:?}"))?,
        }),
        [_, _] => Err("sample carries a timestamp".into()),
        _ => Err("malformed sample".into()),
    }
}

/// Whether an external tool (curl, openssl, promtool, prometheus, python3 module) may
/// be missing: in CI (`WORKSPACE_EXPORTER_CI` set) it must be there, elsewhere a test
/// that needs it says so and skips that part.
pub fn tool_available(program: &str, probe_args: &[&str]) -> bool {
    let ok = std::process::Command::new(program)
        .args(probe_args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("WORKSPACE_EXPORTER_CI").is_none(),
            "{program} is required in CI"
        );
        eprintln!("{program} is not installed: skipping the part of the test that needs it");
    }
    ok
}

/// Where a test leaves a `/metrics` body for CI's `promtool check metrics`.
pub fn sample_output_path() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}
