//! Huawei Cloud: AK/SK signing, the HTTP client, and the Workspace, WorkspaceApp and IAM
//! APIs the collectors call.

pub mod client;
pub mod iam;
pub mod identity;
pub mod signer;
pub mod target;
pub mod workspace;
pub mod workspace_app;

pub use client::{ApiError, HuaweiClient};
pub use target::HuaweiTargetContext;
