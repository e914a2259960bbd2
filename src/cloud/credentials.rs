//! Where a target's keys come from: the input of the "sign" step (poll → **sign** →
//! send). Configuration resolves a target's credentials into a [`Credentials`]; the
//! cloud clients ask it for the [`Keys`] to sign each request with.
//!
//! Two kinds of source:
//! - [`Credentials::Static`]: the keys written in the configuration, as a value, a
//!   file, or the SDK's environment variable. Keys read from files follow the files:
//!   when one changes on disk (a rotated Kubernetes Secret swaps a symlink; a Vault
//!   agent rewrites the file), the next request signs with its new content, without a
//!   reload.
//! - [`Credentials::Temporary`]: keys that expire, fetched by a [`KeySource`] (instance
//!   metadata, an OIDC exchange, an assumed role; each cloud's sources live in its
//!   `identity` module). [`Refreshing`] fetches them before they expire, once per
//!   target however many collectors ask, keeps the current keys while a refresh fails
//!   and they are still valid, and backs off between failed attempts.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::clock::WallClock;
use crate::secret::Secret;
use crate::self_metrics::SelfMetrics;

/// An access key pair and, for temporary keys, their security token. The same shape on
/// both clouds: Huawei's AK/SK/security token, Alibaba's AccessKey ID/secret/STS token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// Access key (Huawei AK, Alibaba AccessKey ID).
    pub access_key: Secret,
    /// Secret key (Huawei SK, Alibaba AccessKey secret).
    pub secret_key: Secret,
    /// Security token of temporary keys; sent with every request.
    pub security_token: Option<Secret>,
}

/// The files the keys were read from, if any (each trimmed when read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFiles {
    /// The access key's file.
    pub access_key: Option<PathBuf>,
    /// The secret key's file.
    pub secret_key: Option<PathBuf>,
    /// The security token's file.
    pub security_token: Option<PathBuf>,
}

/// A target's source of keys; clones share it, so every collector of a target sees the
/// same keys.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Keys written in the configuration; those read from files follow the files.
    Static(Arc<StaticKeys>),
    /// Temporary keys, refreshed before they expire.
    Temporary(Arc<Refreshing>),
}

impl Credentials {
    /// Keys that never change.
    pub fn fixed(keys: Keys) -> Self {
        Self::from_files(keys, KeyFiles::default())
    }

    /// `keys`, as first read, some of them from `files`.
    pub fn from_files(keys: Keys, files: KeyFiles) -> Self {
        let stamps = files.paths().map(|p| p.and_then(stamp));
        Credentials::Static(Arc::new(StaticKeys {
            files,
            state: Mutex::new(FileState {
                keys: Arc::new(keys),
                stamps,
                warned: None,
            }),
        }))
    }

    /// The keys written in the configuration (as their files hold them now); `None` for
    /// temporary keys.
    pub fn written_keys(&self) -> Option<Arc<Keys>> {
        match self {
            Credentials::Static(source) => Some(source.current()),
            Credentials::Temporary(_) => None,
        }
    }

    /// The cloud refused `keys`, which should still be valid. For temporary keys fetched
    /// a while ago, they are dropped and new ones fetched on the next request: returns
    /// whether that is worth a new attempt (not for written keys, nor for keys just
    /// fetched, which new ones would not fix).
    pub fn refused(&self, keys: &Arc<Keys>) -> bool {
        match self {
            Credentials::Static(_) => false,
            Credentials::Temporary(source) => source.refused(keys),
        }
    }

    /// The keys to sign the next request with: for temporary keys, refreshed first when
    /// they are due. Fails only when no valid keys are left.
    pub async fn current(&self) -> Result<Arc<Keys>, CredentialError> {
        match self {
            Credentials::Static(source) => Ok(source.current()),
            Credentials::Temporary(source) => source.current().await,
        }
    }
}

/// Static keys, some of them read from files that are watched for changes.
pub struct StaticKeys {
    /// Where each key came from, when from a file.
    files: KeyFiles,
    /// The keys now, and the state of their files when they were read.
    state: Mutex<FileState>,
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKeys")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// What identifies one version of a file: modification time, size and inode.
type Stamp = (SystemTime, u64, u64);

#[derive(Debug)]
struct FileState {
    /// The keys in use.
    keys: Arc<Keys>,
    /// Access key, secret key and token file stamps when last read.
    stamps: [Option<Stamp>; 3],
    /// The stamps of a version that could not be read, warned about once.
    warned: Option<[Option<Stamp>; 3]>,
}

impl KeyFiles {
    fn paths(&self) -> [Option<&PathBuf>; 3] {
        [
            self.access_key.as_ref(),
            self.secret_key.as_ref(),
            self.security_token.as_ref(),
        ]
    }
}

fn stamp(path: &PathBuf) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
}

