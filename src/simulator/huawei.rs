//! The Huawei Cloud side of the simulator: IAM project lookup, Workspace connection
//! status and online users, WorkspaceApp list-sessions. Every request must carry a
//! valid `SDK-HMAC-SHA256` signature (401 otherwise); parameters are validated as
//! documented (400).

use chrono::NaiveDateTime;
use hyper::{Method, StatusCode};
use serde_json::json;

use super::{Fault, Rejected, Reply, Route, Scenario, Served, SimRequest, json_reply};
use crate::cloud::huawei::signer::{self, RequestToSign};

/// A Huawei-style error answer.
pub(crate) fn error(status: StatusCode, code: &str, msg: &str) -> Reply {
    json_reply(
        status,
        &json!({"error_code": code, "error_msg": msg}),
        "x-request-id",
    )
}

/// Checks the signature and finds the route.
pub(crate) fn route(scenario: &Scenario, req: &SimRequest<'_>) -> Result<Route, Rejected> {
    if let Err(msg) = verify_signature(scenario, req) {
        return Err(Rejected::Signature(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            &format!("Incorrect IAM authentication information: {msg}"),
        ))));
    }
    if req.method != Method::GET {
        return Err(Rejected::Other(Box::new(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "APIGW.0102",
            "method not allowed",
        ))));
    }
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let route = match segments.as_slice() {
        ["v3", "projects"] => return Ok(Route::IamProjects),
        ["v2", _, "connections", "status"] => Route::ConnectionsStatus,
        ["v2", _, "connections", "online-users"] => Route::OnlineUsers,
        ["v1", _, "session", "list-sessions"] => Route::ListSessions,
        ["v1", _, "app-server-groups"] => Route::ListServerGroups,
        ["v2", _, "connections", "desktops", "export"] => Route::ExportConnections,
        _ => {
            return Err(Rejected::Other(Box::new(error(
                StatusCode::NOT_FOUND,
                "APIGW.0101",
                "The API does not exist or has not been published in the environment",
            ))));
        }
    };
    if segments[1] != scenario.project_id {
        return Err(Rejected::Other(Box::new(error(
            StatusCode::NOT_FOUND,
            "WKS.0404",
            &format!("project {} not found", segments[1]),
        ))));
    }
    Ok(route)
}

/// Answers a routed, verified request.
pub(crate) fn answer(served: &Served, route: Route, req: &SimRequest<'_>) -> Reply {
    let scenario = &served.scenario;
    let ok = |body: serde_json::Value| json_reply(StatusCode::OK, &body, "x-request-id");
    match route {
        Route::IamProjects => {
            let name = req.param("name");
            let projects: Vec<_> = scenario
                .projects
                .iter()
                .filter(|(_, n)| name.is_none_or(|want| want == n))
                .map(|(id, n)| json!({"id": id, "name": n, "enabled": true, "domain_id": "d0000000000000000000000000000001"}))
                .collect();
            ok(json!({"projects": projects, "links": {"self": "https://iam.example/v3/projects"}}))
        }
        Route::ConnectionsStatus => ok(json!({"statics": scenario.desktop_groups})),
        Route::OnlineUsers => {
            let by_time = (req.param("start_time"), req.param("end_time"));
            match (req.param("query_type"), by_time) {
                (Some(t), _) if !["DAY", "WEEK", "MONTH"].contains(&t) => error(
                    StatusCode::BAD_REQUEST,
                    "WKS.0001",
                    "query_type must be DAY, WEEK or MONTH",
                ),
                (Some(_), _) => ok(json!({"time_counts": scenario.time_counts})),
                (None, (Some(start), Some(end)))
                    if parse_minute_time(start) && parse_minute_time(end) =>
                {
                    ok(json!({"time_counts": scenario.time_counts}))
                }
                _ => error(
                    StatusCode::BAD_REQUEST,
                    "WKS.0001",
                    "either query_type or start_time and end_time (2016-08-20T21:11Z) is required",
                ),
            }
        }
        Route::ListSessions => list_sessions_with(served, req, None),
        Route::ExportConnections => export_connections(scenario, req),
        Route::ListServerGroups => list_server_groups(scenario, req),
        Route::SagUserOnlineClients
        | Route::SagClientUsers
        | Route::SagStatistics
        | Route::IdentityMetadata
        | Route::IdentityIam
        | Route::IdentitySts => error(StatusCode::NOT_FOUND, "APIGW.0101", "not a Huawei API"),
    }
}

