//! The `workspace-exporter` binary: parses the command line ([`cli`]), loads the
//! configuration, sets up logging and signals, and starts the exporter (or the demo,
//! the simulator, an export). Only wiring lives here; `anyhow` is used at this edge
//! alone.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use workspace_exporter::clock::WallClock;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, ExportArgs, Failure, LogFormat, LogLevel};
#[cfg(feature = "simulator")]
use cli::{DemoArgs, SimulateArgs};
use workspace_exporter::config::{Config, ServerConfig};
#[cfg(feature = "simulator")]
use workspace_exporter::demo;
use workspace_exporter::export::{self, ExportRequest, Output};
use workspace_exporter::exporter::{ConfigFile, StartOptions};
use workspace_exporter::log_writer::{QuietStderr, eprint_line, print_line};
use workspace_exporter::web_config::WebConfigSource;
use workspace_exporter::{exporter, shutdown};

fn main() -> ExitCode {
    workspace_exporter::memory::tune_allocator();
    let cli = Cli::parse();
    init_logging(cli.log.level, cli.log.format);
    cli::exit_code(cli.settle().and_then(|cli| run(&cli)))
}

/// Runs what the command line asks for.
fn run(cli: &Cli) -> Result<(), Failure> {
    if cli.write_timeout().is_zero() {
        return Err(Failure::Config(
            "workspace-exporter: --web.write-timeout: must be greater than zero".into(),
        ));
    }
    match &cli.command {
        #[cfg(feature = "simulator")]
        Some(Command::Demo(args)) => {
            cli.demo_overrides()
                .map_err(|e| Failure::Config(format!("workspace-exporter demo: {e}")))?;
            let web = load_web_config(cli)?;
            Ok(run_demo(cli, args, web)?)
        }
        #[cfg(feature = "simulator")]
        Some(Command::Simulate(args)) => Ok(run_simulator(args)?),
        Some(Command::ExportConnections(args)) => {
            let (config, _) = load_config(cli)?;
            run_export(&config, args)
        }
        None => {
            let (config, server_as_written) = load_config(cli)?;
            let web = load_web_config(cli)?;
            if cli.config_check {
                print_line(&format!(
                    "{}: configuration OK ({} target(s), {} collector(s))",
                    cli.config_path().display(),
                    config.target_names().count(),
                    workspace_exporter::collectors::check(&config).unwrap_or(0)
                ));
                for (target, source) in config.credential_sources() {
                    print_line(&format!("target {target}: credentials from {source}"));
                }
                if let Some(shard) = config.server.shard {
                    let owned: Vec<&str> =
                        config.target_names().filter(|t| config.owns(t)).collect();
                    print_line(&format!(
                        "shard {} of {} polls {} target(s): {}",
                        shard.index,
                        shard.total,
                        owned.len(),
                        owned.join(", ")
                    ));
                }
                return Ok(());
            }
            let options = StartOptions {
                config_file: Some(ConfigFile {
                    path: cli.config_path(),
                    server_as_written,
                }),
                web,
                direct: false,
                enable_lifecycle: cli.enable_lifecycle,
                write_timeout: Some(cli.write_timeout()),
                clock: WallClock::System,
                demo: false,
            };
            Ok(run_exporter(config, options)?)
        }
    }
}

/// Why the HTTP server cannot listen on `addr`, with what to do about it.
fn listen_error(addr: std::net::SocketAddr, e: std::io::Error) -> anyhow::Error {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
            "cannot listen on {addr}: the port is already in use (another exporter?); choose another with --web.listen-address (or server.listen_address)"
        ),
        std::io::ErrorKind::PermissionDenied => anyhow::anyhow!(
            "cannot listen on {addr}: permission denied (ports below 1024 need privileges); choose another with --web.listen-address"
        ),
        _ => anyhow::Error::new(e).context(format!("cannot listen on {addr}")),
    }
}

