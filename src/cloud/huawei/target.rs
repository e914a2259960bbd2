//! What every collector of one `[[huaweicloud]]` target shares: its configuration, its
//! signed client and its project ID (configured, or discovered once through IAM). The
//! collectors poll through it (poll → decode → convert).

use tokio::sync::OnceCell;

use super::HuaweiClient;
use super::iam::{self, DiscoveryError};
use crate::config::HuaweiTarget;

/// One Huawei Cloud target, ready to poll.
pub struct HuaweiTargetContext {
    /// The target's validated configuration.
    pub target: HuaweiTarget,
    /// The signed HTTP client for this target.
    pub client: HuaweiClient,
    /// The project ID, resolved on first use and then kept.
    project_id: OnceCell<String>,
}

impl HuaweiTargetContext {
    /// Creates the context; a configured project ID is used as is.
    pub fn new(target: HuaweiTarget, client: HuaweiClient) -> Self {
        let project_id = match &target.project_id {
            Some(p) => OnceCell::new_with(Some(p.clone())),
            None => OnceCell::new(),
        };
        HuaweiTargetContext {
            target,
            client,
            project_id,
        }
    }

    /// The project ID, discovering it through IAM with `client` (the poll's) the first
    /// time if needed. A failed discovery is retried on the next poll.
    pub async fn project_id(&self, client: &HuaweiClient) -> Result<&str, DiscoveryError> {
        self.project_id
            .get_or_try_init(|| async {
                let id = iam::discover_project_id(
                    client,
                    &self.target.iam_endpoint,
                    &self.target.region,
                )
                .await?;
                tracing::info!(target_name = %self.target.name, project_id = %id, "discovered project ID through IAM");
                Ok(id)
            })
            .await
            .map(String::as_str)
    }
}
