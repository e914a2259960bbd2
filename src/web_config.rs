//! The web configuration file (`--web.config.file`), in the format of the Prometheus
//! exporter-toolkit: TLS (with optional client certificates), basic authentication, and
//! extra response headers. It guards the "serve" end of the data flow.
//!
//! The file is parsed strictly: an unknown key is an error, as are unsupported options.
//! Relative paths resolve against the file's folder. The file and the certificate
//! files it names are checked for changes on every new connection, so a certificate
//! replaced on disk (or a changed user list) takes effect without a restart; if the
//! new files are broken, the previous configuration keeps serving and the error is
//! logged.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A problem with the web configuration, naming the key or file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct WebConfigError {
    /// The key or file concerned, e.g. `tls_server_config.cert_file`.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

fn err(key: impl Into<String>, problem: impl Into<String>) -> WebConfigError {
    WebConfigError {
        key: key.into(),
        problem: problem.into(),
    }
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    /// TLS settings; absent means plain HTTP.
    tls_server_config: Option<RawTls>,
    /// Users and their bcrypt hashes.
    basic_auth_users: Option<BTreeMap<String, String>>,
    /// HTTP settings.
    http_server_config: Option<RawHttp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_ca_file: Option<String>,
    client_auth_type: Option<String>,
    min_version: Option<String>,
    max_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    headers: Option<BTreeMap<String, String>>,
}

/// The response headers the exporter-toolkit lets a web configuration set.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// Whether and how clients present certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Do not ask for a certificate.
    NoClientCert,
    /// Ask, accept any or none, verify nothing.
    RequestClientCert,
    /// Require one, verify nothing.
    RequireAnyClientCert,
    /// Verify against `client_ca_file` when one is given.
    VerifyClientCertIfGiven,
    /// Require one and verify it against `client_ca_file`.
    RequireAndVerifyClientCert,
}

/// TLS settings with paths resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Server certificate chain (PEM).
    pub cert_file: PathBuf,
    /// Server private key (PEM).
    pub key_file: PathBuf,
    /// CA bundle for client certificates (PEM).
    pub client_ca_file: Option<PathBuf>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
    /// Allow TLS 1.2 (otherwise TLS 1.3 only).
    pub tls12: bool,
    /// Allow TLS 1.3.
    pub tls13: bool,
}

/// A parsed, validated web configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// TLS, or plain HTTP when `None`.
    pub tls: Option<TlsSettings>,
    /// user → bcrypt hash; empty means no authentication.
    pub users: BTreeMap<String, String>,
    /// Extra response headers.
    pub headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
}

