//! The `workspace-exporter` binary: parses the command line, loads the configuration,
//! sets up logging and signals, and starts the exporter (or the demo). Only wiring
//! lives here; `anyhow` is used at this edge alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use workspace_exporter::config::{Config, ServerConfig};
use workspace_exporter::export::{self, ExportRequest, Output};
use workspace_exporter::exporter::{ConfigFile, StartOptions};
use workspace_exporter::log_writer::{QuietStderr, eprint_line, print_line};
use workspace_exporter::web_config::{WebConfigError, WebConfigSource};
use workspace_exporter::{demo, exporter, shutdown};

/// Exit code for configuration errors.
const EXIT_CONFIG: u8 = 2;

/// Prometheus exporter for Huawei Cloud Workspace connection statistics.
#[derive(Debug, Parser)]
#[command(name = "workspace-exporter", version = workspace_exporter::VERSION)]
struct Cli {
    /// Configuration file (TOML) [default: config.toml]. Not used by `demo`.
    #[arg(long = "config.file", value_name = "PATH", global = true)]
    config_file: Option<PathBuf>,

    /// Address to listen on; overrides server.listen_address (demo default: 127.0.0.1:9817).
    #[arg(long = "web.listen-address", value_name = "ADDR", global = true)]
    listen_address: Option<SocketAddr>,

    /// Path of the metrics endpoint; overrides server.telemetry_path.
    #[arg(long = "web.telemetry-path", value_name = "PATH", global = true)]
    telemetry_path: Option<String>,

    /// Web configuration (exporter-toolkit format): TLS, client certificates, basic
    /// auth, response headers. Empty: plain HTTP.
    #[arg(long = "web.config.file", value_name = "PATH", global = true, value_parser = path_or_empty)]
    web_config_file: Option<PathBuf>,

    /// Most HTTP requests served at once; more get 503. Overrides server.max_requests.
    #[arg(long = "web.max-requests", value_name = "N", global = true)]
    max_requests: Option<usize>,

    /// Log level: error, warn, info, debug, trace.
    #[arg(
        long = "log.level",
        value_name = "LEVEL",
        default_value = "info",
        global = true
    )]
    log_level: LogLevel,

    /// Log format.
    #[arg(
        long = "log.format",
        value_name = "FORMAT",
        default_value = "logfmt",
        global = true
    )]
    log_format: LogFormat,

    /// Drop a connection when writing its response makes no progress for this long
    /// (a client that does not read).
    #[arg(long = "web.write-timeout", value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    write_timeout: std::time::Duration,

    /// Serve `POST /-/reload` (off by default, as in Prometheus: without it the
    /// endpoint answers 403 and only SIGHUP reloads).
    #[arg(long = "web.enable-lifecycle")]
    enable_lifecycle: bool,

    /// Validate the configuration, print the result, and exit (2 when invalid).
    #[arg(long = "config.check")]
    config_check: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a built-in simulated cloud and export it: no account needed.
    Demo(DemoArgs),
    /// Download the desktop connection records file of a [[huaweicloud]] target.
    ExportConnections(ExportArgs),
    /// Run only the simulated clouds (for benchmarks and manual testing); prints the
    /// URL and the credentials they accept.
    Simulate(SimulateArgs),
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Address to listen on.
    #[arg(long = "listen-address", default_value = "127.0.0.1:0")]
    listen_address: SocketAddr,
    /// Desktop groups (0: the demo's data).
    #[arg(long = "desktop-groups", default_value_t = 0)]
    desktop_groups: usize,
    /// Application server groups.
    #[arg(long = "server-groups", default_value_t = 200)]
    server_groups: usize,
    /// Application-streaming sessions.
    #[arg(long, default_value_t = 100_000)]
    sessions: usize,
    /// SAG client accounts on the first instance.
    #[arg(long = "sag-users", default_value_t = 5_000)]
    sag_users: usize,
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// Poll interval of the demo exporter.
    #[arg(long = "demo.interval", value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    interval: std::time::Duration,
    /// Inject random faults into the simulated clouds (throttling, 5xx, hangs,
    /// garbage): what the soak test runs.
    #[arg(long = "demo.chaos")]
    chaos: bool,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// The [[huaweicloud]] target (required when several are configured).
    #[arg(long)]
    target: Option<String>,
    /// Records after this UTC time, e.g. 2026-11-01T00:00Z (with --end).
    #[arg(long)]
    start: Option<String>,
    /// Records before this UTC time, e.g. 2026-11-22T00:00Z (with --start).
    #[arg(long)]
    end: Option<String>,
    /// Only this user.
    #[arg(long = "user-name")]
    user_name: Option<String>,
    /// Only this computer.
    #[arg(long = "computer-name")]
    computer_name: Option<String>,
    /// Only this terminal type.
    #[arg(long = "terminal-type")]
    terminal_type: Option<String>,
    /// Language of the records.
    #[arg(long, value_parser = ["en_US", "zh_CN"])]
    language: Option<String>,
    /// Output file, or - for standard output. Written atomically: on failure nothing is
    /// left behind and an existing file is untouched.
    #[arg(long)]
    output: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Logfmt,
    Json,
}

