//! Smart Access Gateway (API version 2018-03-13): which client accounts of an SAG APP
//! instance are online, and the list of those accounts.

use std::collections::BTreeMap;

use serde::Deserialize;
use url::Url;

use super::client::{AlibabaClient, RpcRequest};
use crate::cloud::http::ApiError;

/// API version of every SAG call.
pub const VERSION: &str = "2018-03-13";
/// `api` label of DescribeUserOnlineClients.
pub const API_DESCRIBE_USER_ONLINE_CLIENTS: &str = "describe_user_online_clients";
/// `api` label of DescribeSmartAccessGatewayClientUsers.
pub const API_DESCRIBE_CLIENT_USERS: &str = "describe_client_users";
/// `api` label of DescribeUserOnlineClientStatistics.
pub const API_DESCRIBE_ONLINE_CLIENT_STATISTICS: &str = "describe_user_online_client_statistics";
/// Most accounts per DescribeUserOnlineClientStatistics call.
pub const STATISTICS_BATCH: usize = 50;
/// Page size requested when listing client accounts.
pub const CLIENT_USERS_PAGE_SIZE: u32 = 50;

/// Answer of DescribeUserOnlineClients.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserOnlineClients {
    /// `Users.User[]`; absent when no client is online.
    #[serde(default)]
    pub users: Option<OnlineClientList>,
}

/// `Users` of DescribeUserOnlineClients.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OnlineClientList {
    /// The online clients.
    #[serde(rename = "User", default)]
    pub user: Vec<OnlineClient>,
}

/// One online client of an account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnlineClient {
    /// Client IP address.
    #[serde(default)]
    pub client_ip: Option<String>,
    /// When the client connected: Unix seconds, as a string.
    #[serde(default)]
    pub online_time: Option<String>,
}

impl UserOnlineClients {
    /// The online clients (empty when none).
    pub fn clients(&self) -> &[OnlineClient] {
        self.users
            .as_ref()
            .map(|u| u.user.as_slice())
            .unwrap_or_default()
    }

    /// When each client IP connected (Unix seconds): trimmed IPs, the earliest time when
    /// two clients share an IP. Also returns the clients without a usable `ClientIp`
    /// and `OnlineTime`, which the caller reports and skips.
    pub fn online_since_by_ip(&self) -> (BTreeMap<&str, u64>, Vec<&OnlineClient>) {
        let mut by_ip: BTreeMap<&str, u64> = BTreeMap::new();
        let mut unusable = Vec::new();
        for c in self.clients() {
            let ip = c
                .client_ip
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let time = c
                .online_time
                .as_deref()
                .and_then(|t| t.trim().parse::<u64>().ok());
            match (ip, time) {
                (Some(ip), Some(t)) => {
                    let earliest = by_ip.entry(ip).or_insert(t);
                    *earliest = (*earliest).min(t);
                }
                _ => unusable.push(c),
            }
        }
        (by_ip, unusable)
    }
}

/// One page of DescribeSmartAccessGatewayClientUsers.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientUsersPage {
    /// Accounts on the instance, over all pages.
    pub total_count: u64,
    /// This page's accounts.
    #[serde(default)]
    pub users: Option<ClientUserList>,
}

/// `Users` of DescribeSmartAccessGatewayClientUsers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientUserList {
    /// The accounts.
    #[serde(rename = "User", default)]
    pub user: Vec<ClientUser>,
}

/// One client account.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientUser {
    /// Account name.
    pub user_name: String,
}

impl ClientUsersPage {
    /// This page's account names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.users
            .iter()
            .flat_map(|u| u.user.iter().map(|u| u.user_name.as_str()))
    }
}

/// Calls DescribeUserOnlineClients for one account of one instance.
pub async fn describe_user_online_clients(
    client: &AlibabaClient,
    endpoint: &Url,
    region: &str,
    smartag_id: &str,
    user: &str,
) -> Result<UserOnlineClients, ApiError> {
    client
        .call(&RpcRequest {
            api: API_DESCRIBE_USER_ONLINE_CLIENTS,
            action: "DescribeUserOnlineClients",
            version: VERSION,
            endpoint,
            query: vec![
                ("RegionId".into(), region.into()),
                ("SmartAGId".into(), smartag_id.into()),
                ("UserName".into(), user.into()),
            ],
        })
        .await
}

/// Fetches one page (from 1) of an instance's client accounts.
pub async fn describe_client_users(
    client: &AlibabaClient,
    endpoint: &Url,
    region: &str,
    smartag_id: &str,
    page_number: u64,
) -> Result<ClientUsersPage, ApiError> {
    client
        .call(&RpcRequest {
            api: API_DESCRIBE_CLIENT_USERS,
            action: "DescribeSmartAccessGatewayClientUsers",
            version: VERSION,
            endpoint,
            query: vec![
                ("RegionId".into(), region.into()),
                ("SmartAGId".into(), smartag_id.into()),
                ("PageNumber".into(), page_number.to_string()),
                ("PageSize".into(), CLIENT_USERS_PAGE_SIZE.to_string()),
            ],
        })
        .await
}

/// Answer of DescribeUserOnlineClientStatistics.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnlineClientStatistics {
    /// `UserStatistics.Statistics[]`.
    #[serde(default)]
    pub user_statistics: Option<StatisticsList>,
}

/// `UserStatistics` of DescribeUserOnlineClientStatistics.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatisticsList {
    /// One entry per account asked about.
    #[serde(rename = "Statistics", default)]
    pub statistics: Vec<UserStatistic>,
}

/// Online clients of one account.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserStatistic {
    /// Account name.
    pub user_name: String,
    /// Clients online (the API may send it as a number or a string).
    #[serde(deserialize_with = "count_from_number_or_string")]
    pub online_count: u64,
}

fn count_from_number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        Number(u64),
        Text(String),
    }
    match Count::deserialize(d)? {
        Count::Number(n) => Ok(n),
        Count::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("OnlineCount {t:?} is not a count"))),
    }
}

impl OnlineClientStatistics {
    /// (account, online clients) pairs.
    pub fn counts(&self) -> impl Iterator<Item = (&str, u64)> {
        self.user_statistics.iter().flat_map(|s| {
            s.statistics
                .iter()
                .map(|u| (u.user_name.as_str(), u.online_count))
        })
    }
}

/// Asks how many clients each of up to [`STATISTICS_BATCH`] accounts has online.
pub async fn describe_user_online_client_statistics(
    client: &AlibabaClient,
    endpoint: &Url,
    region: &str,
    smartag_id: &str,
    users: &[String],
) -> Result<OnlineClientStatistics, ApiError> {
    let mut query = vec![
        ("RegionId".to_string(), region.to_string()),
        ("SmartAGId".to_string(), smartag_id.to_string()),
    ];
    query.extend(
        users
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("UserNames.{}", i + 1), u.clone())),
    );
    client
        .call(&RpcRequest {
            api: API_DESCRIBE_ONLINE_CLIENT_STATISTICS,
            action: "DescribeUserOnlineClientStatistics",
            version: VERSION,
            endpoint,
            query,
        })
        .await
}
