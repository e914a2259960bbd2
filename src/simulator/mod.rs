//! A simulated Huawei Cloud, speaking real HTTP on a loopback port.
//!
//! It serves the APIs the exporter polls (IAM project lookup, Workspace connection
//! status and online users, WorkspaceApp list-sessions), checks every request's
//! `SDK-HMAC-SHA256` signature (401 on a bad or missing one), validates parameters the
//! way the service documents them (400), pages list-sessions like the real service, and
//! can be told to fail a route. `workspace-exporter demo` runs it with moving data; the
//! integration tests run it with fixed scenarios.

pub mod scenario;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::NaiveDateTime;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cloud::huawei::signer::{self, RequestToSign};
pub use scenario::{Scenario, SimCredential, SimDesktopGroup, SimSession};

/// The simulated API routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// `GET /v3/projects` (IAM).
    IamProjects,
    /// `GET /v2/{project_id}/connections/status`.
    ConnectionsStatus,
    /// `GET /v2/{project_id}/connections/online-users`.
    OnlineUsers,
    /// `GET /v1/{project_id}/session/list-sessions`.
    ListSessions,
}

/// A failure the simulator injects on a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and a Huawei-style error body.
    Status(u16),
}

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

/// A running simulator.
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

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: serde_json::Value) -> Reply {
    let mut r = crate::server::respond(status, "application/json", Bytes::from(body.to_string()));
    r.headers_mut().insert(
        "x-request-id",
        hyper::header::HeaderValue::from_static("sim-0000000000000000"),
    );
    r
}

fn error(status: StatusCode, code: &str, msg: &str) -> Reply {
    reply(status, json!({"error_code": code, "error_msg": msg}))
}

/// An error answer before it is rendered: status, error code, message.
type Rejection = (StatusCode, &'static str, String);

fn route_of(method: &Method, path: &str, project_id: &str) -> Result<Route, Rejection> {
    if method != Method::GET {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            "APIGW.0102",
            "method not allowed".into(),
        ));
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let route = match segments.as_slice() {
        ["v3", "projects"] => return Ok(Route::IamProjects),
        ["v2", _, "connections", "status"] => Route::ConnectionsStatus,
        ["v2", _, "connections", "online-users"] => Route::OnlineUsers,
        ["v1", _, "session", "list-sessions"] => Route::ListSessions,
        _ => {
            return Err((
                StatusCode::NOT_FOUND,
                "APIGW.0101",
                "The API does not exist or has not been published in the environment".into(),
            ));
        }
    };
    if segments[1] != project_id {
        return Err((
            StatusCode::NOT_FOUND,
            "WKS.0404",
            format!("project {} not found", segments[1]),
        ));
    }
    Ok(route)
}

fn handle(state: &Mutex<State>, req: Request<Incoming>) -> Reply {
    let mut state = state.lock().expect("simulator lock");
    let query = match parse_query(req.uri().query().unwrap_or("")) {
        Ok(q) => q,
        Err(msg) => return error(StatusCode::BAD_REQUEST, "APIGW.0201", &msg),
    };
    if let Err(msg) = verify_signature(&state.scenario, &req, &query) {
        state.rejected_signatures += 1;
        return error(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            &format!("Incorrect IAM authentication information: {msg}"),
        );
    }
    let route = match route_of(req.method(), req.uri().path(), &state.scenario.project_id) {
        Ok(r) => r,
        Err((status, code, msg)) => return error(status, code, &msg),
    };
    *state.requests.entry(route).or_insert(0) += 1;
    if let Some(Fault::Status(code)) = state.faults.get(&route) {
        let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(status, "WKS.0500", "injected fault");
    }
    let params = Params(&query);
    let scenario = &state.scenario;
    match route {
        Route::IamProjects => {
            let name = params.get("name");
            let projects: Vec<_> = scenario
                .projects
                .iter()
                .filter(|(_, n)| name.is_none_or(|want| want == n))
                .map(|(id, n)| json!({"id": id, "name": n, "enabled": true, "domain_id": "d0000000000000000000000000000001"}))
                .collect();
            reply(
                StatusCode::OK,
                json!({"projects": projects, "links": {"self": "https://iam.example/v3/projects"}}),
            )
        }
        Route::ConnectionsStatus => {
            reply(StatusCode::OK, json!({"statics": scenario.desktop_groups}))
        }
        Route::OnlineUsers => {
            let by_type = params.get("query_type");
            let by_time = (params.get("start_time"), params.get("end_time"));
            match (by_type, by_time) {
                (Some(t), _) if !["DAY", "WEEK", "MONTH"].contains(&t) => error(
                    StatusCode::BAD_REQUEST,
                    "WKS.0001",
                    "query_type must be DAY, WEEK or MONTH",
                ),
                (Some(_), _) => reply(StatusCode::OK, json!({"time_counts": scenario.time_counts})),
                (None, (Some(start), Some(end)))
                    if parse_minute_time(start) && parse_minute_time(end) =>
                {
                    reply(StatusCode::OK, json!({"time_counts": scenario.time_counts}))
                }
                _ => error(
                    StatusCode::BAD_REQUEST,
                    "WKS.0001",
                    "either query_type or start_time and end_time (2016-08-20T21:11Z) is required",
                ),
            }
        }
        Route::ListSessions => list_sessions(scenario, &params),
    }
}

