//! A credential string that cannot leak by accident.
//!
//! Secrets are read by [`crate::config`] and used only by the signers in [`crate::cloud`].
//! `Secret` has no `Display`, no `Serialize`, and its `Debug` prints a placeholder, so a
//! secret cannot reach a log line, an error message or `/metrics` without an explicit
//! call to [`Secret::expose`].

use std::fmt;
use std::sync::Arc;

/// A secret value (access key, secret key, security token).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// The secret's content, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_the_value() {
        let s = Secret::new("very-secret-sk");
        let shown = format!("{s:?} {:#?}", Some(&s));
        assert!(!shown.contains("very-secret-sk"), "{shown}");
        assert_eq!(s.expose(), "very-secret-sk");
    }
}
