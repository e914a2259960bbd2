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

/// Defines [`DesktopGroupStatus`], [`DESKTOP_COUNTS`] and the accessors from one list,
/// so the 13 counts are written out once.
macro_rules! desktop_counts {
    ($($(#[doc = $doc:literal])* $field:ident => $kind:ident $label:literal,)*) => {
        /// Desktop counts of one desktop group. Also what the simulator serves, so the
        /// fields are its wire format.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
        pub struct DesktopGroupStatus {
            /// Desktop group name; empty when absent or null.
            #[serde(default, deserialize_with = "null_as_empty")]
            pub static_name: String,
            $($(#[doc = $doc])* pub $field: u64,)*
        }

        /// The 13 desktop counts, in the order of [`DesktopGroupStatus::counts`]: the
        /// one table the collector, the simulator and the tests read.
        pub const DESKTOP_COUNTS: [DesktopCount; 13] = [$(DesktopCount {
            field: stringify!($field),
            kind: DesktopCountKind::$kind,
            label: $label,
        },)*];

        impl DesktopGroupStatus {
            /// The counts in [`DESKTOP_COUNTS`] order.
            pub fn counts(&self) -> [u64; 13] {
                [$(self.$field,)*]
            }

            /// The counts in [`DESKTOP_COUNTS`] order, to set.
            pub fn counts_mut(&mut self) -> [&mut u64; 13] {
                [$(&mut self.$field,)*]
            }
        }
    };
}

desktop_counts! {
    /// Running, starting, failing over or migrating.
    running_num => Power "running",
    /// Stopping or stopped.
    stop_num => Power "stopped",
    /// Hibernating or hibernated.
    hibernate_num => Power "hibernated",
    /// Any other power state.
    other_num => Power "other",
    /// Assigned to a user.
    attached_num => Assignment "attached",
    /// Not assigned.
    unattached_num => Assignment "unattached",
    /// Cannot be assigned.
    cannot_attach_num => Assignment "cannot_attach",
    /// Being assigned or unassigned.
    in_process_num => Assignment "in_process",
    /// A user is connected.
    in_use_num => Login "in_use",
    /// The desktop agent has not registered.
    unregistered_num => Login "unregistered",
    /// Idle, ready for a connection.
    ready_num => Login "ready",
    /// A user's session is disconnected.
    disconnected_num => Login "disconnected",
    /// Login state unknown.
    unknown_num => Login "unknown",
}

impl DesktopGroupStatus {
    /// A group named `name` with `counts` in [`DESKTOP_COUNTS`] order.
    pub fn from_counts(name: &str, counts: [u64; 13]) -> Self {
        let mut group = DesktopGroupStatus {
            static_name: name.to_string(),
            ..Default::default()
        };
        for (slot, n) in group.counts_mut().into_iter().zip(counts) {
            *slot = n;
        }
        group
    }
}

/// An absent or null string field as an empty string.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// The gauge a desktop count goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DesktopCountKind {
    /// Power status (`huaweicloud_workspace_desktops{status}`).
    Power,
    /// Assignment (`huaweicloud_workspace_desktop_assignments{assignment}`).
    Assignment,
    /// Login state (`huaweicloud_workspace_desktop_sessions{session_state}`).
    Login,
}

/// One of the 13 desktop counts of a [`DesktopGroupStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DesktopCount {
    /// The upstream field, e.g. `running_num`.
    pub field: &'static str,
    /// The gauge it goes to.
    pub kind: DesktopCountKind,
    /// Its label value there, e.g. `running`.
    pub label: &'static str,
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
