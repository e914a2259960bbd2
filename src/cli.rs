//! The command line of the `workspace-exporter` binary: flags and subcommands (clap),
//! the checks of the serving overrides shared by every mode, and the one mapping from
//! a failure to an exit code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use workspace_exporter::config::{ConfigError, validate_telemetry_path};
use workspace_exporter::log_writer::eprint_line;

/// Exit code for configuration errors.
const EXIT_CONFIG: u8 = 2;

/// Prometheus exporter for Huawei Cloud Workspace connection statistics.
///
/// The flags at the top are the exporter's; each subcommand takes only the flags that
/// apply to it, and its `--help` lists them. A flag may also stand before a
/// subcommand's name when it applies to that subcommand (`--config.file=F
/// export-connections`); one that does not apply is refused, naming it.
#[derive(Debug, Parser)]
#[command(
    name = "workspace-exporter",
    version = workspace_exporter::VERSION,
    about = "Prometheus exporter for Huawei Cloud Workspace connection statistics.",
    long_about = None,
    after_help = "Subcommands take only the flags that apply to them: see `workspace-exporter help COMMAND`."
)]
pub(crate) struct Cli {
    /// Configuration file (TOML) [default: config.toml].
    #[arg(long = "config.file", value_name = "PATH")]
    pub(crate) config_file: Option<PathBuf>,

    /// The HTTP serving flags.
    #[command(flatten)]
    pub(crate) serve: ServeArgs,

    /// Serve `POST /-/reload` (off by default, as in Prometheus: without it the
    /// endpoint answers 403 and only SIGHUP reloads).
    #[arg(long = "web.enable-lifecycle")]
    pub(crate) enable_lifecycle: bool,

    /// Poll only the targets of this shard (0-based; with --total-shards). Overrides
    /// server.shard.
    #[arg(long = "shard", value_name = "N")]
    pub(crate) shard: Option<u32>,

    /// How many replicas share the targets. Overrides server.total_shards.
    #[arg(long = "total-shards", value_name = "M")]
    pub(crate) total_shards: Option<u32>,

    /// Take the shard from the trailing number of the host name, as a StatefulSet pod
    /// has (workspace-exporter-3 → 3); needs --total-shards or server.total_shards.
    #[arg(long = "shard.from-hostname", conflicts_with = "shard")]
    pub(crate) shard_from_hostname: bool,

    /// Validate the configuration, print the result, and exit (2 when invalid).
    #[arg(long = "config.check")]
    pub(crate) config_check: bool,

    /// The logging flags, taken by every subcommand.
    #[command(flatten)]
    pub(crate) log: LogArgs,

    /// What to run instead of the exporter.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// The flags of an HTTP server: the exporter's and the demo's.
#[derive(Debug, Default, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on, e.g. :9817, 127.0.0.1:9817 or [::]:9817; overrides
    /// server.listen_address (demo default: 127.0.0.1:9817).
    #[arg(long = "web.listen-address", value_name = "ADDR", value_parser = workspace_exporter::config::parse_listen_address)]
    pub(crate) listen_address: Option<SocketAddr>,

    /// Path of the metrics endpoint; overrides server.telemetry_path.
    #[arg(long = "web.telemetry-path", value_name = "PATH")]
    pub(crate) telemetry_path: Option<String>,

    /// Web configuration (exporter-toolkit format): TLS, client certificates, basic
    /// auth, response headers. Empty: plain HTTP.
    #[arg(long = "web.config.file", value_name = "PATH", value_parser = path_or_empty)]
    pub(crate) web_config_file: Option<PathBuf>,

    /// Most HTTP requests served at once; more get 503. Overrides server.max_requests.
    #[arg(long = "web.max-requests", value_name = "N")]
    pub(crate) max_requests: Option<usize>,

    /// Drop a connection when writing its response makes no progress for this long
    /// (a client that does not read) [default: 30s].
    #[arg(long = "web.write-timeout", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) write_timeout: Option<std::time::Duration>,
}

impl ServeArgs {
    /// The flags given here, each over the one in `outer` (given before the
    /// subcommand's name).
    #[cfg(feature = "simulator")]
    fn over(self, outer: &ServeArgs) -> ServeArgs {
        ServeArgs {
            listen_address: self.listen_address.or(outer.listen_address),
            telemetry_path: self.telemetry_path.or(outer.telemetry_path.clone()),
            web_config_file: self.web_config_file.or(outer.web_config_file.clone()),
            max_requests: self.max_requests.or(outer.max_requests),
            write_timeout: self.write_timeout.or(outer.write_timeout),
        }
    }

