"""The API refuses what no AWS SDK sends, and every browser attack needs.

The attacks are the issue's repros, sent for real: a cross-site form POST (text/plain or
form-encoded, with the browser's Origin), an `<img>`-style GET with a forged presigned
query (browsers add Sec-Fetch-* headers they cannot take off), DNS rebinding (a foreign
Host), and requests without a signature. Each must be refused with AWS's error and must
not create anything. boto3, the AWS CLI, awslocal and the JS SDK v3 keep working.
"""
from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import socket
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import botocore.parsers
import pytest
import requests

from tests.helpers.accounts import ACCOUNT_1, REGION
from tests.helpers.server import ServerProcess, free_port

HERE = Path(__file__).parent
RUN_INSTANCES = (
    "Action=RunInstances&Version=2016-11-15&ImageId={ami}&InstanceType=t3.micro&MinCount=1&MaxCount=1"
    "&UserData=" + base64.b64encode(b"#!/bin/sh\nid > /var/tmp/vpclab-pwned\n").decode()
)


def signed_shape(account: str = ACCOUNT_1, service: str = "ec2") -> dict:
    """Headers shaped like an SDK's (the signature itself is not checked outside strict mode)."""
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20240101/{REGION}/{service}/aws4_request, "
                         "SignedHeaders=content-type;host;x-amz-date, Signature=00",
        "X-Amz-Date": "20240101T000000Z",
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }


