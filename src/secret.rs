//! A credential string that cannot leak by accident.
//!
//! Secrets are read by [`crate::config`] and used only by the signers in [`crate::cloud`].
//! `Secret` has no `Display`, no `Serialize`, and its `Debug` prints a placeholder, so a
//! secret cannot reach a log line, an error message or `/metrics` without an explicit
//! call to [`Secret::expose`].
//!
//! A secret deserializes from a string only: a number or a boolean in its place is
//! refused with a message that names the expected type but never repeats the value.

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

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

/// Message for a secret written as something other than a string; the value itself is
/// never part of it.
pub const NOT_A_STRING: &str =
    "must be a string in quotes (the value is not shown because the key holds a secret)";

/// Accepts strings and refuses every other type without echoing the value.
struct SecretVisitor;

impl SecretVisitor {
    fn refuse<E: serde::de::Error>(self) -> Result<Secret, E> {
        Err(E::custom(NOT_A_STRING))
    }
}

impl<'de> serde::de::Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string in quotes")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
        self.refuse()
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
        self.refuse()
    }

    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<Secret, E> {
        self.refuse()
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
        self.refuse()
    }

    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<Secret, E> {
        self.refuse()
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
        self.refuse()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Secret, E> {
        self.refuse()
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        self.refuse()
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        self.refuse()
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