/// Why a secret file gave no secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// It could not be read.
    #[error("cannot read secret file {}: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It holds nothing but whitespace.
    #[error("secret file {} is empty", .0.display())]
    Empty(PathBuf),
}

/// A secret file's content with surrounding whitespace (the final newline `echo`
/// writes) trimmed: how configuration reads it at load, and how the keys follow it.
pub fn read_secret_file(path: &Path) -> Result<Secret, SecretFileError> {
    let content = std::fs::read_to_string(path).map_err(|source| SecretFileError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let content = content.trim();
    if content.is_empty() {
        return Err(SecretFileError::Empty(path.to_path_buf()));
    }
    Ok(Secret::new(content))
}

impl StaticKeys {
    /// The keys, re-read first when one of their files changed. A file that cannot be
    /// read (missing for a moment during a rotation, or empty) keeps the keys in use,
    /// with one warning naming the file (never its content).
    fn current(&self) -> Arc<Keys> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let paths = self.files.paths();
        if paths.iter().all(Option::is_none) {
            return state.keys.clone();
        }
        let stamps = paths.map(|p| p.and_then(stamp));
        if stamps == state.stamps || state.warned == Some(stamps) {
            return state.keys.clone();
        }
        let mut keys = (*state.keys).clone();
        let mut unreadable = None;
        let mut reread = |path: Option<&PathBuf>| {
            read_secret_file(path?)
                .map_err(|e| unreadable = Some(e))
                .ok()
        };
        if let Some(value) = reread(paths[0]) {
            keys.access_key = value;
        }
        if let Some(value) = reread(paths[1]) {
            keys.secret_key = value;
        }
        if let Some(value) = reread(paths[2]) {
            keys.security_token = Some(value);
        }
        if let Some(e) = unreadable {
            tracing::warn!(error = %e, "a credential file changed but gives no secret; signing with the keys read before");
            state.warned = Some(stamps);
            return state.keys.clone();
        }
        if *state.keys != keys {
            tracing::info!("credential files changed on disk; signing with the new keys");
        }
        state.keys = Arc::new(keys);
        state.stamps = stamps;
        state.warned = None;
        state.keys.clone()
    }
}

/// Keys that expire, as a source hands them out.
#[derive(Debug, Clone)]
pub struct TemporaryKeys {
    /// The keys, with their security token.
    pub keys: Keys,
    /// When the cloud stops accepting them.
    pub expires_at: SystemTime,
}

/// Why a source gave no keys. The message names the endpoint and the upstream error
/// code and message; it never holds a credential or token.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// What went wrong, for logs and the collectors' errors.
    pub message: String,
}

impl FetchError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        FetchError {
            message: message.into(),
        }
    }
}

/// The future a [`KeySource`] returns.
pub type FetchFuture<'a> =
    Pin<Box<dyn Future<Output = Result<TemporaryKeys, FetchError>> + Send + 'a>>;

/// Somewhere temporary keys come from: instance metadata, an OIDC exchange, an assumed
/// role.
pub trait KeySource: Send + Sync {
    /// The source in the operator's words, e.g. `ECS metadata (agency)`, for errors.
    fn describe(&self) -> String;
    /// Fetches fresh keys (one exchange; retries belong to [`Refreshing`]).
    fn fetch(&self) -> FetchFuture<'_>;
}

/// Why a target has no keys to sign with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialError {
    /// The source has not given keys yet, or the last ones expired, and the latest
    /// attempt failed.
    #[error(
        "no valid credentials from {source_name}: {cause}; retrying in {retry_in_seconds} s (check the source, its permissions, and the target's credential settings)"
    )]
    Unavailable {
        /// The source, as [`KeySource::describe`] says.
        source_name: String,
        /// Why the latest attempt failed.
        cause: String,
        /// When the next attempt may start.
        retry_in_seconds: u64,
    },
}

/// The longest wait between two failed refreshes.
pub const MAX_REFRESH_BACKOFF: Duration = Duration::from_secs(60);

/// The first wait after a failed refresh; doubles per failure up to
/// [`MAX_REFRESH_BACKOFF`].
pub const FIRST_REFRESH_BACKOFF: Duration = Duration::from_secs(2);

/// How long before expiry keys living `lifetime` are refreshed: a fifth of their
/// lifetime or 10 minutes, whichever is less.
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 5).min(Duration::from_secs(600))
}

