//! The Workspace (cloud desktop) connection APIs: desktop login states per desktop group
//! and the online-user history. Request builders and response types only; the
//! collectors decide what to make of the answers.

use serde::Deserialize;
use url::Url;

use super::client::{ApiError, ApiRequest, HuaweiClient};

/// `api` label of `GET /v2/{project_id}/connections/status`.
pub const API_CONNECTIONS_STATUS: &str = "connections_status";
/// `api` label of `GET /v2/{project_id}/connections/online-users`.
pub const API_ONLINE_USERS: &str = "online_users";

/// Answer of `GET /v2/{project_id}/connections/status` (ListInstancesStatus).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConnectionsStatus {
    /// One entry per desktop group (or VM group).
    pub statics: Vec<DesktopGroupStatus>,
}

/// Desktop counts of one desktop group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DesktopGroupStatus {
    /// Desktop group name; may be absent.
    #[serde(default)]
    pub static_name: Option<String>,
    /// Running, starting, failing over or migrating.
    pub running_num: u64,
    /// Stopping or stopped.
    pub stop_num: u64,
    /// Hibernating or hibernated.
    pub hibernate_num: u64,
    /// Any other power state.
    pub other_num: u64,
    /// Assigned to a user.
    pub attached_num: u64,
    /// Not assigned.
    pub unattached_num: u64,
    /// Cannot be assigned.
    pub cannot_attach_num: u64,
    /// Being assigned or unassigned.
    pub in_process_num: u64,
    /// A user is connected.
    pub in_use_num: u64,
    /// The desktop agent has not registered.
    pub unregistered_num: u64,
    /// Idle, ready for a connection.
    pub ready_num: u64,
    /// A user's session is disconnected.
    pub disconnected_num: u64,
    /// Login state unknown.
    pub unknown_num: u64,
}

/// Answer of `GET /v2/{project_id}/connections/online-users` (ListHistoryOnlineInfoNew).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OnlineUsers {
    /// `"<time> : <count>"` strings, oldest first.
    pub time_counts: Vec<String>,
}

/// Calls ListInstancesStatus.
pub async fn connections_status(
    client: &HuaweiClient,
    endpoint: &Url,
    project_id: &str,
) -> Result<ConnectionsStatus, ApiError> {
    client
        .get_json(&ApiRequest {
            api: API_CONNECTIONS_STATUS,
            endpoint,
            path: format!("/v2/{project_id}/connections/status"),
            query: Vec::new(),
            project_id: Some(project_id),
        })
        .await
}

/// Calls ListHistoryOnlineInfoNew with `query_type` (`DAY`, `WEEK` or `MONTH`).
pub async fn online_users(
    client: &HuaweiClient,
    endpoint: &Url,
    project_id: &str,
    query_type: &str,
) -> Result<OnlineUsers, ApiError> {
    client
        .get_json(&ApiRequest {
            api: API_ONLINE_USERS,
            endpoint,
            path: format!("/v2/{project_id}/connections/online-users"),
            query: vec![("query_type".into(), query_type.into())],
            project_id: Some(project_id),
        })
        .await
}

/// Why a `time_counts` entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time_counts entry {entry:?}: {problem}")]
pub struct TimeCountError {
    /// The entry as received (truncated to 64 characters).
    pub entry: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Splits a `time_counts` entry such as `"03:00 : 12"` into its time and count. The
/// time contains colons itself, so the count is what follows the last colon; spaces
/// around either part are ignored.
pub fn parse_time_count(entry: &str) -> Result<(&str, u64), TimeCountError> {
    let err = |problem| TimeCountError {
        entry: entry.chars().take(64).collect(),
        problem,
    };
    let (time, count) = entry
        .rsplit_once(':')
        .ok_or_else(|| err("no ':' separator"))?;
    let count = count.trim();
    if count.is_empty() {
        return Err(err("no count after the last ':'"));
    }
    // Digits only: `u64::from_str` would also take a leading `+`, which no documented
    // answer has.
    let count = count
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| count.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| err("the count after the last ':' is not a non-negative integer"))?;
    Ok((time.trim(), count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_counts_parse_with_any_spacing() {
        assert_eq!(parse_time_count("03:00 : 12"), Ok(("03:00", 12)));
        assert_eq!(parse_time_count("03:00:12"), Ok(("03:00", 12)));
        assert_eq!(
            parse_time_count("  2026-11-21 :   7  "),
            Ok(("2026-11-21", 7))
        );
        assert_eq!(
            parse_time_count("2026-11-21T03:00:00Z : 0"),
            Ok(("2026-11-21T03:00:00Z", 0))
        );
    }

    #[test]
    fn time_counts_reject_garbage() {
        assert!(parse_time_count("12").is_err());
        assert!(parse_time_count("03:00 : ").is_err());
        assert!(parse_time_count("03:00 : -1").is_err());
        assert!(parse_time_count("03:00 : 1.5").is_err());
        assert!(parse_time_count("03:00 : +5").is_err());
        assert!(parse_time_count("03:00 : 99999999999999999999999").is_err());
    }

    #[test]
    fn connections_status_decodes_the_documented_example() {
        let body = include_str!("../../../tests/fixtures/huawei/connections_status.json");
        let status: ConnectionsStatus = crate::cloud::http::decode("t", body.as_bytes()).unwrap();
        assert_eq!(status.statics.len(), 1);
        assert_eq!(status.statics[0].running_num, 2147483647);
    }
}