/// A path that may be empty (clap's own path parser refuses an empty value).
fn path_or_empty(value: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(value))
}

impl Cli {
    /// `--config.file`, or `config.toml` when it is not given.
    fn config_path(&self) -> PathBuf {
        self.config_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("config.toml"))
    }
}

/// The demo's serving overrides (`--web.telemetry-path`, `--web.max-requests`),
/// checked; the demo has no configuration file, so `--config.file` is refused.
fn demo_overrides(
    cli: &Cli,
) -> Result<(Option<String>, Option<usize>), workspace_exporter::config::ConfigError> {
    use workspace_exporter::config::{ConfigError, validate_telemetry_path};
    if let Some(path) = &cli.config_file {
        return Err(ConfigError {
            key: "--config.file".into(),
            problem: format!(
                "the demo runs on its own built-in configuration and does not read {}; run without `demo` to use a configuration file",
                path.display()
            ),
        });
    }
    if let Some(path) = &cli.telemetry_path {
        validate_telemetry_path(path).map_err(|problem| ConfigError {
            key: "--web.telemetry-path".into(),
            problem,
        })?;
    }
    if cli.max_requests == Some(0) {
        return Err(ConfigError {
            key: "--web.max-requests".into(),
            problem: "must be greater than zero".into(),
        });
    }
    Ok((cli.telemetry_path.clone(), cli.max_requests))
}

