//! The web configuration file (`--web.config.file`), in the format of the Prometheus
//! exporter-toolkit: TLS (with optional client certificates), basic authentication, and
//! extra response headers. It guards the "serve" end of the data flow.
//!
//! The file is parsed strictly: an unknown key is an error, as are unsupported options.
//! Relative paths resolve against the file's folder. The file and the certificate
//! files it names are checked for changes on every new connection, so a certificate
//! replaced on disk (or a changed user list) takes effect without a restart; the
//! reload runs on a blocking thread while connections keep being served with the
//! previous configuration. If the new files are broken, the previous configuration
//! keeps serving and the error is logged.

use std::collections::{BTreeMap, HashMap};
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

/// Parses the YAML text of a web configuration into its raw form. An error is the key
/// it concerns (empty for the whole file) and the problem with its line and column.
///
/// The parser's messages name keys and expected types, not values; the few that speak
/// to a programmer (a Rust type, a parser option) are reworded for the operator, and
/// any problem under a key that holds a secret (a user's password hash, an inline
/// private key) is replaced by one that shows nothing of the value.
fn parse_yaml(text: &str) -> Result<RawWebConfig, (String, String)> {
    let mut options = serde_saphyr::options::Options::default();
    // A snippet would quote the file's lines, which may hold a secret.
    options.with_snippet = false;
    let path = std::cell::RefCell::new(String::new());
    serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            *path.borrow_mut() = e.path().to_string();
            e.into_inner()
        })
    })
    .map_err(|e| {
        let key = path.into_inner();
        // `.?` is how the path names a map key it has not read yet (a duplicate).
        let key = key.strip_suffix(".?").unwrap_or(&key);
        let key = if key == "." {
            String::new()
        } else {
            key.to_string()
        };
        let problem = yaml_problem(&key, &e);
        (key, problem)
    })
}

/// The operator's wording of a YAML problem under `key`; see [`parse_yaml`].
fn yaml_problem(key: &str, error: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    let inner = error.without_snippet();
    let holds_secret = key.starts_with("basic_auth_users.") || key == "tls_server_config.key";
    let reason = match inner {
        E::SerdeUnknownField { .. } => None,
        // Names the key (a user name, a header), never a value.
        E::DuplicateMappingKey { key: Some(k), .. } => {
            Some(format!("the key `{k}` appears twice: keep one"))
        }
        E::DuplicateMappingKey { key: None, .. } => Some("a key appears twice: keep one".into()),
        _ if holds_secret => Some(
            "invalid value (not shown because the key holds a secret): write it as a string"
                .to_string(),
        ),
        // These would show the value found; the expected type is enough.
        E::SerdeInvalidType { expected, .. } | E::SerdeInvalidValue { expected, .. } => {
            Some(format!("invalid value: expected {}", plain_type(expected)))
        }
        E::InvalidScalar { ty, .. } => Some(format!("invalid value: expected {}", plain_type(ty))),
        E::NullIntoString { .. } => Some("has no value: give one, or remove the key".into()),
        E::MultipleDocuments { .. } => {
            Some("the file holds more than one YAML document (a line with ---): keep one".into())
        }
        _ => None,
    };
    let reason =
        reason.unwrap_or_else(|| inner.render_with_formatter(&serde_saphyr::UserMessageFormatter));
    // The rendered text ends with the position; keep it for the rewritten reasons.
    let reason = reason
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_string();
    match inner.location() {
        Some(at) if at.line() > 0 => {
            format!("{reason} (line {}, column {})", at.line(), at.column())
        }
        _ => reason,
    }
}

/// A type as the parser names it (`u32`, `bool`), in the operator's words.
fn plain_type(ty: &str) -> &str {
    match ty {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "bool" | "boolean" | "a boolean" => "true or false",
        "char" => "a single character",
        other => other,
    }
}

/// The web configuration file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    /// TLS settings; absent means plain HTTP.
    tls_server_config: Option<RawTls>,
    /// Users and their bcrypt hashes.
    basic_auth_users: Option<BTreeMap<String, String>>,
    /// HTTP settings.
    http_server_config: Option<RawHttp>,
    /// A limit on the request rate, over all clients.
    rate_limit: Option<RawRateLimit>,
}

/// `rate_limit` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    /// Time to earn one request, a Go duration such as `1s` or `100ms`, or an
    /// integer number of nanoseconds (as Go's YAML reads a `time.Duration`); zero or
    /// absent means no rate limit.
    interval: Option<RawDuration>,
    /// Requests allowed in a burst; zero or absent, with an interval, refuses every
    /// request (as the reference's limiter does).
    burst: Option<u32>,
}

/// A duration as Go's YAML reads one: text such as `1s`, or nanoseconds.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a duration such as 1s or 100ms, or a whole number of nanoseconds"
)]
enum RawDuration {
    /// Nanoseconds.
    Nanos(u64),
    /// Text with a unit.
    Text(String),
}

/// `rate_limit`: a token bucket over every request, as the reference's limiter
/// (`rate.NewLimiter(rate.Every(interval), burst)`); requests beyond it get 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Time to earn one request.
    pub interval: Duration,
    /// Requests allowed at once.
    pub burst: u32,
}

