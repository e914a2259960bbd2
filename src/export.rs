//! `workspace-exporter export-connections`: downloads the desktop connection records
//! file (`GET /v2/{project_id}/connections/desktops/export`) of one Huawei target.
//!
//! Not part of the polling data flow: it reuses the configuration, the signed client and
//! project discovery, and streams the body to a temporary file beside the output, which
//! is renamed into place only when the download is complete. On any failure the
//! temporary file is removed and an existing output file is left untouched.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDateTime;

use crate::cloud::http::{ApiError, error_chain};
use crate::cloud::huawei::HuaweiClient;
use crate::cloud::huawei::HuaweiTargetContext;
use crate::cloud::huawei::client::ApiRequest;
use crate::cloud::retry::ClientSettings;
use crate::config::{Config, HuaweiTarget};
use crate::self_metrics::SelfMetrics;

/// `api` label of the export call.
pub const API_EXPORT_CONNECTIONS: &str = "export_connections";

/// Time format of `start_time` / `end_time`: `2016-08-20T21:11Z`.
pub const TIME_FORMAT: &str = "%Y-%m-%dT%H:%MZ";

/// Query parameters of the export call, raw.
pub type QueryPairs = Vec<(String, String)>;

/// Where the records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output (`--output -`).
    Stdout,
    /// A file, written atomically.
    File(PathBuf),
}

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    /// The `[[huaweicloud]]` target name; required when there are several.
    pub target: Option<String>,
    /// Records after this time (`2026-11-01T00:00Z`); both or neither with `end`.
    pub start: Option<String>,
    /// Records before this time.
    pub end: Option<String>,
    /// Filter: user name.
    pub user_name: Option<String>,
    /// Filter: computer name.
    pub computer_name: Option<String>,
    /// Filter: terminal OS type.
    pub terminal_type: Option<String>,
    /// `en_US` (default) or `zh_CN`.
    pub language: Option<String>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Bytes written.
    pub bytes: u64,
    /// The response's content type, if it had one.
    pub content_type: Option<String>,
}

/// Why the export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The command line is inconsistent; nothing was requested.
    #[error("{0}")]
    Usage(String),
    /// The project ID could not be discovered.
    #[error(transparent)]
    Discovery(#[from] crate::cloud::huawei::iam::DiscoveryError),
    /// The upstream call failed (including a body cut short).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Writing the output failed.
    #[error("{path}: {message}")]
    Io {
        /// The file concerned.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Start(#[from] crate::cloud::http::HttpClientError),
}

impl ExportRequest {
    /// Checks the request against the configuration before anything is sent, and
    /// returns the target to export from and the query parameters.
    pub fn validate<'c>(
        &self,
        config: &'c Config,
    ) -> Result<(&'c HuaweiTarget, QueryPairs), ExportError> {
        let target = match &self.target {
            Some(name) => config
                .huaweicloud
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| {
                    ExportError::Usage(format!(
                        "--target {name:?} is not a [[huaweicloud]] target; configured: {}",
                        names(config)
                    ))
                })?,
            None => match config.huaweicloud.as_slice() {
                [only] => only,
                [] => {
                    return Err(ExportError::Usage(
                        "the configuration has no [[huaweicloud]] target".into(),
                    ));
                }
                _ => {
                    return Err(ExportError::Usage(format!(
                        "several [[huaweicloud]] targets are configured; pick one with --target ({})",
                        names(config)
                    )));
                }
            },
        };
        let mut query = Vec::new();
        match (&self.start, &self.end) {
            (Some(start), Some(end)) => {
                let s = parse_time("--start", start)?;
                let e = parse_time("--end", end)?;
                if s > e {
                    return Err(ExportError::Usage(format!(
                        "--start {start} is after --end {end}"
                    )));
                }
                query.push(("start_time".to_string(), start.clone()));
                query.push(("end_time".to_string(), end.clone()));
            }
            (None, None) => {}
            _ => {
                return Err(ExportError::Usage(
                    "give both --start and --end, or neither".into(),
                ));
            }
        }
        for (key, value) in [
            ("user_name", &self.user_name),
            ("computer_name", &self.computer_name),
            ("terminal_type", &self.terminal_type),
        ] {
            if let Some(v) = value {
                if v.is_empty() {
                    return Err(ExportError::Usage(format!(
                        "--{} must not be empty",
                        key.replace('_', "-")
                    )));
                }
                query.push((key.to_string(), v.clone()));
            }
        }
        if let Some(language) = &self.language {
            if !["en_US", "zh_CN"].contains(&language.as_str()) {
                return Err(ExportError::Usage(format!(
                    "--language must be en_US or zh_CN, not {language:?}"
                )));
            }
            query.push(("language".to_string(), language.clone()));
        }
        Ok((target, query))
    }
}

