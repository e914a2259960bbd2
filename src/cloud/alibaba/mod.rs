//! Alibaba Cloud: the `ACS3-HMAC-SHA256` signer, the RPC-style HTTP client, and the
//! Smart Access Gateway (SAG) APIs the `sag_online_clients` collector calls.

pub mod client;
pub mod identity;
pub mod sag;
pub mod signer;
pub mod target;

pub use client::{AlibabaClient, RpcRequest};
pub use target::SagTargetContext;
