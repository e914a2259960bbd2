//! A simulated cloud, speaking real HTTP on a loopback port: Huawei Cloud
//! ([`huawei`]: IAM, Workspace, WorkspaceApp) and Alibaba Cloud SAG ([`sag`]).
//!
//! It checks every request's signature (`SDK-HMAC-SHA256` or `ACS3-HMAC-SHA256`),
//! validates parameters the way the services document them, pages like the real
//! services, and can be told to fail a route. `workspace-exporter demo` runs it with
//! moving data; the integration tests run it with fixed scenarios.

pub mod huawei;
pub mod sag;
pub mod scenario;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

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
    /// Huawei `GET /v2/{project_id}/connections/desktops/export`.
    ExportConnections,
    /// Alibaba SAG `DescribeUserOnlineClients`.
    SagUserOnlineClients,
    /// Alibaba SAG `DescribeSmartAccessGatewayClientUsers`.
    SagClientUsers,
}

/// A failure the simulator injects on a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and the cloud's error body.
    Status(u16),
    /// Answer normally, announcing the full `Content-Length`, but cut the connection
    /// after this many body bytes.
    CutBodyAfter(usize),
}

/// A simulated route's answer, body complete.
pub type Reply = Response<Bytes>;

/// What goes on the wire: the answer's body, possibly cut short by a fault.
type WireReply = Response<BoxBody<Bytes, std::io::Error>>;

/// Mutable simulator state.
#[derive(Debug)]
struct State {
    /// The data served.
    scenario: Scenario,
    /// Faults by route.
    faults: BTreeMap<Route, Fault>,
    /// Requests answered per route (any status).
    requests: BTreeMap<Route, u64>,
    /// Requests rejected for a bad or missing signature.
    rejected_signatures: u64,
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
            scenario,
            faults: BTreeMap::new(),
            requests: BTreeMap::new(),
            rejected_signatures: 0,
        }));
        let shutdown = CancellationToken::new();
        let handler_state = state.clone();
        tokio::spawn(crate::server::serve_with(
            listener,
            shutdown.clone(),
            move |req| {
                let response = handle(&handler_state, req);
                async move { response }
            },
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
        self.scenario().update(f);
    }

    /// A handle that can change the data from another task.
    pub fn scenario(&self) -> ScenarioHandle {
        ScenarioHandle(self.state.clone())
    }

    /// Injects (`Some`) or clears (`None`) a fault on a route.
    pub fn set_fault(&self, route: Route, fault: Option<Fault>) {
        let mut state = self.state.lock().expect("simulator lock");
        match fault {
            Some(f) => state.faults.insert(route, f),
            None => state.faults.remove(&route),
        };
    }

    /// Requests answered on `route` so far.
    pub fn requests(&self, route: Route) -> u64 {
        let state = self.state.lock().expect("simulator lock");
        state.requests.get(&route).copied().unwrap_or(0)
    }

    /// Requests rejected for their signature so far.
    pub fn rejected_signatures(&self) -> u64 {
        self.state
            .lock()
            .expect("simulator lock")
            .rejected_signatures
    }
}

/// Changes a running simulator's data; cheap to clone.
#[derive(Clone)]
pub struct ScenarioHandle(Arc<Mutex<State>>);

impl ScenarioHandle {
    /// Changes the data served from now on.
    pub fn update(&self, f: impl FnOnce(&mut Scenario)) {
        f(&mut self.0.lock().expect("simulator lock").scenario);
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
}

impl SimRequest<'_> {
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
    body: &serde_json::Value,
    request_id_header: &'static str,
) -> Reply {
    let mut r = Response::new(Bytes::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r.headers_mut().insert(
        request_id_header,
        HeaderValue::from_static("sim-0000000000000000"),
    );
    r
}

fn handle(state: &Mutex<State>, req: Request<Incoming>) -> WireReply {
    let (reply, cut) = answer(state, &req);
    let (parts, body) = reply.into_parts();
    match cut {
        None => Response::from_parts(
            parts,
            Full::new(body).map_err(|never| match never {}).boxed(),
        ),
        Some(keep) => cut_body(parts, body, keep),
    }
}

/// The answer to a request, and where to cut its body if a fault says so.
fn answer(state: &Mutex<State>, req: &Request<Incoming>) -> (Reply, Option<usize>) {
    let mut state = state.lock().expect("simulator lock");
    let is_sag = req.method() == Method::POST && req.headers().contains_key("x-acs-action");
    let query = match parse_query(req.uri().query().unwrap_or("")) {
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
    let incoming = SimRequest {
        method: req.method(),
        path: req.uri().path(),
        query: &query,
        headers: req.headers(),
    };
    let state = &mut *state;
    let routed = if is_sag {
        sag::route(&state.scenario, &incoming)
    } else {
        huawei::route(&state.scenario, &incoming)
    };
    let route = match routed {
        Ok(route) => route,
        Err(Rejected::Signature(reply)) => {
            state.rejected_signatures += 1;
            return (*reply, None);
        }
        Err(Rejected::Other(reply)) => return (*reply, None),
    };
    *state.requests.entry(route).or_insert(0) += 1;
    let fault = state.faults.get(&route).cloned();
    if let Some(Fault::Status(code)) = fault {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let reply = if is_sag {
            sag::error(status, "InternalError", "injected fault")
        } else {
            huawei::error(status, "WKS.0500", "injected fault")
        };
        return (reply, None);
    }
    let reply = if is_sag {
        sag::answer(&state.scenario, route, &incoming)
    } else {
        huawei::answer(&state.scenario, route, &incoming)
    };
    match fault {
        Some(Fault::CutBodyAfter(n)) => (reply, Some(n)),
        _ => (reply, None),
    }
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
