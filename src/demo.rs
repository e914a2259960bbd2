//! `workspace-exporter demo`: runs the [`simulator`](crate::simulator) on a loopback
//! port with data that moves over time, and the real exporter against it over HTTP, so
//! a newcomer sees real metrics without a cloud account.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError, RawConfig};
use crate::exporter::{self, RunningExporter, StartError};
use crate::simulator::{Fault, Route, Scenario, Simulator, scenario};

/// Poll interval of the demo: short, so the data visibly moves.
pub const DEMO_INTERVAL: Duration = Duration::from_secs(10);

/// Where the demo serves unless `--web.listen-address` says otherwise: loopback only,
/// since it needs no credentials.
pub const DEMO_LISTEN_ADDRESS: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9817);

/// How often the simulated cloud's data changes.
pub const DEMO_STEP: Duration = Duration::from_secs(5);

/// The configuration the demo exporter runs with, pointing every endpoint at `sim_url`.
/// It goes through the same loader as a configuration file; the Huawei project ID is
/// left out so that IAM discovery is exercised too.
pub fn demo_config(
    sim_url: &str,
    listen_address: std::net::SocketAddr,
    options: &DemoOptions,
) -> Result<Config, ConfigError> {
    let interval = humantime::format_duration(options.interval);
    // Under chaos the simulator sends 64 MiB bodies; a 4 MiB limit refuses them just
    // as well and keeps the soak test's memory readings about leaks, not about how the
    // allocator keeps a 32 MiB buffer around.
    let max_body_bytes = if options.chaos {
        4 << 20
    } else {
        crate::config::DEFAULT_MAX_BODY_BYTES
    };
    // The path is checked before it is written into TOML (URL-safe characters only).
    let telemetry_path = options
        .telemetry_path
        .as_deref()
        .unwrap_or(crate::config::DEFAULT_TELEMETRY_PATH);
    crate::config::validate_telemetry_path(telemetry_path)
        .map_err(|p| ConfigError::new("--web.telemetry-path", p))?;
    let max_requests = options
        .max_requests
        .unwrap_or(crate::config::DEFAULT_MAX_REQUESTS);
    let toml = format!(
        r#"
[server]
listen_address = "{listen_address}"
telemetry_path = "{telemetry_path}"
max_requests = {max_requests}

[poll]
interval = "{interval}"
timeout = "5s"
rate_limit_per_minute = 600
max_body_bytes = {max_body_bytes}

[[huaweicloud]]
name = "demo"
region = "{region}"
access_key = "{ak}"
secret_key = "{sk}"
workspace_endpoint = "{sim_url}"
app_endpoint = "{sim_url}"
iam_endpoint = "{sim_url}"

[[alibabacloud_sag]]
name = "demo-sag"
region = "{sag_region}"
# Temporary keys from the (simulated) RAM role of the instance, refreshed before
# they expire: the demo shows the credential metrics moving.
credentials = "ecs_ram_role"
metadata_endpoint = "{sim_url}"
endpoint = "{sim_url}"

[[alibabacloud_sag.instances]]
smartag_id = "{hq}"

[[alibabacloud_sag.instances]]
smartag_id = "{branch}"
users = ["ops-oncall", "auditor@corp.example"]
"#,
        region = scenario::DEMO_REGION,
        ak = scenario::DEMO_ACCESS_KEY,
        sk = scenario::DEMO_SECRET_KEY,
        sag_region = scenario::DEMO_SAG_REGION,
        hq = scenario::DEMO_SAG_INSTANCES[0],
        branch = scenario::DEMO_SAG_INSTANCES[1],
    );
    let raw = RawConfig::parse(&toml, &[])?;
    Config::from_raw(raw, std::path::Path::new("."), &|_| None)
}

