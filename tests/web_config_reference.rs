//! The web configuration against the cases of the reference implementation's own test
//! suite (prometheus/exporter-toolkit: `TestYAMLFiles`, `TestServerBehaviour`,
//! `TestConfigReloading` and `TestUsers` in `web/tls_config_test.go`, and the four
//! tests of `web/handler_test.go`: 57 cases). Each assertion names the reference case
//! it mirrors and expects the reference's outcome: refused at load, handshake
//! accepted or refused, request allowed, 401 or 429. The configurations, certificates
//! and hashes are this project's own, written to match what each case sets up; the
//! server is the real one on loopback, the clients are rustls, raw TLS records and
//! plain sockets. The few cases where rustls cannot do what Go does assert our
//! outcome and are listed in the README (Secure serving).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::CipherSuite;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use workspace_exporter::simulator::Scenario;
use workspace_exporter::web_config::{WebConfig, WebConfigSource};

/// How long any one exchange may take.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(20);

/// Passwords of the users, as in the reference's user files (hashes are ours).
const USERS: [(&str, &str, u32); 4] = [
    ("alice", "alice123", 5),
    ("bob", "bob123", 6),
    ("carol", "carol123", 4),
    ("dave", "dave123", 4),
];

/// Test files in a temporary folder: a CA, a server certificate for 127.0.0.1 with an
/// RSA key (the reference's cases name ECDHE_RSA suites), and two self-signed client
/// certificates made as `openssl req -x509` makes them (`CA:TRUE`).
struct Files {
    /// The folder.
    dir: tempfile::TempDir,
}

