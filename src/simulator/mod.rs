//! A simulated cloud, speaking real HTTP on a loopback port: Huawei Cloud
//! ([`huawei`]: IAM, Workspace, WorkspaceApp) and Alibaba Cloud SAG ([`sag`]). Not
//! part of the exporter's data flow: it plays the clouds at the far end of "poll", for
//! `demo`, `simulate`, the tests and the benchmarks, and is compiled only with the
//! `simulator` feature (on by default).
//!
//! It checks every request's signature (`SDK-HMAC-SHA256` or `ACS3-HMAC-SHA256`),
//! validates parameters the way the services document them, pages like the real
//! services, and can be told to fail a route. `workspace-exporter demo` runs it with
//! moving data; the integration tests run it with fixed scenarios.

pub mod huawei;
pub mod identity;
pub mod sag;
pub mod scenario;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use scenario::{
    Scenario, SimCredential, SimDesktopGroup, SimSagInstance, SimSagUser, SimSession,
};

/// The simulated API routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// Huawei `GET /v3/projects` (IAM).
    IamProjects,
    /// Huawei `GET /v2/{project_id}/connections/status`.
    ConnectionsStatus,
    /// Huawei `GET /v2/{project_id}/connections/online-users`.
    OnlineUsers,
    /// Huawei `GET /v1/{project_id}/session/list-sessions`.
    ListSessions,
    /// Huawei `GET /v1/{project_id}/app-server-groups`.
    ListServerGroups,
    /// Huawei `GET /v2/{project_id}/connections/desktops/export`.
    ExportConnections,
    /// Alibaba SAG `DescribeUserOnlineClients`.
    SagUserOnlineClients,
    /// Alibaba SAG `DescribeSmartAccessGatewayClientUsers`.
    SagClientUsers,
    /// Alibaba SAG `DescribeUserOnlineClientStatistics`.
    SagStatistics,
    /// The metadata services of both clouds (session tokens and instance keys).
    IdentityMetadata,
    /// Huawei IAM's ID-token and security-token endpoints.
    IdentityIam,
    /// Alibaba STS (`AssumeRole`, `AssumeRoleWithOIDC`).
    IdentitySts,
}

/// A failure the simulator injects on a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and the cloud's error body.
    Status(u16),
    /// Answer 429 with the cloud's throttling error and, if given, this `Retry-After`
    /// value (seconds or an HTTP date; for SAG sent as `x-acs-retry-after`, in ms).
    Throttle(Option<String>),
    /// Answer normally after this delay.
    Latency(Duration),
    /// Accept the request and never answer.
    Hang,
    /// Answer normally, announcing the full `Content-Length`, but cut the connection
    /// after this many body bytes.
    CutBodyAfter(usize),
    /// Answer 200 with exactly this body (garbage, wrong types, missing fields...).
    Body(String),
    /// Answer 200 with a JSON body of about this many bytes, streamed without a
    /// `Content-Length`, so only a limit enforced while reading catches it.
    Oversized(usize),
    /// list-sessions: the `count` grows by one with every page.
    CountDrift,
    /// list-sessions: every page after the first is empty, whatever `count` says.
    EmptyPages,
}

impl Route {
    /// Every route.
    pub const ALL: [Route; 12] = [
        Route::IamProjects,
        Route::ConnectionsStatus,
        Route::OnlineUsers,
        Route::ListSessions,
        Route::ListServerGroups,
        Route::ExportConnections,
        Route::SagUserOnlineClients,
        Route::SagClientUsers,
        Route::SagStatistics,
        Route::IdentityMetadata,
        Route::IdentityIam,
        Route::IdentitySts,
    ];
}