/// Temporary keys of one target, refreshed before they expire.
pub struct Refreshing {
    /// Target name, for metrics and logs.
    target: String,
    /// Where keys come from.
    source: Box<dyn KeySource>,
    /// What "now" is (the system clock, or tokio's in tests).
    clock: WallClock,
    /// Where refreshes and the expiry are reported.
    metrics: Arc<SelfMetrics>,
    /// The keys now, and when to refresh.
    state: Mutex<RefreshState>,
    /// Held by the one refresh in flight; the others use the current keys, or wait for
    /// it when they have none.
    flight: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Refreshing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refreshing")
            .field("target", &self.target)
            .field("source", &self.source.describe())
            .finish_non_exhaustive()
    }
}

/// The mutable part of [`Refreshing`].
#[derive(Default)]
struct RefreshState {
    /// The keys in use, when any.
    keys: Option<Arc<Keys>>,
    /// When they expire.
    expires_at: Option<SystemTime>,
    /// When they were fetched.
    fetched_at: Option<SystemTime>,
    /// When to fetch new ones.
    refresh_at: Option<SystemTime>,
    /// No attempt before this time, after a failure.
    retry_at: Option<SystemTime>,
    /// Failed attempts in a row.
    failures: u32,
    /// The latest failure.
    last_error: Option<FetchError>,
}

/// What [`RefreshState::decide`] says a caller should do.
enum Decision {
    /// Sign with these.
    Use(Arc<Keys>),
    /// No valid keys and an attempt is not due: fail with this.
    Fail(CredentialError),
    /// Fetch new keys (when the current ones are still valid, they are `fallback`).
    Refresh(Option<Arc<Keys>>),
}

impl RefreshState {
    fn valid_keys(&self, now: SystemTime) -> Option<Arc<Keys>> {
        match (&self.keys, self.expires_at) {
            (Some(keys), Some(expires)) if now < expires => Some(keys.clone()),
            _ => None,
        }
    }

    fn decide(&self, now: SystemTime, source: &dyn KeySource) -> Decision {
        let valid = self.valid_keys(now);
        if let Some(keys) = &valid
            && self.refresh_at.is_some_and(|at| now < at)
        {
            return Decision::Use(keys.clone());
        }
        if let Some(retry_at) = self.retry_at
            && now < retry_at
        {
            return match valid {
                Some(keys) => Decision::Use(keys),
                None => Decision::Fail(CredentialError::Unavailable {
                    source_name: source.describe(),
                    cause: self
                        .last_error
                        .as_ref()
                        .map_or_else(|| "not fetched yet".into(), |e| e.message.clone()),
                    retry_in_seconds: retry_at
                        .duration_since(now)
                        .unwrap_or_default()
                        .as_secs()
                        .max(1),
                }),
            };
        }
        Decision::Refresh(valid)
    }
}

