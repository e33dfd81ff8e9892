"""The console's API: only the console page may use it, and it answers exactly what the AWS API does."""
from __future__ import annotations

import re

import pytest
import requests

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION

CALL = "/console/api/call"


def token_of(srv) -> str:
    page = requests.get(srv.url + "/console/", timeout=10)
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    return re.search(r'name="vpclab-console-token" content="([^"]+)"', page.text).group(1)


def call(srv, token: str | None, body: dict, **headers) -> requests.Response:
    sent = {"Content-Type": "application/json", **headers}
    if token is not None:
        sent["X-Vpclab-Console-Token"] = token
    return requests.post(srv.url + CALL, json=body, headers=sent, timeout=10)


def run_instance(srv, account: str, name: str) -> str:
    ec2 = srv.client("ec2", account)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}])["Instances"][0]["InstanceId"]


def describe(account: str) -> dict:
    return {"account": account, "region": REGION, "service": "ec2", "operation": "DescribeInstances", "params": {}}


def test_a_browser_opening_the_root_is_sent_to_the_console(shared_server):
    resp = requests.get(shared_server.url + "/", allow_redirects=False, timeout=10)
    assert resp.status_code == 302 and resp.headers["Location"] == "/console/"


def test_what_boto3_made_appears_in_the_console_of_its_account_only(shared_server):
    token = token_of(shared_server)
    mine = run_instance(shared_server, ACCOUNT_1, "console-one")
    ids = lambda account: [i["InstanceId"] for r in call(shared_server, token, describe(account)).json()[  # noqa: E731
        "output"]["Reservations"] for i in r["Instances"]]
    assert mine in ids(ACCOUNT_1)
    assert mine not in ids(ACCOUNT_2)
    assert ids(ACCOUNT_1) == [i["InstanceId"] for r in shared_server.client("ec2", ACCOUNT_1).describe_instances()[
        "Reservations"] for i in r["Instances"]]


def test_what_the_console_does_is_what_the_api_then_describes(shared_server):
    token = token_of(shared_server)
    resp = call(shared_server, token, {"account": ACCOUNT_2, "region": REGION, "service": "ec2",
                                       "operation": "CreateSecurityGroup",
                                       "params": {"GroupName": "from-console", "Description": "made in the console"}})
    assert resp.status_code == 200
    group = resp.json()["output"]["GroupId"]
    described = shared_server.client("ec2", ACCOUNT_2).describe_security_groups(GroupIds=[group])["SecurityGroups"]
    assert described[0]["GroupName"] == "from-console"


def test_an_aws_error_comes_back_as_aws_gave_it(shared_server):
    token = token_of(shared_server)
    resp = call(shared_server, token, {"account": ACCOUNT_1, "region": REGION, "service": "ec2",
                                       "operation": "DescribeVpcs", "params": {"VpcIds": ["vpc-0123456789abcdef0"]}})
    assert resp.status_code == 400
    assert resp.json()["error"]["Code"] == "InvalidVpcID.NotFound"
    bad = call(shared_server, token, {"account": ACCOUNT_1, "region": REGION, "service": "ec2",
                                      "operation": "DescribeVpcs", "params": {"VpcIds": "vpc-1"}})
    assert bad.status_code == 400 and bad.json()["error"]["Code"] == "ParamValidation"


@pytest.mark.parametrize("body", [
    [], {"account": "12", "region": REGION, "service": "ec2", "operation": "DescribeVpcs"},
    {"account": "\u0661" * 12, "region": REGION, "service": "ec2", "operation": "DescribeVpcs"},  # not ASCII digits
    {"account": ACCOUNT_1, "region": REGION, "service": "s3", "operation": "ListBuckets"},
    {"account": ACCOUNT_1, "region": REGION, "service": "ec2", "operation": "NoSuchOperation"},
])
def test_a_malformed_console_call_is_a_validation_error(shared_server, body):
    resp = call(shared_server, token_of(shared_server), body)
    assert resp.status_code == 400 and resp.json()["error"]["Code"] == "ValidationError"


@pytest.mark.parametrize("with_token,headers,why", [
    (False, {}, "token"),
    (False, {"X-Vpclab-Console-Token": "guessed"}, "token"),
    (False, {"X-Vpclab-Console-Token": "t\u00f6k\u00e9n".encode("latin-1")}, "token"),  # not ASCII: a 403, not a 500
    (True, {"Origin": "http://evil.example"}, "evil.example"),
    (True, {"Origin": "http://127.0.0.1:8000"}, "127.0.0.1:8000"),  # another page on this machine
    (True, {"Sec-Fetch-Site": "cross-site"}, "cross-site"),
    (True, {"Host": "rebound.example:4566"}, "rebound.example"),
])
def test_a_request_not_from_the_console_page_changes_nothing(shared_server, with_token, headers, why):
    token = token_of(shared_server) if with_token else None
    ec2 = shared_server.client("ec2", ACCOUNT_1)
    before = {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    resp = call(shared_server, token, {"account": ACCOUNT_1, "region": REGION, "service": "ec2",
                                       "operation": "CreateSecurityGroup",
                                       "params": {"GroupName": "csrf", "Description": "x"}}, **headers)
    assert resp.status_code == 403 and why in resp.json()["Message"]
    assert {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]} == before


def test_a_cross_site_form_post_is_refused(shared_server):
    """What an HTML form on another site can send: no token, form media type, its Origin."""
    resp = requests.post(shared_server.url + CALL, data={"operation": "RunInstances"}, timeout=10,
                         headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 403


def test_a_rebound_host_gets_no_page_and_no_token(shared_server):
    resp = requests.get(shared_server.url + "/console/", headers={"Host": "rebound.example"}, timeout=10)
    assert resp.status_code == 403 and "vpclab-console-token" not in resp.text


def test_the_console_page_has_no_cross_origin_grant(shared_server):
    resp = requests.options(shared_server.url + CALL, timeout=10, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-vpclab-console-token"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_vpclab_console_prints_the_url_of_the_running_server(shared_server, tmp_path):
    import subprocess
    import sys

    run = lambda sd: subprocess.run([sys.executable, "-m", "vpclab.cli", "console", "--no-open",  # noqa: E731
                                     "--state-dir", str(sd)], capture_output=True, text=True, timeout=60)
    done = run(shared_server.state_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == shared_server.url + "/console/"
    assert requests.get(done.stdout.strip(), timeout=10).status_code == 200
    none = run(tmp_path / "nothing-here")
    assert none.returncode != 0 and len(none.stderr.strip().splitlines()) == 1
    assert "no server runs" in none.stderr
