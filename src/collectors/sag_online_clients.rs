//! `sag_online_clients`: which Smart Access Gateway client accounts are online, and
//! since when, per SAG APP instance. Accounts come from the configuration or, when not
//! configured, from DescribeSmartAccessGatewayClientUsers (every page).
//! DescribeUserOnlineClientStatistics tells, 50 accounts per call, which accounts have
//! clients online; only those get a DescribeUserOnlineClients call for the detail. Calls
//! run with bounded concurrency. An account or
//! instance that fails is logged with the upstream code and message and has no series
//! this poll; the others still export, and the poll counts as failed (`up` = 0).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream;

use super::{CollectError, Collector, Poll, PollFuture, SeriesBuilder};
use crate::cloud::alibaba::sag::{
    self, API_DESCRIBE_CLIENT_USERS, CLIENT_USERS_PAGE_SIZE, STATISTICS_BATCH,
};
use crate::cloud::alibaba::{AlibabaClient, SagTargetContext};
use crate::cloud::http::ApiError;

/// Online clients per account.
pub const USER_ONLINE_CLIENTS: &str = "alibabacloud_sag_user_online_clients";
/// When each online client connected.
pub const CLIENT_ONLINE_SINCE: &str = "alibabacloud_sag_client_online_since_timestamp_seconds";

/// Largest number of account pages read per instance (guards against a looping API).
const MAX_USER_PAGES: u64 = 10_000;

/// Polls the SAG online clients of one target.
pub struct SagOnlineClientsCollector {
    /// The target's configuration and signed client.
    ctx: Arc<SagTargetContext>,
}

/// What one account's call returned.
struct UserResult {
    smartag_id: String,
    user: String,
    clients: Result<sag::UserOnlineClients, ApiError>,
}

impl SagOnlineClientsCollector {
    /// A collector for `target`.
    pub fn new(ctx: Arc<SagTargetContext>) -> Self {
        SagOnlineClientsCollector { ctx }
    }

    /// Lists every client account of an instance, page by page.
    async fn list_users(
        &self,
        client: &AlibabaClient,
        smartag_id: &str,
    ) -> Result<Vec<String>, CollectError> {
        let mut users = Vec::new();
        let mut page_number = 1;
        loop {
            let page = sag::describe_client_users(
                client,
                &self.ctx.target.endpoint,
                &self.ctx.target.region,
                smartag_id,
                page_number,
            )
            .await?;
            let before = users.len();
            users.extend(page.names().map(str::to_string));
            let total = page.total_count;
            if users.len() as u64 >= total {
                break;
            }
            if users.len() == before || page_number >= MAX_USER_PAGES {
                return Err(CollectError::Data {
                    api: API_DESCRIBE_CLIENT_USERS,
                    problem: format!(
                        "instance {smartag_id}: page {page_number} brought no accounts although TotalCount says {total} and {} were read (page size {CLIENT_USERS_PAGE_SIZE})",
                        users.len()
                    ),
                });
            }
            page_number += 1;
        }
        users.sort();
        users.dedup();
        Ok(users)
    }

