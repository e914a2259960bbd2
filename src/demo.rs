//! `workspace-exporter demo`: runs the [`simulator`](crate::simulator) on a loopback
//! port with data that moves over time, and the real exporter against it over HTTP, so
//! a newcomer sees real metrics without a cloud account.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{
    AlibabaCredentials, Config, HuaweiCollectorKind, HuaweiCredentials, HuaweiTarget, PollConfig,
    SagInstance, SagTarget, ServerConfig,
};
use crate::exporter::{self, RunningExporter, StartError};
use crate::secret::Secret;
use crate::simulator::{Scenario, Simulator, scenario};

/// Poll interval of the demo: short, so the data visibly moves.
pub const DEMO_INTERVAL: Duration = Duration::from_secs(10);

/// How often the simulated cloud's data changes.
pub const DEMO_STEP: Duration = Duration::from_secs(5);

/// The configuration the demo exporter runs with, pointing every endpoint at `sim_url`.
/// The project ID is left out so that IAM discovery is exercised too.
pub fn demo_config(sim_url: &str, listen_address: std::net::SocketAddr) -> Config {
    let url = url::Url::parse(sim_url).expect("simulator URL is valid");
    Config {
        server: ServerConfig {
            listen_address,
            telemetry_path: crate::config::DEFAULT_TELEMETRY_PATH.into(),
        },
        poll: PollConfig {
            interval: DEMO_INTERVAL,
            timeout: Duration::from_secs(5),
            max_body_bytes: crate::config::DEFAULT_MAX_BODY_BYTES,
        },
        huaweicloud: vec![HuaweiTarget {
            name: "demo".into(),
            region: scenario::DEMO_REGION.into(),
            project_id: None,
            credentials: HuaweiCredentials {
                access_key: Secret::new(scenario::DEMO_ACCESS_KEY),
                secret_key: Secret::new(scenario::DEMO_SECRET_KEY),
                security_token: None,
            },
            collectors: HuaweiCollectorKind::ALL.to_vec(),
            session_lookback: crate::config::DEFAULT_SESSION_LOOKBACK,
            interval: DEMO_INTERVAL,
            timeout: Duration::from_secs(5),
            workspace_endpoint: url.clone(),
            app_endpoint: url.clone(),
            iam_endpoint: url.clone(),
        }],
        alibabacloud_sag: vec![SagTarget {
            name: "demo-sag".into(),
            region: scenario::DEMO_SAG_REGION.into(),
            credentials: AlibabaCredentials {
                access_key_id: Secret::new(scenario::DEMO_SAG_ACCESS_KEY_ID),
                access_key_secret: Secret::new(scenario::DEMO_SAG_ACCESS_KEY_SECRET),
                security_token: None,
            },
            endpoint: url,
            instances: vec![
                SagInstance {
                    smartag_id: scenario::DEMO_SAG_INSTANCES[0].into(),
                    users: None,
                },
                SagInstance {
                    smartag_id: scenario::DEMO_SAG_INSTANCES[1].into(),
                    users: Some(vec!["ops-oncall".into(), "auditor@corp.example".into()]),
                },
            ],
            interval: DEMO_INTERVAL,
            timeout: Duration::from_secs(5),
            concurrency: crate::config::DEFAULT_SAG_CONCURRENCY,
        }],
    }
}

/// A running demo: the simulator, its weather, and the exporter.
pub struct Demo {
    /// The simulated cloud (kept alive for the demo's lifetime).
    pub simulator: Simulator,
    /// The exporter polling it.
    pub exporter: RunningExporter,
}

/// Starts the simulator on a free loopback port, its data drift, and the exporter on
/// `listener`.
pub async fn start(listener: TcpListener, shutdown: CancellationToken) -> Result<Demo, StartError> {
    let sim_listener = TcpListener::bind("127.0.0.1:0").await?;
    let simulator = Simulator::start(sim_listener, Scenario::demo())?;
    tracing::info!(simulator = %simulator.url(), "simulated Huawei Cloud started");
    let config = demo_config(&simulator.url(), listener.local_addr()?);
    let exporter = exporter::start(&config, listener, shutdown.clone())?;
    let weather = simulator.scenario();
    tokio::spawn(async move {
        let mut rng = fastrand::Rng::new();
        let mut ticker = tokio::time::interval(DEMO_STEP);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let hour = chrono::Timelike::hour(&chrono::Utc::now());
            weather.update(|s| s.step(&mut rng, hour));
        }
    });
    Ok(Demo {
        simulator,
        exporter,
    })
}