    /// The flags that are set, by name.
    fn given(&self) -> Vec<&'static str> {
        [
            ("--web.listen-address", self.listen_address.is_some()),
            ("--web.telemetry-path", self.telemetry_path.is_some()),
            ("--web.config.file", self.web_config_file.is_some()),
            ("--web.max-requests", self.max_requests.is_some()),
            ("--web.write-timeout", self.write_timeout.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// The logging flags; global, so they may stand anywhere on the line.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Logging")]
pub(crate) struct LogArgs {
    /// Log level: error, warn, info, debug, trace.
    #[arg(
        long = "log.level",
        value_name = "LEVEL",
        default_value = "info",
        global = true
    )]
    pub(crate) level: LogLevel,

    /// Log format.
    #[arg(
        long = "log.format",
        value_name = "FORMAT",
        default_value = "logfmt",
        global = true
    )]
    pub(crate) format: LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a built-in simulated cloud and export it: no account needed.
    #[cfg(feature = "simulator")]
    Demo(DemoArgs),
    /// Download the desktop connection records file of a [[huaweicloud]] target.
    ExportConnections(ExportArgs),
    #[cfg(feature = "simulator")]
    /// Run only the simulated clouds (for benchmarks and manual testing); prints the
    /// URL and the credentials they accept.
    Simulate(SimulateArgs),
}

/// `simulate`: the simulated clouds' size and address.
#[cfg(feature = "simulator")]
#[derive(Debug, clap::Args)]
pub(crate) struct SimulateArgs {
    /// Address to listen on.
    #[arg(long = "listen-address", default_value = "127.0.0.1:0")]
    pub(crate) listen_address: SocketAddr,
    /// Desktop groups (0: the demo's data).
    #[arg(long = "desktop-groups", default_value_t = 0)]
    pub(crate) desktop_groups: usize,
    /// Application server groups.
    #[arg(long = "server-groups", default_value_t = 60)]
    pub(crate) server_groups: usize,
    /// Application-streaming sessions started in the last 24 h.
    #[arg(long, default_value_t = 60_000)]
    pub(crate) sessions: usize,
    /// How the sessions split over their states: "typical" (90 % signed out, as in an
    /// ordinary day) or "even" (a fifth in each).
    #[arg(long = "session-states", default_value = "typical", value_parser = ["typical", "even"])]
    pub(crate) session_states: String,
    /// SAG client accounts on the first instance.
    #[arg(long = "sag-users", default_value_t = 5_000)]
    pub(crate) sag_users: usize,
}

/// `demo`: the serving flags and the demo's own.
#[cfg(feature = "simulator")]
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// The HTTP serving flags.
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
    /// Refused with a message: the demo has its own configuration. Hidden, as it does
    /// not apply; accepted only to say so.
    #[arg(long = "config.file", value_name = "PATH", hide = true)]
    pub(crate) config_file: Option<PathBuf>,
    /// Poll interval of the demo exporter [default: 10s].
    #[arg(long = "demo.interval", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) interval: Option<std::time::Duration>,
    /// Inject random faults into the simulated clouds (throttling, 5xx, hangs,
    /// garbage): what the soak test runs.
    #[arg(long = "demo.chaos")]
    pub(crate) chaos: bool,
}

/// `export-connections`: the configuration file and what to download.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// Configuration file (TOML) [default: config.toml].
    #[arg(long = "config.file", value_name = "PATH")]
    pub(crate) config_file: Option<PathBuf>,
    /// The [[huaweicloud]] target (required when several are configured).
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// Records after this UTC time, e.g. 2026-11-01T00:00Z (with --end).
    #[arg(long)]
    pub(crate) start: Option<String>,
    /// Records before this UTC time, e.g. 2026-11-22T00:00Z (with --start).
    #[arg(long)]
    pub(crate) end: Option<String>,
    /// Only this user.
    #[arg(long = "user-name")]
    pub(crate) user_name: Option<String>,
    /// Only this computer.
    #[arg(long = "computer-name")]
    pub(crate) computer_name: Option<String>,
    /// Only this terminal type.
    #[arg(long = "terminal-type")]
    pub(crate) terminal_type: Option<String>,
    /// Language of the records.
    #[arg(long, value_parser = ["en_US", "zh_CN"])]
    pub(crate) language: Option<String>,
    /// Output file, or - for standard output. Written atomically: on failure nothing is
    /// left behind and an existing file is untouched.
    #[arg(long)]
    pub(crate) output: String,
}

/// `--log.level`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// `--log.format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Logfmt,
    Json,
}