/// The state of a [`RateLimit`]: tokens left and when they were counted.
#[derive(Debug)]
pub struct RateLimiter {
    /// The limit.
    limit: RateLimit,
    /// Tokens (possibly fractional) and the time of the last count.
    state: Mutex<(f64, tokio::time::Instant)>,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            state: Mutex::new((f64::from(limit.burst), tokio::time::Instant::now())),
        }
    }

    /// Takes a token if there is one.
    pub fn allow(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = tokio::time::Instant::now();
        let earned = now.duration_since(state.1).as_secs_f64() / self.limit.interval.as_secs_f64();
        state.0 = (state.0 + earned).min(f64::from(self.limit.burst));
        state.1 = now;
        if state.0 >= 1.0 {
            state.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// `tls_server_config` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    /// Server certificate chain (PEM file).
    cert_file: Option<String>,
    /// Server private key (PEM file).
    key_file: Option<String>,
    /// Server certificate chain, PEM in the file itself.
    cert: Option<String>,
    /// Server private key, PEM in the file itself.
    key: Option<crate::secret::Secret>,
    /// CA bundle for client certificates (PEM file).
    client_ca_file: Option<String>,
    /// Client certificate policy, by its Go name.
    client_auth_type: Option<String>,
    /// Lowest TLS version, `TLS12` or `TLS13`.
    min_version: Option<String>,
    /// Highest TLS version, `TLS12` or `TLS13`.
    max_version: Option<String>,
    /// TLS 1.2 cipher suites, by their Go names, in order of preference.
    cipher_suites: Option<Vec<String>>,
    /// Whether the server's order of cipher suites wins over the client's.
    prefer_server_cipher_suites: Option<bool>,
    /// Key exchange groups, by their Go names, in order of preference.
    curve_preferences: Option<Vec<String>>,
    /// Subject alternative names a client certificate must present one of.
    client_allowed_sans: Option<Vec<String>>,
}

/// `http_server_config` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    /// Extra response headers.
    headers: Option<BTreeMap<String, String>>,
    /// Whether to offer HTTP/2 (the reference's default is true). This server speaks
    /// HTTP/1.1 only and offers only `http/1.1` in ALPN, so clients use HTTP/1.1
    /// whatever the value; as in the reference, while it is on, a `cipher_suites`
    /// list for TLS 1.2 must hold an AES-128-GCM suite HTTP/2 requires.
    http2: Option<bool>,
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
    pub cert: Pem,
    /// Server private key (PEM).
    pub key: Pem,
    /// CA bundle for client certificates (PEM).
    pub client_ca_file: Option<PathBuf>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
    /// Allow TLS 1.2 (otherwise TLS 1.3 only).
    pub tls12: bool,
    /// Allow TLS 1.3.
    pub tls13: bool,
    /// `cipher_suites`: the TLS 1.2 suites allowed, in order (rustls names); `None`
    /// for rustls' defaults. TLS 1.3 suites are not affected, as in Go.
    pub cipher_suites: Option<Vec<&'static str>>,
    /// `prefer_server_cipher_suites`: the server's order wins (rustls'
    /// `ignore_client_order`); `None` keeps rustls' default (the client's order).
    pub prefer_server_cipher_suites: Option<bool>,
    /// `curve_preferences`: key exchange groups, in order (rustls names); `None` for
    /// rustls' defaults.
    pub curve_preferences: Option<Vec<&'static str>>,
    /// `client_allowed_sans`: a client certificate must carry one of these DNS names
    /// or IP addresses as a subject alternative name; empty means any.
    pub client_allowed_sans: Vec<String>,
}

/// Go's names for its TLS 1.3 suites (`tls.CipherSuites()`): accepted in
/// `cipher_suites` and, as in Go, without effect.
const GO_TLS13_SUITES: [&str; 3] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Go's names for TLS 1.2 suites (`tls.CipherSuites()`) that rustls does not
/// implement (CBC, RSA key exchange): accepted in `cipher_suites`, not offered.
const GO_SUITES_RUSTLS_LACKS: [&str; 8] = [
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
];

/// The rustls TLS 1.2 cipher suite for a Go name, if rustls (ring) has it.
fn tls12_suite(go_name: &str) -> Option<rustls::SupportedCipherSuite> {
    // Go also spells the ChaCha20 suites without their hash.
    let name = match go_name {
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
            format!("{go_name}_SHA256")
        }
        other => other.to_string(),
    };
    rustls::crypto::ring::default_provider()
        .cipher_suites
        .into_iter()
        .filter(|s| matches!(s, rustls::SupportedCipherSuite::Tls12(_)))
        .find(|s| s.suite().as_str() == Some(name.as_str()))
}

/// The rustls key exchange group for a Go curve name, if rustls (ring) has it.
fn kx_group(go_name: &str) -> Option<&'static dyn rustls::crypto::SupportedKxGroup> {
    use rustls::crypto::ring::kx_group;
    match go_name {
        "X25519" => Some(kx_group::X25519),
        "CurveP256" => Some(kx_group::SECP256R1),
        "CurveP384" => Some(kx_group::SECP384R1),
        _ => None,
    }
}

/// Where PEM text comes from: a file (re-read when it changes) or the web
/// configuration itself (`cert`, `key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// A file, relative paths resolved.
    File(PathBuf),
    /// Inline text; held as a secret since it may be a private key.
    Inline(crate::secret::Secret),
}