def error(resp: requests.Response, protocol: str = "ec2") -> tuple[int, str]:
    ET.fromstring(resp.content)
    parsed = botocore.parsers.create_parser(protocol).parse(
        {"body": resp.content, "headers": dict(resp.headers), "status_code": resp.status_code}, None)
    return resp.status_code, parsed["Error"]["Code"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ServerProcess(tmp_path_factory.mktemp("guard"), free_port(),
                      env={"VPCLAB_ALLOWED_HOSTS": "vpclab.internal"}).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def ami(srv):
    return srv.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def instances(srv) -> list:
    return [i for r in srv.client("ec2").describe_instances()["Reservations"] for i in r["Instances"]]


def test_the_cross_site_text_plain_post_of_the_issue_is_refused(srv, ami):
    resp = requests.post(srv.url + "/", data=RUN_INSTANCES.format(ami=ami), timeout=10,
                         headers={"Content-Type": "text/plain", "Origin": "http://evil.example"})
    assert error(resp) == (403, "AccessDenied")
    assert "web pages" in resp.text
    assert instances(srv) == []


def test_a_cross_site_form_post_is_refused_even_with_a_signature_shape(srv, ami):
    # A form cannot set Authorization, but the refusal does not rest on that alone.
    headers = {**signed_shape(), "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    resp = requests.post(srv.url + "/", data=RUN_INSTANCES.format(ami=ami), headers=headers, timeout=10)
    assert error(resp) == (403, "AccessDenied")
    assert instances(srv) == []


def test_an_img_get_with_a_forged_presigned_query_is_refused(srv, ami):
    query = (RUN_INSTANCES.format(ami=ami) + "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
             f"&X-Amz-Credential={ACCOUNT_1}%2F20240101%2F{REGION}%2Fec2%2Faws4_request"
             "&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
    browser = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image",
               "User-Agent": "Mozilla/5.0"}
    resp = requests.get(f"{srv.url}/?{query}", headers=browser, timeout=10)
    assert error(resp) == (403, "AccessDenied")
    assert "sec-fetch-" in resp.text
    assert instances(srv) == []


def test_dns_rebinding_a_foreign_host_is_refused(srv):
    resp = requests.post(srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-15", timeout=10,
                         headers={**signed_shape(), "Host": f"evil.example:{srv.port}"})
    assert error(resp) == (403, "AccessDenied")
    assert "evil.example" in resp.text
    assert "<vpcSet>" not in resp.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST.", "[::1]", "vpclab.internal"])
def test_own_addresses_and_configured_hosts_are_accepted(srv, host):
    resp = requests.post(srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-15", timeout=10,
                         headers={**signed_shape(), "Host": f"{host}:{srv.port}"})
    assert resp.status_code == 200, resp.text
    assert "<vpcSet>" in resp.text


def test_no_signature_is_missing_authentication_token(srv, ami):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    resp = requests.post(srv.url + "/", data=RUN_INSTANCES.format(ami=ami), headers=form, timeout=10)
    assert error(resp) == (403, "MissingAuthenticationToken")
    resp = requests.post(srv.url + "/", data="Action=GetCallerIdentity&Version=2011-06-15", headers=form,
                         timeout=10)
    assert error(resp, "query") == (403, "MissingAuthenticationToken")
    assert instances(srv) == []


@pytest.mark.parametrize("authorization,missing", [
    ("AWS4-HMAC-SHA256 Credential=111111111111/20240101/ap-south-1/ec2/aws4_request", "Signature"),
    ("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00", "Credential"),
    ("Bearer abc", "algorithm"),
    ("AWS 111111111111:c2lnbmF0dXJl", "algorithm"),
])
def test_half_a_signature_is_incomplete_signature(srv, authorization, missing):
    headers = {**signed_shape(), "Authorization": authorization}
    resp = requests.post(srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-15", headers=headers, timeout=10)
    assert error(resp) == (400, "IncompleteSignature")
    assert missing in resp.text


def test_a_signature_without_a_date_is_incomplete(srv):
    headers = signed_shape()
    del headers["X-Amz-Date"]
    resp = requests.post(srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-15", headers=headers, timeout=10)
    assert error(resp) == (400, "IncompleteSignature")


@pytest.mark.parametrize("media_type", ["text/plain", "application/json", "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_a_form_is_refused(srv, media_type):
    headers = {**signed_shape(), "Content-Type": media_type}
    resp = requests.post(srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-15", headers=headers, timeout=10)
    assert error(resp) == (400, "InvalidQueryParameter")
    assert media_type.split(";")[0] in resp.text


def test_a_false_gzip_body_is_an_aws_error_and_one_log_line(srv):
    headers = {**signed_shape(), "Content-Encoding": "gzip"}
    resp = requests.post(srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-15", headers=headers, timeout=10)
    assert error(resp) == (400, "InvalidQueryParameter")
    assert "Traceback" not in srv.log()


def test_a_real_gzip_body_is_read(srv):
    headers = {**signed_shape(), "Content-Encoding": "gzip"}
    resp = requests.post(srv.url + "/", data=gzip.compress(b"Action=DescribeVpcs&Version=2016-11-15"),
                         headers=headers, timeout=10)
    assert resp.status_code == 200 and "<vpcSet>" in resp.text


def test_a_body_over_16_mib_is_request_entity_too_large(srv):
    body = b"Action=DescribeVpcs&Version=2016-11-15&x=" + b"a" * (16 * 1024 * 1024)
    resp = requests.post(srv.url + "/", data=body, headers=signed_shape(), timeout=30)
    assert error(resp) == (413, "RequestEntityTooLarge")


@pytest.mark.parametrize("length", [9 * 1024, 200 * 1024])
def test_a_url_over_8_kib_is_an_aws_error(srv, length):
    resp = requests.get(f"{srv.url}/?Action=DescribeVpcs&Version=2016-11-15&x={'a' * length}",
                        headers=signed_shape(), timeout=10)
    assert error(resp) == (414, "RequestURITooLong")
    assert "Traceback" not in srv.log()


def test_a_garbage_request_line_is_one_log_line(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /?" + b"a" * (2 * 1024 * 1024) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.")
    assert "Traceback" not in srv.log()
    assert srv.client("ec2").describe_vpcs()["Vpcs"]


# SDKs and tools --------------------------------------------------------------------------

def test_boto3_presigned_url_is_accepted(srv):
    url = srv.client("ec2").generate_presigned_url("describe_vpcs", Params={}, ExpiresIn=60)
    resp = requests.post(url, timeout=10)  # botocore signs EC2 presigned URLs as POST
    assert resp.status_code == 200 and "<vpcSet>" in resp.text


def test_awslocal_works(srv):
    awslocal = shutil.which("awslocal") or str(Path(os.sys.executable).parent / "awslocal")
    env = {**os.environ, "LOCALSTACK_HOST": f"127.0.0.1:{srv.port}", "AWS_ACCESS_KEY_ID": ACCOUNT_1,
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": REGION}
    env.pop("AWS_ENDPOINT_URL", None)
    out = subprocess.run([awslocal, "ec2", "describe-vpcs", "--output", "json"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Vpcs"][0]["CidrBlock"] == "172.31.0.0/16"


def _js_sdk_dir() -> Path:
    """tests/js installed (npm ci, once) into the venv, outside the source tree."""
    target = Path(os.sys.prefix) / "js-sdk-check"
    lock = (HERE / "js" / "package-lock.json").read_bytes()
    if not (target / "node_modules").is_dir() or (target / "package-lock.json").read_bytes() != lock:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(HERE / "js" / name, target / name)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target, check=True,
                       timeout=300, capture_output=True)
    shutil.copy(HERE / "js" / "sdk_check.mjs", target / "sdk_check.mjs")
    return target


def test_the_js_sdk_v3_works(srv):
    directory = _js_sdk_dir()
    env = {**os.environ, "VPCLAB_URL": srv.url, "KEY_ID": "333333333333", "SECRET": "x",
           "NODE_NO_WARNINGS": "1"}
    out = subprocess.run(["node", "sdk_check.mjs"], cwd=directory, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["account"] == "333333333333"
    assert got["vpcs"] == ["172.31.0.0/16"]
    assert got["group"].startswith("sg-")
    assert got["loadBalancers"] == 0
    assert got["duplicate"] == "InvalidGroup.Duplicate"


def test_an_unknown_content_encoding_is_an_aws_error(srv):
    headers = {**signed_shape(), "Content-Encoding": "br"}
    resp = requests.post(srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-15", headers=headers, timeout=10)
    assert error(resp) == (400, "InvalidQueryParameter")
    assert "'br'" in resp.text


def test_a_gzip_bomb_stops_at_the_body_limit(srv):
    bomb = gzip.compress(b"Action=DescribeVpcs&Version=2016-11-15&x=" + b"a" * (64 * 1024 * 1024))
    assert len(bomb) < 200 * 1024
    resp = requests.post(srv.url + "/", data=bomb, headers={**signed_shape(), "Content-Encoding": "gzip"},
                         timeout=30)
    assert error(resp) == (413, "RequestEntityTooLarge")


def test_an_error_before_the_body_is_read_is_in_the_signed_services_envelope(srv):
    headers = {**signed_shape(service="elasticloadbalancing"), "Content-Encoding": "gzip"}
    resp = requests.post(srv.url + "/", data="Action=DescribeLoadBalancers&Version=2015-12-01", headers=headers,
                         timeout=10)
    assert error(resp, "query") == (400, "InvalidQueryParameter")
    assert b"<ErrorResponse" in resp.content


def test_a_malformed_signature_date_is_incomplete_signature(srv):
    headers = {**signed_shape(), "X-Amz-Date": "yesterday"}
    resp = requests.post(srv.url + "/", data="Action=DescribeVpcs&Version=2016-11-15", headers=headers, timeout=10)
    assert error(resp) == (400, "IncompleteSignature")


def test_a_broken_signature_on_a_shared_action_name_answers_in_its_versions_envelope(srv):
    """DescribeTags is both EC2's and ELBv2's: the Version tells which envelope to answer in."""
    headers = {**signed_shape(), "Authorization": "AWS4-HMAC-SHA256 Credential=x"}
    resp = requests.post(srv.url + "/", data="Action=DescribeTags&Version=2015-12-01", headers=headers, timeout=10)
    assert error(resp, "query") == (400, "IncompleteSignature")
    assert b"<ErrorResponse" in resp.content
    resp = requests.post(srv.url + "/", data="Action=DescribeTags&Version=2016-11-15", headers=headers, timeout=10)
    assert error(resp, "ec2") == (400, "IncompleteSignature")
    assert b"<Response><Errors>" in resp.content