impl Fault {
    /// A random fault, for chaos runs (`demo --chaos`, the soak script).
    pub fn random(rng: &mut fastrand::Rng) -> Fault {
        match rng.u8(0..10) {
            0 => Fault::Status(500),
            1 => Fault::Status(503),
            2 => Fault::Throttle(Some("1".into())),
            3 => Fault::Latency(Duration::from_millis(rng.u64(100..1500))),
            4 => Fault::Hang,
            5 => Fault::CutBodyAfter(rng.usize(0..64)),
            6 => Fault::Body("{\"statics\": [garbage".into()),
            7 => Fault::Oversized(64 * 1024 * 1024),
            8 => Fault::CountDrift,
            _ => Fault::EmptyPages,
        }
    }
}

/// Arrival times kept for [`Simulator::arrivals`]: enough for a test's polls, bounded
/// for a long demo.
pub const ARRIVALS_KEPT: usize = 100_000;

/// A fault and how many more requests it applies to (`None`: until cleared).
#[derive(Debug, Clone)]
struct FaultRule {
    fault: Fault,
    remaining: Option<u32>,
}

/// A simulated route's answer, body complete.
pub type Reply = Response<Bytes>;

/// What goes on the wire: the answer's body, possibly cut short by a fault.
type WireReply = Response<BoxBody<Bytes, std::io::Error>>;

/// The data served and its lookup tables. Requests are answered from a snapshot of it
/// outside the state lock, so the simulator answers on every core; `update` replaces it
/// whole.
#[derive(Debug)]
pub(crate) struct Served {
    /// The data.
    pub scenario: Scenario,
    /// Lookup tables built from `scenario`, so a page costs its size and not the
    /// tenant's (a large tenant has 100,000 sessions and 5,000 SAG accounts).
    pub index: Index,
}

/// Lookup tables of one [`Scenario`].
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Positions in `sessions` by server group ID (`None`: no group) and state, in
    /// order.
    sessions: std::collections::HashMap<(Option<String>, String), Vec<u32>>,
    /// Per SAG instance (same order as `sag_instances`): position of each account by
    /// name (the first, should a name repeat).
    sag_users: Vec<std::collections::HashMap<String, usize>>,
}

impl Served {
    fn new(scenario: Scenario) -> Arc<Served> {
        let mut index = Index::default();
        for (i, session) in scenario.sessions.iter().enumerate() {
            index
                .sessions
                .entry((session.server_group_id.clone(), session.state.clone()))
                .or_default()
                .push(i as u32);
        }
        index.sag_users = scenario
            .sag_instances
            .iter()
            .map(|instance| {
                let mut by_name = std::collections::HashMap::new();
                for (i, user) in instance.users.iter().enumerate() {
                    by_name.entry(user.name.clone()).or_insert(i);
                }
                by_name
            })
            .collect();
        Arc::new(Served { scenario, index })
    }
}

impl Index {
    /// Positions of the sessions of one server group in one state, in order.
    pub fn sessions_of(&self, group: &str, state: &str) -> &[u32] {
        self.sessions
            .get(&(Some(group.to_string()), state.to_string()))
            .map_or(&[], Vec::as_slice)
    }

    /// The position of account `name` in SAG instance number `instance`.
    pub fn sag_user(&self, instance: usize, name: &str) -> Option<usize> {
        self.sag_users.get(instance)?.get(name).copied()
    }
}

/// Mutable simulator state.
#[derive(Debug)]
struct State {
    /// The data served; replaced whole on update.
    served: Arc<Served>,
    /// Faults by route.
    faults: BTreeMap<Route, FaultRule>,
    /// Requests answered per route (any status).
    requests: BTreeMap<Route, u64>,
    /// When the latest requests arrived (tokio's clock, so a paused test clock shows
    /// the exporter's pace), at most [`ARRIVALS_KEPT`] of them.
    arrivals: std::collections::VecDeque<tokio::time::Instant>,
    /// Requests rejected for a bad or missing signature.
    rejected_signatures: u64,
    /// The identity services' issued credentials and tokens.
    issuer: identity::Issuer,
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    /// Where it listens.
    addr: SocketAddr,
    /// Shared with the request handler.
    state: Arc<Mutex<State>>,
    /// Stops the server.
    shutdown: CancellationToken,
}

