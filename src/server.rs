//! The HTTP server: the "serve" end of the data flow.
//!
//! hyper 1.x over tokio. `GET /metrics` returns the bytes the [`Store`] encoded after the
//! last poll (a scrape never calls the cloud and never encodes); `/` is the status page
//! and `/status` the same as JSON, both made from the [`Status`] the scheduler writes;
//! `/-/healthy` answers while the process runs; `/-/ready` answers 200 once every
//! collector has finished its first poll; `POST /-/reload` re-reads the configuration
//! when `--web.enable-lifecycle` is given (403 otherwise, as in Prometheus).
//! Other paths get 404, other methods 405.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT, ACCEPT_ENCODING, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue,
    VARY,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::encoding::{Chunks, Negotiated};
use crate::reload::Reloader;
use crate::status::{Status, render_html};
use crate::store::Store;
use crate::web_config::{Active, AuthOutcome, WebConfigSource};
use crate::write_timeout::{DEFAULT_WRITE_TIMEOUT, WriteTimeout};

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long open connections get to finish after shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// What the request handlers read.
#[derive(Debug)]
pub struct ServerState {
    /// Source of the `/metrics` body and readiness.
    pub store: Arc<Store>,
    /// Source of the status page (`/`) and `/status`.
    pub status: Arc<Status>,
    /// Path of the metrics endpoint.
    pub telemetry_path: String,
    /// Applies `POST /-/reload`; `None` when there is no configuration file to re-read.
    pub reloader: Option<Reloader>,
    /// `--web.enable-lifecycle`: whether `POST /-/reload` is served at all.
    pub lifecycle: bool,
    /// Requests being served; when none is left, requests get 503.
    pub in_flight: tokio::sync::Semaphore,
    /// TLS, basic auth and headers from `--web.config.file`; `None` for plain HTTP.
    pub web: Option<Arc<WebConfigSource>>,
    /// How long a write may make no progress before the connection is dropped.
    pub write_timeout: Duration,
}

/// How long a client may take to finish the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the exporter's endpoints on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, state: Arc<ServerState>, shutdown: CancellationToken) {
    let web = state.web.clone();
    let limits = ConnectionLimits {
        write_timeout: state.write_timeout,
    };
    serve_with_limits(listener, shutdown, web, limits, move |req, web| {
        let state = state.clone();
        async move { guarded(&state, web.as_ref(), req).await }
    })
    .await
}

/// Applies basic authentication and the configured headers around [`route`].
async fn guarded<B>(
    state: &ServerState,
    web: Option<&Active>,
    req: Request<B>,
) -> Response<ResponseBody> {
    // RFC 9112, 3.2: a server must answer 400 to an HTTP/1.1 request without Host.
    if req.version() == hyper::Version::HTTP_11 && !req.headers().contains_key(hyper::header::HOST)
    {
        return text(
            StatusCode::BAD_REQUEST,
            "Bad Request: an HTTP/1.1 request needs a Host header\n",
        );
    }
    let Some(web) = web else {
        return route(state, req).await;
    };
    // `rate_limit` of the web configuration: before authentication, as the reference.
    if web.rate_limit.as_ref().is_some_and(|l| !l.allow()) {
        let mut r = text(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n");
        for (name, value) in web.headers.iter() {
            r.headers_mut().insert(name.clone(), value.clone());
        }
        return r;
    }
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let mut response = match web.auth.check(authorization).await {
        AuthOutcome::Allowed => route(state, req).await,
        AuthOutcome::Denied => {
            let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"workspace-exporter\", charset=\"UTF-8\""),
            );
            r
        }
        AuthOutcome::Busy => {
            let mut r = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many password checks in progress; try again\n",
            );
            r.headers_mut()
                .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    };
    for (name, value) in web.headers.iter() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Runs an HTTP/1.1 server on `listener`, answering every request with `handler`, until
/// `shutdown` is cancelled; then open connections get [`SHUTDOWN_GRACE`] to finish.
/// The simulator's server (the exporter's adds its limits through
/// [`serve_with_limits`]). With `web`, each new connection takes the current web configuration: a TLS
/// handshake when it has TLS, and the handler receives it to check credentials.
#[cfg(feature = "simulator")]
pub async fn serve_with<H, F, B>(
    listener: TcpListener,
    shutdown: CancellationToken,
    web: Option<Arc<WebConfigSource>>,
    handler: H,
) where
    H: Fn(Request<Incoming>, Option<Active>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_with_limits(
        listener,
        shutdown,
        web,
        ConnectionLimits::default(),
        handler,
    )
    .await
}