/// Loads the configuration file (collectors checked against the registry) and applies
/// the command-line overrides; also returns the file's `[server]` section as written.
fn load_config(cli: &Cli) -> Result<(Config, ServerConfig), Failure> {
    let invalid = |e: workspace_exporter::config::ConfigError| {
        Failure::Config(format!(
            "workspace-exporter: invalid configuration in {}: {e}",
            cli.config_path().display()
        ))
    };
    let mut config = exporter::load_config(&cli.config_path()).map_err(invalid)?;
    let server_as_written = config.server.clone();
    if let Some(addr) = cli.serve.listen_address {
        config.server.listen_address = addr;
    }
    let (telemetry_path, max_requests) = cli.serving_overrides().map_err(invalid)?;
    if let Some(path) = telemetry_path {
        config.server.telemetry_path = path;
    }
    if let Some(n) = max_requests {
        config.server.max_requests = n;
    }
    config.server.shard = cli.shard(config.server.shard).map_err(invalid)?;
    Ok((config, server_as_written))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn load_web_config(cli: &Cli) -> Result<Option<Arc<WebConfigSource>>, Failure> {
    cli.serve
        .web_config_file
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| WebConfigSource::load(p).map(Arc::new))
        .transpose()
        .map_err(|e| {
            Failure::Config(format!(
                "workspace-exporter: invalid web configuration: {e}"
            ))
        })
}

fn run_exporter(config: Config, options: StartOptions) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let addr = config.server.listen_address;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| listen_error(addr, e))?;
        let token = CancellationToken::new();
        let running = exporter::start(&config, options, listener, token.clone())?;
        shutdown::install(token, running.reloader()).context("cannot install signal handlers")?;
        tracing::info!(
            version = workspace_exporter::VERSION,
            address = %running.local_addr(),
            targets = config.huaweicloud.len(),
            "workspace-exporter listening"
        );
        running.wait().await;
        tracing::info!("stopped");
        Ok(())
    })
}

#[cfg(feature = "simulator")]
fn run_demo(cli: &Cli, args: &DemoArgs, web: Option<Arc<WebConfigSource>>) -> anyhow::Result<()> {
    let addr = cli
        .serve
        .listen_address
        .unwrap_or(demo::DEMO_LISTEN_ADDRESS);
    runtime()?.block_on(async {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| listen_error(addr, e))?;
        let token = CancellationToken::new();
        let tls = web.as_ref().is_some_and(|w| w.active().tls.is_some());
        let options = demo::DemoOptions {
            interval: args.interval.unwrap_or(demo::DEMO_INTERVAL),
            chaos: args.chaos,
            web,
            write_timeout: Some(cli.write_timeout()),
            telemetry_path: cli.serve.telemetry_path.clone(),
            max_requests: cli.serve.max_requests,
        };
        let demo = demo::start(listener, token.clone(), options).await?;
        shutdown::install(token, None).context("cannot install signal handlers")?;
        let scheme = if tls { "https" } else { "http" };
        let path = cli.serve.telemetry_path.as_deref().unwrap_or("/metrics");
        tracing::info!(
            address = %demo.exporter.local_addr(),
            "demo running: open {scheme}://{}{path} (Ctrl-C to stop)",
            demo.exporter.local_addr()
        );
        demo.exporter.wait().await;
        tracing::info!("stopped");
        Ok(())
    })
}