fn names(config: &Config) -> String {
    config
        .huaweicloud
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_time(flag: &str, value: &str) -> Result<NaiveDateTime, ExportError> {
    NaiveDateTime::parse_from_str(value, TIME_FORMAT).map_err(|_| {
        ExportError::Usage(format!(
            "{flag} {value:?} is not a time like 2026-11-01T00:00Z (UTC, minutes)"
        ))
    })
}

/// Where a download reports how far it got (a progress bar on a terminal).
pub trait Progress {
    /// The download starts; `total` is its size when the server announced one.
    fn started(&self, total: Option<u64>);
    /// `bytes` more were written.
    fn advanced(&self, bytes: u64);
    /// The download is complete.
    fn finished(&self);
}

/// Reports nothing: for pipes, `--output -` and tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn started(&self, _: Option<u64>) {}
    fn advanced(&self, _: u64) {}
    fn finished(&self) {}
}

/// Downloads the records of the validated request into `output`.
pub async fn export(
    config: &Config,
    request: &ExportRequest,
    output: &Output,
    progress: &dyn Progress,
) -> Result<ExportSummary, ExportError> {
    let (target, query) = request.validate(config)?;
    let http = crate::cloud::http::client(config.poll.timeout, true)?;
    let mut settings = ClientSettings::new(
        &target.name,
        &target.poll,
        config.poll.max_body_bytes,
        Arc::new(SelfMetrics::new()),
    );
    // A download of unknown size: no limit on the whole request, only on each read.
    settings.timeout = None;
    let credentials = target.credentials.build(
        &target.iam_endpoint,
        &http,
        &settings,
        crate::clock::WallClock::System,
    );
    let client = HuaweiClient::new(http, credentials, settings);
    let ctx = HuaweiTargetContext::new(target.clone(), client);
    let project_id = ctx.project_id(&ctx.client).await?;
    let response = ctx
        .client
        .send(&ApiRequest {
            api: API_EXPORT_CONNECTIONS,
            endpoint: &target.workspace_endpoint,
            path: format!("/v2/{project_id}/connections/desktops/export"),
            query,
            project_id: Some(project_id),
        })
        .await?;
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    progress.started(response.content_length());
    let bytes = match output {
        Output::Stdout => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            let n = copy_body(response, &mut lock, "standard output", progress).await?;
            lock.flush().map_err(|e| io_error("standard output", &e))?;
            n
        }
        Output::File(path) => download_to_file(response, path, progress).await?,
    };
    progress.finished();
    Ok(ExportSummary {
        bytes,
        content_type,
    })
}

/// Streams the body into a temporary file next to `path` and renames it into place.
async fn download_to_file(
    response: reqwest::Response,
    path: &Path,
    progress: &dyn Progress,
) -> Result<u64, ExportError> {
    let shown = path.display().to_string();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| ExportError::Usage(format!("--output {shown:?} does not name a file")))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", file_name.to_string_lossy()))
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(|e| io_error(&dir.display().to_string(), &e))?;
    let n = copy_body(response, tmp.as_file_mut(), &shown, progress).await?;
    tmp.as_file_mut()
        .sync_all()
        .map_err(|e| io_error(&shown, &e))?;
    tmp.persist(path).map_err(|e| io_error(&shown, &e.error))?;
    Ok(n)
}

async fn copy_body(
    mut response: reqwest::Response,
    out: &mut dyn Write,
    shown: &str,
    progress: &dyn Progress,
) -> Result<u64, ExportError> {
    let mut n = 0u64;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                out.write_all(&chunk).map_err(|e| io_error(shown, &e))?;
                n += chunk.len() as u64;
                progress.advanced(chunk.len() as u64);
            }
            Ok(None) => return Ok(n),
            Err(e) => {
                return Err(ExportError::Api(ApiError::Transport {
                    api: API_EXPORT_CONNECTIONS,
                    message: format!("download interrupted after {n} bytes: {}", error_chain(&e)),
                }));
            }
        }
    }
}

fn io_error(path: &str, e: &std::io::Error) -> ExportError {
    ExportError::Io {
        path: path.to_string(),
        message: e.to_string(),
    }
}
