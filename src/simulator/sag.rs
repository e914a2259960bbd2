//! The Alibaba Cloud Smart Access Gateway side of the simulator: RPC-style `POST /`
//! with the action in `x-acs-action`. Every request must carry a valid
//! `ACS3-HMAC-SHA256` signature; the documented error codes are returned for missing
//! or unknown instances and user names.

use chrono::NaiveDateTime;
use hyper::StatusCode;
use serde_json::json;

use super::{Rejected, Reply, Route, Scenario, Served, SimRequest, json_reply};
use crate::cloud::alibaba::signer::{self, RequestToSign};
use crate::cloud::signing::hex_sha256;

/// An Alibaba-style error answer.
pub(crate) fn error(status: StatusCode, code: &str, msg: &str) -> Reply {
    json_reply(
        status,
        &json!({"Code": code, "Message": msg, "RequestId": "SIM-REQUEST-0000", "HostId": "smartag.aliyuncs.com"}),
        "x-acs-request-id",
    )
}

/// Checks the signature and finds the route.
pub(crate) fn route(scenario: &Scenario, req: &SimRequest<'_>) -> Result<Route, Rejected> {
    if let Err(msg) = verify_signature(scenario, req) {
        return Err(Rejected::Signature(Box::new(error(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            &format!("Specified signature does not match our calculation: {msg}"),
        ))));
    }
    if req.path != "/" {
        return Err(Rejected::Other(Box::new(error(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            "RPC calls go to /",
        ))));
    }
    if req.header("x-acs-version") != Some(crate::cloud::alibaba::sag::VERSION) {
        return Err(Rejected::Other(Box::new(error(
            StatusCode::BAD_REQUEST,
            "InvalidVersion",
            "x-acs-version must be 2018-03-13",
        ))));
    }
    match req.header("x-acs-action") {
        Some("DescribeUserOnlineClients") => Ok(Route::SagUserOnlineClients),
        Some("DescribeSmartAccessGatewayClientUsers") => Ok(Route::SagClientUsers),
        Some("DescribeUserOnlineClientStatistics") => Ok(Route::SagStatistics),
        other => Err(Rejected::Other(Box::new(error(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            &format!("Specified api is not found, please check your url and method: {other:?}"),
        )))),
    }
}

