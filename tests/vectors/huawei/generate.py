#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""
Generate SDK-HMAC-SHA256 (Huawei Cloud AK/SK) request-signing test vectors
with the OFFICIAL Huawei Cloud Python SDK core, huaweicloudsdkcore==3.1.219.

Output: sdk_hmac_sha256.json next to this script (a JSON array of cases; see
README.md for the format and for the SDK behaviours the vectors pin down).

Nothing here re-implements the algorithm. Every request goes through the SDK's own
code path:
  * workspace-style calls: huaweicloudsdkcore.client.ClientBuilder(Client)
    -> Client.build_future_request(...) -- the same function generated service
    clients (e.g. huaweicloudsdkworkspace) use via do_http_request. It parses
    header/path/query params, sets Content-Type / User-Agent, serialises the body,
    then BasicCredentials.process_auth_request -> sign_request (adds X-Project-Id,
    X-Security-Token) -> huaweicloudsdkcore.signer.signer.Signer.sign (adds
    X-Sdk-Date, Host, signs, sets Authorization, rewrites request.uri with the
    canonical query string that is then sent on the wire).
  * IAM project discovery: IamHelper.get_keystone_list_projects_request(...) +
    BasicCredentials(ak, sk).sign_request(...) -- exactly what
    BasicCredentials.process_auth_params does when no project id is configured.
Intermediate values (canonical URI, canonical query, signed headers, canonical
request, string to sign, signature) are captured by thin wrappers around the
Signer's own private methods: each wrapper calls the original SDK method and just
records its return value.

Determinism:
  * Time: Signer._process_header_time calls datetime.utcnow() when the request has
    no X-Sdk-Date header. This script replaces the name `datetime` inside the
    module huaweicloudsdkcore.signer.signer with a datetime subclass whose
    utcnow() returns the fixed instant 2026-11-22T05:30:00Z. The SDK therefore
    still creates the X-Sdk-Date header itself (value "20261122T053000Z").
  * User-Agent: by default the SDK appends a platform string plus a random
    per-machine UUID (stored in ~/.huaweicloud/application_id). We set
    HttpConfig.user_agent = FIXED_UA (so generated calls send
    "huaweicloud-usdk-python/3.0; " + FIXED_UA) and patch
    huaweicloudsdkcore.auth.internal.user_agent_string = FIXED_UA (IAM helper
    requests send exactly that). HOME is pointed at a throw-away temp directory
    before the SDK is imported so the SDK does not write into the real home.
  * HUAWEICLOUD_SDK_IAM_ENDPOINT is removed from the environment.
  * No network access: requests are built and signed, never sent.

Regenerate (from the repository root):
    python3 -m venv /tmp/hw-venv && /tmp/hw-venv/bin/pip install huaweicloudsdkcore==3.1.219
    /tmp/hw-venv/bin/python tests/vectors/huawei/generate.py