fn run_export(config: &Config, args: &ExportArgs) -> Result<(), Failure> {
    let request = ExportRequest {
        target: args.target.clone(),
        start: args.start.clone(),
        end: args.end.clone(),
        user_name: args.user_name.clone(),
        computer_name: args.computer_name.clone(),
        terminal_type: args.terminal_type.clone(),
        language: args.language.clone(),
    };
    if let Err(e) = request.validate(config) {
        return Err(Failure::Config(format!(
            "workspace-exporter: export-connections: {e}"
        )));
    }
    let output = if args.output == "-" {
        Output::Stdout
    } else {
        Output::File(PathBuf::from(&args.output))
    };
    let progress = workspace_exporter::progress::for_download(output == Output::Stdout);
    let result = runtime()?.block_on(export::export(config, &request, &output, &*progress));
    match result {
        Ok(summary) => {
            let content_type = summary
                .content_type
                .as_deref()
                .unwrap_or("unknown content type");
            let line = format!(
                "wrote {} bytes ({content_type}) to {}",
                summary.bytes, args.output
            );
            if output == Output::Stdout {
                eprint_line(&line);
            } else {
                print_line(&line);
            }
            Ok(())
        }
        Err(e) => Err(Failure::Printed(format!(
            "workspace-exporter: export-connections failed: {e}"
        ))),
    }
}

#[cfg(feature = "simulator")]
fn run_simulator(args: &SimulateArgs) -> anyhow::Result<()> {
    use workspace_exporter::simulator::{Scenario, Simulator, scenario};
    let scenario = if args.desktop_groups == 0 {
        Scenario::demo()
    } else {
        let mut large = Scenario::large(
            args.desktop_groups,
            args.server_groups,
            args.sessions,
            args.sag_users,
        );
        if args.session_states == "typical" {
            large.set_sessions(scenario::split_typically(args.sessions));
        }
        large.identity = workspace_exporter::simulator::identity::SimIdentity::demo();
        large
    };
    runtime()?.block_on(async {
        let listener = TcpListener::bind(args.listen_address)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen_address))?;
        let simulator = Simulator::start(listener, scenario)?;
        // Printed on stdout for scripts: URL, then the credentials it accepts.
        print_line(&format!("url={}", simulator.url()));
        print_line(&format!(
            "huawei_region={} huawei_access_key={} huawei_secret_key={}",
            scenario::DEMO_REGION,
            scenario::DEMO_ACCESS_KEY,
            scenario::DEMO_SECRET_KEY
        ));
        print_line(&format!(
            "sag_region={} sag_access_key_id={} sag_access_key_secret={} sag_instance={}",
            scenario::DEMO_SAG_REGION,
            scenario::DEMO_SAG_ACCESS_KEY_ID,
            scenario::DEMO_SAG_ACCESS_KEY_SECRET,
            scenario::DEMO_SAG_INSTANCES[0]
        ));
        {
            use workspace_exporter::simulator::identity as id;
            print_line(&format!(
                "huawei_idp_id={} huawei_id_token={} huawei_agency_domain={} huawei_agency={} sag_ram_role={} sag_oidc_provider_arn={} sag_oidc_role_arn={} sag_oidc_token={} sag_assume_role_arn={}",
                id::DEMO_IDP_ID,
                id::DEMO_ID_TOKEN,
                id::DEMO_AGENCY.0,
                id::DEMO_AGENCY.1,
                id::DEMO_RAM_ROLE,
                id::DEMO_OIDC_PROVIDER_ARN,
                id::DEMO_RRSA_ROLE_ARN,
                id::DEMO_OIDC_TOKEN,
                id::DEMO_ROLE_ARN
            ));
        }
        let token = CancellationToken::new();
        shutdown::install(token.clone(), None).context("cannot install signal handlers")?;
        token.cancelled().await;
        drop(simulator);
        Ok(())
    })
}

fn init_logging(level: LogLevel, format: LogFormat) {
    let level = match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    };
    // Our own logs at the chosen level; libraries at most at warn.
    let lib_level = if matches!(level, "error") {
        "error"
    } else {
        "warn"
    };
    let filter = EnvFilter::new(format!("{lib_level},workspace_exporter={level}"));
    // A closed standard error must neither panic nor stop the exporter: write errors
    // are swallowed, and the subscriber does not report them with `eprintln!`.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .log_internal_errors(false)
        .with_writer(QuietStderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Logfmt => builder
            .event_format(tracing_logfmt::EventsFormatter::default())
            .init(),
    }
}