impl Files {
    /// Makes the files; `None` when openssl (for the RSA key) is missing outside CI.
    fn new() -> Option<Files> {
        if !common::tool_available("openssl", &["version"]) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let key = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .output()
            .unwrap();
        assert!(key.status.success(), "openssl genpkey failed");
        let rsa_pem = String::from_utf8(key.stdout).unwrap();
        std::fs::write(d.join("server.key"), &rsa_pem).unwrap();

        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        std::fs::write(d.join("ca.crt"), ca.self_signed(&ca_key).unwrap().pem()).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::from_pem(&rsa_pem).unwrap();
        let mut server =
            CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server = server.signed_by(&server_key, &issuer).unwrap();
        std::fs::write(d.join("server.crt"), server.pem()).unwrap();

        for (name, sans) in [
            ("client_selfsigned", vec![]),
            (
                "client2_selfsigned",
                vec!["test3".to_string(), "test4".to_string()],
            ),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(sans).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.self_signed(&key).unwrap();
            std::fs::write(d.join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(d.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        }
        // An unrelated CA, for the blocking configuration of the reload case.
        let other_key = KeyPair::generate().unwrap();
        let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
        other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        other
            .distinguished_name
            .push(DnType::CommonName, "other CA");
        std::fs::write(
            d.join("other-ca.crt"),
            other.self_signed(&other_key).unwrap().pem(),
        )
        .unwrap();
        Some(Files { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a web configuration and returns its path.
    fn web(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A PEM file's text indented as a YAML block scalar.
    fn inline(&self, file: &str) -> String {
        let text = std::fs::read_to_string(self.path(file)).unwrap();
        format!("|\n    {}", text.trim_end().replace('\n', "\n    "))
    }

    /// The users block with fresh hashes of different costs.
    fn users() -> String {
        let mut text = String::from("basic_auth_users:\n");
        for (user, password, cost) in USERS {
            let hash = bcrypt::hash(password, cost).unwrap();
            text.push_str(&format!("  {user}: '{hash}'\n"));
        }
        text
    }
}

/// `tls_server_config` with the server's certificate and key files.
const TLS: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

/// The reference's `web_config_noAuth.good.yml` setting.
const NO_AUTH: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n";

/// Starts the exporter serving with the web configuration at `web` (plain HTTP for
/// `None`, as `--web.config.file=` is) and `max_requests`.
async fn serve(web: Option<&Path>) -> common::Harness {
    let web = web.map(|p| {
        Arc::new(WebConfigSource::load(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
    });
    let sim = common::start_sim(Scenario::demo()).await;
    let toml = format!(
        "{}\n[server]\nmax_requests = 1000\n",
        common::target_toml(&sim.url(), "prod", "")
    );
    common::start_exporter_with_web(sim, &toml, web).await
}

fn port(h: &common::Harness) -> u16 {
    h.exporter.local_addr().port()
}

/// `GET /-/healthy` with optional basic credentials, as the bytes of one request.
fn request(auth: Option<(&str, &str)>) -> String {
    let mut text =
        String::from("GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some((user, password)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        text.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// The status code of an HTTP answer, or 0.
fn status(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// One plain-HTTP request; the whole answer.
async fn plain(port: u16, auth: Option<(&str, &str)>) -> String {
    tokio::time::timeout(EXCHANGE_LIMIT, async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(request(auth).as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .expect("plain exchange within the limit")
}

/// What a TLS client offers.
#[derive(Default)]
struct Client {
    /// TLS 1.2 suites to offer, in order; `None` for rustls' defaults.
    suites: Option<Vec<CipherSuite>>,
    /// Offer TLS 1.2 only.
    tls12_only: bool,
    /// A client certificate: the base name of `NAME.pem` and `NAME.key`.
    cert: Option<&'static str>,
}

/// A TLS exchange that completed: the answer and the suite negotiated.
struct Exchange {
    /// The HTTP answer.
    answer: String,
    /// The cipher suite of the connection.
    suite: CipherSuite,
}

/// One request over TLS with rustls, trusting the test CA; `Err` when the handshake
/// (or, in TLS 1.3, the server's verdict on the client certificate) fails.
async fn tls(
    files: &Files,
    port: u16,
    client: &Client,
    auth: Option<(&str, &str)>,
) -> Result<Exchange, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(suites) = &client.suites {
        provider
            .cipher_suites
            .retain(|s| suites.contains(&s.suite()));
        provider.cipher_suites.sort_by_key(|s| {
            suites
                .iter()
                .position(|x| *x == s.suite())
                .unwrap_or(usize::MAX)
        });
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if client.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(files.path("ca.crt")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match client.cert {
        None => builder.with_no_client_auth(),
        Some(name) => {
            let chain = CertificateDer::pem_file_iter(files.path(&format!("{name}.pem")))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(files.path(&format!("{name}.key"))).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    tokio::time::timeout(EXCHANGE_LIMIT, async {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
        let mut stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let suite = stream
            .get_ref()
            .1
            .negotiated_cipher_suite()
            .unwrap()
            .suite();
        stream
            .write_all(request(auth).as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut answer = Vec::new();
        let read = stream.read_to_end(&mut answer).await;
        if answer.is_empty() {
            return Err(format!("no answer: {read:?}"));
        }
        Ok(Exchange {
            answer: String::from_utf8_lossy(&answer).into_owned(),
            suite,
        })
    })
    .await
    .expect("TLS exchange within the limit")
}

/// How a server answers a hand-made ClientHello.
#[derive(Debug, PartialEq, Eq)]
enum HelloAnswer {
    /// A handshake record (the ServerHello): the handshake goes on.
    ServerHello,
    /// A fatal alert with this description.
    Alert(u8),
    /// Anything else.
    Other(Vec<u8>),
}

/// TLS alert descriptions.
const HANDSHAKE_FAILURE: u8 = 40;
const PROTOCOL_VERSION: u8 = 70;

/// Sends a ClientHello written byte by byte (rustls cannot offer TLS 1.1 or CBC
/// suites, which two reference cases need) and reads the first record of the answer.
async fn hello(port: u16, version: u16, suites: &[u16]) -> HelloAnswer {
    let mut extensions = Vec::new();
    // supported_groups: x25519, secp256r1.
    extensions.extend([0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // ec_point_formats: uncompressed.
    extensions.extend([0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms: rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ecdsa_secp256r1_sha256.
    extensions.extend([
        0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x08, 0x04, 0x04, 0x01, 0x04, 0x03,
    ]);
    let mut body = Vec::new();
    body.extend(version.to_be_bytes());
    body.extend([7u8; 32]); // random
    body.push(0); // session id
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]); // compression: null
    body.extend((extensions.len() as u16).to_be_bytes());
    body.extend(extensions);
    let mut handshake = vec![1u8]; // client_hello
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    tokio::time::timeout(EXCHANGE_LIMIT, async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(&record).await.unwrap();
        let mut head = [0u8; 7];
        match stream.read_exact(&mut head).await {
            Ok(_) if head[0] == 0x16 => HelloAnswer::ServerHello,
            Ok(_) if head[0] == 0x15 && head[5] == 2 => HelloAnswer::Alert(head[6]),
            Ok(_) => HelloAnswer::Other(head.to_vec()),
            Err(_) => HelloAnswer::Other(Vec::new()),
        }
    })
    .await
    .expect("hello answered within the limit")
}

const ECDHE_RSA_AES128_GCM: u16 = 0xc02f;
const ECDHE_RSA_AES128_CBC_SHA: u16 = 0xc013;
const ECDHE_RSA_AES256_CBC_SHA: u16 = 0xc014;

/// `TestYAMLFiles` (all 18 cases, "run" and "validate" alike) and the load-time cases
/// of `TestServerBehaviour`: each file is refused at load, or accepted, as there.
#[test]
fn load_time_outcomes_match_the_reference() {
    let Some(f) = Files::new() else { return };
    let junk: String = (0..20)
        .map(|i| format!("hWkNKCp{i}fvIx3jKnsaBI{}\n", i * 7))
        .collect();
    let cases: Vec<(&str, String, bool)> = vec![
        // (reference case, file text, accepted)
        ("TestYAMLFiles/empty config yml", String::new(), true),
        (
            "TestYAMLFiles/invalid config yml (invalid structure)",
            junk,
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (invalid key)",
            "tls_server_config:\n  cert_filse: server.crt\n".into(),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (cert path empty)",
            "tls_server_config:\n  cert_file: \"\"\n  key_file: server.key\n".into(),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (cert empty)",
            "tls_server_config:\n  cert: \"\"\n  key_file: server.key\n".into(),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (key path empty)",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: \"\"\n".into(),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (key empty)",
            "tls_server_config:\n  cert_file: server.crt\n  key: \"\"\n".into(),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (cert path and key path empty)",
            "tls_server_config:\n  cert_file: \"\"\n  key_file: \"\"\n  client_auth_type: x\n"
                .into(),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (cert path invalid)",
            "tls_server_config:\n  cert_file: somefile\n  key_file: server.key\n".into(),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (key path invalid)",
            "tls_server_config:\n  cert_file: server.cert\n  key_file: somefile\n".into(),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (cert path and key path invalid)",
            "tls_server_config:\n  cert_file: somefile\n  key_file: somefile\n".into(),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (invalid ClientAuth)",
            format!("{TLS}  client_ca_file: /dev/null\n"),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (invalid ClientCAs filepath)",
            format!("{TLS}  client_ca_file: somefile\n"),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (invalid user list)",
            format!("{TLS}basic_auth_users:\n  john: doe\n"),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (bad cipher)",
            format!("{NO_AUTH}  cipher_suites:\n  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048\n"),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (bad curves)",
            format!("{NO_AUTH}  curve_preferences:\n  - CurveP257\n"),
            false,
        ),
        (
            "TestYAMLFiles/invalid config yml (bad TLS version)",
            format!("{NO_AUTH}  min_version: TLS111\n"),
            false,
        ),
        (
            "TestServerBehaviour/valid tls config yml with non-http2 ciphers but http2 enabled",
            format!(
                "{NO_AUTH}  cipher_suites:\n  - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n  max_version: TLS12\n"
            ),
            false,
        ),
        (
            "TestServerBehaviour/invalid X-Content-Type-Options headers config",
            "http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n".into(),
            false,
        ),
        (
            "TestServerBehaviour/invalid X-Frame-Options headers config",
            "http_server_config:\n  headers:\n    X-Frame-Options: foo\n".into(),
            false,
        ),
        (
            "TestServerBehaviour/HTTP header that can not be overridden",
            "http_server_config:\n  headers:\n    Content-Type: foo\n".into(),
            false,
        ),
    ];
    for (case, text, accepted) in &cases {
        let path = f.web("web.yml", text);
        let loaded = WebConfigSource::load(&path);
        assert_eq!(
            loaded.is_ok(),
            *accepted,
            "{case}: the reference {} it; we got {:?}",
            if *accepted { "accepts" } else { "refuses" },
            loaded.err()
        );
    }
    // "path to config yml invalid": a file that does not exist.
    let missing = WebConfigSource::load(&f.path("somefile"));
    assert!(missing.is_err(), "TestYAMLFiles/path to config yml invalid");
    // The empty file serves plain HTTP, as the reference's does.
    let empty = f.web("empty.yml", "");
    assert!(WebConfig::load(&empty).unwrap().tls.is_none());
    // The fail-closed messages name the key.
    let e = WebConfigSource::load(&f.web("ca.yml", &format!("{TLS}  client_ca_file: /dev/null\n")))
        .unwrap_err();
    assert_eq!(e.key, "tls_server_config.client_auth_type", "{e}");
}

/// `TestServerBehaviour`, `empty string YAMLConfigPath ...`: without a web
/// configuration (what `--web.config.file=` means, see
/// `cli::an_empty_web_config_flag_means_plain_http`), plain HTTP is served and a TLS
/// client fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_web_configuration_plain_http_is_served() {
    let Some(f) = Files::new() else { return };
    let h = serve(None).await;
    let p = port(&h);
    let answer = plain(p, None).await;
    assert_eq!(
        status(&answer),
        200,
        "empty string YAMLConfigPath and default client: {answer}"
    );
    assert!(
        tls(&f, p, &Client::default(), None).await.is_err(),
        "empty string YAMLConfigPath and TLS client"
    );
}

/// `TestServerBehaviour` with `web_config_noAuth.good.yml` (VerifyClientCertIfGiven
/// without a CA file): a plain client gets HTTP 400, a TLS client gets in, and so
/// with the certificate and key inline; a TLS 1.1 client is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_client_certificates() {
    let Some(f) = Files::new() else { return };
    let h = serve(Some(&f.web("web.yml", NO_AUTH))).await;
    let p = port(&h);
    let answer = plain(p, None).await;
    assert_eq!(
        status(&answer),
        400,
        "valid tls config yml and default client: {answer}"
    );
    assert!(
        answer.contains("Client sent an HTTP request to an HTTPS server"),
        "{answer}"
    );
    let ok = tls(&f, p, &Client::default(), None).await;
    assert_eq!(
        ok.map(|e| status(&e.answer)),
        Ok(200),
        "valid tls config yml and tls client"
    );
    // "valid tls config yml with TLS 1.1 client": refused with protocol_version; the
    // same hello at TLS 1.2 with a suite the server has goes on.
    assert_eq!(
        hello(
            p,
            0x0302,
            &[ECDHE_RSA_AES128_CBC_SHA, ECDHE_RSA_AES256_CBC_SHA]
        )
        .await,
        HelloAnswer::Alert(PROTOCOL_VERSION),
        "valid tls config yml with TLS 1.1 client"
    );
    assert_eq!(
        hello(p, 0x0303, &[ECDHE_RSA_AES128_GCM]).await,
        HelloAnswer::ServerHello,
        "the hand-made hello at TLS 1.2 is accepted"
    );
    drop(h);

    let inline = format!(
        "tls_server_config:\n  cert: {}\n  key: {}\n  client_auth_type: VerifyClientCertIfGiven\n",
        f.inline("server.crt"),
        f.inline("server.key")
    );
    let h = serve(Some(&f.web("inline.yml", &inline))).await;
    let ok = tls(&f, port(&h), &Client::default(), None).await;
    assert_eq!(
        ok.map(|e| status(&e.answer)),
        Ok(200),
        "valid tls config yml (cert and key inline) and tls client"
    );
}

/// `TestServerBehaviour`, the cipher suite cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cipher_suites() {
    let Some(f) = Files::new() else { return };
    let all = format!(
        "{NO_AUTH}  cipher_suites:\n{}",
        [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        ]
        .map(|s| format!("  - {s}\n"))
        .concat()
    );
    let h = serve(Some(&f.web("all.yml", &all))).await;
    let ok = tls(&f, port(&h), &Client::default(), None).await;
    assert_eq!(
        ok.map(|e| status(&e.answer)),
        Ok(200),
        "valid tls config yml with all ciphers"
    );
    drop(h);

    let some = format!(
        "{NO_AUTH}  cipher_suites:\n  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n  - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n  min_version: TLS12\n  max_version: TLS12\n"
    );
    let h = serve(Some(&f.web("some.yml", &some))).await;
    let p = port(&h);
    let aes128 = CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    let aes256 = CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384;
    let one = Client {
        suites: Some(vec![aes128]),
        tls12_only: true,
        ..Client::default()
    };
    let ok = tls(&f, p, &one, None).await.unwrap();
    assert_eq!(
        (status(&ok.answer), ok.suite),
        (200, aes128),
        "valid tls config yml with some ciphers"
    );
    // "with no common cipher": the client offers only ECDHE_RSA AES-256-CBC-SHA,
    // which rustls clients cannot offer, so the hello is written by hand.
    assert_eq!(
        hello(p, 0x0303, &[ECDHE_RSA_AES256_CBC_SHA]).await,
        HelloAnswer::Alert(HANDSHAKE_FAILURE),
        "valid tls config yml with no common cipher"
    );
    assert_eq!(
        hello(p, 0x0303, &[ECDHE_RSA_AES128_GCM]).await,
        HelloAnswer::ServerHello,
        "the same hello with a suite the server has goes on"
    );
    let both = Client {
        suites: Some(vec![aes128, aes256]),
        tls12_only: true,
        ..Client::default()
    };
    let ok = tls(&f, p, &both, None).await.unwrap();
    assert_eq!(
        (status(&ok.answer), ok.suite),
        (200, aes128),
        "valid tls config yml with multiple client ciphers"
    );
    drop(h);

    let no_order = format!(
        "{NO_AUTH}  cipher_suites:\n  - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n  prefer_server_cipher_suites: false\n  min_version: TLS12\n  max_version: TLS12\n"
    );
    let h = serve(Some(&f.web("noorder.yml", &no_order))).await;
    let ok = tls(&f, port(&h), &both, None).await.unwrap();
    assert_eq!(
        (status(&ok.answer), ok.suite),
        (200, aes128),
        "valid tls config yml with multiple client ciphers, client chooses cipher"
    );
    drop(h);

    let no_h2 = format!(
        "{NO_AUTH}  cipher_suites:\n    - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n  max_version: TLS12\nhttp_server_config:\n  http2: false\n"
    );
    let h = serve(Some(&f.web("noh2.yml", &no_h2))).await;
    let ok = tls(&f, port(&h), &Client::default(), None).await;
    assert_eq!(
        ok.map(|e| status(&e.answer)),
        Ok(200),
        "valid tls config yml with non-http2 ciphers"
    );
}

/// `TestServerBehaviour`, the curve cases. "with all curves" matches; the two cases
/// that offer only P-521 cannot: rustls has no P-521, so the configuration is refused
/// at load where the reference serves (README, Secure serving).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curve_preferences() {
    let Some(f) = Files::new() else { return };
    let all = format!(
        "{NO_AUTH}  curve_preferences:\n    - CurveP256\n    - CurveP384\n    - CurveP521\n    - X25519\n"
    );
    let h = serve(Some(&f.web("all.yml", &all))).await;
    let ok = tls(&f, port(&h), &Client::default(), None).await;
    assert_eq!(
        ok.map(|e| status(&e.answer)),
        Ok(200),
        "valid tls config yml with all curves"
    );
    // Exceptions: "with some curves" (reference: accepted) and "with no common
    // curves" (reference: handshake failure) share a P-521-only file.
    let p521 = format!("{NO_AUTH}  min_version: TLS13\n  curve_preferences:\n  - CurveP521\n");
    let e = WebConfigSource::load(&f.web("p521.yml", &p521)).unwrap_err();
    assert_eq!(e.key, "tls_server_config.curve_preferences", "{e}");
}

/// `TestServerBehaviour/valid headers config` and `handler_test.go`'s
/// `TestHTTPHeaders`: served, with the configured headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers() {
    let Some(f) = Files::new() else { return };
    let web = "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: 1\n    Content-Security-Policy: \"default-src 'self' *.test.example.net\"\n";
    let h = serve(Some(&f.web("headers.yml", web))).await;
    let answer = plain(port(&h), None).await;
    assert_eq!(status(&answer), 200, "valid headers config: {answer}");
    let lower = answer.to_ascii_lowercase();
    for header in [
        "strict-transport-security: max-age=31536000; includesubdomains",
        "x-frame-options: deny",
        "x-content-type-options: nosniff",
        "x-xss-protection: 1",
    ] {
        assert!(
            lower.contains(header),
            "TestHTTPHeaders: {header}: {answer}"
        );
    }
}

/// `TestServerBehaviour`, the client certificate cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates() {
    let Some(f) = Files::new() else { return };
    let selfsigned = Client {
        cert: Some("client_selfsigned"),
        ..Client::default()
    };
    let any = format!("{TLS}  client_auth_type: RequireAnyClientCert\n");
    let h = serve(Some(&f.web("any.yml", &any))).await;
    let ok = tls(&f, port(&h), &selfsigned, None).await;
    assert_eq!(
        ok.map(|e| status(&e.answer)),
        Ok(200),
        "valid tls config yml and tls client with RequireAnyClientCert (present certificate)"
    );
    drop(h);

    let any_inline_key = format!(
        "tls_server_config:\n  cert_file: server.crt\n  key: {}\n  client_auth_type: RequireAnyClientCert\n",
        f.inline("server.key")
    );
    let h = serve(Some(&f.web("anyinline.yml", &any_inline_key))).await;
    let ok = tls(&f, port(&h), &selfsigned, None).await;
    assert_eq!(
        ok.map(|e| status(&e.answer)),
        Ok(200),
        "valid tls config yml (cert from file, key inline) and tls client with RequireAnyClientCert (present certificate)"
    );
    drop(h);

    let verify = format!(
        "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client_selfsigned.pem\n"
    );
    let h = serve(Some(&f.web("verify.yml", &verify))).await;
    let ok = tls(&f, port(&h), &selfsigned, None).await;
    assert_eq!(
        ok.map(|e| status(&e.answer)),
        Ok(200),
        "valid tls config yml and tls client with RequireAndVerifyClientCert (present certificate)"
    );
    drop(h);

    let client2 = Client {
        cert: Some("client2_selfsigned"),
        ..Client::default()
    };
    let sans = |list: &str| {
        format!(
            "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client2_selfsigned.pem\n  client_allowed_sans:\n{list}"
        )
    };
    let h = serve(Some(
        &f.web("sans.yml", &sans("    - one\n    - test3\n    - two\n")),
    ))
    .await;
    let ok = tls(&f, port(&h), &client2, None).await;
    assert_eq!(
        ok.map(|e| status(&e.answer)),
        Ok(200),
        "valid tls config yml and tls client with VerifyPeerCertificate (present good SAN DNS entry)"
    );
    drop(h);

    let h = serve(Some(&f.web("badsans.yml", &sans("    - bad\n")))).await;
    let refused = tls(&f, port(&h), &client2, None).await;
    assert!(
        refused.is_err(),
        "valid tls config yml and tls client with VerifyPeerCertificate (present invalid SAN DNS entries)"
    );
}

/// `TestServerBehaviour`, the two rate limiter cases: 11 requests each (the reference
/// sends `Requests + 1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit() {
    let Some(f) = Files::new() else { return };
    let h = serve(Some(
        &f.web("none.yml", "rate_limit:\n  interval: 0\n  burst: 0\n"),
    ))
    .await;
    for i in 0..=10 {
        let answer = plain(port(&h), None).await;
        assert_eq!(
            status(&answer),
            200,
            "valid rate limiter (no rate limiter set up) that doesn't block, request {i}"
        );
    }
    drop(h);
    let h = serve(Some(&f.web(
        "second.yml",
        "rate_limit:\n  interval: \"1s\"\n  burst: 0\n",
    )))
    .await;
    // A zero burst refuses from the first request, as Go's limiter does.
    for i in 0..=10 {
        let answer = plain(port(&h), None).await;
        assert_eq!(
            status(&answer),
            429,
            "valid rate limiter with an interval of one second, request {i}"
        );
        assert!(answer.contains("Too Many Requests"), "{answer}");
    }
}

/// `TestConfigReloading`: a configuration that refuses a client without a certificate
/// is replaced on disk by one that lets it in, and the running server follows without
/// a restart. The reference's blocking file sets RequireAndVerifyClientCert without a
/// CA file, which is refused at load here (README, Secure serving), so ours names a
/// CA the client has no certificate from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_follows_a_changed_configuration() {
    let Some(f) = Files::new() else { return };
    let path = f.web(
        "web.yml",
        &format!(
            "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: other-ca.crt\n"
        ),
    );
    let h = serve(Some(&path)).await;
    let p = port(&h);
    assert!(
        tls(&f, p, &Client::default(), None).await.is_err(),
        "TestConfigReloading: the blocking configuration refuses the client"
    );
    std::fs::write(&path, NO_AUTH).unwrap();
    // The first connection after the change starts the reload and is served with the
    // previous configuration; poll until the new one answers, bounded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(e) = tls(&f, p, &Client::default(), None).await {
            assert_eq!(status(&e.answer), 200, "{}", e.answer);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "TestConfigReloading: the new configuration never applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `TestUsers`: basic auth over plain HTTP and over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users() {
    let Some(f) = Files::new() else { return };
    let users = Files::users();
    let h = serve(Some(&f.web("users_notls.yml", &users))).await;
    let p = port(&h);
    assert_eq!(status(&plain(p, None).await), 401, "without basic auth");
    assert_eq!(
        status(&plain(p, Some(("dave", "dave123"))).await),
        200,
        "with correct basic auth"
    );
    drop(h);

    let h = serve(Some(&f.web("users.yml", &format!("{TLS}{users}")))).await;
    let p = port(&h);
    let c = Client::default();
    for (case, auth, code) in [
        ("without basic auth and TLS", None, 401),
        (
            "with correct basic auth and TLS",
            Some(("dave", "dave123")),
            200,
        ),
        (
            "with another correct basic auth and TLS",
            Some(("carol", "carol123")),
            200,
        ),
        ("with bad password and TLS", Some(("dave", "bad")), 401),
        (
            "with bad username and TLS",
            Some(("nonexistent", "nonexistent")),
            401,
        ),
    ] {
        let e = tls(&f, p, &c, auth).await.unwrap();
        assert_eq!(status(&e.answer), code, "TestUsers/{case}: {}", e.answer);
    }
}

/// `handler_test.go`: `TestBasicAuthCache` (a good and a wrong login, then 150 of
/// each at once), `TestBasicAuthWithFakepassword` (the decoy's password does not log
/// in, cold or cached) and `TestByPassBasicAuthVuln` (CVE-2022-46146: a user name
/// with a hash appended, or a password that is the hash plus text, do not log in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_cache_and_decoy() {
    let Some(f) = Files::new() else { return };
    let alice_hash = bcrypt::hash("alice123", 4).unwrap();
    let web = format!(
        "basic_auth_users:\n  alice: '{alice_hash}'\n  dave: '{}'\n",
        bcrypt::hash("dave123", 4).unwrap()
    );
    let h = serve(Some(&f.web("users.yml", &web))).await;
    let p = port(&h);
    assert_eq!(status(&plain(p, Some(("alice", "alice123"))).await), 200);
    assert_eq!(status(&plain(p, Some(("alice", "alice1234"))).await), 401);
    let mut logins = tokio::task::JoinSet::new();
    let start = Arc::new(tokio::sync::Barrier::new(300));
    for i in 0..300 {
        let start = start.clone();
        logins.spawn(async move {
            let (password, code) = if i % 2 == 0 {
                ("alice123", 200)
            } else {
                ("alice1234", 401)
            };
            start.wait().await;
            (status(&plain(p, Some(("alice", password))).await), code)
        });
    }
    while let Some(result) = logins.join_next().await {
        let (got, want) = result.unwrap();
        assert_eq!(got, want, "TestBasicAuthCache");
    }

    for round in ["cold", "cached"] {
        assert_eq!(
            status(&plain(p, Some(("fakeuser", "fakepassword"))).await),
            401,
            "TestBasicAuthWithFakepassword ({round})"
        );
    }

    assert_eq!(
        status(&plain(p, Some((&format!("alice{alice_hash}"), "fakepassword"))).await),
        401,
        "TestByPassBasicAuthVuln: poisoning the cache"
    );
    assert_eq!(
        status(&plain(p, Some(("alice", &format!("{alice_hash}fakepassword")))).await),
        401,
        "TestByPassBasicAuthVuln: a wrong password"
    );
}
