//! `ACS3-HMAC-SHA256`, the request signature of Alibaba Cloud's current SDKs.
//!
//! A pure function of the request, the credentials, the time and a nonce: the
//! [`client`](super::client) supplies the headers (with `x-acs-date` and
//! `x-acs-signature-nonce` already set) and sends exactly what was signed. The stages
//! are public so that `tests/alibaba_signer_vectors.rs` can check each against vectors
//! produced by the official `alibabacloud-tea-openapi` SDK (`tests/vectors/alibaba/`).

use chrono::{DateTime, Utc};

pub use crate::cloud::signing::{RequestToSign, Signature};
use crate::cloud::signing::{
    canonical_headers, encode_unreserved, hex_hmac_sha256, hex_sha256, normalized_headers,
};

/// The algorithm name, first word of the `Authorization` header.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// `x-acs-date` format: `2026-11-22T05:30:00Z`.
pub fn acs_date(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Canonical query (also the query sent): keys sorted by code point and written as
/// they are, values percent-encoded keeping `A-Za-z0-9-_.~`, joined with `&`.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode_unreserved(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Builds the canonical request; returns it with the signed-headers string.
pub fn canonical_request(req: &RequestToSign<'_>) -> (String, String) {
    let headers = normalized_headers(req.headers.iter());
    let (lines, signed_headers) = canonical_headers(&headers);
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        if req.path.is_empty() { "/" } else { req.path },
        canonical_query(req.query),
        lines,
        signed_headers,
        hex_sha256(req.body)
    );
    (canonical, signed_headers)
}

/// `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
pub fn string_to_sign(canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}", hex_sha256(canonical_request.as_bytes()))
}

/// Hex HMAC-SHA256 keyed with the AccessKey secret as is.
pub fn signature(access_key_secret: &str, string_to_sign: &str) -> String {
    hex_hmac_sha256(access_key_secret.as_bytes(), string_to_sign.as_bytes())
}

/// Signs a request.
pub fn sign(req: &RequestToSign<'_>, access_key_id: &str, access_key_secret: &str) -> Signature {
    let (canonical_request, signed_headers) = canonical_request(req);
    let string_to_sign = string_to_sign(&canonical_request);
    let signature = signature(access_key_secret, &string_to_sign);
    let authorization = format!(
        "{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    );
    Signature {
        canonical_request,
        string_to_sign,
        signed_headers,
        signature,
        authorization,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_strings() {
        let q: Vec<(String, String)> = ["UserNames.2", "UserNames.10", "RegionId"]
            .iter()
            .map(|k| (k.to_string(), "a b".to_string()))
            .collect();
        assert_eq!(
            canonical_query(&q),
            "RegionId=a%20b&UserNames.10=a%20b&UserNames.2=a%20b"
        );
    }
}