impl WebConfig {
    /// Reads and validates a web configuration file.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| err(&shown, format!("cannot read: {e}")))?;
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig::default()
        } else {
            let de = serde_yaml::Deserializer::from_str(&text);
            serde_path_to_error::deserialize(de).map_err(|e| {
                let key = e.path().to_string();
                err(
                    if key == "." { shown.clone() } else { key },
                    e.into_inner().to_string(),
                )
            })?
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &str| {
            let p = Path::new(p);
            if p.is_relative() {
                base.join(p)
            } else {
                p.to_path_buf()
            }
        };
        let tls = match raw.tls_server_config {
            None => None,
            Some(t) => {
                let cert_file = t.cert_file.as_deref().map(resolve).ok_or_else(|| {
                    err(
                        "tls_server_config.cert_file",
                        "missing: TLS needs a certificate",
                    )
                })?;
                let key_file = t.key_file.as_deref().map(resolve).ok_or_else(|| {
                    err(
                        "tls_server_config.key_file",
                        "missing: TLS needs a private key",
                    )
                })?;
                let client_auth = match t.client_auth_type.as_deref().unwrap_or("NoClientCert") {
                    "NoClientCert" => ClientAuth::NoClientCert,
                    "RequestClientCert" => ClientAuth::RequestClientCert,
                    "RequireAnyClientCert" => ClientAuth::RequireAnyClientCert,
                    "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
                    "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
                    other => {
                        return Err(err(
                            "tls_server_config.client_auth_type",
                            format!(
                                "{other:?} is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
                            ),
                        ));
                    }
                };
                let client_ca_file = t.client_ca_file.as_deref().map(resolve);
                if matches!(
                    client_auth,
                    ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
                ) && client_ca_file.is_none()
                {
                    return Err(err(
                        "tls_server_config.client_ca_file",
                        "missing: verifying client certificates needs a CA file",
                    ));
                }
                let version = |key: &str, v: &Option<String>, default: u8| match v.as_deref() {
                    None => Ok(default),
                    Some("TLS12") => Ok(12),
                    Some("TLS13") => Ok(13),
                    Some("TLS10") | Some("TLS11") => Err(err(
                        format!("tls_server_config.{key}"),
                        "TLS 1.0 and 1.1 are not supported; use TLS12 or TLS13",
                    )),
                    Some(other) => Err(err(
                        format!("tls_server_config.{key}"),
                        format!("{other:?} is not TLS12 or TLS13"),
                    )),
                };
                let min = version("min_version", &t.min_version, 12)?;
                let max = version("max_version", &t.max_version, 13)?;
                if min > max {
                    return Err(err("tls_server_config.min_version", "is above max_version"));
                }
                let settings = TlsSettings {
                    cert_file,
                    key_file,
                    client_ca_file,
                    client_auth,
                    tls12: min <= 12,
                    tls13: max >= 13,
                };
                // Fail now, not on the first connection, when the files are unusable.
                build_server_config(&settings)?;
                Some(settings)
            }
        };
        let users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            if user.contains(':') {
                return Err(err(
                    format!("basic_auth_users.{user}"),
                    "a user name cannot contain ':'",
                ));
            }
            // The format and the cost field only: verifying would cost as much as a
            // login (seconds at a high cost) for every user at every load.
            if bcrypt_cost(hash).is_none() {
                return Err(err(
                    format!("basic_auth_users.{user}"),
                    "is not a bcrypt hash (htpasswd -nBC 10 user)",
                ));
            }
        }
        let mut headers = Vec::new();
        for (name, value) in raw
            .http_server_config
            .and_then(|h| h.headers)
            .unwrap_or_default()
        {
            let key = format!("http_server_config.headers.{name}");
            let Some(allowed) = ALLOWED_HEADERS
                .iter()
                .find(|h| h.eq_ignore_ascii_case(&name))
            else {
                return Err(err(
                    key,
                    format!(
                        "not allowed; allowed headers: {}",
                        ALLOWED_HEADERS.join(", ")
                    ),
                ));
            };
            match *allowed {
                "X-Content-Type-Options" if value != "nosniff" => {
                    return Err(err(key, "must be \"nosniff\""));
                }
                "X-Frame-Options"
                    if !["deny", "sameorigin"].contains(&value.to_ascii_lowercase().as_str()) =>
                {
                    return Err(err(key, "must be \"deny\" or \"sameorigin\""));
                }
                _ => {}
            }
            let value = hyper::header::HeaderValue::from_str(&value)
                .map_err(|_| err(&key, "is not a valid header value"))?;
            headers.push((
                hyper::header::HeaderName::from_static(static_lower(allowed)),
                value,
            ));
        }
        Ok(WebConfig {
            tls,
            users,
            headers,
        })
    }
}