/// The default of `--web.write-timeout`.
const DEFAULT_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Cli {
    /// Folds the flags of the subcommand into the top-level ones, so the rest reads one
    /// set: a flag after the subcommand's name wins over the same flag before it. A flag
    /// before the name that does not apply to the subcommand is refused, naming it.
    pub(crate) fn settle(mut self) -> Result<Cli, Failure> {
        let exporter_only = [
            ("--web.enable-lifecycle", self.enable_lifecycle),
            ("--shard", self.shard.is_some()),
            ("--total-shards", self.total_shards.is_some()),
            ("--shard.from-hostname", self.shard_from_hostname),
            ("--config.check", self.config_check),
        ];
        let (name, misplaced): (&str, Vec<&str>) = match &mut self.command {
            None => return Ok(self),
            #[cfg(feature = "simulator")]
            Some(Command::Demo(args)) => {
                self.serve = std::mem::take(&mut args.serve).over(&self.serve);
                self.config_file = args.config_file.take().or(self.config_file.take());
                ("demo", Vec::new())
            }
            #[cfg(feature = "simulator")]
            Some(Command::Simulate(_)) => {
                let mut given = self.serve.given();
                if self.config_file.is_some() {
                    given.push("--config.file");
                }
                ("simulate", given)
            }
            Some(Command::ExportConnections(args)) => {
                self.config_file = args.config_file.take().or(self.config_file.take());
                ("export-connections", self.serve.given())
            }
        };
        let misplaced: Vec<&str> = misplaced
            .into_iter()
            .chain(
                exporter_only
                    .iter()
                    .filter(|(_, set)| *set)
                    .map(|(n, _)| *n),
            )
            .collect();
        match misplaced.as_slice() {
            [] => Ok(self),
            flags => Err(Failure::Config(format!(
                "workspace-exporter {name}: {} does not apply to {name}: remove it (`workspace-exporter {name} --help` lists the flags that do)",
                flags.join(", ")
            ))),
        }
    }

    /// `--web.write-timeout`, or its default.
    pub(crate) fn write_timeout(&self) -> std::time::Duration {
        self.serve.write_timeout.unwrap_or(DEFAULT_WRITE_TIMEOUT)
    }

    /// `--config.file`, or `config.toml` when it is not given.
    pub(crate) fn config_path(&self) -> PathBuf {
        self.config_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("config.toml"))
    }

    /// `--web.telemetry-path` and `--web.max-requests`, checked: what every mode
    /// applies over its configuration.
    pub(crate) fn serving_overrides(&self) -> Result<(Option<String>, Option<usize>), ConfigError> {
        if let Some(path) = &self.serve.telemetry_path {
            validate_telemetry_path(path).map_err(|problem| ConfigError {
                key: "--web.telemetry-path".into(),
                problem,
            })?;
        }
        if self.serve.max_requests == Some(0) {
            return Err(ConfigError {
                key: "--web.max-requests".into(),
                problem: "must be greater than zero".into(),
            });
        }
        Ok((self.serve.telemetry_path.clone(), self.serve.max_requests))
    }

    /// The shard the flags ask for, over `configured` (the `[server]` one): `None` when
    /// neither says anything.
    pub(crate) fn shard(
        &self,
        configured: Option<workspace_exporter::shard::Shard>,
    ) -> Result<Option<workspace_exporter::shard::Shard>, ConfigError> {
        use workspace_exporter::shard::{self, Shard};
        let key = if self.shard_from_hostname {
            "--shard.from-hostname"
        } else {
            "--shard"
        };
        let index = if self.shard_from_hostname {
            let host = shard::hostname().unwrap_or_default();
            Some(shard::ordinal_of(&host).map_err(|e| ConfigError {
                key: key.into(),
                problem: e.to_string(),
            })?)
        } else {
            self.shard
        };
        let total = self.total_shards.or(configured.map(|s| s.total));
        match (index.or(configured.map(|s| s.index)), total) {
            (None, None) => Ok(None),
            (Some(index), Some(total)) => {
                Shard::new(index, total).map(Some).map_err(|e| ConfigError {
                    key: key.into(),
                    problem: e.to_string(),
                })
            }
            (Some(_), None) => Err(ConfigError {
                key: key.into(),
                problem: "needs --total-shards (or server.total_shards)".into(),
            }),
            (None, Some(_)) => Err(ConfigError {
                key: "--total-shards".into(),
                problem: "needs --shard or --shard.from-hostname (or server.shard)".into(),
            }),
        }
    }

    /// The demo's serving overrides; the demo has no configuration file, so
    /// `--config.file` is refused.
    #[cfg(feature = "simulator")]
    pub(crate) fn demo_overrides(&self) -> Result<(Option<String>, Option<usize>), ConfigError> {
        if let Some(path) = &self.config_file {
            return Err(ConfigError {
                key: "--config.file".into(),
                problem: format!(
                    "the demo runs on its own built-in configuration and does not read {}; run without `demo` to use a configuration file",
                    path.display()
                ),
            });
        }
        self.serving_overrides()
    }
}

/// Why the binary stops with an error.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad configuration, flags or web configuration: the line to print (exit 2).
    Config(String),
    /// The exporter could not run or stopped on an error (exit 1).
    Runtime(anyhow::Error),
    /// A failure to print as it is (exit 1).
    Printed(String),
}

/// The exit code of a run, after printing or logging why it failed.
pub(crate) fn exit_code(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(line)) => {
            eprint_line(&line);
            ExitCode::from(EXIT_CONFIG)
        }
        Err(Failure::Runtime(e)) => {
            tracing::error!(error = format!("{e:#}"), "exiting");
            ExitCode::FAILURE
        }
        Err(Failure::Printed(line)) => {
            eprint_line(&line);
            ExitCode::FAILURE
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

/// A path that may be empty (clap's own path parser refuses an empty value).
fn path_or_empty(value: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(value))
}
