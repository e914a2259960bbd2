//! Where a target's keys come from: the input of the "sign" step (poll → **sign** →
//! send). Configuration resolves a target's credentials into a [`Credentials`]; the
//! cloud clients ask it for the [`Keys`] to sign each request with.
//!
//! Today every source is static: the keys written in the configuration (as a value, a
//! file, or the SDK's environment variable). Sources that fetch and refresh temporary
//! keys (instance metadata, OIDC, assumed roles) become further variants, so clients
//! never change when one is added.

use crate::secret::Secret;

/// An access key pair and, for temporary keys, their security token. The same shape on
/// both clouds: Huawei's AK/SK/security token, Alibaba's AccessKey ID/secret/STS token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// Access key (Huawei AK, Alibaba AccessKey ID).
    pub access_key: Secret,
    /// Secret key (Huawei SK, Alibaba AccessKey secret).
    pub secret_key: Secret,
    /// Security token of temporary keys; sent with every request.
    pub security_token: Option<Secret>,
}

/// A target's source of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Keys written in the configuration; they never change while it runs.
    Static(Keys),
}

impl Credentials {
    /// The keys to sign the next request with.
    pub fn keys(&self) -> &Keys {
        match self {
            Credentials::Static(keys) => keys,
        }
    }
}
