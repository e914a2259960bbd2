#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""
Generate ACS3-HMAC-SHA256 (Alibaba Cloud V3 signature) test vectors for
RPC-style Smart Access Gateway (smartag, API version 2018-03-13) calls,
using the OFFICIAL Alibaba Cloud Python SDK.  Nothing about the signature
algorithm is re-implemented here.

What it does
------------
For every case it builds a real `alibabacloud_smartag20180313.client.Client`
and calls the real API method (e.g. `describe_user_online_clients`).  The SDK
runs its normal `call_api -> do_request` path: it builds the request,
flattens/stringifies the query (`Utils.query`), adds its headers, hashes the
payload and calls `Utils.get_authorization(...)`.  Only the network send is
replaced: `DaraCore.do_action` is patched to record the fully built request
(and the URL the SDK's own `DaraCore.compose_url` produces) and to return a
canned `200 {}` response.  No network access happens.

The intermediate values are captured, not recomputed:
  * canonical_request : the exact bytes `Utils.get_authorization` passes to
                        `Utils.hash` (wrapped while get_authorization runs)
  * string_to_sign    : the exact string get_authorization passes to the
                        module function `alibabacloud_tea_openapi.utils.
                        signature_method` (wrapped)
  * canonical_query   : `alibabacloud_tea_openapi.utils.get_canonical_query_string`
  * signed_headers    : `alibabacloud_tea_openapi.utils.get_canonicalized_headers`
  * authorization     : the `Authorization` header the SDK put on the request
  * signature         : the `Signature=` part of that header
and the script asserts that they are mutually consistent.

One extra case ("direct_*") calls `Utils.get_authorization` directly on a
hand-built `DaraRequest` with a lean header set (no user-agent, no
x-acs-credentials-provider), i.e. what a minimal client would send.

SDK versions (PyPI, exact pins resolved as requested)
-----------------------------------------------------
  alibabacloud-tea-openapi      0.4.6   (signing: alibabacloud_tea_openapi/utils.py)
  alibabacloud-smartag20180313  2.1.2
  darabonba-core                1.0.9   (DaraRequest, DaraCore.compose_url)
  alibabacloud-credentials      1.0.12  (provider names static_ak / static_sts)
  alibabacloud-tea              0.4.3
  Python                        3.11.7 (any CPython 3.8+ should give identical output)

Regenerate
----------
  python3 -m venv /tmp/ali-venv
  /tmp/ali-venv/bin/pip install alibabacloud-tea-openapi==0.4.6 alibabacloud-smartag20180313==2.1.2
  /tmp/ali-venv/bin/python tests/vectors/alibaba/generate.py
(run from the repository root; writes tests/vectors/alibaba/acs3_hmac_sha256.json
next to this script).  Determinism check:
  /tmp/ali-venv/bin/python tests/vectors/alibaba/generate.py /tmp/a.json
  /tmp/ali-venv/bin/python tests/vectors/alibaba/generate.py /tmp/b.json
  cmp /tmp/a.json /tmp/b.json

How the non-deterministic inputs were fixed
-------------------------------------------
  * x-acs-date: `Utils.get_timestamp()` is left untouched; it formats
    `datetime.utcnow()` with "%Y-%m-%dT%H:%M:%SZ".  The `datetime` name inside
    `alibabacloud_tea_openapi.utils` is replaced by a subclass whose
    `utcnow()` returns 2026-11-22 05:30:00, so the SDK's own formatting yields
    "2026-11-22T05:30:00Z".
  * x-acs-signature-nonce: `Utils.get_nonce` (md5 of time/thread/random) is
    replaced by a function returning a fixed per-case 32-hex-char string.
  * user-agent: the SDK's default agent is
    "AlibabaCloud (<os>; <arch>) Python/<ver> Core/<tea ver> TeaDSL/2", which is
    host dependent and IS signed.  The private `Utils.__get_default_agent` is
    replaced by a constant (USER_AGENT below, same format); ALIBABA_CLOUD_USER_AGENT
    is removed from the environment.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import sys

import alibabacloud_tea_openapi.utils as oa_utils
from alibabacloud_tea_openapi.utils import Utils
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_smartag20180313.client import Client as SmartagClient
from alibabacloud_smartag20180313 import models as sag_models
from darabonba.core import DaraCore
from darabonba.request import DaraRequest
from darabonba.response import DaraResponse

FIXED_NOW = _dt.datetime(2026, 11, 22, 5, 30, 0)
USER_AGENT = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"
SIGN_TYPE = "ACS3-HMAC-SHA256"

# Fake, well-formed credentials (never valid anywhere).
AK_ID = "LTAI5tFakeAccessKeyId01"
AK_SECRET = "FakeAccessKeySecretForTestVectors01"
STS_AK_ID = "STS.NTestTemporaryAccessKeyId9"
STS_SECRET = "TempSecretForStsTestVector/with+chars="
STS_TOKEN = ("CAIS8gF1q6Ft5B2yfSjIr5fTPtHzvLZz4aG+d1f0gXkPe/tNnaT"
             "FakeSecurityTokenForTestVectorsOnly+/=AbCdEf0123456789==")

# --------------------------------------------------------------------------
# Determinism patches (inputs only; signing code is untouched)
# --------------------------------------------------------------------------


class _FrozenDatetime(_dt.datetime):
    @classmethod
    def utcnow(cls):
        return FIXED_NOW


oa_utils.datetime = _FrozenDatetime  # used by Utils.get_timestamp()

_current_nonce = {"value": None}
Utils.get_nonce = staticmethod(lambda: _current_nonce["value"])
Utils._Utils__get_default_agent = staticmethod(lambda: USER_AGENT)
os.environ.pop("ALIBABA_CLOUD_USER_AGENT", None)

# --------------------------------------------------------------------------
# Capture patches (record what the SDK computes)
# --------------------------------------------------------------------------
_capture = {}

_orig_get_authorization = Utils.get_authorization
_orig_hash = Utils.hash
_orig_signature_method = oa_utils.signature_method


def _wrapped_get_authorization(request, sign_type, payload, ak, secret):
    _capture["in_auth"] = True
    try:
        auth = _orig_get_authorization(request, sign_type, payload, ak, secret)
    finally:
        _capture["in_auth"] = False
    _capture["auth_call"] = {"payload": payload, "ak": ak, "auth": auth}
    return auth


def _wrapped_hash(raw, sign_type):
    if _capture.get("in_auth"):
        _capture["canonical_request"] = raw.decode("utf-8")
    return _orig_hash(raw, sign_type)


def _wrapped_signature_method(secret, source, sign_type):
    if _capture.get("in_auth"):
        _capture["string_to_sign"] = source
    return _orig_signature_method(secret, source, sign_type)


Utils.get_authorization = staticmethod(_wrapped_get_authorization)
Utils.hash = staticmethod(_wrapped_hash)
oa_utils.signature_method = _wrapped_signature_method


def _fake_do_action(request, runtime_option=None):
    _capture["request"] = request
    _capture["url"] = DaraCore.compose_url(request)
    resp = DaraResponse()
    resp.status_code = 200
    resp.status_message = "OK"
    resp.headers = {"content-type": "application/json;charset=utf-8"}
    resp.body = b'{"RequestId":"00000000-0000-0000-0000-000000000000"}'
    return resp


DaraCore.do_action = staticmethod(_fake_do_action)

# --------------------------------------------------------------------------


def _make_client(ak, secret, token=None, region="cn-shanghai", endpoint=None, protocol=None):
    cfg = open_api_models.Config(
        access_key_id=ak,
        access_key_secret=secret,
        security_token=token,
        region_id=region,
    )
    if endpoint is not None:
        cfg.endpoint = endpoint
    if protocol is not None:
        cfg.protocol = protocol
    return SmartagClient(cfg)


def _record(name, description, ak, secret, token, req):
    """Turn the captured SDK request into one vector object."""
    headers = [[k, v] for k, v in req.headers.items() if k != "Authorization"]
    query = [[k, v] for k, v in req.query.items() if v is not None]
    url = _capture.get("url")
    if url is None:
        # direct case: same composition the SDK uses for the wire URL
        url = DaraCore.compose_url(req)
    url_no_query = url.split("?", 1)[0]

    canonical_query = oa_utils.get_canonical_query_string(req.query)
    _, signed_headers = oa_utils.get_canonicalized_headers(
        {k: v for k, v in req.headers.items() if k != "Authorization"})
    auth = req.headers["Authorization"]
    canonical_request = _capture["canonical_request"]
    string_to_sign = _capture["string_to_sign"]
    signature = auth.rsplit("Signature=", 1)[1]

    # Self-consistency checks against what the SDK produced.
    assert auth == _capture["auth_call"]["auth"]
    assert auth == f"{SIGN_TYPE} Credential={ak},SignedHeaders={signed_headers},Signature={signature}"
    cr_lines = canonical_request.split("\n")
    assert cr_lines[0] == req.method and cr_lines[2] == canonical_query
    assert cr_lines[-2] == signed_headers
    assert cr_lines[-1] == req.headers["x-acs-content-sha256"] == _capture["auth_call"]["payload"]
    assert string_to_sign.startswith(SIGN_TYPE + "\n")
    assert Utils.hex_encode(_orig_signature_method(secret, string_to_sign, SIGN_TYPE)) == signature
    body = req.body if req.body is not None else ""
    if isinstance(body, bytes):
        body = body.decode("utf-8")

    return {
        "name": name,
        "description": description,
        "access_key_id": ak,
        "access_key_secret": secret,
        "security_token": token,
        "method": req.method,
        "url": url_no_query,
        "query": query,
        "body": body,
        "headers": headers,
        "expected": {
            "canonical_query": canonical_query,
            "canonical_request": canonical_request,
            "string_to_sign": string_to_sign,
            "signed_headers": signed_headers,
            "signature": signature,
            "authorization": auth,
        },
    }


def _sdk_case(name, description, nonce, call, ak=AK_ID, secret=AK_SECRET, token=None, **client_kw):
    _capture.clear()
    _current_nonce["value"] = nonce
    client = _make_client(ak, secret, token, **client_kw)
    call(client)
    return _record(name, description, ak, secret, token, _capture["request"])


def _online_clients(user_name, smartag_id="sag-0123456789abcdefgh", region="cn-shanghai"):
    def call(client):
        client.describe_user_online_clients(sag_models.DescribeUserOnlineClientsRequest(
            region_id=region, smart_agid=smartag_id, user_name=user_name))
    return call


def build_cases():
    cases = []

    cases.append(_sdk_case(
        "online_clients_plain_user",
        "DescribeUserOnlineClients, ASCII alnum user name, static AccessKey, "
        "regional endpoint chosen by the SDK from RegionId.",
        "3f1c2a9e7b5d4c6a8e0f1b2c3d4e5f60",
        _online_clients("alice")))

    cases.append(_sdk_case(
        "online_clients_user_space_at",
        "UserName with a space and '@': canonical query encodes space as %20 "
        "and '@' as %40.",
        "4a2b3c4d5e6f708192a3b4c5d6e7f801",
        _online_clients("alice smith@corp.example")))

    cases.append(_sdk_case(
        "online_clients_user_reserved_chars",
        "UserName with '*', '~', '+', '/', '=', '&', '%', '-', '_', '.': "
        "only unreserved A-Za-z0-9-_.~ stay literal; '*'->%2A, '+'->%2B, "
        "'/'->%2F, '='->%3D, '&'->%26, '%'->%25 (upper-case hex).",
        "5b3c4d5e6f708192a3b4c5d6e7f80912",
        _online_clients("a*b~c+d/e=f&g%h-i_j.k")))

    cases.append(_sdk_case(
        "online_clients_user_non_ascii",
        "Non-ASCII UserName (Latin-1 and CJK): percent-encoded UTF-8 bytes, "
        "upper-case hex.",
        "6c4d5e6f708192a3b4c5d6e7f8091a2b",
        _online_clients("Zoë 张伟")))

    cases.append(_sdk_case(
        "online_clients_sts_token",
        "STS credentials: SDK adds x-acs-accesskey-id and x-acs-security-token "
        "headers (both signed); x-acs-credentials-provider becomes static_sts. "
        "Secret and token contain '+', '/', '='.",
        "7d5e6f708192a3b4c5d6e7f8091a2b3c",
        _online_clients("bob"),
        ak=STS_AK_ID, secret=STS_SECRET, token=STS_TOKEN))

    cases.append(_sdk_case(
        "online_clients_endpoint_with_port",
        "Explicit endpoint 127.0.0.1:18080 over http: host header (signed) "
        "is 'host:port'.",
        "8e6f708192a3b4c5d6e7f8091a2b3c4d",
        _online_clients("carol"),
        endpoint="127.0.0.1:18080", protocol="http"))

    def client_users(client):
        client.describe_smart_access_gateway_client_users(
            sag_models.DescribeSmartAccessGatewayClientUsersRequest(
                region_id="cn-shanghai", smart_agid="sag-0123456789abcdefgh",
                page_number=2, page_size=50))
    cases.append(_sdk_case(
        "client_users_paged",
        "DescribeSmartAccessGatewayClientUsers with integer PageNumber=2, "
        "PageSize=50 (SDK stringifies with str()).",
        "9f708192a3b4c5d6e7f8091a2b3c4d5e",
        client_users))

    def stats(names):
        def call(client):
            client.describe_user_online_client_statistics(
                sag_models.DescribeUserOnlineClientStatisticsRequest(
                    region_id="cn-shanghai", smart_agid="sag-0123456789abcdefgh",
                    user_names=names))
        return call
    cases.append(_sdk_case(
        "online_client_statistics_user_names_list",
        "DescribeUserOnlineClientStatistics with UserNames list of 3: SDK "
        "flattens to UserNames.1..UserNames.3 (1-based). Includes a name with "
        "a space.",
        "a08192a3b4c5d6e7f8091a2b3c4d5e6f",
        stats(["alice", "bob smith", "carol@corp.example"])))

    cases.append(_sdk_case(
        "online_client_statistics_eleven_user_names",
        "UserNames list of 11: canonical query keys are sorted as plain "
        "strings, so UserNames.10 and UserNames.11 sort between UserNames.1 "
        "and UserNames.2 (the SDK's own query dict keeps 1..11 order).",
        "b192a3b4c5d6e7f8091a2b3c4d5e6f70",
        stats([f"user{i:02d}" for i in range(1, 12)])))

    # Direct call of the SDK signing function with a lean header set.
    _capture.clear()
    req = DaraRequest()
    req.protocol = "HTTPS"
    req.method = "POST"
    req.pathname = "/"
    req.query = Utils.query({"RegionId": "cn-shanghai",
                             "SmartAGId": "sag-0123456789abcdefgh",
                             "UserName": "alice smith@corp.example"})
    payload_hash = Utils.hash(b"", SIGN_TYPE).hex()
    req.headers = {
        "host": "smartag.cn-shanghai.aliyuncs.com",
        "x-acs-action": "DescribeUserOnlineClients",
        "x-acs-version": "2018-03-13",
        "x-acs-date": "2026-11-22T05:30:00Z",
        "x-acs-signature-nonce": "c2a3b4c5d6e7f8091a2b3c4d5e6f7081",
        "x-acs-content-sha256": payload_hash,
        "accept": "application/json",
    }
    req.headers["Authorization"] = Utils.get_authorization(
        req, SIGN_TYPE, payload_hash, AK_ID, AK_SECRET)
    cases.append(_record(
        "direct_minimal_headers",
        "Not a full SDK call: Utils.get_authorization invoked directly with a "
        "lean header set (host, x-acs-action, x-acs-version, x-acs-date, "
        "x-acs-signature-nonce, x-acs-content-sha256, accept) - no user-agent, "
        "no x-acs-credentials-provider. Shows every header passed in is signed "
        "and sorted.",
        AK_ID, AK_SECRET, None, req))

    return cases


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "acs3_hmac_sha256.json")
    cases = build_cases()
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names))
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        json.dump(cases, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(cases)} vectors to {out}")


if __name__ == "__main__":
    main()