/// A running demo: the simulator, its weather, and the exporter.
pub struct Demo {
    /// The simulated cloud (kept alive for the demo's lifetime).
    pub simulator: Simulator,
    /// The exporter polling it.
    pub exporter: RunningExporter,
}

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Poll interval of the exporter.
    pub interval: Duration,
    /// Inject random faults into the simulated cloud (for soak tests).
    pub chaos: bool,
    /// TLS, basic auth and headers for the exporter's HTTP server.
    pub web: Option<std::sync::Arc<crate::web_config::WebConfigSource>>,
    /// How long a response write may stall before the connection is dropped; `None`
    /// for the default.
    pub write_timeout: Option<Duration>,
    /// `--web.telemetry-path`: path of the metrics endpoint; `None` for `/metrics`.
    pub telemetry_path: Option<String>,
    /// `--web.max-requests`: most requests served at once; `None` for the default.
    pub max_requests: Option<usize>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            interval: DEMO_INTERVAL,
            chaos: false,
            web: None,
            write_timeout: None,
            telemetry_path: None,
            max_requests: None,
        }
    }
}

/// Starts the simulator on a free loopback port, its data drift, and the exporter on
/// `listener`.
pub async fn start(
    listener: TcpListener,
    shutdown: CancellationToken,
    options: DemoOptions,
) -> Result<Demo, StartError> {
    let sim_listener = TcpListener::bind("127.0.0.1:0").await?;
    let simulator = Simulator::start(sim_listener, Scenario::demo())?;
    tracing::info!(simulator = %simulator.url(), chaos = options.chaos, "simulated clouds started");
    let config = demo_config(&simulator.url(), listener.local_addr()?, &options)
        .map_err(|e| StartError::Config(e.to_string()))?;
    let start_options = exporter::StartOptions {
        config_file: None,
        web: options.web.clone(),
        direct: true,
        enable_lifecycle: false,
        write_timeout: options.write_timeout,
        clock: crate::clock::WallClock::System,
        demo: true,
    };
    let exporter = exporter::start(&config, start_options, listener, shutdown.clone())?;
    let weather = simulator.handle();
    let step = DEMO_STEP.min(options.interval);
    tokio::spawn(async move {
        let mut rng = fastrand::Rng::new();
        let mut ticker = tokio::time::interval(step);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let hour = chrono::Timelike::hour(&chrono::Utc::now());
            weather.update(|s| s.step(&mut rng, hour));
            if options.chaos {
                weather.clear_faults();
                for _ in 0..rng.usize(0..3) {
                    let route = Route::ALL[rng.usize(0..Route::ALL.len())];
                    weather.set_fault_times(route, Fault::random(&mut rng), rng.u32(1..4));
                }
            }
        }
    });
    Ok(Demo {
        simulator,
        exporter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--web.telemetry-path` and `--web.max-requests` reach the demo's configuration;
    /// a bad path or a zero count is refused, naming the flag or key.
    #[test]
    fn serving_overrides_reach_the_demo_configuration() {
        let addr = "127.0.0.1:9817".parse().unwrap();
        let options = DemoOptions {
            telemetry_path: Some("/stats".into()),
            max_requests: Some(3),
            ..DemoOptions::default()
        };
        let config = demo_config("http://127.0.0.1:1", addr, &options).unwrap();
        assert_eq!(config.server.telemetry_path, "/stats");
        assert_eq!(config.server.max_requests, 3);
        let defaults = demo_config("http://127.0.0.1:1", addr, &DemoOptions::default()).unwrap();
        assert_eq!(defaults.server.telemetry_path, "/metrics");
        assert_eq!(
            defaults.server.max_requests,
            crate::config::DEFAULT_MAX_REQUESTS
        );
        let bad = DemoOptions {
            telemetry_path: Some("/x\"\n[poll]".into()),
            ..DemoOptions::default()
        };
        let err = demo_config("http://127.0.0.1:1", addr, &bad).unwrap_err();
        assert_eq!(err.key, "--web.telemetry-path");
        let zero = DemoOptions {
            max_requests: Some(0),
            ..DemoOptions::default()
        };
        let err = demo_config("http://127.0.0.1:1", addr, &zero).unwrap_err();
        assert_eq!(err.key, "server.max_requests");
    }
}