    /// Splits the accounts into those with clients online (to ask for detail) and those
    /// without, using DescribeUserOnlineClientStatistics (50 accounts per call). A batch
    /// the statistics call rejects (for example one invalid user name) is asked for
    /// account by account, so one bad account does not hide the others.
    async fn online_accounts(
        &self,
        client: &AlibabaClient,
        work: Vec<(String, String)>,
    ) -> (Vec<(String, String)>, Vec<(String, String)>) {
        let mut batches: Vec<(String, Vec<String>)> = Vec::new();
        for (smartag_id, user) in work {
            match batches.last_mut() {
                Some((id, users)) if *id == smartag_id && users.len() < STATISTICS_BATCH => {
                    users.push(user)
                }
                _ => batches.push((smartag_id, vec![user])),
            }
        }
        let answers: Vec<_> = stream::iter(batches)
            .map(|(smartag_id, users)| async move {
                let answer = sag::describe_user_online_client_statistics(
                    client,
                    &self.ctx.target.endpoint,
                    &self.ctx.target.region,
                    &smartag_id,
                    &users,
                )
                .await;
                (smartag_id, users, answer)
            })
            .buffer_unordered(self.ctx.target.concurrency)
            .collect()
            .await;
        let (mut detail, mut offline) = (Vec::new(), Vec::new());
        for (smartag_id, users, answer) in answers {
            match answer {
                Ok(stats) => {
                    let counts: BTreeMap<&str, u64> = stats.counts().collect();
                    for user in users {
                        match counts.get(user.as_str()) {
                            Some(0) => offline.push((smartag_id.clone(), user)),
                            _ => detail.push((smartag_id.clone(), user)),
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(target_name = %self.ctx.target.name, smartag_id = %smartag_id, error = %e, "statistics call failed; asking account by account");
                    detail.extend(users.into_iter().map(|u| (smartag_id.clone(), u)));
                }
            }
        }
        (detail, offline)
    }

    async fn poll_once(
        &self,
        poll: Poll,
    ) -> Result<Vec<prometheus::proto::MetricFamily>, CollectError> {
        let client = &self.ctx.client.for_poll(&poll.usage);
        let mut failures: Vec<String> = Vec::new();
        let mut work: Vec<(String, String)> = Vec::new();
        for instance in &self.ctx.target.instances {
            match &instance.users {
                Some(users) => {
                    work.extend(
                        users
                            .iter()
                            .map(|u| (instance.smartag_id.clone(), u.clone())),
                    );
                }
                None => match self.list_users(client, &instance.smartag_id).await {
                    Ok(users) => {
                        work.extend(users.into_iter().map(|u| (instance.smartag_id.clone(), u)))
                    }
                    Err(e) => {
                        tracing::warn!(target_name = %self.ctx.target.name, smartag_id = %instance.smartag_id, error = %e, "cannot list the instance's client accounts");
                        failures.push(format!("{}: {e}", instance.smartag_id));
                    }
                },
            }
        }

        let (work, offline) = self.online_accounts(client, work).await;
        let results: Vec<UserResult> = stream::iter(work)
            .map(|(smartag_id, user)| async move {
                let clients = sag::describe_user_online_clients(
                    client,
                    &self.ctx.target.endpoint,
                    &self.ctx.target.region,
                    &smartag_id,
                    &user,
                )
                .await;
                UserResult {
                    smartag_id,
                    user,
                    clients,
                }
            })
            .buffer_unordered(self.ctx.target.concurrency)
            .collect()
            .await;

        let series = SeriesBuilder::new(&[("region", &self.ctx.target.region)]);
        let online = series.gauge_vec(
            USER_ONLINE_CLIENTS,
            "SAG APP clients online for the client account (0 when none); refreshed every poll interval.",
            &["smartag_id", "user"],
        );
        let since = series.gauge_vec(
            CLIENT_ONLINE_SINCE,
            "Unix time at which the SAG APP client at client_ip connected; refreshed every poll interval.",
            &["smartag_id", "user", "client_ip"],
        );
        for (smartag_id, user) in &offline {
            online
                .with_label_values(&[smartag_id.as_str(), user.as_str()])
                .set(0.0);
        }
        for r in results {
            let answer = match r.clients {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(
                        target_name = %self.ctx.target.name,
                        smartag_id = %r.smartag_id,
                        user = %r.user,
                        error = %e,
                        "cannot read the account's online clients"
                    );
                    failures.push(format!("{}/{}: {e}", r.smartag_id, r.user));
                    continue;
                }
            };
            let clients = answer.clients();
            online
                .with_label_values(&[r.smartag_id.as_str(), r.user.as_str()])
                .set(clients.len() as f64);
            // One series per client IP; with two clients behind one IP, the earliest wins.
            let (by_ip, unusable) = answer.online_since_by_ip();
            for c in unusable {
                tracing::warn!(
                    target_name = %self.ctx.target.name,
                    smartag_id = %r.smartag_id,
                    user = %r.user,
                    client_ip = ?c.client_ip,
                    online_time = ?c.online_time,
                    "skipping a client without a usable ClientIp and OnlineTime"
                );
            }
            for (ip, t) in by_ip {
                since
                    .with_label_values(&[r.smartag_id.as_str(), r.user.as_str(), ip])
                    .set(t as f64);
            }
        }
        let families = series.finish();
        if failures.is_empty() {
            Ok(families)
        } else {
            Err(CollectError::Partial {
                series: families,
                failures,
            })
        }
    }
}

impl Collector for SagOnlineClientsCollector {
    fn poll(&self, poll: Poll) -> PollFuture<'_> {
        Box::pin(self.poll_once(poll))
    }
}
