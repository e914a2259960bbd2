//! The WorkspaceApp (application streaming) session API: one page of
//! `GET /v1/{project_id}/session/list-sessions`. Paging is the collector's job, so
//! only one page is ever held in memory.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::client::{ApiError, ApiRequest, HuaweiClient};

/// `api` label of list-sessions.
pub const API_LIST_SESSIONS: &str = "list_sessions";
/// `api` label of the server-group listing.
pub const API_LIST_APP_SERVER_GROUPS: &str = "list_app_server_groups";

/// Largest page the API serves.
pub const MAX_PAGE_SIZE: u32 = 100;

/// One page of list-sessions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SessionPage {
    /// Total number of sessions matching the query (not just this page).
    pub count: u64,
    /// This page's sessions.
    #[serde(default)]
    pub items: Vec<SessionSummary>,
}

/// The fields of a SessionInfo the exporter uses; the rest is skipped while decoding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SessionSummary {
    /// Server group ID.
    #[serde(default)]
    pub app_server_group_id: Option<String>,
    /// Server group name.
    #[serde(default)]
    pub app_server_group_name: Option<String>,
    /// `Active`, `Disconnected`, `AppcInit`, `SignedOut`, `InitFail`, or something new.
    #[serde(default)]
    pub session_state: Option<String>,
}

/// Parameters of one list-sessions call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSessionsQuery {
    /// Window start (session start time).
    pub begin: DateTime<Utc>,
    /// Window end.
    pub end: DateTime<Utc>,
    /// Page size, 1–100.
    pub limit: u32,
    /// Items to skip.
    pub offset: u64,
    /// Only sessions in these upstream states, comma-separated (e.g. `Active` or
    /// `Active,Disconnected`).
    pub session_state: Option<String>,
    /// Only sessions of this server group.
    pub app_server_group_id: Option<String>,
}

impl ListSessionsQuery {
    /// Every session of the window, page by page from `offset` 0.
    pub fn window(begin: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        ListSessionsQuery {
            begin,
            end,
            limit: MAX_PAGE_SIZE,
            offset: 0,
            session_state: None,
            app_server_group_id: None,
        }
    }
}

/// One page of `GET /v1/{project_id}/app-server-groups`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServerGroupPage {
    /// Server groups in total.
    pub count: u64,
    /// This page's groups.
    #[serde(default)]
    pub items: Vec<ServerGroup>,
}

/// One application-streaming server group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServerGroup {
    /// Group ID.
    pub id: String,
    /// Group name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Fetches one page of server groups.
pub async fn list_app_server_groups(
    client: &HuaweiClient,
    endpoint: &Url,
    project_id: &str,
    offset: u64,
) -> Result<ServerGroupPage, ApiError> {
    client
        .get_json(&ApiRequest {
            api: API_LIST_APP_SERVER_GROUPS,
            endpoint,
            path: format!("/v1/{project_id}/app-server-groups"),
            query: vec![
                ("offset".into(), offset.to_string()),
                ("limit".into(), MAX_PAGE_SIZE.to_string()),
            ],
            project_id: Some(project_id),
        })
        .await
}

/// Formats a time the way list-sessions wants it: `2024-02-27T03:47:51.182Z`.
pub fn format_query_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Fetches one page of sessions.
pub async fn list_sessions(
    client: &HuaweiClient,
    endpoint: &Url,
    project_id: &str,
    query: &ListSessionsQuery,
) -> Result<SessionPage, ApiError> {
    client
        .get_json(&ApiRequest {
            api: API_LIST_SESSIONS,
            endpoint,
            path: format!("/v1/{project_id}/session/list-sessions"),
            query: {
                let mut q = vec![
                    ("query_begin_time".into(), format_query_time(query.begin)),
                    ("query_end_time".into(), format_query_time(query.end)),
                    ("limit".into(), query.limit.to_string()),
                    ("offset".into(), query.offset.to_string()),
                ];
                if let Some(states) = &query.session_state {
                    q.push(("session_state".into(), states.clone()));
                }
                if let Some(group) = &query.app_server_group_id {
                    q.push(("app_server_group_id".into(), group.clone()));
                }
                q
            },
            project_id: Some(project_id),
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn query_time_has_milliseconds_and_z() {
        let t = Utc.with_ymd_and_hms(2024, 2, 27, 3, 47, 51).unwrap()
            + chrono::Duration::milliseconds(182);
        assert_eq!(format_query_time(t), "2024-02-27T03:47:51.182Z");
    }

    #[test]
    fn documented_example_page_decodes() {
        let body = include_str!("../../../tests/fixtures/huawei/list_sessions_page.json");
        let page: SessionPage = crate::cloud::http::decode("t", body.as_bytes()).unwrap();
        assert_eq!(page.count, 20);
        assert_eq!(page.items[0].session_state.as_deref(), Some("AppcInit"));
        assert_eq!(
            page.items[0].app_server_group_name.as_deref(),
            Some("TEST - Do not modify")
        );
    }
}