fn list_sessions(scenario: &Scenario, params: &Params<'_>) -> Reply {
    let bad = |msg: &str| error(StatusCode::BAD_REQUEST, "WKS.0001", msg);
    let (Some(begin), Some(end)) = (params.get("query_begin_time"), params.get("query_end_time"))
    else {
        return bad("query_begin_time and query_end_time are required");
    };
    let (Some(begin), Some(end)) = (parse_milli_time(begin), parse_milli_time(end)) else {
        return bad("query_begin_time and query_end_time must look like 2024-02-27T03:47:51.182Z");
    };
    if begin > end {
        return bad("query_begin_time is after query_end_time");
    }
    let limit = match params.get("limit").map(str::parse::<u64>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        _ => return bad("limit must be an integer from 1 to 100"),
    };
    let offset = match params.get("offset").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) => n,
        _ => return bad("offset must be a non-negative integer"),
    };
    let states: Option<Vec<&str>> = params.get("session_state").map(|s| s.split(',').collect());
    let group = params.get("app_server_group_id");
    let matching = scenario.sessions.iter().filter(|s| {
        states
            .as_ref()
            .is_none_or(|list| list.contains(&s.state.as_str()))
            && group.is_none_or(|g| s.server_group_id.as_deref() == Some(g))
    });
    let mut count = 0u64;
    let mut items = Vec::new();
    for (i, s) in matching.enumerate() {
        count += 1;
        let i = i as u64;
        if i >= offset && i < offset + limit {
            let mut item = json!({
                "id": format!("{:032x}", i + 1),
                "login_user": format!("user{i}@example.com"),
                "session_type": "2",
                "session_state": s.state,
                "start_time": "2026-11-22T01:00:00Z",
            });
            if let Some(id) = &s.server_group_id {
                item["app_server_group_id"] = json!(id);
            }
            if let Some(name) = &s.server_group_name {
                item["app_server_group_name"] = json!(name);
            }
            items.push(item);
        }
    }
    reply(StatusCode::OK, json!({"count": count, "items": items}))
}

fn parse_milli_time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3fZ")
        .ok()
        .filter(|_| s.len() == "2024-02-27T03:47:51.182Z".len())
}

fn parse_minute_time(s: &str) -> bool {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%MZ").is_ok()
}

struct Params<'a>(&'a [(String, String)]);

impl Params<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a raw query into decoded pairs. `+` stays a literal plus (RFC 3986), as at
/// the real gateway, so a client that encodes spaces as `+` fails its signature check.
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

fn verify_signature(
    scenario: &Scenario,
    req: &Request<Incoming>,
    query: &[(String, String)],
) -> Result<(), String> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let auth = header("authorization").ok_or("no Authorization header")?;
    let parsed = signer::parse_authorization(auth).ok_or("Authorization is not SDK-HMAC-SHA256")?;
    let credential = scenario
        .credentials
        .iter()
        .find(|c| c.access_key == parsed.access_key)
        .ok_or("unknown access key")?;
    for required in ["host", "x-sdk-date"] {
        if !parsed.signed_headers.iter().any(|h| h == required) {
            return Err(format!("{required} is not signed"));
        }
    }
    let date = header("x-sdk-date").ok_or("no X-Sdk-Date header")?;
    NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").map_err(|_| "X-Sdk-Date is malformed")?;
    if let Some(token) = &credential.security_token
        && (header("x-security-token") != Some(token.as_str())
            || !parsed
                .signed_headers
                .iter()
                .any(|h| h == "x-security-token"))
    {
        return Err("security token missing, wrong or unsigned".into());
    }
    let mut headers = Vec::with_capacity(parsed.signed_headers.len());
    for name in &parsed.signed_headers {
        let value = header(name).ok_or_else(|| format!("signed header {name} is missing"))?;
        headers.push((name.clone(), value.to_string()));
    }
    let to_sign = RequestToSign {
        method: req.method().as_str(),
        path: req.uri().path(),
        query,
        headers: &headers,
        body: b"",
    };
    let expected = signer::sign(&to_sign, &credential.access_key, &credential.secret_key)
        .ok_or("no X-Sdk-Date header")?;
    if expected.signature != parsed.signature {
        return Err("verify aksk signature fail".into());
    }
    Ok(())
}
