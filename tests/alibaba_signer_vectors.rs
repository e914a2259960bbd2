//! The `ACS3-HMAC-SHA256` signer against vectors produced by the official
//! `alibabacloud-tea-openapi` SDK (`tests/vectors/alibaba/generate.py`), stage by stage.

use serde::Deserialize;
use workspace_exporter::cloud::alibaba::signer::{self, RequestToSign};

#[derive(Debug, Deserialize)]
struct Vector {
    name: String,
    access_key_id: String,
    access_key_secret: String,
    method: String,
    url: String,
    query: Vec<(String, String)>,
    body: String,
    headers: Vec<(String, String)>,
    expected: Expected,
}

#[derive(Debug, Deserialize)]
struct Expected {
    canonical_query: String,
    canonical_request: String,
    string_to_sign: String,
    signed_headers: String,
    signature: String,
    authorization: String,
}

fn vectors() -> Vec<Vector> {
    serde_json::from_str(include_str!("vectors/alibaba/acs3_hmac_sha256.json")).unwrap()
}

fn with_request<R>(v: &Vector, f: impl FnOnce(RequestToSign<'_>) -> R) -> R {
    let url = url::Url::parse(&v.url).unwrap();
    f(RequestToSign {
        method: &v.method,
        path: url.path(),
        query: &v.query,
        headers: &v.headers,
        body: v.body.as_bytes(),
    })
}

#[test]
fn vectors_cover_the_required_cases() {
    let names: Vec<String> = vectors().into_iter().map(|v| v.name).collect();
    for required in [
        "online_clients_user_space_at",
        "online_clients_sts_token",
        "online_clients_endpoint_with_port",
    ] {
        assert!(names.iter().any(|n| n == required), "missing {required}");
    }
}

#[test]
fn canonical_query_matches_sdk() {
    for v in vectors() {
        assert_eq!(
            signer::canonical_query(&v.query),
            v.expected.canonical_query,
            "{}",
            v.name
        );
    }
}

#[test]
fn canonical_request_matches_sdk() {
    for v in vectors() {
        let (canonical, signed) = with_request(&v, |r| signer::canonical_request(&r));
        assert_eq!(canonical, v.expected.canonical_request, "{}", v.name);
        assert_eq!(signed, v.expected.signed_headers, "{}", v.name);
    }
}

#[test]
fn string_to_sign_matches_sdk() {
    for v in vectors() {
        assert_eq!(
            signer::string_to_sign(&v.expected.canonical_request),
            v.expected.string_to_sign,
            "{}",
            v.name
        );
    }
}

#[test]
fn signature_and_authorization_match_sdk() {
    for v in vectors() {
        assert_eq!(
            signer::signature(&v.access_key_secret, &v.expected.string_to_sign),
            v.expected.signature,
            "{}",
            v.name
        );
        let signed = with_request(&v, |r| {
            signer::sign(&r, &v.access_key_id, &v.access_key_secret)
        });
        assert_eq!(signed.authorization, v.expected.authorization, "{}", v.name);
    }
}