"""

import copy
import datetime as _datetime_mod
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile

SDK_VERSION = "3.1.219"
FIXED_TIME = _datetime_mod.datetime(2026, 11, 22, 5, 30, 0)
FIXED_UA = "workspace-exporter/0.1.0"
OUT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdk_hmac_sha256.json")

# --- isolate the SDK from the real environment (must happen before importing it) ---
_TMP_HOME = tempfile.mkdtemp(prefix="hw-vectors-home-")
os.environ["HOME"] = _TMP_HOME
os.environ.pop("HUAWEICLOUD_SDK_IAM_ENDPOINT", None)

_installed = importlib.metadata.version("huaweicloudsdkcore")
if _installed != SDK_VERSION:
    sys.exit("huaweicloudsdkcore %s required, found %s" % (SDK_VERSION, _installed))

import requests  # noqa: E402  (transport used by the SDK; only used to prepare, never send)

from huaweicloudsdkcore.auth import internal as sdk_internal  # noqa: E402
from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.auth.internal import IamHelper  # noqa: E402
from huaweicloudsdkcore.client import Client, ClientBuilder  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkcore.signer import signer as sdk_signer_mod  # noqa: E402
from huaweicloudsdkcore.signer.signer import Signer  # noqa: E402


# --- fixed clock --------------------------------------------------------------------
class _FixedDatetime(_datetime_mod.datetime):
    @classmethod
    def utcnow(cls):
        return cls(FIXED_TIME.year, FIXED_TIME.month, FIXED_TIME.day,
                   FIXED_TIME.hour, FIXED_TIME.minute, FIXED_TIME.second)


sdk_signer_mod.datetime = _FixedDatetime
sdk_internal.user_agent_string = FIXED_UA

# --- capture hooks: call the SDK's own method, record its result ---------------------
_CAPTURE = {}


def _wrap_method(name, key):
    orig = getattr(Signer, name)

    def wrapper(self, *args, **kwargs):
        result = orig(self, *args, **kwargs)
        _CAPTURE.setdefault(key, result)  # first call = the one used for signing
        return result

    setattr(Signer, name, wrapper)


def _wrap_classmethod(name, key):
    orig = Signer.__dict__[name].__func__

    def wrapper(cls, *args, **kwargs):
        result = orig(cls, *args, **kwargs)
        _CAPTURE.setdefault(key, result)
        return result

    setattr(Signer, name, classmethod(wrapper))


_wrap_classmethod("_process_signed_headers", "signed_headers")
_wrap_method("_process_canonical_uri", "canonical_uri")
_wrap_classmethod("_process_canonical_query_string", "canonical_query")
_wrap_method("_process_canonical_request", "canonical_request")
_wrap_method("_process_string_to_sign", "string_to_sign")
_wrap_method("_sign_string_to_sign", "signature")

_orig_sign = Signer.sign


def _sign_wrapper(self, request):
    # snapshot of the query exactly as handed to the signer (after client parsing)
    _CAPTURE["query_in"] = copy.deepcopy(request.query_params)
    return _orig_sign(self, request)


Signer.sign = _sign_wrapper

# --- fixtures -------------------------------------------------------------------------
AK = "HWEXAMPLEAKID0000001"
SK = "hwExampleSecretKey0000000000000000000001"
PROJECT_ID = "0123456789abcdef0123456789abcdef"
TEMP_AK = "HWTEMPEXAMPLEAK00002"
TEMP_SK = "hwTempExampleSecretKey000000000000000002"
SECURITY_TOKEN = ("gQpjbi1ub3J0aC00iN3sJ9Yk+EXAMPLE/TOKEN/eyJhY2Nlc3MiOiJIV1RFTVBFWEFNUExFQUswMDAwMiJ9"
                  "xZ0vQ2bH7w==")
WORKSPACE = "https://workspace.cn-north-4.myhuaweicloud.com"


def _raw_query(query_params):
    """SDK query tuples -> [[key, raw string value], ...] in the order given to the SDK.
    Mirrors how the signer stringifies values: list -> one pair per element,
    bool -> "true"/"false", anything else -> str()."""
    out = []
    for key, value in query_params or []:
        if isinstance(value, list):
            out.extend([key, str(v)] for v in value)
        elif isinstance(value, bool):
            out.append([key, str(value).lower()])
        else:
            out.append([key, str(value)])
    return out


def _finish(name, description, request, ak, sk, security_token):
    cap = _CAPTURE
    headers = [[k, v] for k, v in request.header_params.items() if k != "Authorization"]
    body = request.body
    if body is None:
        body = ""
    elif isinstance(body, bytes):
        body = body.decode("utf-8")
    elif not isinstance(body, str):
        raise TypeError("unexpected body type %r" % type(body))
    query = _raw_query(cap["query_in"])
    canonical_query = cap["canonical_query"]

    # --- consistency checks against the SDK's own outputs (no re-implementation) ---
    assert request.uri == request.resource_path + ("?" + canonical_query if canonical_query else ""), request.uri
    cr_lines = cap["canonical_request"].split("\n")
    assert cr_lines[1] == cap["canonical_uri"] and cr_lines[2] == canonical_query
    sts_lines = cap["string_to_sign"].split("\n")
    assert sts_lines[0] == "SDK-HMAC-SHA256" and sts_lines[1] == request.header_params["X-Sdk-Date"]
    # what `requests` (the SDK's transport) would actually put on the wire
    prepared = requests.Session().prepare_request(
        requests.Request(request.method, request.url, headers=request.header_params, data=request.body))
    wire_path, _, wire_query = prepared.path_url.partition("?")
    assert wire_query == canonical_query, (wire_query, canonical_query)
    assert wire_path == request.resource_path, (wire_path, request.resource_path)

    return {
        "name": name,
        "description": description,
        "access_key": ak,
        "secret_key": sk,
        "security_token": security_token,
        "method": request.method,
        "url": "%s://%s%s" % (request.schema, request.host, request.resource_path),
        "query": query,
        "body": body,
        "sdk_date": request.header_params["X-Sdk-Date"],
        "headers": headers,
        "expected": {
            "canonical_request": cap["canonical_request"],
            "string_to_sign": cap["string_to_sign"],
            "signed_headers": ";".join(cap["signed_headers"]),
            "signature": cap["signature"],
            "authorization": request.header_params["Authorization"],
            "canonical_query": canonical_query,
            "canonical_uri": cap["canonical_uri"],
        },
    }


def client_case(name, description, *, method, resource_path, endpoint=WORKSPACE, ak=AK, sk=SK,
                project_id=PROJECT_ID, security_token=None, path_params=None, query_params=None,
                header_params=None, body=None, collection_formats=None, ignore_content_type_for_get=False):
    """Build + sign a request exactly like a generated service client does
    (Client.do_http_request -> build_future_request), without sending it."""
    _CAPTURE.clear()
    creds = BasicCredentials(ak, sk, project_id)
    if security_token is not None:
        creds = creds.with_security_token(security_token)
    config = HttpConfig.get_default_config()
    config.user_agent = FIXED_UA
    config.ignore_content_type_for_get_request = ignore_content_type_for_get
    client = ClientBuilder(Client).with_credentials(creds).with_endpoints([endpoint]) \
        .with_http_config(config).build()
    # generated clients always pass Content-Type: application/json
    # (http_utils.select_header_content_type(['application/json']))
    headers = {"Content-Type": "application/json"}
    headers.update(header_params or {})
    try:
        request = client.build_future_request(
            method, resource_path, path_params, copy.deepcopy(query_params or []), headers,
            body, None, None, None, collection_formats or {}, None).result()
        return _finish(name, description, request, ak, sk, security_token)
    finally:
        client.get_http_client().executor.shutdown(wait=True)
        client.close()


def iam_projects_case(name, description, region_id, ak=AK, sk=SK, security_token=None):
    """What BasicCredentials.process_auth_params does to discover the project id."""
    _CAPTURE.clear()
    creds = BasicCredentials(ak, sk)  # no project id -> no X-Project-Id header
    if security_token is not None:
        creds = creds.with_security_token(security_token)
    config = HttpConfig.get_default_config()
    iam_endpoint = IamHelper.get_iam_endpoint(region_id)
    request = IamHelper.get_keystone_list_projects_request(config, iam_endpoint, region_id=region_id)
    request = creds.sign_request(request)
    return _finish(name, description, request, ak, sk, security_token)


def build_cases():
    cases = []
    cases.append(client_case(
        "connections_status_empty_query",
        "GET with no query string; X-Project-Id from BasicCredentials; generated-client headers "
        "(Content-Type: application/json, User-Agent) are signed.",
        method="GET", resource_path="/v2/{project_id}/connections/status"))
    cases.append(client_case(
        "online_users_simple_query",
        "GET with a single plain query parameter.",
        method="GET", resource_path="/v2/{project_id}/connections/online-users",
        query_params=[("query_type", "DAY")]))
    cases.append(client_case(
        "list_sessions_encoded_query",
        "Several query params given in non-sorted order (offset before limit, etc.); values need "
        "percent-encoding: ':' -> %3A, ' ' -> %20 (never '+'), '@' -> %40, ',' -> %2C. Integers "
        "are stringified. Canonical and wire query are sorted by key.",
        method="GET", resource_path="/v2/{project_id}/connections/sessions",
        query_params=[("offset", 200), ("limit", 100), ("user_name", "alice smith@example.com"),
                      ("session_state", "Active,Disconnected"),
                      ("query_end_time", "2026-11-22T05:30:00.000Z"),
                      ("query_begin_time", "2026-11-21T05:30:00.000Z")]))
    cases.append(client_case(
        "repeated_key_collection_format",
        "A list-valued query param declared with collection format 'csv' (as generated clients do); "
        "the core client turns it into repeated key=value pairs (multi), which are sorted by "
        "(key, value).",
        method="GET", resource_path="/v2/{project_id}/desktops/detail",
        query_params=[("limit", 10), ("desktop_id", ["d-02", "d-01", "d-10"]), ("offset", 0)],
        collection_formats={"desktop_id": "csv"}))
    cases.append(client_case(
        "repeated_key_list_value_signer_branch",
        "A list value passed without a collection format reaches the Signer as a list: it emits one "
        "key=value pair per element, elements sorted. Same canonical/wire result as repeated keys.",
        method="GET", resource_path="/v2/{project_id}/desktops/detail",
        query_params=[("user_names", ["bob", "alice smith@example.com"])]))
    cases.append(client_case(
        "query_sorted_by_raw_value_not_encoded",
        "Sorting is done on the RAW (unencoded) key/value strings by Unicode code point (= UTF-8 "
        "byte order), BEFORE percent-encoding: 'a0' < 'a:b' < 'zoe' < 'émile' raw, whereas sorting "
        "the encoded forms would give '%C3%A9mile' < 'a%3Ab' < 'a0' < 'zoe'. Non-ASCII is UTF-8 "
        "percent-encoded with uppercase hex.",
        method="GET", resource_path="/v2/{project_id}/users",
        query_params=[("user_names", ["zoe", "émile", "a:b", "a0"])],
        collection_formats={"user_names": "csv"}))
    cases.append(client_case(
        "query_reserved_chars_bool_empty",
        "Only A-Za-z0-9 - _ . ~ stay unencoded in query keys/values ('+' -> %2B, '/' -> %2F, "
        "'=' -> %3D, '&' -> %26, '*' -> %2A, etc.); bool False becomes 'false'; an empty value "
        "gives 'key='.",
        method="GET", resource_path="/v2/{project_id}/connections/sessions",
        query_params=[("start_time", "2026-11-21T05:30:00+08:00"), ("marker", ""),
                      ("filter", "a/b?c=d&e=f"), ("in_maintenance_mode", False),
                      ("misc", "~tilde_under.dot-dash*star'quote(paren)!bang$dollar;semi")]))
    cases.append(client_case(
        "security_token_temporary_credentials",
        "Temporary AK/SK: BasicCredentials.with_security_token adds an X-Security-Token header which "
        "is signed like any other header (value used verbatim, '+', '/', '=' not encoded).",
        method="GET", resource_path="/v2/{project_id}/connections/status",
        ak=TEMP_AK, sk=TEMP_SK, security_token=SECURITY_TOKEN))
    cases.append(client_case(
        "explicit_port_http_loopback",
        "http endpoint with explicit port: Host header is the URL authority including ':18443'.",
        endpoint="http://127.0.0.1:18443",
        method="GET", resource_path="/v2/{project_id}/connections/status"))
    cases.append(client_case(
        "explicit_port_https_8443",
        "https endpoint with explicit non-default port: Host header includes ':8443'.",
        endpoint="https://workspace.cn-north-4.myhuaweicloud.com:8443",
        method="GET", resource_path="/v2/{project_id}/connections/online-users",
        query_params=[("query_type", "DAY")]))
    cases.append(iam_projects_case(
        "iam_list_projects_discovery",
        "Project-id discovery exactly as BasicCredentials.process_auth_params does it: "
        "IamHelper.get_keystone_list_projects_request + sign_request with no project id. No "
        "X-Project-Id and no Content-Type header; User-Agent is the bare SDK UA string (fixed here); "
        "body is '' so the payload hash is the empty-string SHA-256.",
        "cn-north-4"))
    cases.append(iam_projects_case(
        "iam_list_projects_discovery_with_security_token",
        "IAM project discovery with temporary credentials: X-Security-Token is added and signed.",
        "cn-north-4", ak=TEMP_AK, sk=TEMP_SK, security_token=SECURITY_TOKEN))
    cases.append(client_case(
        "path_param_needs_encoding",
        "Path param 'desk top@01' is substituted as quote(v, safe='') -> 'desk%20top%4001' on the "
        "wire. Canonical URI: unquote whole path, split on '/', quote each segment keeping only "
        "A-Za-z0-9-_.~, re-join, then append '/' because the path does not end with one.",
        method="GET", resource_path="/v2/{project_id}/desktops/{desktop_id}",
        path_params={"desktop_id": "desk top@01"}))
    cases.append(client_case(
        "path_trailing_slash_kept",
        "Resource path already ending in '/': canonical URI is unchanged (no second '/' added); the "
        "wire path keeps the trailing slash too.",
        method="GET", resource_path="/v2/{project_id}/connections/"))
    cases.append(client_case(
        "path_literal_reserved_char",
        "A literal ':' in the resource path template is sent as-is on the wire but percent-encoded "
        "(%3A) in the canonical URI, since each segment is re-encoded keeping only A-Za-z0-9-_.~.",
        method="GET", resource_path="/v2/{project_id}/desktops/batch:status"))
    cases.append(client_case(
        "path_param_encoded_slash_quirk",
        "SDK quirk: path param 'a/b' goes on the wire as 'a%2Fb', but the canonical URI unquotes the "
        "whole path BEFORE splitting on '/', so the signed path contains a real '/' ('.../a/b/').",
        method="GET", resource_path="/v2/{project_id}/desktops/{desktop_id}",
        path_params={"desktop_id": "a/b"}))
    cases.append(client_case(
        "post_json_body",
        "POST with a JSON body (dict serialised by the SDK with json.dumps default separators). "
        "Content-Type application/json => payload hash is hex SHA-256 of the body bytes.",
        method="POST", resource_path="/v2/{project_id}/desktops/statistics/used",
        body={"desktop_ids": ["d-01", "d-02"], "start_time": "2026-11-21T05:30:00Z",
              "end_time": "2026-11-22T05:30:00Z", "limit": 100}))
    cases.append(client_case(
        "post_json_body_with_query",
        "POST with a query string (bool True -> 'true') and a pre-serialised JSON string body "
        "containing raw non-ASCII text: a str body is passed through unchanged and the payload hash "
        "is SHA-256 of its UTF-8 bytes. (A dict body would instead be json.dumps'ed with "
        "ensure_ascii, i.e. non-ASCII escaped as \\uXXXX.)",
        method="POST", resource_path="/v2/{project_id}/connections/actions",
        query_params=[("dry_run", True)],
        body='{"action":"logoff","user_name":"Zoë Müller","reason":"idle > 30 min"}'))
    cases.append(client_case(
        "non_json_body_unsigned_payload",
        "Content-Type not starting with application/json or application/bson: the Signer adds "
        "header X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD (signed) and, because the body is non-empty, "
        "the payload-hash line of the canonical request is the literal 'UNSIGNED-PAYLOAD'.",
        method="PUT", resource_path="/v2/{project_id}/notes",
        header_params={"Content-Type": "text/plain"}, body="hello workspace\n"))
    cases.append(client_case(
        "get_without_content_type",
        "HttpConfig.ignore_content_type_for_get_request=True: GET with no body sends (and signs) no "
        "Content-Type header.",
        method="GET", resource_path="/v2/{project_id}/connections/status",
        ignore_content_type_for_get=True))
    cases.append(client_case(
        "header_value_trimmed_and_underscore_unsigned",
        "Caller headers: 'X-Client-Tag' given as '  tag value  ' is trimmed by the Signer (the "
        "trimmed value is both signed and sent); 'X_Trace_Id' contains '_' so the Signer does NOT "
        "sign it, but it is still sent.",
        method="GET", resource_path="/v2/{project_id}/connections/status",
        header_params={"X-Client-Tag": "  tag value  ", "X_Trace_Id": "trace-0001"}))
    return cases


def main():
    try:
        cases = build_cases()
    finally:
        shutil.rmtree(_TMP_HOME, ignore_errors=True)
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    with open(OUT_FILE, "w", encoding="utf-8", newline="\n") as f:
        json.dump(cases, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print("wrote %d cases to %s" % (len(cases), OUT_FILE))


if __name__ == "__main__":
    main()
