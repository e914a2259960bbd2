//! What every collector of one `[[alibabacloud_sag]]` target shares: its configuration
//! and its signed client. The collectors poll through it (poll → decode → convert).

use super::AlibabaClient;
use crate::config::SagTarget;

/// One Alibaba Cloud SAG target, ready to poll.
pub struct SagTargetContext {
    /// The target's validated configuration.
    pub target: SagTarget,
    /// The signed HTTP client for this target.
    pub client: AlibabaClient,
}