fn static_lower(name: &str) -> &'static str {
    match name {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

/// Builds the rustls configuration for `settings`, reading the files now.
pub fn build_server_config(
    settings: &TlsSettings,
) -> Result<Arc<rustls::ServerConfig>, WebConfigError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&settings.cert_file)
        .and_then(|i| i.collect())
        .map_err(|e| {
            err(
                "tls_server_config.cert_file",
                format!("{}: {e}", settings.cert_file.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(err(
            "tls_server_config.cert_file",
            format!("{}: no certificate found", settings.cert_file.display()),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&settings.key_file).map_err(|e| {
        err(
            "tls_server_config.key_file",
            format!("{}: {e}", settings.key_file.display()),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if settings.tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if settings.tls12 {
        versions.push(&rustls::version::TLS12);
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| err("tls_server_config.min_version", e.to_string()))?;
    let roots = || -> Result<Arc<RootCertStore>, WebConfigError> {
        let path = settings
            .client_ca_file
            .as_ref()
            .ok_or_else(|| err("tls_server_config.client_ca_file", "missing"))?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| {
            err(
                "tls_server_config.client_ca_file",
                format!("{}: {e}", path.display()),
            )
        })? {
            let cert = cert.map_err(|e| {
                err(
                    "tls_server_config.client_ca_file",
                    format!("{}: {e}", path.display()),
                )
            })?;
            roots.add(cert).map_err(|e| {
                err(
                    "tls_server_config.client_ca_file",
                    format!("{}: {e}", path.display()),
                )
            })?;
        }
        Ok(Arc::new(roots))
    };
    let verifier: Option<Arc<dyn ClientCertVerifier>> = match settings.client_auth {
        ClientAuth::NoClientCert => None,
        ClientAuth::RequestClientCert => Some(Arc::new(AnyClientCert {
            mandatory: false,
            provider: provider.clone(),
        })),
        ClientAuth::RequireAnyClientCert => Some(Arc::new(AnyClientCert {
            mandatory: true,
            provider: provider.clone(),
        })),
        ClientAuth::VerifyClientCertIfGiven => Some(
            WebPkiClientVerifier::builder_with_provider(roots()?, provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| err("tls_server_config.client_ca_file", e.to_string()))?,
        ),
        ClientAuth::RequireAndVerifyClientCert => Some(
            WebPkiClientVerifier::builder_with_provider(roots()?, provider.clone())
                .build()
                .map_err(|e| err("tls_server_config.client_ca_file", e.to_string()))?,
        ),
    };
    let builder = match verifier {
        None => builder.with_no_client_auth(),
        Some(v) => builder.with_client_cert_verifier(v),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        err(
            "tls_server_config.key_file",
            format!("does not match the certificate or is unusable: {e}"),
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any client certificate without verifying it (`RequestClientCert`,
/// `RequireAnyClientCert`); signatures are still checked, so the client holds the key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What a new connection needs: the TLS acceptor (if any), the users, the headers.
#[derive(Clone)]
pub struct Active {
    /// TLS for new connections; `None` for plain HTTP.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Basic authentication.
    pub auth: Arc<BasicAuth>,
    /// Extra response headers.
    pub headers: Arc<Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>>,
}

/// The web configuration file, re-read when it or its certificate files change.
pub struct WebConfigSource {
    /// The file.
    path: PathBuf,
    /// Modification times of the file and the files it names, and what they built.
    current: Mutex<(Vec<FileStamp>, Active)>,
}

/// A file and its modification time when it was last read.
type FileStamp = (PathBuf, Option<SystemTime>);

fn fingerprint(path: &Path, config: &WebConfig) -> Vec<FileStamp> {
    let mut files = vec![path.to_path_buf()];
    if let Some(t) = &config.tls {
        files.push(t.cert_file.clone());
        files.push(t.key_file.clone());
        files.extend(t.client_ca_file.clone());
    }
    files
        .into_iter()
        .map(|f| {
            let modified = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
            (f, modified)
        })
        .collect()
}

fn activate(config: &WebConfig) -> Result<Active, WebConfigError> {
    let tls = match &config.tls {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(build_server_config(t)?)),
        None => None,
    };
    Ok(Active {
        tls,
        auth: Arc::new(BasicAuth::new(config.users.clone())),
        headers: Arc::new(config.headers.clone()),
    })
}

impl std::fmt::Debug for WebConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfigSource")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl WebConfigSource {
    /// Loads the file; errors name the key or file.
    pub fn load(path: &Path) -> Result<WebConfigSource, WebConfigError> {
        let config = WebConfig::load(path)?;
        let active = activate(&config)?;
        Ok(WebConfigSource {
            path: path.to_path_buf(),
            current: Mutex::new((fingerprint(path, &config), active)),
        })
    }

    /// The configuration for a new connection, re-read first if any file changed.
    pub fn active(&self) -> Active {
        let mut current = self.current.lock().expect("web config lock");
        let changed = current
            .0
            .iter()
            .any(|(f, modified)| std::fs::metadata(f).and_then(|m| m.modified()).ok() != *modified);
        if changed {
            match WebConfig::load(&self.path)
                .and_then(|c| Ok((fingerprint(&self.path, &c), activate(&c)?)))
            {
                Ok((files, active)) => {
                    tracing::info!(file = %self.path.display(), "web configuration or certificates changed; new connections use them");
                    *current = (files, active);
                }
                Err(e) => {
                    tracing::error!(error = %e, "web configuration or certificates changed but cannot be used; keeping the previous ones");
                    // Do not retry on every connection until the files change again.
                    let files: Vec<_> = current.0.iter().map(|(f, _)| f.clone()).collect();
                    current.0 = files
                        .into_iter()
                        .map(|f| {
                            let m = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
                            (f, m)
                        })
                        .collect();
                }
            }
        }
        current.1.clone()
    }
}

/// The cost of a bcrypt hash in modular crypt format (`$2b$10$` + 22 characters of salt
/// + 31 of hash), checking the format only; `None` when it is not such a hash.
pub fn bcrypt_cost(hash: &str) -> Option<u32> {
    let rest = ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .find_map(|p| hash.strip_prefix(p))?;
    let (cost, rest) = rest.split_at_checked(2)?;
    let rest = rest.strip_prefix('$')?;
    if !cost.bytes().all(|b| b.is_ascii_digit())
        || rest.len() != 53
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        return None;
    }
    let cost: u32 = cost.parse().ok()?;
    (4..=31).contains(&cost).then_some(cost)
}

/// A well-formed bcrypt hash of `cost` that no password matches in practice: checking
/// a password against it takes as long as against a real hash of that cost, without
/// computing anything in advance.
fn decoy_hash(cost: u32) -> String {
    // A real hash at the lowest cost is cheap; its salt and digest are validly encoded,
    // and only the cost field decides how long a check takes.
    let cheap = bcrypt::hash_with_salt("decoy", 4, [7u8; 16])
        .map(|h| h.format_for_version(bcrypt::Version::TwoB))
        .unwrap_or_default();
    match cheap.strip_prefix("$2b$04$") {
        Some(rest) => format!("$2b${cost:02}${rest}"),
        None => cheap,
    }
}

/// How long a login waits for a free bcrypt slot before the request gets 503.
pub const BCRYPT_WAIT: Duration = Duration::from_millis(500);

/// Bcrypt verifications running at once, process-wide: one per core, so a flood of
/// failed logins cannot take more threads or CPU than that.
static BCRYPT_SLOTS: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(tokio::sync::Semaphore::new(cores))
    });

/// The outcome of a basic-auth check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Allowed (or authentication is off).
    Allowed,
    /// Wrong, unknown or missing credentials: 401.
    Denied,
    /// Every bcrypt slot stayed busy for [`BCRYPT_WAIT`]: 503, try again.
    Busy,
}

/// Basic authentication against bcrypt hashes, with a cache of successful checks so a
/// scrape does not pay for bcrypt every time. Verifications run on blocking threads,
/// at most as many at once as the bcrypt slots allow.
pub struct BasicAuth {
    /// user → bcrypt hash.
    users: BTreeMap<String, String>,
    /// SHA-256 of (user, password, hash) of checks that succeeded.
    verified: Mutex<HashSet<[u8; 32]>>,
    /// A hash to check unknown users against, so they cost the same time: of the
    /// highest cost among the users.
    decoy: String,
    /// Slots for bcrypt verifications (shared process-wide outside tests).
    slots: Arc<tokio::sync::Semaphore>,
    /// How long a check waits for a slot.
    wait: Duration,
}

/// Most cached successful checks; the cache is emptied when it is full.
const MAX_CACHED_LOGINS: usize = 1024;

impl BasicAuth {
    /// Checks against `users` (none means every request is allowed).
    pub fn new(users: BTreeMap<String, String>) -> Self {
        Self::with_slots(users, BCRYPT_SLOTS.clone(), BCRYPT_WAIT)
    }

    /// [`BasicAuth::new`] with its own bcrypt slots and wait (tests use this).
    pub fn with_slots(
        users: BTreeMap<String, String>,
        slots: Arc<tokio::sync::Semaphore>,
        wait: Duration,
    ) -> Self {
        // The highest cost: an unknown user must take as long as the slowest real one,
        // or the difference tells which users exist.
        let cost = users
            .values()
            .filter_map(|h| bcrypt_cost(h))
            .max()
            .unwrap_or(10);
        BasicAuth {
            users,
            verified: Mutex::new(HashSet::new()),
            decoy: decoy_hash(cost),
            slots,
            wait,
        }
    }

    /// Whether authentication is required at all.
    pub fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// Checks an `Authorization` header value. A login cached as good answers at
    /// once; otherwise bcrypt runs on a blocking thread once a slot is free, and
    /// [`AuthOutcome::Busy`] comes back when none frees up within the wait.
    pub async fn check(self: &Arc<Self>, authorization: Option<&str>) -> AuthOutcome {
        if !self.enabled() {
            return AuthOutcome::Allowed;
        }
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return AuthOutcome::Denied;
        };
        let hash = self.users.get(&user).cloned();
        let key: [u8; 32] = {
            let mut h = Sha256::new();
            for part in [
                user.as_bytes(),
                password.as_bytes(),
                hash.as_deref().unwrap_or("").as_bytes(),
            ] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(part);
            }
            h.finalize().into()
        };
        if hash.is_some()
            && self
                .verified
                .lock()
                .expect("auth cache lock")
                .contains(&key)
        {
            return AuthOutcome::Allowed;
        }
        // The slot is taken before the blocking thread is asked for, and travels with
        // the verification: a client that hangs up does not free it early.
        let Ok(Ok(slot)) =
            tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await
        else {
            return AuthOutcome::Busy;
        };
        let this = self.clone();
        let ok = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            match &hash {
                Some(h) => bcrypt::verify(&password, h).unwrap_or(false),
                None => {
                    // Unknown user: spend the same time as a wrong password.
                    let _ = bcrypt::verify(&password, &this.decoy);
                    false
                }
            }
        })
        .await
        .unwrap_or(false);
        if !ok {
            return AuthOutcome::Denied;
        }
        {
            let mut cache = self.verified.lock().expect("auth cache lock");
            if cache.len() >= MAX_CACHED_LOGINS {
                cache.clear();
            }
            cache.insert(key);
        }
        AuthOutcome::Allowed
    }
}

fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n",
                "tls_server_config",
            ),
            (
                "basic_auth_users:\n  alice: not-a-hash\n",
                "basic_auth_users.alice",
            ),
            (
                "http_server_config:\n  headers:\n    Server: me\n",
                "http_server_config.headers.Server",
            ),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: always\n",
                "http_server_config.headers.X-Frame-Options",
            ),
            (
                "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n",
                "tls_server_config.cert_file",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n",
                "tls_server_config.client_auth_type",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
                "tls_server_config.client_ca_file",
            ),
            ("nonsense: 1\n", "nonsense"),
        ];
        for (text, key) in cases {
            let path = write(dir.path(), "web.yml", text);
            let e = WebConfig::load(&path).unwrap_err();
            assert!(e.key.starts_with(key), "{text}: {e}");
        }
    }

    #[test]
    fn basic_header_parsing() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:pa:ss")
        );
        assert_eq!(parse_basic(&header), Some(("alice".into(), "pa:ss".into())));
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }

    #[tokio::test]
    async fn basic_auth_checks_and_caches() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = Arc::new(BasicAuth::new(BTreeMap::from([(
            "alice".to_string(),
            hash,
        )])));
        use AuthOutcome::*;
        assert_eq!(auth.check(Some(&header("alice", "s3cret"))).await, Allowed);
        assert_eq!(auth.verified.lock().unwrap().len(), 1);
        assert_eq!(auth.check(Some(&header("alice", "s3cret"))).await, Allowed);
        assert_eq!(auth.check(Some(&header("alice", "wrong"))).await, Denied);
        assert_eq!(auth.check(Some(&header("mallory", "s3cret"))).await, Denied);
        assert_eq!(auth.check(None).await, Denied);
        assert_eq!(auth.verified.lock().unwrap().len(), 1);
    }

    fn header(u: &str, p: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    }

    /// With every bcrypt slot taken, an uncached login waits briefly and gets `Busy`,
    /// no blocking thread is asked for, and a cached good login is still let in.
    #[tokio::test(start_paused = true)]
    async fn bcrypt_work_is_bounded_and_cached_logins_skip_it() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let slots = Arc::new(tokio::sync::Semaphore::new(1));
        let auth = Arc::new(BasicAuth::with_slots(
            BTreeMap::from([("alice".to_string(), hash)]),
            slots.clone(),
            Duration::from_millis(200),
        ));
        assert_eq!(
            auth.check(Some(&header("alice", "s3cret"))).await,
            AuthOutcome::Allowed
        );
        let held = slots.clone().acquire_owned().await.unwrap();
        let started = tokio::time::Instant::now();
        for (user, password) in [("alice", "wrong"), ("nobody", "x"), ("alice", "other")] {
            assert_eq!(
                auth.check(Some(&header(user, password))).await,
                AuthOutcome::Busy
            );
        }
        assert_eq!(started.elapsed(), Duration::from_millis(600));
        assert_eq!(
            auth.check(Some(&header("alice", "s3cret"))).await,
            AuthOutcome::Allowed,
            "a cached login must not wait for a slot"
        );
        drop(held);
        assert_eq!(
            auth.check(Some(&header("alice", "wrong"))).await,
            AuthOutcome::Denied
        );
        assert_eq!(slots.available_permits(), 1, "the slot was not given back");
    }

    /// The decoy for unknown users has the highest cost among the users, whatever
    /// their order.
    #[test]
    fn the_decoy_has_the_highest_cost() {
        let users = BTreeMap::from([
            ("alice".to_string(), bcrypt::hash("a", 4).unwrap()),
            (
                "bob".to_string(),
                bcrypt::hash_with_salt("b", 11, [1; 16])
                    .unwrap()
                    .to_string(),
            ),
            ("carol".to_string(), bcrypt::hash("c", 5).unwrap()),
        ]);
        let auth = BasicAuth::new(users);
        assert_eq!(bcrypt_cost(&auth.decoy), Some(11));
        assert_eq!(bcrypt::verify("decoy", &auth.decoy).ok(), Some(false));
    }

    /// Loading users reads the cost field only: a hash of cost 31 (hours to verify)
    /// loads at once, and malformed hashes are refused.
    #[test]
    fn user_hashes_are_checked_by_format_not_by_verifying() {
        let fast = bcrypt::hash("x", 4).unwrap();
        assert_eq!(bcrypt_cost(&fast), Some(4));
        let slow = format!("$2y$31${}", &fast[7..]);
        assert_eq!(bcrypt_cost(&slow), Some(31));
        for bad in [
            "",
            "not-a-hash",
            &format!("$2b$03${}", &fast[7..]),
            &format!("$2b$32${}", &fast[7..]),
            &format!("$3b$10${}", &fast[7..]),
            &format!("$2b$10${}", &fast[8..]),
            &format!("$2b$10${}!", &fast[8..]),
        ] {
            assert_eq!(bcrypt_cost(bad), None, "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  alice: '{slow}'\n"),
        );
        let started = std::time::Instant::now();
        let config = WebConfig::load(&path).unwrap();
        assert_eq!(config.users.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}