impl Simulator {
    /// Starts serving `scenario` on `listener`.
    pub fn start(listener: TcpListener, scenario: Scenario) -> std::io::Result<Simulator> {
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            served: Served::new(scenario),
            faults: BTreeMap::new(),
            requests: BTreeMap::new(),
            arrivals: std::collections::VecDeque::new(),
            rejected_signatures: 0,
            issuer: identity::Issuer::new(),
        }));
        let shutdown = CancellationToken::new();
        let handler_state = state.clone();
        let shutdown_for_handler = shutdown.clone();
        tokio::spawn(crate::server::serve_with(
            listener,
            shutdown.clone(),
            None,
            move |req, _| handle(handler_state.clone(), shutdown_for_handler.clone(), req),
        ));
        Ok(Simulator {
            addr,
            state,
            shutdown,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the data served from now on.
    pub fn update(&self, f: impl FnOnce(&mut Scenario)) {
        self.handle().update(f);
    }

    /// A handle that changes data and faults from another task.
    pub fn handle(&self) -> SimulatorHandle {
        SimulatorHandle(self.state.clone())
    }

    /// Injects (`Some`) or clears (`None`) a fault on a route, for every request.
    pub fn set_fault(&self, route: Route, fault: Option<Fault>) {
        self.handle().set_fault(route, fault);
    }

    /// Injects a fault on a route for the next `times` requests only.
    pub fn set_fault_times(&self, route: Route, fault: Fault, times: u32) {
        self.handle().set_fault_times(route, fault, times);
    }

    /// Requests answered on `route` so far.
    pub fn requests(&self, route: Route) -> u64 {
        let state = self.state.lock().expect("simulator lock");
        state.requests.get(&route).copied().unwrap_or(0)
    }

    /// When the latest signed requests (any route, at most [`ARRIVALS_KEPT`]) arrived,
    /// oldest first.
    pub fn arrivals(&self) -> Vec<tokio::time::Instant> {
        let state = self.state.lock().expect("simulator lock");
        state.arrivals.iter().copied().collect()
    }

    /// Requests refused because the issued credential that signed them had expired.
    pub fn expired_signatures(&self) -> u64 {
        self.state
            .lock()
            .expect("simulator lock")
            .issuer
            .expired_signatures
    }

    /// Requests signed with credentials issued by `origin` (`ecs_metadata`, `oidc`,
    /// `agency`, `ecs_ram_role`, `assume_role`) and accepted.
    pub fn signed_by(&self, origin: &str) -> u64 {
        let state = self.state.lock().expect("simulator lock");
        state.issuer.signed_by.get(origin).copied().unwrap_or(0)
    }

    /// Revokes every credential the identity services issued so far: the APIs refuse
    /// them from now on, as if they had expired (a revoked session, or a client whose
    /// clock runs behind).
    pub fn revoke_issued(&self) {
        self.state
            .lock()
            .expect("simulator lock")
            .issuer
            .revoke_all();
    }

    /// Requests rejected for their signature so far.
    pub fn rejected_signatures(&self) -> u64 {
        self.state
            .lock()
            .expect("simulator lock")
            .rejected_signatures
    }
}

/// Changes a running simulator's data and faults; cheap to clone.
#[derive(Clone)]
pub struct SimulatorHandle(Arc<Mutex<State>>);

impl SimulatorHandle {
    /// Changes the data served from now on.
    pub fn update(&self, f: impl FnOnce(&mut Scenario)) {
        let mut state = self.0.lock().expect("simulator lock");
        let mut scenario = state.served.scenario.clone();
        f(&mut scenario);
        state.served = Served::new(scenario);
    }

    /// Injects (`Some`) or clears (`None`) a fault on a route, for every request.
    pub fn set_fault(&self, route: Route, fault: Option<Fault>) {
        let mut state = self.0.lock().expect("simulator lock");
        match fault {
            Some(fault) => state.faults.insert(
                route,
                FaultRule {
                    fault,
                    remaining: None,
                },
            ),
            None => state.faults.remove(&route),
        };
    }

    /// Injects a fault on a route for the next `times` requests only.
    pub fn set_fault_times(&self, route: Route, fault: Fault, times: u32) {
        let mut state = self.0.lock().expect("simulator lock");
        state.faults.insert(
            route,
            FaultRule {
                fault,
                remaining: Some(times),
            },
        );
    }

    /// Clears every fault.
    pub fn clear_faults(&self) {
        self.0.lock().expect("simulator lock").faults.clear();
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What a cloud-specific handler needs from a request.
pub(crate) struct SimRequest<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Path.
    pub path: &'a str,
    /// Decoded query pairs.
    pub query: &'a [(String, String)],
    /// Request headers.
    pub headers: &'a hyper::HeaderMap,
    /// The body (read only for the identity services; empty otherwise).
    pub body: &'a [u8],
    /// A valid credential the identity services issued, when the request is signed
    /// with one: accepted besides the scenario's.
    pub issued: Option<SimCredential>,
}

impl SimRequest<'_> {
    /// The values of the headers an `Authorization` header says were signed.
    pub fn signed_headers(&self, names: &[String]) -> Result<Vec<(String, String)>, String> {
        names
            .iter()
            .map(|name| {
                self.header(name)
                    .map(|value| (name.clone(), value.to_string()))
                    .ok_or_else(|| format!("signed header {name} is missing"))
            })
            .collect()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first query parameter named `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A JSON answer.
pub(crate) fn json_reply(
    status: StatusCode,
    body: &impl serde::Serialize,
    request_id_header: &'static str,
) -> Reply {
    let body = serde_json::to_vec(body).expect("simulator answers serialize");
    let mut r = Response::new(Bytes::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r.headers_mut().insert(
        request_id_header,
        HeaderValue::from_static("sim-0000000000000000"),
    );
    r
}

async fn handle(
    state: Arc<Mutex<State>>,
    shutdown: CancellationToken,
    req: Request<Incoming>,
) -> WireReply {
    let (parts, incoming) = req.into_parts();
    let acs_action = parts
        .headers
        .get("x-acs-action")
        .and_then(|v| v.to_str().ok());
    let identity_route = identity::route_of(
        &parts.method,
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        acs_action,
    );
    // Only the identity services read a body (JSON or a form), within 64 KiB.
    let body = match identity_route {
        Some(_) => match http_body_util::Limited::new(incoming, 64 * 1024)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(_) => Bytes::new(),
        },
        None => Bytes::new(),
    };
    let (reply, fault) = answer(&state, &parts, &body, identity_route);
    let (parts, body) = reply.into_parts();
    let full = |parts, body| {
        Response::from_parts(
            parts,
            Full::new(body).map_err(|never| match never {}).boxed(),
        )
    };
    match fault {
        Some(Fault::Latency(delay)) => {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => {}
            }
            full(parts, body)
        }
        Some(Fault::Hang) => {
            shutdown.cancelled().await;
            full(parts, body)
        }
        Some(Fault::CutBodyAfter(keep)) => cut_body(parts, body, keep),
        Some(Fault::Oversized(size)) => oversized(parts, size),
        _ => full(parts, body),
    }
}

/// The access key an `Authorization` header of either cloud names.
fn signing_access_key(headers: &hyper::HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    parse_authorization(auth, crate::cloud::huawei::signer::ALGORITHM, "Access")
        .or_else(|| {
            parse_authorization(auth, crate::cloud::alibaba::signer::ALGORITHM, "Credential")
        })
        .map(|p| p.access_key)
}

/// The answer to a request, and the fault still to apply while sending it.
fn answer(
    state: &Mutex<State>,
    req: &hyper::http::request::Parts,
    body: &[u8],
    identity_route: Option<Route>,
) -> (Reply, Option<Fault>) {
    let served = state.lock().expect("simulator lock").served.clone();
    let is_sag = req.method == Method::POST && req.headers.contains_key("x-acs-action");
    let query = match parse_query(req.uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(msg) if is_sag => {
            return (
                sag::error(StatusCode::BAD_REQUEST, "InvalidParameter", &msg),
                None,
            );
        }
        Err(msg) => {
            return (
                huawei::error(StatusCode::BAD_REQUEST, "APIGW.0201", &msg),
                None,
            );
        }
    };
    // A request signed with an issued credential: refused once it has expired.
    let issued = signing_access_key(&req.headers).and_then(|key| {
        let mut state = state.lock().expect("simulator lock");
        let issued = state.issuer.lookup(&key).cloned()?;
        if issued.expired() {
            state.issuer.expired_signatures += 1;
        } else {
            *state.issuer.signed_by.entry(issued.origin).or_insert(0) += 1;
        }
        Some(issued)
    });
    if let Some(issued) = &issued
        && issued.expired()
    {
        return (identity::expired(issued.cloud), None);
    }
    let cloud = if is_sag {
        identity::Cloud::Alibaba
    } else {
        identity::Cloud::Huawei
    };
    let incoming = SimRequest {
        method: &req.method,
        path: req.uri.path(),
        query: &query,
        headers: &req.headers,
        body,
        issued: issued.filter(|i| i.cloud == cloud).map(|i| i.credential),
    };
    let scenario = &served.scenario;
    let routed = if let Some(route) = identity_route {
        Ok(route)
    } else if is_sag {
        sag::route(scenario, &incoming)
    } else {
        huawei::route(scenario, &incoming)
    };
    let route = match routed {
        Ok(route) => route,
        Err(Rejected::Signature(reply)) => {
            state.lock().expect("simulator lock").rejected_signatures += 1;
            return (*reply, None);
        }
        Err(Rejected::Other(reply)) => return (*reply, None),
    };
    let fault = {
        let mut state = state.lock().expect("simulator lock");
        *state.requests.entry(route).or_insert(0) += 1;
        if state.arrivals.len() == ARRIVALS_KEPT {
            state.arrivals.pop_front();
        }
        state.arrivals.push_back(tokio::time::Instant::now());
        match state.faults.get_mut(&route) {
            Some(rule) => {
                let fault = rule.fault.clone();
                if let Some(n) = &mut rule.remaining {
                    *n -= 1;
                    if *n == 0 {
                        state.faults.remove(&route);
                    }
                }
                Some(fault)
            }
            None => None,
        }
    };
    let reply = match &fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if is_sag {
                sag::error(status, "InternalError", "injected fault")
            } else {
                huawei::error(status, "WKS.0500", "injected fault")
            }
        }
        Some(Fault::Throttle(retry_after)) => {
            let (mut reply, header) = if is_sag {
                (
                    sag::error(
                        StatusCode::TOO_MANY_REQUESTS,
                        "Throttling.User",
                        "Request was denied due to user flow control.",
                    ),
                    "x-acs-retry-after",
                )
            } else {
                (
                    huawei::error(
                        StatusCode::TOO_MANY_REQUESTS,
                        "APIGW.0308",
                        "The throttling threshold has been reached",
                    ),
                    "retry-after",
                )
            };
            if let Some(v) = retry_after
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                reply.headers_mut().insert(header, v);
            }
            reply
        }
        Some(Fault::Body(body)) => {
            let mut reply = Reply::new(Bytes::from(body.clone()));
            reply
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            reply
        }
        Some(Fault::CountDrift) | Some(Fault::EmptyPages) if route == Route::ListSessions => {
            huawei::list_sessions_with(&served, &incoming, fault.as_ref())
        }
        _ if identity_route.is_some() => {
            let mut state = state.lock().expect("simulator lock");
            identity::answer(scenario, &mut state.issuer, &incoming)
        }
        _ if is_sag => sag::answer(&served, route, &incoming),
        _ => huawei::answer(&served, route, &incoming),
    };
    (reply, fault)
}

/// Streams a syntactically valid JSON body of about `size` bytes, without a
/// `Content-Length`.
fn oversized(mut parts: hyper::http::response::Parts, size: usize) -> WireReply {
    parts.status = StatusCode::OK;
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    const CHUNK: usize = 64 * 1024;
    let chunks = size / CHUNK + 1;
    let frames = std::iter::once(Bytes::from_static(b"{\"padding\":\""))
        .chain(std::iter::repeat_n(Bytes::from(vec![b'x'; CHUNK]), chunks))
        .chain(std::iter::once(Bytes::from_static(b"\"}")))
        .map(|b| Ok::<_, std::io::Error>(hyper::body::Frame::data(b)));
    let stream = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    Response::from_parts(parts, BodyExt::boxed(stream))
}

/// Sends the first `keep` bytes of `body` and then fails the stream, so the server
/// drops the connection before the announced `Content-Length` is reached.
fn cut_body(mut parts: hyper::http::response::Parts, body: Bytes, keep: usize) -> WireReply {
    parts.headers.insert(
        hyper::header::CONTENT_LENGTH,
        HeaderValue::from(body.len() as u64),
    );
    let frames: Vec<Result<hyper::body::Frame<Bytes>, std::io::Error>> = vec![
        Ok(hyper::body::Frame::data(body.slice(..keep.min(body.len())))),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected fault: body cut",
        )),
    ];
    let stream = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    Response::from_parts(parts, BodyExt::boxed(stream))
}

/// Why a request was not routed.
pub(crate) enum Rejected {
    /// Its signature did not verify.
    Signature(Box<Reply>),
    /// Anything else (unknown route, wrong method, unknown project).
    Other(Box<Reply>),
}

/// Splits a raw query into decoded pairs. `+` stays a literal plus (RFC 3986), as at
/// the Huawei gateway, so a client that encodes spaces as `+` fails its signature check.
fn parse_query(raw: &str) -> Result<Vec<(String, String)>, String> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    raw.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| format!("query parameter {k:?} is not valid UTF-8"))
            };
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// The parts of a signed request's `Authorization` header, as the simulated clouds
/// read it: `SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…` (Huawei) or
/// `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…` (Alibaba).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedAuthorization {
    /// The access key the client names.
    pub access_key: String,
    /// The signed header names, lower case.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

/// Parses an `Authorization` value of `algorithm`, whose access key is in the
/// `key_field` part; `None` when it has another algorithm or another shape.
pub(crate) fn parse_authorization(
    value: &str,
    algorithm: &str,
    key_field: &str,
) -> Option<ParsedAuthorization> {
    let rest = value.strip_prefix(algorithm)?.strip_prefix(' ')?;
    let (mut key, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "SignedHeaders" => signed = Some(v.split(';').map(str::to_string).collect()),
            "Signature" => sig = Some(v.to_string()),
            k if k == key_field => key = Some(v.to_string()),
            _ => return None,
        }
    }
    Some(ParsedAuthorization {
        access_key: key?,
        signed_headers: signed?,
        signature: sig?,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_authorization;

    #[test]
    fn authorization_headers_of_both_clouds_parse() {
        let auth = "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=abcd";
        let parsed = parse_authorization(auth, "SDK-HMAC-SHA256", "Access").unwrap();
        assert_eq!(parsed.access_key, "AK1");
        assert_eq!(parsed.signed_headers, vec!["host", "x-sdk-date"]);
        assert_eq!(parsed.signature, "abcd");
        assert!(parse_authorization("Basic abc", "SDK-HMAC-SHA256", "Access").is_none());
        let auth = "ACS3-HMAC-SHA256 Credential=ID,SignedHeaders=a;b,Signature=ff";
        let p = parse_authorization(auth, "ACS3-HMAC-SHA256", "Credential").unwrap();
        assert_eq!(p.access_key, "ID");
        assert_eq!(p.signed_headers, vec!["a", "b"]);
        assert!(
            parse_authorization("SDK-HMAC-SHA256 Access=x", "ACS3-HMAC-SHA256", "Credential")
                .is_none()
        );
    }
}