/// list-sessions, optionally misbehaving as a [`Fault::CountDrift`] or
/// [`Fault::EmptyPages`] says.
pub(crate) fn list_sessions_with(
    served: &Served,
    req: &SimRequest<'_>,
    fault: Option<&Fault>,
) -> Reply {
    let scenario = &served.scenario;
    let bad = |msg: &str| error(StatusCode::BAD_REQUEST, "WKS.0001", msg);
    let (Some(begin), Some(end)) = (req.param("query_begin_time"), req.param("query_end_time"))
    else {
        return bad("query_begin_time and query_end_time are required");
    };
    let (Some(begin), Some(end)) = (parse_milli_time(begin), parse_milli_time(end)) else {
        return bad("query_begin_time and query_end_time must look like 2024-02-27T03:47:51.182Z");
    };
    if begin > end {
        return bad("query_begin_time is after query_end_time");
    }
    let (limit, offset) = match paging(req) {
        Ok(p) => p,
        Err(msg) => return bad(msg),
    };
    let states: Option<Vec<&str>> = req.param("session_state").map(|s| s.split(',').collect());
    let group = req.param("app_server_group_id");
    // The positions (in `sessions`) of the matching sessions, in order: from the index
    // for one group and one state (what the count plan asks), by a scan otherwise.
    let scanned: Vec<u32>;
    let matching: &[u32] = match (&states, group) {
        (None, None) => &[],
        (Some(list), Some(g)) if list.len() == 1 => served.index.sessions_of(g, list[0]),
        _ => {
            scanned = (0..scenario.sessions.len() as u32)
                .filter(|&i| {
                    let s = &scenario.sessions[i as usize];
                    states
                        .as_ref()
                        .is_none_or(|list| list.contains(&s.state.as_str()))
                        && group.is_none_or(|g| s.server_group_id.as_deref() == Some(g))
                })
                .collect();
            &scanned
        }
    };
    let (mut count, position) = match (&states, group) {
        (None, None) => (scenario.sessions.len() as u64, None),
        _ => (matching.len() as u64, Some(matching)),
    };
    let first = offset.min(count);
    let last = offset.saturating_add(limit).min(count);
    let mut items = Vec::with_capacity((last - first) as usize);
    for i in first..last {
        let s = &scenario.sessions[position.map_or(i as usize, |p| p[i as usize] as usize)];
        items.push(SessionItem {
            id: format!("{:032x}", i + 1),
            login_user: format!("user{i}@example.com"),
            session_type: "2",
            session_state: &s.state,
            start_time: "2026-11-22T01:00:00Z",
            app_server_group_id: s.server_group_id.as_deref(),
            app_server_group_name: s.server_group_name.as_deref(),
        });
    }
    match fault {
        Some(Fault::CountDrift) => count += offset / limit,
        Some(Fault::EmptyPages) if offset > 0 => items.clear(),
        _ => {}
    }
    json_reply(
        StatusCode::OK,
        &SessionList { count, items },
        "x-request-id",
    )
}

/// A list-sessions answer.
#[derive(serde::Serialize)]
struct SessionList<'a> {
    count: u64,
    items: Vec<SessionItem<'a>>,
}

/// One SessionInfo, with the fields the exporter reads and a few it skips.
#[derive(serde::Serialize)]
struct SessionItem<'a> {
    id: String,
    login_user: String,
    session_type: &'static str,
    session_state: &'a str,
    start_time: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_server_group_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_server_group_name: Option<&'a str>,
}

/// `limit` (1–100, default 10) and `offset` (default 0), as the WorkspaceApp APIs take them.
fn paging(req: &SimRequest<'_>) -> Result<(u64, u64), &'static str> {
    let limit = match req.param("limit").map(str::parse::<u64>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        _ => return Err("limit must be an integer from 1 to 100"),
    };
    let offset = match req.param("offset").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) => n,
        _ => return Err("offset must be a non-negative integer"),
    };
    Ok((limit, offset))
}

