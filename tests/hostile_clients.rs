//! Hostile clients against the real binary (`workspace-exporter demo`) on loopback: a
//! flood of failed logins, clients that never read, and protocol abuse. Every loop is
//! bounded in count and time, and no assertion depends on a tight timing threshold.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_workspace-exporter");

/// The demo binary as a child process, its log lines read on a thread.
struct Demo {
    /// The process.
    child: Child,
    /// Where it listens, `127.0.0.1:port`.
    address: String,
    /// Its log lines, as they come.
    lines: mpsc::Receiver<String>,
}

impl Demo {
    /// Starts `workspace-exporter demo` on a free loopback port with `args` and waits
    /// until it listens.
    fn start(args: &[&str]) -> Demo {
        let mut child = Command::new(BIN)
            .arg("demo")
            .arg("--web.listen-address=127.0.0.1:0")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo = Demo {
            child,
            address: String::new(),
            lines,
        };
        let line = demo.wait_for("demo running");
        demo.address = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("address="))
            .unwrap()
            .to_string();
        demo
    }

    /// Reads log lines until one contains `pattern`.
    fn wait_for(&mut self, pattern: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(pattern) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with {pattern:?} within 60 s"),
            }
        }
    }

    /// Waits until `/-/ready` answers 200 (every collector polled once), at most 60 s.
    async fn wait_ready(&self) {
        let url = format!("http://{}/-/ready", self.address);
        let started = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(&url).await
                && r.status() == 200
            {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "never ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Threads of the process now, from `/proc`.
    fn threads(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn write_web_config(dir: &Path, users: &[(&str, String)]) -> String {
    let mut text = String::from("basic_auth_users:\n");
    for (user, hash) in users {
        text.push_str(&format!("  {user}: '{hash}'\n"));
    }
    let path = dir.join("web.yml");
    std::fs::write(&path, text).unwrap();
    format!("--web.config.file={}", path.display())
}

/// 100 connections sending wrong passwords at once: the number of threads stays near
/// one bcrypt thread per core (it grew by one per request before), every answer is
/// 401 or 503, and a scraper whose login is cached keeps getting in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_login_flood_stays_bounded() {
    const PASSWORD: &str = "scrape-password";
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash(PASSWORD, 8).unwrap();
    let web = write_web_config(dir.path(), &[("prometheus", hash)]);
    let demo = Demo::start(&[&web]);
    let url = format!("http://{}/metrics", demo.address);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let good = basic("prometheus", PASSWORD);
    // The first good login runs bcrypt and is cached from then on.
    let first = http
        .get(&url)
        .header("authorization", &good)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let baseline = demo.threads();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());

    let mut flood = tokio::task::JoinSet::new();
    for i in 0..100 {
        // One client per task: one connection each.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let url = url.clone();
        flood.spawn(async move {
            let mut statuses = Vec::new();
            for j in 0..4 {
                let user = if (i + j) % 2 == 0 {
                    "prometheus"
                } else {
                    "nobody"
                };
                let resp = http
                    .get(&url)
                    // Distinct passwords: failed checks are cached, repeated
                    // ones would cost no bcrypt.
                    .header("authorization", basic(user, &format!("wrong-{i}-{j}")))
                    .send()
                    .await
                    .unwrap();
                statuses.push(resp.status().as_u16());
            }
            statuses
        });
    }
    let mut most_threads = baseline;
    let mut cached_logins = Vec::new();
    let mut answers = Vec::new();
    let started = Instant::now();
    while !flood.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "flood did not end"
        );
        most_threads = most_threads.max(demo.threads());
        let sent = Instant::now();
        let resp = http
            .get(&url)
            .header("authorization", &good)
            .send()
            .await
            .unwrap();
        cached_logins.push((resp.status().as_u16(), sent.elapsed()));
        while let Some(done) = flood.try_join_next() {
            answers.extend(done.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(answers.len(), 400);
    assert!(
        answers.iter().all(|s| *s == 401 || *s == 503),
        "a wrong password got something else than 401 or 503: {answers:?}"
    );
    assert!(
        most_threads <= baseline + cores + 4,
        "threads grew from {baseline} to {most_threads} during the flood ({cores} cores)"
    );
    assert!(
        cached_logins.iter().all(|(s, _)| *s == 200),
        "a cached good login was refused during the flood: {cached_logins:?}"
    );
    let slowest = cached_logins.iter().map(|(_, t)| *t).max().unwrap();
    assert!(
        slowest < Duration::from_secs(10),
        "a cached good login took {slowest:?} during the flood"
    );
}

/// Clients that pipeline `GET /metrics` and never read: once the socket buffers are
/// full, the server drops each connection after `--web.write-timeout` (1 s here, 30 s
/// by default), and serves other clients meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_are_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const CLIENTS: usize = 8;
    let mut demo = Demo::start(&["--web.write-timeout=1s", "--log.level=debug"]);
    let address: std::net::SocketAddr = demo.address.parse().unwrap();
    demo.wait_ready().await;
    // 1000 answers of about 20 KiB each are far more than the kernel buffers hold.
    let requests = "GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n".repeat(1000);
    let mut stuck = Vec::new();
    for _ in 0..CLIENTS {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(address).await.unwrap();
        stream.write_all(requests.as_bytes()).await.unwrap();
        stuck.push(stream);
    }
    // Another client is served while they hang on.
    let body = reqwest::get(format!("http://{}/metrics", demo.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("workspace_exporter_build_info"));
    for _ in 0..CLIENTS {
        demo.wait_for("dropped a connection whose client stopped reading");
    }
    // Each connection was closed by the server: what is left in the buffers drains,
    // then the stream ends (EOF or reset), well before the 1000 answers.
    for mut stream in stuck {
        let drained = tokio::time::timeout(Duration::from_secs(30), async {
            let mut all = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return all,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await
        .expect("the server kept a connection whose client did not read");
        let answers = String::from_utf8_lossy(&drained)
            .matches("HTTP/1.1 200 OK")
            .count();
        assert!(
            answers < 1000,
            "all {answers} answers were sent: the connection was not cut short"
        );
    }
}

/// Sends raw bytes on a new connection and reads the answer until the server closes
/// it (every request here says `Connection: close` or is HTTP/1.0) or 10 s pass.
fn raw_exchange(address: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// RFC 9112: an HTTP/1.1 request without `Host` gets 400; HTTP/1.0 needs none.
#[test]
fn an_http11_request_without_host_gets_400() {
    let demo = Demo::start(&[]);
    let a = &demo.address;
    let answer = raw_exchange(a, "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("Host"), "{answer}");
    let answer = raw_exchange(
        a,
        "GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let answer = raw_exchange(a, "GET /-/healthy HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.0 200 "), "{answer}");
}

/// `rate_limit` in the web configuration (as the reference): a burst of requests is
/// served, the next one gets 429 before any password is checked.
#[test]
fn requests_beyond_the_rate_limit_get_429() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(&path, "rate_limit:\n  interval: 1h\n  burst: 2\n").unwrap();
    let demo = Demo::start(&[&format!("--web.config.file={}", path.display())]);
    let get = || {
        raw_exchange(
            &demo.address,
            "GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    };
    assert!(get().starts_with("HTTP/1.1 200 "));
    assert!(get().starts_with("HTTP/1.1 200 "));
    let refused = get();
    assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
    assert!(refused.ends_with("Too Many Requests\n"), "{refused}");
}
