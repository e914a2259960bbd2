//! `SDK-HMAC-SHA256`, the AK/SK request signature of Huawei Cloud's SDKs.
//!
//! A pure function of the request, the credentials and the time: no clock, no I/O. The
//! [`client`](super::client) builds the header set, calls [`sign`], and sends exactly
//! the headers and query string returned here. Each stage (canonical URI, canonical
//! query, canonical request, string to sign, signature) is public so that the tests in
//! `tests/huawei_signer_vectors.rs` can check it against vectors produced by the
//! official `huaweicloudsdkcore` signer (`tests/vectors/huawei/`).

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;

pub use crate::cloud::signing::{RequestToSign, Signature};
use crate::cloud::signing::{
    canonical_headers, encode_unreserved as encode, hex_hmac_sha256, hex_sha256, normalized_headers,
};

/// The algorithm name, first word of the `Authorization` header.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Header carrying the signing time.
pub const DATE_HEADER: &str = "X-Sdk-Date";

/// The payload-hash marker the SDK uses for bodies it does not hash.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Formats a time the way `X-Sdk-Date` wants it: `20261122T053000Z`.
pub fn sdk_date(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The canonical URI: the path percent-decoded, split on `/`, each segment re-encoded,
/// and a trailing `/` appended when missing.
pub fn canonical_uri(path: &str) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let mut out = decoded.split('/').map(encode).collect::<Vec<_>>().join("/");
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// The canonical query, which is also the exact query string sent: pairs sorted by raw
/// key then raw value, each encoded keeping only `A-Za-z0-9-_.~`, joined with `&`.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Builds the canonical request; returns it with the signed-headers string.
pub fn canonical_request(req: &RequestToSign<'_>) -> (String, String) {
    // The SDK does not sign header names containing `_`.
    let headers = normalized_headers(req.headers.iter().filter(|(name, _)| !name.contains('_')));
    let (canonical_headers, signed_headers) = canonical_headers(&headers);
    let unsigned_payload = headers
        .iter()
        .any(|(name, value)| name == "x-sdk-content-sha256" && *value == UNSIGNED_PAYLOAD);
    let payload_hash = if unsigned_payload {
        UNSIGNED_PAYLOAD.to_string()
    } else {
        hex_sha256(req.body)
    };
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        canonical_uri(req.path),
        canonical_query(req.query),
        canonical_headers,
        signed_headers,
        payload_hash
    );
    (canonical, signed_headers)
}

/// The string to sign: algorithm, date, and the hex SHA-256 of the canonical request.
pub fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex_sha256(canonical_request.as_bytes())
    )
}

/// Hex HMAC-SHA256 of the string to sign, keyed with the secret key's UTF-8 bytes.
pub fn signature(secret_key: &str, string_to_sign: &str) -> String {
    hex_hmac_sha256(secret_key.as_bytes(), string_to_sign.as_bytes())
}

/// Signs a request whose headers already include `X-Sdk-Date` and `Host`.
///
/// Returns `None` when the `X-Sdk-Date` header is missing.
pub fn sign(req: &RequestToSign<'_>, access_key: &str, secret_key: &str) -> Option<Signature> {
    let date = req
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(DATE_HEADER))
        .map(|(_, value)| value.trim().to_string())?;
    let (canonical_request, signed_headers) = canonical_request(req);
    let string_to_sign = string_to_sign(&date, &canonical_request);
    let signature = signature(secret_key, &string_to_sign);
    let authorization = format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={signed_headers}, Signature={signature}"
    );
    Some(Signature {
        canonical_request,
        string_to_sign,
        signed_headers,
        signature,
        authorization,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uri_appends_one_slash() {
        assert_eq!(
            canonical_uri("/v2/p/connections/status"),
            "/v2/p/connections/status/"
        );
        assert_eq!(canonical_uri("/v2/p/x/"), "/v2/p/x/");
        assert_eq!(canonical_uri("/a b/c%20d"), "/a%20b/c%20d/");
    }

    #[test]
    fn query_uses_percent_twenty_for_space_and_sorts_raw() {
        let q = vec![
            ("b".to_string(), "x y".to_string()),
            ("a".to_string(), "1:2,3@4".to_string()),
        ];
        assert_eq!(canonical_query(&q), "a=1%3A2%2C3%404&b=x%20y");
    }

    #[test]
    fn sign_requires_a_date() {
        let headers = vec![("Host".to_string(), "h".to_string())];
        let req = RequestToSign {
            method: "GET",
            path: "/",
            query: &[],
            headers: &headers,
            body: b"",
        };
        assert!(sign(&req, "ak", "sk").is_none());
    }
}
