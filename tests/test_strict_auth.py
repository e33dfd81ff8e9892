"""Strict mode: only requests signed with a key vpclab issued get through.

botocore's signer is the oracle: what it signs with the right secret must verify, and a
request changed after signing (or signed with another secret, or too long ago) must not.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys

import boto3
import botocore.auth
import botocore.exceptions
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.accounts import REGION
from tests.helpers.server import ServerProcess, free_port
from vpclab.protocol import sigv4
from vpclab.protocol.request_guard import HttpRequest, RequestGuard

PROVIDER, CONSUMER = "111111111111", "222222222222"


def vpclab(*args: str, state_dir) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vpclab.cli", *args, "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=60)


def issue(state_dir, account: str, name: str = "") -> dict:
    out = vpclab("accounts", "create", "--account", account, "--name", name, "--json", state_dir=state_dir)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    state = tmp_path_factory.mktemp("strict")
    keys = {PROVIDER: issue(state, PROVIDER, "provider")}
    srv = ServerProcess(state, free_port(), env={"VPCLAB_STRICT_AUTH": "1"}).start()
    try:
        yield srv, keys
    finally:
        srv.stop()


def client(srv, service: str, key_id: str, secret: str):
    return boto3.client(service, endpoint_url=srv.url, region_name=REGION, aws_access_key_id=key_id,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def code_of(call) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_secrets_are_readable_by_their_owner_only(strict):
    srv, keys = strict
    path = srv.state_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys[PROVIDER]["SecretAccessKey"] in path.read_text()
    if os.geteuid() == 0:  # a local user cannot read them
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", str(path)],
                             capture_output=True, text=True)
        assert out.returncode != 0 and "Permission denied" in out.stderr


def test_an_issued_key_works_and_is_its_account(strict):
    srv, keys = strict
    k = keys[PROVIDER]
    assert client(srv, "sts", k["AccessKeyId"], k["SecretAccessKey"]).get_caller_identity()["Account"] == PROVIDER
    assert client(srv, "ec2", k["AccessKeyId"], k["SecretAccessKey"]).describe_vpcs()["Vpcs"]
    assert client(srv, "elbv2", k["AccessKeyId"], k["SecretAccessKey"]).describe_load_balancers()["LoadBalancers"] == []


def test_a_key_issued_while_the_server_runs_works_at_once(strict):
    srv, _ = strict
    k = issue(srv.state_dir, CONSUMER, "consumer")
    assert client(srv, "sts", k["AccessKeyId"], k["SecretAccessKey"]).get_caller_identity()["Account"] == CONSUMER


def test_a_wrong_secret_is_refused_as_aws_refuses_it(strict):
    srv, keys = strict
    k = keys[PROVIDER]
    assert code_of(lambda: client(srv, "ec2", k["AccessKeyId"], "wrong").describe_vpcs()) == ("AuthFailure", 401)
    assert code_of(lambda: client(srv, "sts", k["AccessKeyId"], "wrong").get_caller_identity()) \
        == ("SignatureDoesNotMatch", 403)
    assert code_of(lambda: client(srv, "elbv2", k["AccessKeyId"], "wrong").describe_load_balancers()) \
        == ("SignatureDoesNotMatch", 403)


def test_an_account_id_as_key_is_not_enough_in_strict_mode(strict):
    srv, _ = strict
    assert code_of(lambda: client(srv, "ec2", PROVIDER, "x").describe_vpcs()) == ("AuthFailure", 401)
    assert code_of(lambda: client(srv, "sts", PROVIDER, "x").get_caller_identity()) == ("InvalidClientTokenId", 403)


def test_a_local_users_forged_request_is_refused(strict):
    """The issue's local-user repro: the shape of a signature, without the secret."""
    srv, keys = strict
    forged = {"Authorization": f"AWS4-HMAC-SHA256 Credential={keys[PROVIDER]['AccessKeyId']}/20240101/{REGION}"
                               "/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
              "X-Amz-Date": dt.datetime.now(dt.timezone.utc).strftime(sigv4.TIMESTAMP_FORMAT),
              "Content-Type": "application/x-www-form-urlencoded"}
    resp = requests.post(srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-15", headers=forged, timeout=10)
    assert resp.status_code == 401 and "<Code>AuthFailure</Code>" in resp.text


def test_a_request_changed_after_signing_is_refused(strict):
    srv, keys = strict
    k = keys[PROVIDER]
    request = AWSRequest("POST", srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-15",
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(Credentials(k["AccessKeyId"], k["SecretAccessKey"]), "ec2", REGION).add_auth(request)
    headers = dict(request.headers.items())
    ok = requests.post(srv.url + "/", data=request.body, headers=headers, timeout=10)
    assert ok.status_code == 200, ok.text
    tampered = requests.post(srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-16", headers=headers,
                             timeout=10)
    assert tampered.status_code == 401 and "AuthFailure" in tampered.text


def test_an_old_signature_is_request_expired(strict, monkeypatch):
    srv, keys = strict
    k = keys[PROVIDER]
    past = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: past)
    assert code_of(lambda: client(srv, "sts", k["AccessKeyId"], k["SecretAccessKey"]).get_caller_identity()) \
        == ("RequestExpired", 400)


def test_presigned_urls_verify_and_tampered_ones_do_not(strict):
    srv, keys = strict
    k = keys[PROVIDER]
    url = client(srv, "ec2", k["AccessKeyId"], k["SecretAccessKey"]).generate_presigned_url(
        "describe_vpcs", Params={}, ExpiresIn=60)
    assert requests.post(url, timeout=10).status_code == 200
    assert requests.post(url.replace("Action=DescribeVpcs", "Action=DescribeSubnets"), timeout=10).status_code == 401


# The verifier against botocore's signer, without a server --------------------------------

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)