impl Pem {
    /// The file, if the PEM comes from one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Pem::File(p) => Some(p),
            Pem::Inline(_) => None,
        }
    }

    /// Where it comes from, for messages: the path, or the inline key's name.
    fn shown(&self, inline_key: &str) -> String {
        match self {
            Pem::File(p) => p.display().to_string(),
            Pem::Inline(_) => format!("inline {inline_key}"),
        }
    }
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
    /// `rate_limit`, when it is on.
    pub rate_limit: Option<RateLimit>,
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
            parse_yaml(&text).map_err(|(key, problem)| {
                err(if key.is_empty() { shown.clone() } else { key }, problem)
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
        // As the reference: an empty string is the same as an absent key.
        let tls_raw = raw.tls_server_config.map(|mut t| {
            for field in [
                &mut t.cert_file,
                &mut t.key_file,
                &mut t.cert,
                &mut t.client_ca_file,
                &mut t.client_auth_type,
            ] {
                if field.as_deref() == Some("") {
                    *field = None;
                }
            }
            if t.key.as_ref().is_some_and(|k| k.expose().is_empty()) {
                t.key = None;
            }
            t
        });
        let http2 = raw
            .http_server_config
            .as_ref()
            .and_then(|h| h.http2)
            .unwrap_or(true);
        let tls = match tls_raw {
            None => None,
            // As the reference: without a certificate, a key and any client
            // certificate setting, TLS is off (a lone min_version does not turn it on).
            Some(t)
                if t.cert_file.is_none()
                    && t.key_file.is_none()
                    && t.cert.is_none()
                    && t.key.is_none()
                    && t.client_auth_type.is_none()
                    && t.client_ca_file.is_none() =>
            {
                None
            }
            Some(t) => {
                let cert = match (t.cert_file.as_deref(), t.cert) {
                    (Some(_), Some(_)) => {
                        return Err(err(
                            "tls_server_config.cert",
                            "cert_file and cert are mutually exclusive",
                        ));
                    }
                    (Some(f), None) => Pem::File(resolve(f)),
                    (None, Some(text)) => Pem::Inline(crate::secret::Secret::new(text)),
                    (None, None) => {
                        return Err(err(
                            "tls_server_config.cert_file",
                            "missing: TLS needs a certificate (cert_file or cert)",
                        ));
                    }
                };
                let key = match (t.key_file.as_deref(), t.key) {
                    (Some(_), Some(_)) => {
                        return Err(err(
                            "tls_server_config.key",
                            "key_file and key are mutually exclusive",
                        ));
                    }
                    (Some(f), None) => Pem::File(resolve(f)),
                    (None, Some(text)) => Pem::Inline(text),
                    (None, None) => {
                        return Err(err(
                            "tls_server_config.key_file",
                            "missing: TLS needs a private key (key_file or key)",
                        ));
                    }
                };
                let client_auth = match t.client_auth_type.as_deref().unwrap_or("NoClientCert") {
                    "NoClientCert" => ClientAuth::NoClientCert,
                    "RequestClientCert" => ClientAuth::RequestClientCert,
                    // RequireClientCert: the reference's older name, kept as an alias.
                    "RequireAnyClientCert" | "RequireClientCert" => {
                        ClientAuth::RequireAnyClientCert
                    }
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
                // Fail closed: a CA file without a policy would serve TLS without ever
                // asking for a client certificate, while the operator believes mTLS
                // is on. The reference refuses it too ("Client CA's have been
                // configured without a Client Auth Policy").
                if client_ca_file.is_some() && client_auth == ClientAuth::NoClientCert {
                    return Err(err(
                        "tls_server_config.client_auth_type",
                        "client_ca_file is set but no client certificate is asked for: set client_auth_type (e.g. RequireAndVerifyClientCert) or remove client_ca_file",
                    ));
                }
                // RequireAndVerifyClientCert without a CA file: the reference verifies
                // against the system's CAs, so any publicly issued client certificate
                // gets in; refused here, it is almost certainly a forgotten line.
                // VerifyClientCertIfGiven without one lets clients in without a
                // certificate, so it is accepted (a certificate, if presented, is
                // refused: there is nothing to verify it against).
                if client_auth == ClientAuth::RequireAndVerifyClientCert && client_ca_file.is_none()
                {
                    return Err(err(
                        "tls_server_config.client_ca_file",
                        "missing: RequireAndVerifyClientCert needs a CA file to verify client certificates against",
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
                let cipher_suites = match &t.cipher_suites {
                    None => None,
                    Some(names) => {
                        let mut suites = Vec::new();
                        let mut lacking = Vec::new();
                        for (i, n) in names.iter().enumerate() {
                            if let Some(name) = tls12_suite(n).and_then(|s| s.suite().as_str()) {
                                suites.push(name);
                            } else if GO_TLS13_SUITES.contains(&n.as_str()) {
                                // As in Go: TLS 1.3 suites are not configurable.
                            } else if GO_SUITES_RUSTLS_LACKS.contains(&n.as_str()) {
                                lacking.push(n.as_str());
                            } else {
                                return Err(err(
                                    format!("tls_server_config.cipher_suites[{i}]"),
                                    format!("{n:?} is not a cipher suite name Go knows"),
                                ));
                            }
                        }
                        if !lacking.is_empty() {
                            tracing::warn!(
                                suites = %lacking.join(","),
                                "tls_server_config.cipher_suites: rustls has no CBC or RSA key exchange suites; these are not offered"
                            );
                        }
                        if suites.is_empty() && min <= 12 {
                            return Err(err(
                                "tls_server_config.cipher_suites",
                                "none of the listed TLS 1.2 suites is available in rustls (ECDHE with AES-GCM or ChaCha20-Poly1305 only; no CBC, no RSA key exchange)",
                            ));
                        }
                        // As the reference (Go's HTTP/2 set-up refuses to start): while
                        // HTTP/2 is on, a TLS 1.2 list needs an AES-128-GCM suite.
                        let h2_suites = [
                            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                        ];
                        if http2
                            && min <= 12
                            && !names.iter().any(|n| h2_suites.contains(&n.as_str()))
                        {
                            return Err(err(
                                "tls_server_config.cipher_suites",
                                "is missing an HTTP/2-required suite (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), which the reference requires while http_server_config.http2 is on (its default): add one, or set http2: false",
                            ));
                        }
                        Some(suites)
                    }
                };
                let curve_preferences = match &t.curve_preferences {
                    None => None,
                    Some(names) => {
                        let mut groups = Vec::new();
                        let mut lacking = Vec::new();
                        for (i, n) in names.iter().enumerate() {
                            if let Some(g) = kx_group(n) {
                                groups.push(g.name().as_str().unwrap_or("?"));
                            } else if n == "CurveP521" {
                                lacking.push(n.as_str());
                            } else {
                                return Err(err(
                                    format!("tls_server_config.curve_preferences[{i}]"),
                                    format!(
                                        "{n:?} is not one of CurveP256, CurveP384, CurveP521, X25519"
                                    ),
                                ));
                            }
                        }
                        if !lacking.is_empty() {
                            tracing::warn!(
                                curves = %lacking.join(","),
                                "tls_server_config.curve_preferences: rustls has no P-521; not offered"
                            );
                        }
                        if groups.is_empty() {
                            return Err(err(
                                "tls_server_config.curve_preferences",
                                "none of the listed curves is available in rustls (X25519, CurveP256, CurveP384; CurveP521 has no rustls equivalent)",
                            ));
                        }
                        Some(groups)
                    }
                };
                let settings = TlsSettings {
                    cert,
                    key,
                    client_ca_file,
                    client_auth,
                    tls12: min <= 12,
                    tls13: max >= 13,
                    cipher_suites,
                    prefer_server_cipher_suites: t.prefer_server_cipher_suites,
                    curve_preferences,
                    client_allowed_sans: t.client_allowed_sans.unwrap_or_default(),
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
        let rate_limit = match raw.rate_limit {
            None => None,
            Some(r) => {
                let interval = match &r.interval {
                    None => Duration::ZERO,
                    Some(RawDuration::Nanos(n)) => Duration::from_nanos(*n),
                    Some(RawDuration::Text(text)) if text.trim().is_empty() => Duration::ZERO,
                    Some(RawDuration::Text(text)) => humantime::parse_duration(text.trim())
                        .map_err(|e| {
                            err(
                                "rate_limit.interval",
                                format!("{text:?} is not a duration like \"1s\" ({e})"),
                            )
                        })?,
                };
                let burst = r.burst.unwrap_or(0);
                // As the reference (`rate.NewLimiter(rate.Every(interval), burst)` when
                // the interval is not zero): a zero interval means no limiter, and a
                // zero burst a limiter that refuses every request.
                (!interval.is_zero()).then_some(RateLimit { interval, burst })
            }
        };
        Ok(WebConfig {
            tls,
            users,
            headers,
            rate_limit,
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
    let (cert_key, key_key) = (
        if settings.cert.file().is_some() {
            "tls_server_config.cert_file"
        } else {
            "tls_server_config.cert"
        },
        if settings.key.file().is_some() {
            "tls_server_config.key_file"
        } else {
            "tls_server_config.key"
        },
    );
    let certs: Result<Vec<CertificateDer<'static>>, _> = match &settings.cert {
        Pem::File(p) => CertificateDer::pem_file_iter(p).and_then(|i| i.collect()),
        Pem::Inline(text) => CertificateDer::pem_slice_iter(text.expose().as_bytes()).collect(),
    };
    let certs =
        certs.map_err(|e| err(cert_key, format!("{}: {e}", settings.cert.shown("cert"))))?;
    if certs.is_empty() {
        return Err(err(
            cert_key,
            format!("{}: no certificate found", settings.cert.shown("cert")),
        ));
    }
    // The error names the source only: inline key text is never repeated.
    let key = match &settings.key {
        Pem::File(p) => PrivateKeyDer::from_pem_file(p),
        Pem::Inline(text) => PrivateKeyDer::from_pem_slice(text.expose().as_bytes()),
    }
    .map_err(|e| err(key_key, format!("{}: {e}", settings.key.shown("key"))))?;
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = &settings.cipher_suites {
        // TLS 1.3 suites stay; the TLS 1.2 ones are those listed, in their order.
        let mut suites: Vec<_> = provider
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| matches!(s, rustls::SupportedCipherSuite::Tls13(_)))
            .collect();
        suites.extend(names.iter().filter_map(|n| tls12_suite(n)));
        provider.cipher_suites = suites;
    }
    if let Some(names) = &settings.curve_preferences {
        provider.kx_groups = names
            .iter()
            .filter_map(|n| {
                rustls::crypto::ring::ALL_KX_GROUPS
                    .iter()
                    .copied()
                    .find(|g| g.name().as_str() == Some(n))
            })
            .collect();
    }
    let provider = Arc::new(provider);
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
    // The CA file's certificates: the roots, and the exact certificates a client may
    // present as a pinned self-signed certificate.
    let read_roots =
        || -> Result<(Arc<RootCertStore>, Vec<CertificateDer<'static>>), WebConfigError> {
            let path = settings
                .client_ca_file
                .as_ref()
                .ok_or_else(|| err("tls_server_config.client_ca_file", "missing"))?;
            let shown = |e: &dyn std::fmt::Display| {
                err(
                    "tls_server_config.client_ca_file",
                    format!("{}: {e}", path.display()),
                )
            };
            let mut roots = RootCertStore::empty();
            let mut certs = Vec::new();
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| shown(&e))? {
                let cert = cert.map_err(|e| shown(&e))?;
                roots.add(cert.clone()).map_err(|e| shown(&e))?;
                certs.push(cert);
            }
            if certs.is_empty() {
                return Err(shown(&"no certificate found"));
            }
            Ok((Arc::new(roots), certs))
        };
    // A CA file that is given is read and must hold a certificate, whatever the
    // policy: a wrong path must not go unnoticed.
    let cas = match settings.client_ca_file {
        Some(_) => Some(read_roots()?),
        None => None,
    };
    let verified =
        |allow_unauthenticated: bool| -> Result<Arc<dyn ClientCertVerifier>, WebConfigError> {
            let (roots, pinned) = cas
                .clone()
                .ok_or_else(|| err("tls_server_config.client_ca_file", "missing"))?;
            let builder = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let builder = if allow_unauthenticated {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            let inner = builder
                .build()
                .map_err(|e| err("tls_server_config.client_ca_file", e.to_string()))?;
            Ok(Arc::new(PinningVerifier {
                inner,
                pinned,
                allowed_sans: settings.client_allowed_sans.clone(),
            }))
        };
    let verifier: Option<Arc<dyn ClientCertVerifier>> = match settings.client_auth {
        ClientAuth::NoClientCert => None,
        ClientAuth::RequestClientCert => Some(Arc::new(AnyClientCert {
            mandatory: false,
            refuse_presented: false,
            provider: provider.clone(),
            allowed_sans: settings.client_allowed_sans.clone(),
        })),
        ClientAuth::RequireAnyClientCert => Some(Arc::new(AnyClientCert {
            mandatory: true,
            refuse_presented: false,
            provider: provider.clone(),
            allowed_sans: settings.client_allowed_sans.clone(),
        })),
        ClientAuth::VerifyClientCertIfGiven if settings.client_ca_file.is_none() => {
            Some(Arc::new(AnyClientCert {
                mandatory: false,
                refuse_presented: true,
                provider: provider.clone(),
                allowed_sans: settings.client_allowed_sans.clone(),
            }))
        }
        ClientAuth::VerifyClientCertIfGiven => Some(verified(true)?),
        ClientAuth::RequireAndVerifyClientCert => Some(verified(false)?),
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
    if let Some(prefer) = settings.prefer_server_cipher_suites {
        config.ignore_client_order = prefer;
    }
    Ok(Arc::new(config))
}

/// Verifies client certificates against the CA file with webpki, and also accepts a
/// client certificate that is itself one of the CA file's certificates: a pinned
/// self-signed certificate, `CA:TRUE` as `openssl req -x509` makes it, which webpki
/// refuses as a CA used as an end entity and Go's exporters accept. Its validity
/// period is checked all the same (webpki checks it first), and the handshake
/// signature proves the client holds its key. Refusals are logged at warn level, at
/// most one line per [`REFUSAL_LOG_INTERVAL`].
#[derive(Debug)]
struct PinningVerifier {
    /// webpki's verifier for the CA file.
    inner: Arc<dyn ClientCertVerifier>,
    /// The CA file's certificates, DER.
    pinned: Vec<CertificateDer<'static>>,
    /// `client_allowed_sans`; empty means any.
    allowed_sans: Vec<String>,
}

/// Checks `client_allowed_sans`: the certificate must carry one of the names, compared
/// exactly as the reference does, for DNS names and IP addresses (e-mail and URI
/// names have no rustls equivalent and never match). Empty `allowed` allows any.
fn check_allowed_sans(
    allowed: &[String],
    end_entity: &CertificateDer<'_>,
) -> Result<(), rustls::Error> {
    if allowed.is_empty() {
        return Ok(());
    }
    let refused = || rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
    let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|_| refused())?;
    let dns: Vec<&str> = cert.valid_dns_names().collect();
    let found = allowed
        .iter()
        .any(|want| match want.parse::<std::net::IpAddr>() {
            Ok(ip) => cert
                .verify_is_valid_for_subject_name(&rustls_pki_types::ServerName::IpAddress(
                    ip.into(),
                ))
                .is_ok(),
            Err(_) => dns.contains(&want.as_str()),
        });
    if found { Ok(()) } else { Err(refused()) }
}

/// Least time between two log lines about refused client certificates.
pub const REFUSAL_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// When a refused client certificate was last logged, and how many were not since.
static REFUSALS: Mutex<(Option<std::time::Instant>, u64)> = Mutex::new((None, 0));

/// Logs a refused client certificate at warn level, at most once per interval.
fn log_refusal(reason: &rustls::Error) {
    let mut state = REFUSALS.lock().unwrap_or_else(|p| p.into_inner());
    let now = std::time::Instant::now();
    if state
        .0
        .is_none_or(|t| now.duration_since(t) >= REFUSAL_LOG_INTERVAL)
    {
        tracing::warn!(
            reason = %reason,
            not_logged_since_last = state.1,
            "refused a client certificate"
        );
        *state = (Some(now), 0);
    } else {
        state.1 += 1;
    }
}

impl ClientCertVerifier for PinningVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Ok(verified) => Ok(verified),
            Err(e) => {
                let ca_as_end_entity = matches!(
                    &e,
                    rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o))
                        if format!("{o:?}").contains("CaUsedAsEndEntity")
                );
                if ca_as_end_entity
                    && self
                        .pinned
                        .iter()
                        .any(|p| p.as_ref() == end_entity.as_ref())
                {
                    Ok(ClientCertVerified::assertion())
                } else {
                    Err(e)
                }
            }
        }
        .and_then(|v| check_allowed_sans(&self.allowed_sans, end_entity).map(|()| v));
        if let Err(e) = &verified {
            log_refusal(e);
        }
        verified
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Accepts any client certificate without verifying it (`RequestClientCert`,
/// `RequireAnyClientCert`); signatures are still checked, so the client holds the key.
/// With `refuse_presented` (`VerifyClientCertIfGiven` without a CA file), a client may
/// come without a certificate and one it presents is refused.
#[derive(Debug)]
struct AnyClientCert {
    /// Whether a certificate is required.
    mandatory: bool,
    /// Whether a presented certificate is refused: there is no CA to verify it with.
    refuse_presented: bool,
    /// Checks the handshake signatures.
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// `client_allowed_sans`; empty means any.
    allowed_sans: Vec<String>,
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
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self.refuse_presented {
            let e = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
            log_refusal(&e);
            return Err(e);
        }
        check_allowed_sans(&self.allowed_sans, end_entity).inspect_err(log_refusal)?;
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
    /// The request rate limit, shared by every connection.
    pub rate_limit: Option<Arc<RateLimiter>>,
}

/// The web configuration file, re-read when it or its certificate files change.
pub struct WebConfigSource {
    /// The file.
    path: PathBuf,
    /// Modification times of the file and the files it names, and what they built.
    current: Mutex<(Vec<FileStamp>, Active)>,
    /// A reload is running (at most one at a time).
    reloading: std::sync::atomic::AtomicBool,
}

/// A file and its modification time when it was last read.
type FileStamp = (PathBuf, Option<SystemTime>);

fn fingerprint(path: &Path, config: &WebConfig) -> Vec<FileStamp> {
    let mut files = vec![path.to_path_buf()];
    if let Some(t) = &config.tls {
        files.extend(t.cert.file().map(Path::to_path_buf));
        files.extend(t.key.file().map(Path::to_path_buf));
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
        rate_limit: config
            .rate_limit
            .map(|limit| Arc::new(RateLimiter::new(limit))),
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
            reloading: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The configuration for a new connection. When a file changed, a reload starts on
    /// a blocking thread and this connection (and every one until the reload is done)
    /// gets the previous configuration: the accept loop never waits for files.
    pub fn active(self: &Arc<Self>) -> Active {
        let current = self.current.lock().expect("web config lock");
        let changed = current
            .0
            .iter()
            .any(|(f, modified)| std::fs::metadata(f).and_then(|m| m.modified()).ok() != *modified);
        let active = current.1.clone();
        drop(current);
        if changed
            && !self
                .reloading
                .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            let this = self.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn_blocking(move || this.reload());
                }
                Err(_) => this.reload(),
            }
        }
        active
    }

    /// Re-reads the file and the files it names; on success new connections use them,
    /// on failure the previous ones stay and the error is logged.
    fn reload(&self) {
        let loaded = WebConfig::load(&self.path)
            .and_then(|c| Ok((fingerprint(&self.path, &c), activate(&c)?)));
        let mut current = self.current.lock().expect("web config lock");
        match loaded {
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
        self.reloading
            .store(false, std::sync::atomic::Ordering::Release);
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
    /// SHA-256 of (user, password, hash) → the outcome of the check, good or not (as
    /// the reference caches both): a repeated wrong password costs no bcrypt.
    checked: Mutex<HashMap<[u8; 32], bool>>,
    /// A hash to check unknown users against, so they cost the same time: of the
    /// highest cost among the users.
    decoy: String,
    /// Slots for bcrypt verifications (shared process-wide outside tests).
    slots: Arc<tokio::sync::Semaphore>,
    /// How long a check waits for a slot.
    wait: Duration,
}

/// Most cached checks; the cache is emptied when it is full.
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
            checked: Mutex::new(HashMap::new()),
            decoy: decoy_hash(cost),
            slots,
            wait,
        }
    }

    /// Whether authentication is required at all.
    pub fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// Checks an `Authorization` header value. A login checked before answers at once
    /// (good or not); otherwise bcrypt runs on a blocking thread once a slot is free,
    /// and [`AuthOutcome::Busy`] comes back when none frees up within the wait. The
    /// cache is looked at again once the slot is taken, so identical logins queued
    /// behind one another pay for bcrypt once.
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
        let cached = |this: &Self| {
            this.checked
                .lock()
                .expect("auth cache lock")
                .get(&key)
                .map(|ok| {
                    if *ok {
                        AuthOutcome::Allowed
                    } else {
                        AuthOutcome::Denied
                    }
                })
        };
        if let Some(outcome) = cached(self) {
            return outcome;
        }
        // The slot is taken before the blocking thread is asked for, and travels with
        // the verification: a client that hangs up does not free it early.
        let Ok(Ok(slot)) =
            tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await
        else {
            return AuthOutcome::Busy;
        };
        if let Some(outcome) = cached(self) {
            return outcome;
        }
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
        {
            let mut cache = self.checked.lock().expect("auth cache lock");
            if cache.len() >= MAX_CACHED_LOGINS {
                cache.clear();
            }
            cache.insert(key, ok);
        }
        if ok {
            AuthOutcome::Allowed
        } else {
            AuthOutcome::Denied
        }
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

    /// YAML problems name the key and the line, read as an operator's message (no Rust
    /// type, no parser option), and never repeat a value under a key that holds a
    /// secret.
    #[test]
    fn yaml_problems_name_the_key_and_hide_values() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "basic_auth_users:\n  alice: [s3cr3t-hash]\n",
                "basic_auth_users.alice",
                "not shown because the key holds a secret",
            ),
            (
                "tls_server_config:\n  key: {s3cr3t-key: 1}\n",
                "tls_server_config.key",
                "not shown because the key holds a secret",
            ),
            (
                "rate_limit:\n  burst: s3cr3t-burst\n",
                "rate_limit.burst",
                "expected a whole number, 0 or more (line 2, column 10)",
            ),
            (
                "rate_limit:\n  interval: [s3cr3t]\n",
                "rate_limit.interval",
                "a duration such as 1s or 100ms",
            ),
            (
                "basic_auth_users:\n  alice: s3cr3t-a\n  alice: s3cr3t-b\n",
                "basic_auth_users",
                "the key `alice` appears twice",
            ),
            (
                "http_server_config:\n  http2: s3cr3t\n",
                "http_server_config.http2",
                "true or false",
            ),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: ~\n",
                "http_server_config.headers.X-Frame-Options",
                "has no value",
            ),
            (
                "tls_server_config: {}\n---\nrate_limit: {}\n",
                "",
                "more than one YAML document",
            ),
            (
                "tls_server_config:\n  cert_fil: s3cr3t.pem\n",
                "tls_server_config.cert_fil",
                "unknown field `cert_fil`, expected one of",
            ),
        ];
        for (text, key, says) in cases {
            let path = write(dir.path(), "web.yml", text);
            let e = WebConfig::load(&path).unwrap_err();
            let shown = e.to_string();
            if key.is_empty() {
                assert_eq!(e.key, path.display().to_string(), "{text}: {shown}");
            } else {
                assert!(e.key.starts_with(key), "{text}: {shown}");
            }
            assert!(e.problem.contains(says), "{text}: {shown}");
            assert!(!e.problem.contains("s3cr3t"), "{text}: {shown}");
            for programmer_word in [
                "Option<",
                "RawDuration",
                "untagged",
                "DuplicateKeyPolicy",
                "u32",
                "bool",
            ] {
                assert!(!shown.contains(programmer_word), "{text}: {shown}");
            }
        }
    }

    /// A self-signed server certificate and key, and a CA certificate, as PEM files.
    fn tls_files(dir: &Path) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        write(dir, "server.crt", &cert.pem());
        write(dir, "server.key", &key.serialize_pem());
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        write(dir, "ca.crt", &ca.self_signed(&ca_key).unwrap().pem());
        write(dir, "empty.crt", "");
    }

    /// Misconfigurations that would serve without the client check the operator asked
    /// for are refused at load, naming the key.
    #[test]
    fn client_certificate_misconfigurations_fail_closed() {
        let dir = tempfile::tempdir().unwrap();
        tls_files(dir.path());
        let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
        for (extra, key, says) in [
            (
                "  client_ca_file: ca.crt\n",
                "tls_server_config.client_auth_type",
                "client_ca_file is set",
            ),
            (
                "  client_ca_file: ca.crt\n  client_auth_type: NoClientCert\n",
                "tls_server_config.client_auth_type",
                "client_ca_file is set",
            ),
            (
                "  client_ca_file: missing.crt\n  client_auth_type: RequestClientCert\n",
                "tls_server_config.client_ca_file",
                "missing.crt",
            ),
            (
                "  client_ca_file: missing.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
                "tls_server_config.client_ca_file",
                "missing.crt",
            ),
            (
                "  client_ca_file: empty.crt\n  client_auth_type: RequireAnyClientCert\n",
                "tls_server_config.client_ca_file",
                "no certificate",
            ),
        ] {
            let path = write(dir.path(), "web.yml", &format!("{tls}{extra}"));
            let e = WebConfig::load(&path)
                .and_then(|c| activate(&c).map(|_| c))
                .err()
                .unwrap_or_else(|| panic!("accepted: {extra}"));
            assert_eq!(e.key, key, "{extra}: {e}");
            assert!(e.problem.contains(says), "{extra}: {e}");
        }
        for extra in [
            "",
            "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
            "  client_ca_file: ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n",
            "  client_auth_type: RequireAnyClientCert\n",
        ] {
            let path = write(dir.path(), "web.yml", &format!("{tls}{extra}"));
            WebConfigSource::load(&path).unwrap_or_else(|e| panic!("{extra}: {e}"));
        }
    }

    /// While the web configuration reloads, new connections get the previous one at
    /// once: the file is replaced by a FIFO, whose read blocks until it is fed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reload_runs_off_the_accept_path() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("x", 4).unwrap();
        let path = write(
            dir.path(),
            "web.yml",
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
        );
        let source = Arc::new(WebConfigSource::load(&path).unwrap());
        assert!(source.active().auth.users.contains_key("alice"));
        std::fs::remove_file(&path).unwrap();
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("mkfifo is not available: skipping");
            return;
        }
        let probe = source.clone();
        let served = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || {
                (0..100).all(|_| probe.active().auth.users.contains_key("alice"))
            }),
        )
        .await
        .expect("a new connection waited for the reload")
        .unwrap();
        assert!(served, "the previous users must serve during the reload");
        assert!(source.reloading.load(std::sync::atomic::Ordering::Acquire));
        // Feed the FIFO: the reload finishes and new connections get the new users.
        let feed = path.clone();
        let text = format!("basic_auth_users:\n  bob: '{hash}'\n");
        tokio::task::spawn_blocking(move || std::fs::write(feed, text).unwrap())
            .await
            .unwrap();
        let started = std::time::Instant::now();
        while source.reloading.load(std::sync::atomic::Ordering::Acquire) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "reload never ended"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let users = source.active().auth.users.clone();
        assert!(users.contains_key("bob") && !users.contains_key("alice"));
    }

    /// As in the reference: a `tls_server_config` with only version bounds means plain
    /// HTTP, `RequireClientCert` is an alias of `RequireAnyClientCert`, and
    /// `http_server_config.http2` is accepted.
    #[test]
    fn reference_spellings_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        tls_files(dir.path());
        let path = write(
            dir.path(),
            "web.yml",
            "tls_server_config:\n  min_version: TLS13\nhttp_server_config:\n  http2: false\n",
        );
        assert!(WebConfig::load(&path).unwrap().tls.is_none());
        let path = write(
            dir.path(),
            "web.yml",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireClientCert\nhttp_server_config:\n  http2: true\n",
        );
        let config = WebConfig::load(&path).unwrap();
        assert_eq!(
            config.tls.unwrap().client_auth,
            ClientAuth::RequireAnyClientCert
        );
        let path = write(
            dir.path(),
            "web.yml",
            "tls_server_config:\n  min_version: TLS13\n  key_file: server.key\n",
        );
        assert_eq!(
            WebConfig::load(&path).unwrap_err().key,
            "tls_server_config.cert_file"
        );
    }

    /// A burst, then one request per interval (paused clock).
    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_is_a_token_bucket() {
        let limiter = RateLimiter::new(RateLimit {
            interval: Duration::from_secs(1),
            burst: 2,
        });
        assert!(limiter.allow() && limiter.allow());
        assert!(!limiter.allow());
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(!limiter.allow());
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(limiter.allow());
        assert!(!limiter.allow());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(limiter.allow() && limiter.allow() && !limiter.allow());
        let dir = tempfile::tempdir().unwrap();
        for (text, on) in [
            ("rate_limit:\n  interval: 1s\n  burst: 5\n", true),
            ("rate_limit:\n  interval: 1000000000\n  burst: 5\n", true),
            // As the reference: an interval without a burst refuses everything.
            ("rate_limit:\n  interval: 1s\n", true),
            ("rate_limit:\n  burst: 5\n", false),
            ("rate_limit:\n  interval: 0\n  burst: 5\n", false),
        ] {
            let path = write(dir.path(), "web.yml", text);
            assert_eq!(
                WebConfig::load(&path).unwrap().rate_limit.is_some(),
                on,
                "{text}"
            );
        }
        let path = write(
            dir.path(),
            "web.yml",
            "rate_limit:\n  interval: soon\n  burst: 1\n",
        );
        assert_eq!(
            WebConfig::load(&path).unwrap_err().key,
            "rate_limit.interval"
        );
    }

    /// `cipher_suites`, `prefer_server_cipher_suites` and `curve_preferences` map to
    /// rustls' suites, `ignore_client_order` and key exchange groups; names rustls
    /// does not offer are refused, naming the entry.
    #[test]
    fn cipher_suites_and_curves_map_to_rustls() {
        let dir = tempfile::tempdir().unwrap();
        tls_files(dir.path());
        let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
        let path = write(
            dir.path(),
            "web.yml",
            &format!(
                "{tls}  cipher_suites: [TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  prefer_server_cipher_suites: true\n  curve_preferences: [CurveP256, X25519]\n"
            ),
        );
        let settings = WebConfig::load(&path).unwrap().tls.unwrap();
        let config = build_server_config(&settings).unwrap();
        assert!(config.ignore_client_order);
        let provider = config.crypto_provider();
        let tls12: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, rustls::SupportedCipherSuite::Tls12(_)))
            .map(|s| s.suite().as_str().unwrap())
            .collect();
        assert_eq!(
            tls12,
            [
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        assert!(
            provider
                .cipher_suites
                .iter()
                .any(|s| matches!(s, rustls::SupportedCipherSuite::Tls13(_))),
            "TLS 1.3 suites are not affected"
        );
        let groups: Vec<_> = provider
            .kx_groups
            .iter()
            .map(|g| g.name().as_str().unwrap())
            .collect();
        assert_eq!(groups, ["secp256r1", "X25519"]);
        // Go names rustls lacks are accepted and not offered, as long as one remains.
        let path = write(
            dir.path(),
            "web.yml",
            &format!(
                "{tls}  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA, TLS_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [CurveP521, X25519]\n"
            ),
        );
        let settings = WebConfig::load(&path).unwrap().tls.unwrap();
        assert_eq!(
            settings.cipher_suites.as_deref(),
            Some(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"][..])
        );
        assert_eq!(settings.curve_preferences.as_deref(), Some(&["X25519"][..]));
        for (extra, key) in [
            (
                "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA2048]\n",
                "tls_server_config.cipher_suites[0]",
            ),
            (
                "  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
                "tls_server_config.cipher_suites",
            ),
            (
                "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n",
                "tls_server_config.cipher_suites",
            ),
            (
                "  curve_preferences: [X25519, CurveP257]\n",
                "tls_server_config.curve_preferences[1]",
            ),
            (
                "  curve_preferences: [CurveP521]\n",
                "tls_server_config.curve_preferences",
            ),
        ] {
            let path = write(dir.path(), "web.yml", &format!("{tls}{extra}"));
            assert_eq!(WebConfig::load(&path).unwrap_err().key, key, "{extra}");
        }
    }

    /// `cert` and `key` may hold the PEM text itself; either form, not both, and the
    /// key's text is never shown.
    #[test]
    fn inline_certificate_and_key() {
        let dir = tempfile::tempdir().unwrap();
        tls_files(dir.path());
        let indent = |text: String| text.replace('\n', "\n    ");
        let cert = std::fs::read_to_string(dir.path().join("server.crt")).unwrap();
        let key = std::fs::read_to_string(dir.path().join("server.key")).unwrap();
        let path = write(
            dir.path(),
            "web.yml",
            &format!(
                "tls_server_config:\n  cert: |\n    {}\n  key: |\n    {}\n",
                indent(cert.trim().to_string()),
                indent(key.trim().to_string())
            ),
        );
        let source = WebConfigSource::load(&path).unwrap();
        assert!(format!("{source:?}").find("PRIVATE KEY").is_none());
        let config = WebConfig::load(&path).unwrap();
        assert!(!format!("{config:?}").contains("PRIVATE KEY"));
        for (text, key) in [
            (
                "tls_server_config:\n  cert_file: server.crt\n  cert: x\n  key_file: server.key\n",
                "tls_server_config.cert",
            ),
            (
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  key: x\n",
                "tls_server_config.key",
            ),
            (
                "tls_server_config:\n  cert_file: server.crt\n  key: not-a-pem-key-SECRETVALUE\n",
                "tls_server_config.key",
            ),
        ] {
            let path = write(dir.path(), "web.yml", text);
            let e = WebConfig::load(&path).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
            assert!(!e.to_string().contains("SECRETVALUE"), "{e}");
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
        assert_eq!(auth.checked.lock().unwrap().len(), 1);
        assert_eq!(auth.check(Some(&header("alice", "s3cret"))).await, Allowed);
        assert_eq!(auth.check(Some(&header("alice", "wrong"))).await, Denied);
        assert_eq!(auth.check(Some(&header("mallory", "s3cret"))).await, Denied);
        assert_eq!(auth.check(None).await, Denied);
        // Failures are cached too, and stay failures.
        assert_eq!(auth.checked.lock().unwrap().len(), 3);
        assert_eq!(auth.check(Some(&header("alice", "wrong"))).await, Denied);
        assert_eq!(auth.check(Some(&header("mallory", "s3cret"))).await, Denied);
        assert_eq!(auth.checked.lock().unwrap().len(), 3);
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