/// Answers a routed, verified request.
pub(crate) fn answer(served: &Served, route: Route, req: &SimRequest<'_>) -> Reply {
    let scenario = &served.scenario;
    let bad = |code: &str, msg: &str| error(StatusCode::BAD_REQUEST, code, msg);
    let Some(region) = req.param("RegionId").filter(|r| !r.is_empty()) else {
        return bad("MissingRegionId", "RegionId is mandatory for this action.");
    };
    let Some(smartag_id) = req.param("SmartAGId").filter(|s| !s.is_empty()) else {
        return bad(
            "SAG.InstanceIdEmpty",
            "You must specify the SAG instance ID.",
        );
    };
    let Some((position, instance)) = scenario
        .sag_instances
        .iter()
        .enumerate()
        .find(|(_, i)| i.smartag_id == smartag_id && i.region == region)
    else {
        return bad(
            "SAG.InstanceNoFound",
            "The specified SAG instance does not exist.",
        );
    };
    let ok = |body: serde_json::Value| json_reply(StatusCode::OK, &body, "x-acs-request-id");
    // An account of this instance by name, or the documented error.
    let user = |name: &str| {
        served
            .index
            .sag_user(position, name)
            .map(|i| &instance.users[i])
            .ok_or_else(|| {
                Box::new(bad(
                    "ClientUser.NameInvalid",
                    "The specified UserName is invalid.",
                ))
            })
    };
    match route {
        Route::SagUserOnlineClients => {
            let Some(name) = req.param("UserName").filter(|n| !n.is_empty()) else {
                return bad("ClientUser.NameEmpty", "You must specify UserName.");
            };
            let user = match user(name) {
                Ok(user) => user,
                Err(reply) => return *reply,
            };
            let clients: Vec<_> = user
                .clients
                .iter()
                .map(|(ip, t)| json!({"ClientIp": ip, "OnlineTime": t.to_string()}))
                .collect();
            ok(json!({"RequestId": "SIM-REQUEST-0001", "Users": {"User": clients}}))
        }
        Route::SagClientUsers => {
            let number = match req.param("PageNumber").map(str::parse::<u64>) {
                None => 1,
                Some(Ok(n)) if n >= 1 => n,
                _ => {
                    return bad(
                        "InvalidPageNumber",
                        "PageNumber must be a positive integer.",
                    );
                }
            };
            let size = match req.param("PageSize").map(str::parse::<u64>) {
                None => 10,
                Some(Ok(n)) if n >= 1 => n.min(scenario.sag_max_page_size),
                _ => return bad("InvalidPageSize", "PageSize must be a positive integer."),
            };
            let users: Vec<_> = instance
                .users
                .iter()
                .skip(((number - 1) * size) as usize)
                .take(size as usize)
                .map(|u| json!({"UserName": u.name, "UserMail": format!("{}@mail.example", u.name.replace(['@', ' '], "_")), "State": "Active", "Bandwidth": 2000}))
                .collect();
            ok(json!({
                "RequestId": "SIM-REQUEST-0002",
                "TotalCount": instance.users.len(),
                "PageNumber": number,
                "PageSize": size,
                "Users": {"User": users},
            }))
        }
        Route::SagStatistics => {
            let names: Vec<&str> = req
                .query
                .iter()
                .filter(|(k, _)| k.starts_with("UserNames."))
                .map(|(_, v)| v.as_str())
                .collect();
            if names.is_empty() {
                return bad("ClientUser.NameEmpty", "You must specify UserNames.");
            }
            if names.len() > 50 {
                return bad("InvalidParameter", "At most 50 UserNames are allowed.");
            }
            let mut statistics = Vec::new();
            for name in names {
                let user = match user(name) {
                    Ok(user) => user,
                    Err(reply) => return *reply,
                };
                statistics.push(json!({"UserName": user.name, "OnlineCount": user.clients.len()}));
            }
            ok(
                json!({"RequestId": "SIM-REQUEST-0003", "UserStatistics": {"Statistics": statistics}}),
            )
        }
        _ => bad("InvalidAction.NotFound", "not an SAG API"),
    }
}

/// Checks a request's signature against the scenario's keys and the valid issued
/// credential it names, if any.
pub(crate) fn verify_signature(scenario: &Scenario, req: &SimRequest<'_>) -> Result<(), String> {
    let auth = req
        .header("authorization")
        .ok_or("no Authorization header")?;
    let parsed = super::parse_authorization(auth, signer::ALGORITHM, "Credential")
        .ok_or("Authorization is not ACS3-HMAC-SHA256")?;
    let credential = scenario
        .sag_credentials
        .iter()
        .chain(req.issued.iter())
        .find(|c| c.access_key == parsed.access_key)
        .ok_or("unknown AccessKey ID")?;
    for required in [
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        if !parsed.signed_headers.iter().any(|h| h == required) {
            return Err(format!("{required} is not signed"));
        }
    }
    let date = req.header("x-acs-date").ok_or("no x-acs-date header")?;
    NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%SZ")
        .map_err(|_| "x-acs-date is malformed")?;
    if req.header("x-acs-content-sha256") != Some(hex_sha256(req.body).as_str()) {
        return Err("x-acs-content-sha256 does not match the body".into());
    }
    if let Some(token) = &credential.security_token
        && (req.header("x-acs-security-token") != Some(token.as_str())
            || !parsed
                .signed_headers
                .iter()
                .any(|h| h == "x-acs-security-token"))
    {
        return Err("security token missing, wrong or unsigned".into());
    }
    let headers = req.signed_headers(&parsed.signed_headers)?;
    let expected = signer::sign(
        &RequestToSign {
            method: req.method.as_str(),
            path: req.path,
            query: req.query,
            headers: &headers,
            body: req.body,
        },
        &credential.access_key,
        &credential.secret_key,
    );
    if expected.signature != parsed.signature {
        return Err("signature mismatch".into());
    }
    Ok(())
}
