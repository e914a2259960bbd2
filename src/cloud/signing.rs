//! What the two cloud signers share (poll → **sign** → send): the request as a signer
//! sees it, the signature stage by stage, hex SHA-256 and HMAC-SHA256, and
//! percent-encoding that keeps only RFC 3986 unreserved characters. The signers
//! themselves ([`huawei::signer`](crate::cloud::huawei::signer),
//! [`alibaba::signer`](crate::cloud::alibaba::signer)) are pure functions over these.

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// A request as a signer sees it.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    /// HTTP method, any case.
    pub method: &'a str,
    /// The resource path as sent on the wire (may contain percent-escapes; `/` for
    /// RPC-style APIs).
    pub path: &'a str,
    /// Query parameters, raw (not encoded), in any order.
    pub query: &'a [(String, String)],
    /// Every header to sign: all headers sent except `Authorization`, the signing
    /// time and `Host` included.
    pub headers: &'a [(String, String)],
    /// The request body.
    pub body: &'a [u8],
}

/// The outcome of signing: each stage, for the vector tests and debugging, and the
/// `Authorization` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The canonical request (stage 1).
    pub canonical_request: String,
    /// The string to sign (stage 2).
    pub string_to_sign: String,
    /// Lower-case signed header names joined with `;`.
    pub signed_headers: String,
    /// Hex HMAC-SHA256 of the string to sign (stage 3).
    pub signature: String,
    /// The complete `Authorization` header value.
    pub authorization: String,
}

/// Everything except `A-Za-z0-9-_.~` is percent-encoded, with upper-case hex.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `s` keeping only `A-Za-z0-9-_.~` (space becomes `%20`, never `+`).
pub fn encode_unreserved(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Lower-case hex SHA-256 of `data`.
pub fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Lower-case hex HMAC-SHA256 of `message` keyed with `key`.
pub fn hex_hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key size");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Signed headers as a signer sees them: names lower-cased, values trimmed, sorted.
pub fn normalized_headers<'a>(
    headers: impl Iterator<Item = &'a (String, String)>,
) -> Vec<(String, &'a str)> {
    let mut list: Vec<(String, &str)> = headers
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
        .collect();
    list.sort();
    list
}

/// `name:value\n` lines and the `;`-joined name list of already normalized headers.
pub fn canonical_headers(headers: &[(String, &str)]) -> (String, String) {
    let lines = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let names = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (lines, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_hash() {
        assert_eq!(
            hex_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn encoding_keeps_only_unreserved() {
        assert_eq!(encode_unreserved("a b+c*~é/"), "a%20b%2Bc%2A~%C3%A9%2F");
    }
}