/// Limits on each connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a write may make no progress (a client that does not read) before the
    /// connection is dropped.
    pub write_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }
}

/// Least time between two log lines about failing `accept` calls.
pub const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Longest pause of the accept loop after a failed `accept` (out of file descriptors).
pub const ACCEPT_MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Prepares an accepted connection: `TCP_NODELAY` (small responses on a kept-alive
/// connection would otherwise wait ~40 ms for the client's delayed ACK), and the write
/// timeout that drops a client that stops reading.
fn accepted(stream: TcpStream, write_timeout: Duration) -> WriteTimeout<TcpStream> {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
    }
    WriteTimeout::new(stream, write_timeout)
}

/// [`serve_with`] with explicit [`ConnectionLimits`].
pub async fn serve_with_limits<H, F, B>(
    listener: TcpListener,
    shutdown: CancellationToken,
    web: Option<Arc<WebConfigSource>>,
    limits: ConnectionLimits,
    handler: H,
) where
    H: Fn(Request<Incoming>, Option<Active>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let handler = Arc::new(handler);
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let mut backoff = AcceptBackoff::default();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff.succeeded();
                    a
                }
                Err(e) => {
                    let pause = backoff.failed(&e);
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    continue;
                }
            },
        };
        let stream = accepted(stream, limits.write_timeout);
        let handler = handler.clone();
        let active = web.as_ref().map(|w| w.active());
        let tls = active.as_ref().and_then(|a| a.tls.clone());
        let service = service_fn(move |req| {
            let response = handler(req, active.clone());
            async move { Ok::<_, Infallible>(response.await) }
        });
        let watcher = graceful.watcher();
        let builder = builder.clone();
        tokio::spawn(async move {
            let result = match tls {
                None => {
                    watcher
                        .watch(builder.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                Some(acceptor) => {
                    let handshake = async move {
                        let mut stream = stream;
                        if sends_plain_http(stream.get_ref()).await {
                            refuse_plain_http(&mut stream).await;
                            return Ok(None);
                        }
                        acceptor.accept(stream).await.map(Some)
                    };
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(Ok(Some(tls_stream))) => {
                            watcher
                                .watch(builder.serve_connection(TokioIo::new(tls_stream), service))
                                .await
                        }
                        Ok(Ok(None)) => {
                            tracing::debug!(peer = %peer, "plain HTTP on the TLS port: answered 400");
                            return;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(peer = %peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = result {
                if stalled(&e) {
                    tracing::debug!(peer = %peer, "dropped a connection whose client stopped reading (--web.write-timeout)");
                } else {
                    tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_seconds = SHUTDOWN_GRACE.as_secs_f64(),
            "connections still open after the shutdown grace period; closing them"
        );
    }
}

/// What a plain-HTTP request to the TLS port gets, as Go's servers answer it.
const PLAIN_HTTP_ON_TLS: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Whether a new connection on the TLS port starts with plain HTTP: a TLS handshake
/// starts with record type 22, a request with an upper-case method name.
async fn sends_plain_http(stream: &tokio::net::TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1)) && first[0].is_ascii_uppercase()
}

/// Answers a plain-HTTP request on the TLS port with 400 and closes the connection,
/// reading what the client sent first so that the close does not reset the answer
/// away before the client reads it.
async fn refuse_plain_http(stream: &mut WriteTimeout<tokio::net::TcpStream>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if stream.write_all(PLAIN_HTTP_ON_TLS).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Whether a connection error comes from [`WriteTimeout`] (somewhere in its chain).
fn stalled(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// The accept loop's reaction to failures: out of file descriptors (EMFILE, ENFILE) or
/// memory, it pauses, doubling up to [`ACCEPT_MAX_BACKOFF`], and logs at most one line
/// per [`ACCEPT_ERROR_LOG_INTERVAL`] with the count of failures in between; a
/// connection aborted before it was accepted only costs a debug line.
#[derive(Debug, Default)]
struct AcceptBackoff {
    /// The current pause; zero after a successful accept.
    pause: Duration,
    /// When the last warning was logged.
    logged_at: Option<tokio::time::Instant>,
    /// Failures not logged since then.
    unlogged: u64,
}

impl AcceptBackoff {
    fn succeeded(&mut self) {
        self.pause = Duration::ZERO;
    }

    /// Records a failure; returns how long to pause before the next accept.
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        use std::io::ErrorKind;
        if matches!(
            e.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
        ) {
            tracing::debug!(error = %e, "a connection was aborted before it was accepted");
            return Duration::ZERO;
        }
        self.pause = (self.pause * 2).clamp(Duration::from_millis(10), ACCEPT_MAX_BACKOFF);
        self.unlogged += 1;
        let now = tokio::time::Instant::now();
        if self
            .logged_at
            .is_none_or(|t| now.duration_since(t) >= ACCEPT_ERROR_LOG_INTERVAL)
        {
            tracing::warn!(
                error = %e,
                failures = self.unlogged,
                pause_ms = self.pause.as_millis() as u64,
                "accept failed; pausing new connections (out of file descriptors?)"
            );
            self.logged_at = Some(now);
            self.unlogged = 0;
        }
        self.pause
    }
}

/// Answers one request (the request body is never read).
pub async fn route<B>(state: &ServerState, req: Request<B>) -> Response<ResponseBody> {
    let Ok(_permit) = state.in_flight.try_acquire() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many concurrent requests (--web.max-requests)\n",
        );
    };
    let path = req.uri().path();
    if path == "/-/reload" {
        if req.method() != Method::POST && req.method() != Method::PUT {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Use POST to reload\n");
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST, PUT"));
            return r;
        }
        if !state.lifecycle {
            return text(
                StatusCode::FORBIDDEN,
                "Lifecycle API is not enabled: start with --web.enable-lifecycle to reload over HTTP, or send SIGHUP\n",
            );
        }
        return match &state.reloader {
            None => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Reload needs a configuration file (not available in demo mode)\n",
            ),
            Some(reloader) => match reloader.reload().await {
                Ok(()) => text(StatusCode::OK, "Configuration reloaded\n"),
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("Configuration rejected, the previous one keeps running: {e}\n"),
                ),
            },
        };
    }
    let get_only = |resp: Response<ResponseBody>| match *req.method() {
        Method::GET | Method::HEAD => resp,
        _ => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed\n");
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
    };
    if path == state.telemetry_path {
        let header = |name| {
            req.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let wanted = Negotiated::from_headers(header(ACCEPT), header(ACCEPT_ENCODING));
        let (body, content_type) = wanted.pick(&state.store.bodies());
        let mut r = respond_chunks(StatusCode::OK, content_type, body);
        if wanted.gzip {
            r.headers_mut()
                .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r.headers_mut()
            .insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
        return get_only(r);
    }
    match path {
        "/" => get_only(respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Bytes::from(render_html(&state.status.report(), &state.telemetry_path)),
        )),
        "/status" => get_only(match serde_json::to_vec_pretty(&state.status.report()) {
            Ok(json) => respond(StatusCode::OK, "application/json", Bytes::from(json)),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot encode the status: {e}\n"),
            ),
        }),
        "/-/healthy" => get_only(text(StatusCode::OK, "Healthy\n")),
        "/-/ready" => {
            let pending = state.store.pending();
            if pending.is_empty() {
                get_only(text(StatusCode::OK, "Ready\n"))
            } else {
                let list: Vec<String> = pending
                    .iter()
                    .map(|k| format!("{}/{}", k.target, k.collector))
                    .collect();
                get_only(text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "Not ready: waiting for the first poll of {}\n",
                        list.join(", ")
                    ),
                ))
            }
        }
        _ => text(StatusCode::NOT_FOUND, "Not found\n"),
    }
}