impl Refreshing {
    /// Temporary keys of `target` from `source`; nothing is fetched until first asked.
    pub fn new(
        target: &str,
        source: Box<dyn KeySource>,
        clock: WallClock,
        metrics: Arc<SelfMetrics>,
    ) -> Self {
        Refreshing {
            target: target.to_string(),
            source,
            clock,
            metrics,
            state: Mutex::new(RefreshState::default()),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RefreshState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The keys to sign with, refreshed first when due.
    pub async fn current(&self) -> Result<Arc<Keys>, CredentialError> {
        let decision = self.lock().decide(self.clock.now(), &*self.source);
        let fallback = match decision {
            Decision::Use(keys) => return Ok(keys),
            Decision::Fail(e) => return Err(e),
            Decision::Refresh(fallback) => fallback,
        };
        // One refresh at a time: with valid keys, do not wait for another's refresh.
        let _flight = match (self.flight.try_lock(), fallback) {
            (Ok(guard), _) => guard,
            (Err(_), Some(keys)) => return Ok(keys),
            (Err(_), None) => self.flight.lock().await,
        };
        // Someone else may have refreshed (or failed) while this call waited.
        match self.lock().decide(self.clock.now(), &*self.source) {
            Decision::Use(keys) => return Ok(keys),
            Decision::Fail(e) => return Err(e),
            Decision::Refresh(_) => {}
        }
        let fetched = self.source.fetch().await;
        let now = self.clock.now();
        let mut state = self.lock();
        match fetched {
            Ok(fresh) => {
                let lifetime = fresh.expires_at.duration_since(now).unwrap_or_default();
                let keys = Arc::new(fresh.keys);
                state.keys = Some(keys.clone());
                state.expires_at = Some(fresh.expires_at);
                state.fetched_at = Some(now);
                state.refresh_at = Some(fresh.expires_at - refresh_margin(lifetime));
                state.retry_at = None;
                state.failures = 0;
                state.last_error = None;
                self.metrics.credentials_refreshed(
                    &self.target,
                    true,
                    Some(unix_seconds(fresh.expires_at)),
                );
                tracing::debug!(target_name = %self.target, source = %self.source.describe(), lifetime_seconds = lifetime.as_secs(), "fetched temporary credentials");
                Ok(keys)
            }
            Err(error) => {
                state.failures += 1;
                let backoff = FIRST_REFRESH_BACKOFF
                    .saturating_mul(1 << (state.failures - 1).min(10))
                    .min(MAX_REFRESH_BACKOFF);
                state.retry_at = Some(now + backoff);
                self.metrics
                    .credentials_refreshed(&self.target, false, None);
                let valid = state.valid_keys(now);
                match &valid {
                    Some(_) => {
                        tracing::warn!(target_name = %self.target, source = %self.source.describe(), error = %error, retry_in_seconds = backoff.as_secs(), "refreshing temporary credentials failed; signing with the current ones while they are valid")
                    }
                    None => {
                        tracing::error!(target_name = %self.target, source = %self.source.describe(), error = %error, retry_in_seconds = backoff.as_secs(), "no valid temporary credentials: fetching them failed")
                    }
                }
                state.last_error = Some(error.clone());
                valid.ok_or_else(|| CredentialError::Unavailable {
                    source_name: self.source.describe(),
                    cause: error.message,
                    retry_in_seconds: backoff.as_secs().max(1),
                })
            }
        }
    }
}

/// Keys younger than this are not dropped when the cloud refuses them: new ones would
/// be refused too (wrong role, wrong account), and each refusal would cost a fetch.
pub const MIN_AGE_OF_REFUSED_KEYS: Duration = Duration::from_secs(60);

impl Refreshing {
    /// See [`Credentials::refused`].
    fn refused(&self, keys: &Arc<Keys>) -> bool {
        let now = self.clock.now();
        let mut state = self.lock();
        let current = state.keys.as_ref().is_some_and(|k| Arc::ptr_eq(k, keys));
        let old_enough = state.fetched_at.is_some_and(|at| {
            now.duration_since(at).unwrap_or_default() >= MIN_AGE_OF_REFUSED_KEYS
        });
        if current && old_enough {
            state.expires_at = Some(now);
            state.refresh_at = Some(now);
            state.retry_at = None;
            return true;
        }
        // Another request already replaced them: trying again uses the new ones.
        !current && state.keys.is_some()
    }
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_from_files_follow_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let (ak, sk) = (dir.path().join("ak"), dir.path().join("sk"));
        std::fs::write(&ak, "AK1\n").unwrap();
        std::fs::write(&sk, "SK1\n").unwrap();
        let keys = Keys {
            access_key: Secret::new("AK1"),
            secret_key: Secret::new("SK1"),
            security_token: None,
        };
        let files = KeyFiles {
            access_key: Some(ak.clone()),
            secret_key: Some(sk.clone()),
            security_token: None,
        };
        let credentials = Credentials::from_files(keys, files);
        let Credentials::Static(credentials) = credentials else {
            unreachable!("keys from files are static")
        };
        assert_eq!(credentials.current().secret_key.expose(), "SK1");
        // A rotation the way Kubernetes does it: a new file renamed over the old one.
        let new = dir.path().join("sk.new");
        std::fs::write(&new, "SK2-longer\n").unwrap();
        std::fs::rename(&new, &sk).unwrap();
        assert_eq!(credentials.current().secret_key.expose(), "SK2-longer");
        assert_eq!(credentials.current().access_key.expose(), "AK1");
        // A file that vanishes or empties keeps the keys in use.
        std::fs::remove_file(&sk).unwrap();
        assert_eq!(credentials.current().secret_key.expose(), "SK2-longer");
        std::fs::write(&sk, "  \n").unwrap();
        assert_eq!(credentials.current().secret_key.expose(), "SK2-longer");
        std::fs::write(&sk, "SK3\n").unwrap();
        assert_eq!(credentials.current().secret_key.expose(), "SK3");
        // Clones share the source.
        let clone = credentials.clone();
        assert_eq!(clone.current().secret_key.expose(), "SK3");
        assert!(!format!("{credentials:?}").contains("SK3"));
    }
}