def _guard_sees(request: AWSRequest) -> HttpRequest:
    from urllib.parse import urlsplit

    parts = urlsplit(request.url)
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    headers.setdefault("host", [parts.netloc])
    body = request.body or b""
    return HttpRequest(request.method, parts.path or "/", parts.query, headers,
                       body if isinstance(body, bytes) else body.encode())


@settings(max_examples=200, deadline=None)
@given(params=st.dictionaries(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefz.0123456789-_~", min_size=1, max_size=12),
                              _text, max_size=5),
       path=st.sampled_from(["/", "/a/b", "/a%20b/", "/~x"]),
       region=st.sampled_from(["ap-south-1", "us-east-1"]),
       service=st.sampled_from(["ec2", "elasticloadbalancing", "sts"]),
       in_query=st.booleans(), extra_header=_text)
def test_botocore_signatures_verify(params, path, region, service, in_query, extra_header):
    from urllib.parse import quote, urlencode

    url = "http://127.0.0.1:4566" + path
    if in_query:  # as SDKs write a query: percent-encoded (%20, never +)
        request = AWSRequest("GET", url + ("?" + urlencode(params, quote_via=quote, safe="-_.~") if params else ""))
    else:
        request = AWSRequest("POST", url, data=urlencode(params),
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    request.headers["X-Custom"] = "  a   b " + extra_header
    botocore.auth.SigV4Auth(Credentials("AKIAEXAMPLE", SECRET), service, region).add_auth(request)
    seen = _guard_sees(request)
    guard = RequestGuard(secret_of=lambda key: SECRET if key == "AKIAEXAMPLE" else None)
    from urllib.parse import parse_qsl

    sig = guard.check(seen, dict(parse_qsl(seen.raw_query, keep_blank_values=True)), "sts")
    assert (sig.access_key, sig.region, sig.service) == ("AKIAEXAMPLE", region, service)
    # The same request under another secret does not verify.
    other = RequestGuard(secret_of=lambda key: SECRET + "x")
    with pytest.raises(Exception) as err:
        other.check(seen, dict(parse_qsl(seen.raw_query, keep_blank_values=True)), "sts")
    assert getattr(err.value, "code", "") == "SignatureDoesNotMatch"


def test_a_presigned_botocore_url_verifies_offline():
    from urllib.parse import parse_qsl

    request = AWSRequest("GET", "http://localhost:4566/?Action=DescribeVpcs&Version=2016-11-15")
    botocore.auth.SigV4QueryAuth(Credentials("AKIAEXAMPLE", SECRET), "ec2", "ap-south-1", expires=300) \
        .add_auth(request)
    seen = _guard_sees(request)
    guard = RequestGuard(secret_of=lambda key: SECRET)
    sig = guard.check(seen, dict(parse_qsl(seen.raw_query, keep_blank_values=True)), "ec2")
    assert sig.presigned and sig.expires == 300


def test_a_second_credential_in_the_header_cannot_borrow_another_account(strict):
    """Signed with the provider's secret, naming the consumer's key first: refused, and
    never the consumer's account."""
    srv, keys = strict
    consumer = issue(srv.state_dir, CONSUMER)
    k = keys[PROVIDER]
    request = AWSRequest("POST", srv.url + "/", data="Action=GetCallerIdentity&Version=2011-06-15",
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(Credentials(k["AccessKeyId"], k["SecretAccessKey"]), "sts", REGION).add_auth(request)
    headers = dict(request.headers.items())
    scope = headers["Authorization"].split("Credential=")[1].split(",")[0]
    borrowed = scope.replace(k["AccessKeyId"], consumer["AccessKeyId"])
    headers["Authorization"] = headers["Authorization"].replace(
        "Credential=", f"Credential={borrowed}, Credential=", 1)
    resp = requests.post(srv.url + "/", data=request.body, headers=headers, timeout=10)
    assert resp.status_code == 400 and "IncompleteSignature" in resp.text
    assert CONSUMER not in resp.text


def test_the_console_is_not_a_way_round_strict_mode(strict):
    """The console signs in without keys, so a strict server does not serve it."""
    srv, _keys = strict
    assert requests.get(srv.url + "/console/", timeout=10).status_code != 200
    resp = requests.post(srv.url + "/console/api/call", json={
        "account": PROVIDER, "region": REGION, "service": "ec2", "operation": "CreateSecurityGroup",
        "params": {"GroupName": "via-console", "Description": "x"}}, timeout=10)
    assert resp.status_code != 200 and "GroupId" not in resp.text
