#!/usr/bin/env python3
"""Checks the simulator's identity services against the official SDKs' own
credential providers: if a provider of the Huawei Cloud or Alibaba Cloud SDK can
read credentials from the simulator, the simulator speaks the protocol the real
services speak (paths, headers, session tokens, bodies and answer shapes), and the
exporter's tests against it mean something.

Usage (from the repository root, with the exporter built):

    python3 -m pip install huaweicloudsdkcore==3.1.219 alibabacloud-credentials==1.0.12
    python3 tests/vectors/identity/verify.py target/debug/workspace-exporter

It starts `workspace-exporter simulate`, reads the identity settings it prints, and
points each provider at it (the SDKs hard-code the metadata addresses and https, so
the script replaces those constants, never the protocol code). Exit status 0 when
every provider got credentials whose expiry lies in the future.
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.parse


def start_simulator(binary):
    proc = subprocess.Popen(
        [binary, "simulate", "--listen-address", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    settings = {}
    while "sag_assume_role_arn" not in settings:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the simulator exited before printing its settings")
        for part in line.split():
            key, _, value = part.partition("=")
            settings[key] = value
    return proc, settings


def check(name, access, secret, token, expires_at):
    problems = [what for what, value in (("access key", access), ("secret", secret), ("token", token)) if not value]
    if expires_at <= time.time():
        problems.append(f"expiry {expires_at} is not in the future")
    status = "ok" if not problems else "FAILED: " + ", ".join(problems)
    print(f"{name}: {status}")
    return not problems


def huawei_metadata(url):
    from huaweicloudsdkcore.auth import internal

    accessor = internal.MetadataAccessor()
    accessor._METADATA_ENDPOINT = url
    c = accessor.get_credential()
    return check("huaweicloudsdkcore MetadataAccessor (ECS agency)", c.access, c.secret, c.security_token, c.expire_at)


def huawei_oidc(url, settings):
    from huaweicloudsdkcore.auth import internal
    from huaweicloudsdkcore.http.http_client import HttpClient
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkcore.http.http_handler import HttpHandler
    import logging

    with tempfile.NamedTemporaryFile("w", suffix=".token", delete=False) as f:
        f.write(settings["huawei_id_token"] + "\n")
    config = HttpConfig.get_default_config()
    client = HttpClient(config, HttpHandler(), ["X-Subject-Token"], logging.getLogger("sdk"))
    c = internal.FederalAccessor().get_credential(
        iam_endpoint=url,
        http_client=client,
        idp_id=settings["huawei_idp_id"],
        id_token_file=f.name,
    )
    os.unlink(f.name)
    return check("huaweicloudsdkcore FederalAccessor (OIDC ID token at IAM)", c.access, c.secret, c.security_token, c.expire_at)


def plain_http(host_port):
    """Makes the Tea runtime speak http to the simulator instead of https."""
    from Tea.core import TeaCore

    original = TeaCore.do_action

    def do_action(request, runtime=None):
        request.protocol = "http"
        request.headers["host"] = host_port
        return original(request, runtime)

    TeaCore.do_action = staticmethod(do_action)


def alibaba_ecs_ram_role(host_port):
    from alibabacloud_credentials.provider.ecs_ram_role import EcsRamRoleCredentialsProvider

    provider = EcsRamRoleCredentialsProvider(async_update_enabled=False)
    provider._EcsRamRoleCredentialsProvider__metadata_service_host = host_port
    c = provider.get_credentials()
    return check(
        "alibabacloud-credentials EcsRamRoleCredentialsProvider (role discovered)",
        c.get_access_key_id(), c.get_access_key_secret(), c.get_security_token(), c.get_expiration(),
    )


def alibaba_oidc(host_port, settings):
    from alibabacloud_credentials.provider.oidc import OIDCRoleArnCredentialsProvider

    with tempfile.NamedTemporaryFile("w", suffix=".token", delete=False) as f:
        f.write(settings["sag_oidc_token"])  # as the kubelet writes it: no newline
    provider = OIDCRoleArnCredentialsProvider(
        role_arn=settings["sag_oidc_role_arn"],
        oidc_provider_arn=settings["sag_oidc_provider_arn"],
        oidc_token_file_path=f.name,
        role_session_name="sdk-verify",
        sts_endpoint=host_port,
    )
    c = provider.get_credentials()
    os.unlink(f.name)
    return check(
        "alibabacloud-credentials OIDCRoleArnCredentialsProvider (RRSA)",
        c.get_access_key_id(), c.get_access_key_secret(), c.get_security_token(), c.get_expiration(),
    )


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    proc, settings = start_simulator(sys.argv[1])
    try:
        url = settings["url"]
        host_port = urllib.parse.urlsplit(url).netloc
        results = [huawei_metadata(url), huawei_oidc(url, settings)]
        plain_http(host_port)
        results += [alibaba_ecs_ram_role(host_port), alibaba_oidc(host_port, settings)]
    finally:
        proc.terminate()
        proc.wait()
    print(f"{sum(results)} of {len(results)} SDK providers read credentials from the simulator")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