/// A plain-text response.
pub fn text(status: StatusCode, body: &str) -> Response<ResponseBody> {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::from(body.to_string()),
    )
}

/// A response with the given status, content type and body.
pub fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<ResponseBody> {
    respond_chunks(status, content_type, Chunks::from_pieces(vec![body]))
}

/// A response whose body is sent piece by piece (a prepared `/metrics` body).
pub fn respond_chunks(
    status: StatusCode,
    content_type: &'static str,
    body: Chunks,
) -> Response<ResponseBody> {
    let mut r = Response::new(ResponseBody::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The body of every answer: prepared pieces, handed to hyper one frame each (written
/// with vectored I/O), never copied into one buffer. Its exact length is known, so
/// answers carry `Content-Length`.
#[derive(Debug)]
pub struct ResponseBody {
    /// What to send.
    chunks: Chunks,
    /// Index of the next piece.
    next: usize,
    /// Bytes not sent yet.
    remaining: u64,
}

impl ResponseBody {
    /// A body sending `chunks`.
    pub fn new(chunks: Chunks) -> Self {
        ResponseBody {
            remaining: chunks.len() as u64,
            chunks,
            next: 0,
        }
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let piece = this.chunks.pieces().get(this.next).cloned();
        if let Some(piece) = &piece {
            this.next += 1;
            this.remaining -= piece.len() as u64;
        }
        std::task::Poll::Ready(piece.map(|p| Ok(hyper::body::Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::self_metrics::SelfMetrics;

    fn state(max_requests: usize) -> ServerState {
        ServerState {
            store: Arc::new(Store::new(Arc::new(SelfMetrics::new()))),
            status: Arc::new(Status::new(
                false,
                crate::clock::WallClock::System,
                Arc::new(SelfMetrics::new()),
            )),
            telemetry_path: "/metrics".into(),
            reloader: None,
            lifecycle: false,
            in_flight: tokio::sync::Semaphore::new(max_requests),
            web: None,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }

    fn get(path: &str) -> Request<()> {
        Request::get(path).body(()).unwrap()
    }

    /// Out of file descriptors, the accept loop pauses longer and longer (up to a
    /// second) and logs once per interval, however often it fails.
    #[tokio::test(start_paused = true)]
    async fn accept_failures_back_off_and_log_rarely() {
        let mut b = AcceptBackoff::default();
        let emfile = std::io::Error::from_raw_os_error(24);
        let pauses: Vec<u128> = (0..9).map(|_| b.failed(&emfile).as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert!(b.logged_at.is_some());
        assert_eq!(
            b.unlogged, 8,
            "only the first failure of the interval is logged"
        );
        tokio::time::advance(ACCEPT_ERROR_LOG_INTERVAL).await;
        b.failed(&emfile);
        assert_eq!(b.unlogged, 0, "a new interval logs again");
        b.succeeded();
        assert_eq!(b.failed(&emfile), Duration::from_millis(10));
        let aborted = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        assert_eq!(b.failed(&aborted), Duration::ZERO);
    }

    #[tokio::test]
    async fn requests_over_the_limit_get_503() {
        let state = state(1);
        assert_eq!(route(&state, get("/metrics")).await.status(), 200);
        let _held = state.in_flight.try_acquire().unwrap();
        assert_eq!(route(&state, get("/metrics")).await.status(), 503);
    }

    #[tokio::test]
    async fn a_chunked_body_sends_every_piece_with_its_exact_length() {
        use http_body_util::BodyExt;
        let state = state(4);
        for accept in ["text/plain", "application/openmetrics-text; version=1.0.0"] {
            let req = Request::get("/metrics")
                .header(ACCEPT, accept)
                .body(())
                .unwrap();
            let (body, _) =
                Negotiated::from_headers(Some(accept), None).pick(&state.store.bodies());
            assert!(body.pieces().len() > 1, "the body should be in pieces");
            let response = route(&state, req).await;
            let hint = hyper::body::Body::size_hint(response.body());
            assert_eq!(hint.exact(), Some(body.len() as u64));
            let sent = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(sent, body.to_bytes());
        }
    }

    // On a paused clock: within a second scrapes share one assembly (after that the
    // self-metrics are re-rendered, see `store::SELF_METRICS_MAX_AGE`).
    #[tokio::test(start_paused = true)]
    async fn scrapes_serve_prepared_bytes() {
        let state = state(4);
        let first = state.store.bodies();
        route(&state, get("/metrics")).await;
        route(&state, get("/metrics")).await;
        assert!(
            Arc::ptr_eq(&first, &state.store.bodies()),
            "a scrape re-encoded the body"
        );
    }

    #[tokio::test]
    async fn accepted_connections_do_not_wait_for_delayed_acks() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        assert!(
            !stream.nodelay().unwrap(),
            "the kernel's default is Nagle on"
        );
        let stream = accepted(stream, Duration::from_secs(30));
        assert!(stream.get_ref().nodelay().unwrap());
    }
}