fn list_server_groups(scenario: &Scenario, req: &SimRequest<'_>) -> Reply {
    let bad = |msg: &str| error(StatusCode::BAD_REQUEST, "WKS.0001", msg);
    let (limit, offset) = match paging(req) {
        Ok(p) => p,
        Err(msg) => return bad(msg),
    };
    let groups = scenario.server_groups();
    let items: Vec<_> = groups
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(id, name)| {
            let mut item = json!({"id": id, "app_server_count": 2, "os_type": "Windows"});
            if let Some(name) = name {
                item["name"] = json!(name);
            }
            item
        })
        .collect();
    json_reply(
        StatusCode::OK,
        &json!({"count": groups.len(), "items": items}),
        "x-request-id",
    )
}

/// Content type of the simulated export (the real one is *unverified*; clients must
/// treat the body as opaque bytes).
pub const EXPORT_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn export_connections(scenario: &Scenario, req: &SimRequest<'_>) -> Reply {
    let bad = |msg: &str| error(StatusCode::BAD_REQUEST, "WKS.0001", msg);
    match (req.param("start_time"), req.param("end_time")) {
        (Some(s), Some(e)) if parse_minute_time(s) && parse_minute_time(e) => {}
        (None, None) => {}
        _ => return bad("start_time and end_time go together and look like 2016-08-20T21:11Z"),
    }
    if let Some(language) = req.param("language")
        && !["en_US", "zh_CN"].contains(&language)
    {
        return bad("language must be en_US or zh_CN");
    }
    let body = export_file(req.query, scenario.export_file_size);
    let mut r = Reply::new(body);
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static(EXPORT_CONTENT_TYPE),
    );
    r.headers_mut().insert(
        "content-disposition",
        hyper::header::HeaderValue::from_static("attachment; filename=\"connection-records.xlsx\""),
    );
    r
}

/// The simulated export file for a query: `size` bytes, a deterministic function of
/// the query parameters (so tests can compare downloads byte for byte).
pub fn export_file(query: &[(String, String)], size: usize) -> bytes::Bytes {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort();
    // FNV-1a of the parameters seeds an xorshift generator.
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in pairs {
        for b in k.bytes().chain([b'=']).chain(v.bytes()).chain([b'&']) {
            seed = (seed ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"PK\x03\x04");
    while out.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(size);
    bytes::Bytes::from(out)
}

fn parse_milli_time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.3fZ")
        .ok()
        .filter(|_| s.len() == "2024-02-27T03:47:51.182Z".len())
}

fn parse_minute_time(s: &str) -> bool {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%MZ").is_ok()
}

/// Checks a request's signature against the scenario's keys and the valid issued
/// credential it names, if any.
pub(crate) fn verify_signature(scenario: &Scenario, req: &SimRequest<'_>) -> Result<(), String> {
    let auth = req
        .header("authorization")
        .ok_or("no Authorization header")?;
    let parsed = super::parse_authorization(auth, signer::ALGORITHM, "Access")
        .ok_or("Authorization is not SDK-HMAC-SHA256")?;
    let credential = scenario
        .credentials
        .iter()
        .chain(req.issued.iter())
        .find(|c| c.access_key == parsed.access_key)
        .ok_or("unknown access key")?;
    for required in ["host", "x-sdk-date"] {
        if !parsed.signed_headers.iter().any(|h| h == required) {
            return Err(format!("{required} is not signed"));
        }
    }
    let date = req.header("x-sdk-date").ok_or("no X-Sdk-Date header")?;
    NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").map_err(|_| "X-Sdk-Date is malformed")?;
    if let Some(token) = &credential.security_token
        && (req.header("x-security-token") != Some(token.as_str())
            || !parsed
                .signed_headers
                .iter()
                .any(|h| h == "x-security-token"))
    {
        return Err("security token missing, wrong or unsigned".into());
    }
    let headers = req.signed_headers(&parsed.signed_headers)?;
    let to_sign = RequestToSign {
        method: req.method.as_str(),
        path: req.path,
        query: req.query,
        headers: &headers,
        body: req.body,
    };
    let expected = signer::sign(&to_sign, &credential.access_key, &credential.secret_key)
        .ok_or("no X-Sdk-Date header")?;
    if expected.signature != parsed.signature {
        return Err("verify aksk signature fail".into());
    }
    Ok(())
}