fn main() -> ExitCode {
    workspace_exporter::memory::limit_malloc_arenas();
    let cli = Cli::parse();
    init_logging(cli.log_level, cli.log_format);
    if cli.write_timeout.is_zero() {
        eprint_line("workspace-exporter: --web.write-timeout: must be greater than zero");
        return ExitCode::from(EXIT_CONFIG);
    }
    match &cli.command {
        Some(Command::Demo(args)) => match demo_overrides(&cli) {
            Err(e) => {
                eprint_line(&format!("workspace-exporter demo: {e}"));
                ExitCode::from(EXIT_CONFIG)
            }
            Ok(_) => match load_web_config(&cli) {
                Ok(web) => run_or_report(run_demo(&cli, args, web)),
                Err(e) => {
                    eprint_line(&format!(
                        "workspace-exporter: invalid web configuration: {e}"
                    ));
                    ExitCode::from(EXIT_CONFIG)
                }
            },
        },
        Some(Command::Simulate(args)) => run_or_report(run_simulator(args)),
        Some(Command::ExportConnections(args)) => {
            let config = match load_config(&cli) {
                Ok((c, _)) => c,
                Err(e) => {
                    eprint_line(&format!(
                        "workspace-exporter: invalid configuration in {}: {e}",
                        cli.config_path().display()
                    ));
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            run_export(&config, args)
        }
        None => {
            let (config, server_as_written) = match load_config(&cli) {
                Ok(c) => c,
                Err(e) => {
                    eprint_line(&format!(
                        "workspace-exporter: invalid configuration in {}: {e}",
                        cli.config_path().display()
                    ));
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let web = match load_web_config(&cli) {
                Ok(w) => w,
                Err(e) => {
                    eprint_line(&format!(
                        "workspace-exporter: invalid web configuration: {e}"
                    ));
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            if cli.config_check {
                print_line(&format!(
                    "{}: configuration OK ({} target(s), {} collector(s))",
                    cli.config_path().display(),
                    config.target_names().count(),
                    config.alibabacloud_sag.len()
                        + config
                            .huaweicloud
                            .iter()
                            .map(|t| t.collectors.len())
                            .sum::<usize>()
                ));
                return ExitCode::SUCCESS;
            }
            run_or_report(run_exporter(
                config,
                StartOptions {
                    config_file: Some(ConfigFile {
                        path: cli.config_path(),
                        server_as_written,
                    }),
                    web,
                    direct: false,
                    enable_lifecycle: cli.enable_lifecycle,
                    write_timeout: Some(cli.write_timeout),
                },
            ))
        }
    }
}

fn run_or_report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "exiting");
            ExitCode::FAILURE
        }
    }
}

/// Loads the configuration file and applies the command-line overrides; also returns
/// the file's `[server]` section as written.
fn load_config(
    cli: &Cli,
) -> Result<(Config, ServerConfig), workspace_exporter::config::ConfigError> {
    let mut config = Config::load(&cli.config_path())?;
    let server_as_written = config.server.clone();
    if let Some(addr) = cli.listen_address {
        config.server.listen_address = addr;
    }
    if let Some(n) = cli.max_requests {
        if n == 0 {
            return Err(workspace_exporter::config::ConfigError {
                key: "--web.max-requests".into(),
                problem: "must be greater than zero".into(),
            });
        }
        config.server.max_requests = n;
    }
    if let Some(path) = &cli.telemetry_path {
        config.server.telemetry_path = path.clone();
        workspace_exporter::config::validate_telemetry_path(path).map_err(|problem| {
            workspace_exporter::config::ConfigError {
                key: "--web.telemetry-path".into(),
                problem,
            }
        })?;
    }
    Ok((config, server_as_written))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn load_web_config(cli: &Cli) -> Result<Option<Arc<WebConfigSource>>, WebConfigError> {
    // An empty `--web.config.file=` means plain HTTP, as with the reference.
    cli.web_config_file
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| WebConfigSource::load(p).map(Arc::new))
        .transpose()
}

fn run_exporter(config: Config, options: StartOptions) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let addr = config.server.listen_address;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
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

fn run_demo(cli: &Cli, args: &DemoArgs, web: Option<Arc<WebConfigSource>>) -> anyhow::Result<()> {
    let addr = cli
        .listen_address
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9817)));
    runtime()?.block_on(async {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let token = CancellationToken::new();
        let tls = web.as_ref().is_some_and(|w| w.active().tls.is_some());
        let options = demo::DemoOptions {
            interval: args.interval,
            chaos: args.chaos,
            web,
            write_timeout: Some(cli.write_timeout),
            telemetry_path: cli.telemetry_path.clone(),
            max_requests: cli.max_requests,
        };
        let demo = demo::start(listener, token.clone(), options).await?;
        shutdown::install(token, None).context("cannot install signal handlers")?;
        let scheme = if tls { "https" } else { "http" };
        let path = cli.telemetry_path.as_deref().unwrap_or("/metrics");
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

fn run_export(config: &Config, args: &ExportArgs) -> ExitCode {
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
        eprint_line(&format!("workspace-exporter: export-connections: {e}"));
        return ExitCode::from(EXIT_CONFIG);
    }
    let output = if args.output == "-" {
        Output::Stdout
    } else {
        Output::File(PathBuf::from(&args.output))
    };
    let result = match runtime() {
        Ok(rt) => rt.block_on(export::export(config, &request, &output)),
        Err(e) => {
            eprint_line(&format!("workspace-exporter: {e:#}"));
            return ExitCode::FAILURE;
        }
    };
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
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint_line(&format!(
                "workspace-exporter: export-connections failed: {e}"
            ));
            ExitCode::FAILURE
        }
    }
}

fn run_simulator(args: &SimulateArgs) -> anyhow::Result<()> {
    use workspace_exporter::simulator::{Scenario, Simulator, scenario};
    let scenario = if args.desktop_groups == 0 {
        Scenario::demo()
    } else {
        Scenario::large(
            args.desktop_groups,
            args.server_groups,
            args.sessions,
            args.sag_users,
        )
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
