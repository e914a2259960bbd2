//! Serving over TLS with client certificates and basic auth (`--web.config.file`),
//! checked with real clients: curl, openssl and Prometheus itself.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use workspace_exporter::simulator::Scenario;
use workspace_exporter::web_config::WebConfigSource;

const PASSWORD: &str = "correct horse";

/// A CA, a server certificate for 127.0.0.1, a client certificate from the CA and
/// one from an unrelated CA, as PEM files in `dir`.
fn make_pki(dir: &Path) {
    let ca = |name: &str, file: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join(file), cert.pem()).unwrap();
        Issuer::new(params, key)
    };
    let trusted = ca("test CA", "ca.crt");
    let stranger = ca("stranger CA", "stranger-ca.crt");
    issue(
        dir,
        &trusted,
        "server-v1",
        vec!["127.0.0.1".into(), "localhost".into()],
        "server",
    );
    issue(dir, &trusted, "scraper", vec![], "client");
    issue(dir, &stranger, "intruder", vec![], "intruder");
}

fn issue(dir: &Path, issuer: &Issuer<'_, KeyPair>, cn: &str, sans: Vec<String>, file: &str) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.signed_by(&key, issuer).unwrap();
    std::fs::write(dir.join(format!("{file}.crt")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
}

fn web_config(dir: &Path) -> PathBuf {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let path = dir.join("web-config.yml");
    std::fs::write(
        &path,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS12\nbasic_auth_users:\n  prometheus: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n"
        ),
    )
    .unwrap();
    path
}

fn curl(dir: &Path, url: &str, extra: &[&str]) -> Output {
    Command::new("curl")
        .current_dir(dir)
        .args(["-sS", "-i", "--max-time", "10", "--cacert", "ca.crt"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap()
}

fn served_certificate(dir: &Path, port: u16) -> String {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-CAfile",
            "ca.crt",
            "-cert",
            "client.crt",
            "-key",
            "client.key",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_certificates_and_basic_auth_with_real_clients() {
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    let web = Arc::new(WebConfigSource::load(&web_config(dir.path())).unwrap());
    let sim = common::start_sim(Scenario::demo()).await;
    let toml = common::target_toml(&sim.url(), "prod", "");
    let h = common::start_exporter_with_web(sim, &toml, Some(web)).await;
    let port = h.exporter.local_addr().port();
    let url = format!("https://127.0.0.1:{port}/metrics");
    let d = dir.path();

    if common::tool_available("curl", &["--version"]) {
        let ok = curl(
            d,
            &url,
            &[
                "--cert",
                "client.crt",
                "--key",
                "client.key",
                "-u",
                &format!("prometheus:{PASSWORD}"),
            ],
        );
        let text = String::from_utf8_lossy(&ok.stdout);
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.contains("huaweicloud_workspace_desktops{"));
        assert!(text.to_ascii_lowercase().contains("x-frame-options: deny"));
        assert!(
            text.to_ascii_lowercase()
                .contains("strict-transport-security: max-age=31536000")
        );

        for (what, creds) in [
            ("wrong password", Some("prometheus:nope")),
            ("unknown user", Some("eve:correct horse")),
            ("no password", None),
        ] {
            let mut args = vec!["--cert", "client.crt", "--key", "client.key"];
            let creds_arg;
            if let Some(c) = creds {
                creds_arg = c.to_string();
                args.extend(["-u", creds_arg.as_str()]);
            }
            let out = curl(d, &url, &args);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.starts_with("HTTP/1.1 401"), "{what}: {text}");
            assert!(
                text.to_ascii_lowercase()
                    .contains("www-authenticate: basic"),
                "{what}: {text}"
            );
            assert!(!text.contains("huaweicloud_workspace"), "{what}");
        }

        let no_cert = curl(d, &url, &["-u", &format!("prometheus:{PASSWORD}")]);
        assert!(
            !no_cert.status.success(),
            "a client without a certificate was served"
        );
        assert!(!String::from_utf8_lossy(&no_cert.stdout).contains("huaweicloud_workspace"));
        let stranger = curl(
            d,
            &url,
            &[
                "--cert",
                "intruder.crt",
                "--key",
                "intruder.key",
                "-u",
                &format!("prometheus:{PASSWORD}"),
            ],
        );
        assert!(
            !stranger.status.success(),
            "a certificate from an unknown CA was accepted"
        );
        let plain = curl(d, &format!("http://127.0.0.1:{port}/metrics"), &[]);
        assert!(!String::from_utf8_lossy(&plain.stdout).contains("huaweicloud_workspace"));
    }

    if common::tool_available("openssl", &["version"]) {
        assert!(
            served_certificate(d, port).contains("CN=server-v1")
                || served_certificate(d, port).contains("CN = server-v1")
        );
        // Replace the certificate on disk: the next connection gets the new one.
        let trusted = {
            // Re-issue from the same CA: rebuild its issuer from the CA files is not
            // possible with rcgen, so issue the new server certificate from a fresh CA
            // and trust both.
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(DnType::CommonName, "second CA");
            let cert = params.self_signed(&key).unwrap();
            let mut bundle = std::fs::read_to_string(d.join("ca.crt")).unwrap();
            bundle.push_str(&cert.pem());
            std::fs::write(d.join("ca.crt"), bundle).unwrap();
            Issuer::new(params, key)
        };
        issue(d, &trusted, "server-v2", vec!["127.0.0.1".into()], "server");
        let later = SystemTime::now() + Duration::from_secs(5);
        for f in ["server.crt", "server.key", "ca.crt"] {
            std::fs::File::options()
                .write(true)
                .open(d.join(f))
                .unwrap()
                .set_modified(later)
                .unwrap();
        }
        // The connection that notices the change starts the reload off the accept
        // path and still gets the previous certificate; later ones get the new one.
        let started = std::time::Instant::now();
        loop {
            let shown = served_certificate(d, port);
            if shown.contains("server-v2") {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the replaced certificate is not served:\n{shown}"
            );
            assert!(shown.contains("server-v1"), "{shown}");
        }
    }

    if common::tool_available("prometheus", &["--version"]) {
        prometheus_scrapes(d, port, &h).await;
    }
}

/// A real Prometheus scrapes the exporter over TLS with a client certificate and
/// basic auth; its `up` for the job must become 1.
async fn prometheus_scrapes(dir: &Path, port: u16, h: &common::Harness) {
    std::fs::write(dir.join("password"), PASSWORD).unwrap();
    let prom_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: workspace\n    scheme: https\n    tls_config:\n      ca_file: {d}/ca.crt\n      cert_file: {d}/client.crt\n      key_file: {d}/client.key\n    basic_auth:\n      username: prometheus\n      password_file: {d}/password\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
        d = dir.display()
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let mut child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let query =
        format!("http://127.0.0.1:{prom_port}/api/v1/query?query=up%7Bjob%3D%22workspace%22%7D");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    let up = loop {
        if let Ok(resp) = h.http.get(&query).send().await
            && let Ok(body) = resp.text().await
        {
            if body.contains("\"value\":[") {
                break body.contains("\"1\"]");
            }
            last = body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Prometheus did not scrape in time: {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        up,
        "Prometheus could not scrape the exporter over TLS with basic auth"
    );
}

/// A plain-HTTP request to the TLS port gets an HTTP 400 naming the mistake, as Go's
/// exporters answer, instead of TLS alert bytes; TLS clients are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_gets_400() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    let web = Arc::new(WebConfigSource::load(&web_config(dir.path())).unwrap());
    let sim = common::start_sim(Scenario::demo()).await;
    let toml = common::target_toml(&sim.url(), "prod", "");
    let h = common::start_exporter_with_web(sim, &toml, Some(web)).await;
    let address = h.exporter.local_addr();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    assert!(
        answer.starts_with("HTTP/1.0 400 Bad Request\r\n"),
        "{answer:?}"
    );
    assert!(
        answer.ends_with("\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"),
        "{answer:?}"
    );
    if common::tool_available("curl", &["--version"]) {
        let ok = curl(
            dir.path(),
            &format!("https://127.0.0.1:{}/-/healthy", address.port()),
            &[
                "--cert",
                "client.crt",
                "--key",
                "client.key",
                "-u",
                &format!("prometheus:{PASSWORD}"),
            ],
        );
        let text = String::from_utf8_lossy(&ok.stdout);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    }
}

/// The demo binary with `web_config`, its log lines collected on a thread; returns the
/// port and the receiver of log lines.
fn start_demo(web_config: &Path) -> (std::process::Child, u16, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_workspace-exporter"))
        .arg("demo")
        .arg("--web.listen-address=127.0.0.1:0")
        .arg(format!("--web.config.file={}", web_config.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let port = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the demo did not start");
        if line.contains("demo running") {
            break line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("address="))
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    };
    (child, port, rx)
}

/// `RequireAndVerifyClientCert` with the client's own self-signed certificate
/// (`CA:TRUE`, as `openssl req -x509` makes it) as `client_ca_file`: that client gets
/// in, as with node_exporter; a certificate from another CA is refused and the refusal
/// is logged at warn level with the reason.
#[test]
fn a_pinned_self_signed_client_certificate_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_pki(d);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "pinned scraper");
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(d.join("pinned.crt"), cert.pem()).unwrap();
    std::fs::write(d.join("pinned.key"), key.serialize_pem()).unwrap();
    let web = d.join("web-pinned.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: pinned.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
    )
    .unwrap();
    let (mut child, port, logs) = start_demo(&web);
    let url = format!("https://127.0.0.1:{port}/-/healthy");
    if common::tool_available("curl", &["--version"]) {
        let ok = curl(d, &url, &["--cert", "pinned.crt", "--key", "pinned.key"]);
        let text = String::from_utf8_lossy(&ok.stdout);
        assert!(
            text.starts_with("HTTP/1.1 200"),
            "{text}{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let refused = curl(d, &url, &["--cert", "client.crt", "--key", "client.key"]);
        let text = String::from_utf8_lossy(&refused.stdout);
        assert!(!text.starts_with("HTTP/1.1 200"), "{text}");
        let warned = loop {
            let line = logs
                .recv_timeout(Duration::from_secs(30))
                .expect("no warning about the refused certificate");
            if line.contains("refused a client certificate") {
                break line;
            }
        };
        assert!(warned.contains("level=warn"), "{warned}");
        assert!(warned.contains("reason="), "{warned}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `client_allowed_sans`: a verified client certificate must also carry one of the
/// listed DNS names or IP addresses, as in the reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_allowed_sans_restrict_verified_clients() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_pki(d);
    // make_pki's CA, again, to issue more client certificates.
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "sans CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(d.join("sans-ca.crt"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    issue(
        d,
        &issuer,
        "allowed",
        vec!["scraper.example".into()],
        "by-name",
    );
    issue(d, &issuer, "allowed-ip", vec!["10.1.2.3".into()], "by-ip");
    issue(d, &issuer, "other", vec!["other.example".into()], "other");
    let web = d.join("web-sans.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: sans-ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n  client_allowed_sans: [scraper.example, 10.1.2.3]\n",
    )
    .unwrap();
    let web = Arc::new(WebConfigSource::load(&web).unwrap());
    let sim = common::start_sim(Scenario::demo()).await;
    let toml = common::target_toml(&sim.url(), "prod", "");
    let h = common::start_exporter_with_web(sim, &toml, Some(web)).await;
    let url = format!(
        "https://127.0.0.1:{}/-/healthy",
        h.exporter.local_addr().port()
    );
    if common::tool_available("curl", &["--version"]) {
        for (who, allowed) in [("by-name", true), ("by-ip", true), ("other", false)] {
            let out = curl(
                d,
                &url,
                &[
                    "--cert",
                    &format!("{who}.crt"),
                    "--key",
                    &format!("{who}.key"),
                ],
            );
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(text.starts_with("HTTP/1.1 200"), allowed, "{who}: {text}");
        }
    }
}
