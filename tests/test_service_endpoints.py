"""From inside an instance, the AWS CLI reaches vpclab's API only through an interface
endpoint to the service, at its usual name, over HTTPS that verifies: the issue's
"endpoint to an AWS service" check, through the APIs and the real AWS CLI (Debian's
`awscli`, on the instance's image). Root only; everything made is removed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.dataplane_server import dataplane_server_in
from tests.helpers.instances import launch, vexec, wait_state
from tests.helpers.waiting import wait_for

REGION = "ap-south-1"
EC2 = f"com.amazonaws.{REGION}.ec2"
STS = f"com.amazonaws.{REGION}.sts"
#: Any key: through an endpoint, the request acts as the endpoint's owner.
CLI_ENV = ("env", "AWS_ACCESS_KEY_ID=999999999999", "AWS_SECRET_ACCESS_KEY=x", f"AWS_DEFAULT_REGION={REGION}")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    yield from dataplane_server_in(Path(tmp_path_factory.mktemp("svc")) / "state")


def aws_in(srv, iid: str, *argv: str):
    """The AWS CLI in instance `iid` (its own endpoint resolution, trust and network)."""
    return vexec(srv, iid, *CLI_ENV, "aws", *argv, "--output", "json", "--cli-connect-timeout", "3",
                 "--cli-read-timeout", "10", timeout=90)


@pytest.fixture(scope="module")
def world(srv):
    ec2 = srv.client("ec2", ACCOUNT_1, region=REGION)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                           {"Name": "availability-zone", "Values": [f"{REGION}a"]}])["Subnets"][0]
    sg = ec2.create_security_group(GroupName="api", Description="HTTPS to the endpoints", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "172.31.0.0/16"}]}])
    srv.client("ec2", ACCOUNT_2, region=REGION).create_vpc(CidrBlock="10.22.0.0/16")  # another account's
    iid = launch(ec2, "cli", user_data=None, SubnetId=subnet["SubnetId"], SecurityGroupIds=[sg])["InstanceId"]
    wait_state(ec2, iid, "running", timeout=30)
    return ec2, vpc, subnet["SubnetId"], sg, iid


def endpoint(ec2, vpc: str, subnet: str, sg: str, service: str) -> str:
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=service,
                                 SubnetIds=[subnet], SecurityGroupIds=[sg])["VpcEndpoint"]
    assert ep["PrivateDnsEnabled"] is True  # AWS services default to private DNS
    wait_for(lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["VpcEndpoints"][0]["State"]
             == "available", timeout=20, interval=0.2, what=f"{service} endpoint available")
    return ep["VpcEndpointId"]


def delete(ec2, endpoint_id: str) -> None:
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])

    def gone() -> bool:
        found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-endpoint-id", "Values": [endpoint_id]}])
        return all(e["State"] == "deleted" for e in found["VpcEndpoints"])
    wait_for(gone, timeout=20, interval=0.2, what=f"{endpoint_id} deleted")


def test_without_an_endpoint_the_instance_cannot_reach_the_api(srv, world):
    _ec2, _vpc, _subnet, _sg, iid = world
    r = aws_in(srv, iid, "ec2", "describe-vpcs")
    assert r.returncode != 0
    assert "Could not connect to the endpoint URL" in r.stderr and "ec2.ap-south-1.amazonaws.com" in r.stderr


def test_describe_vpcs_through_the_ec2_endpoint_then_not_once_it_is_deleted(srv, world):
    ec2, vpc, subnet, sg, iid = world
    endpoint_id = endpoint(ec2, vpc, subnet, sg, EC2)
    try:
        r = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(aws_in(srv, iid, "ec2", "describe-vpcs")),
                     timeout=20, interval=0.5, what="describe-vpcs through the endpoint")
        seen = {v["VpcId"] for v in json.loads(r.stdout)["Vpcs"]}
        own = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
        assert seen == own and vpc in seen  # its own account's, never account 2's
        assert not any(v["CidrBlock"] == "10.22.0.0/16" for v in json.loads(r.stdout)["Vpcs"])
        # Verification is on: the CLI was given no --no-verify-ssl, and a bundle without
        # the state directory's CA fails the handshake.
        bad = vexec(srv, iid, *CLI_ENV, "AWS_CA_BUNDLE=/usr/share/ca-certificates/mozilla/ACCVRAIZ1.crt", "aws", "ec2",
                    "describe-vpcs", "--cli-connect-timeout", "3", timeout=60)
        assert bad.returncode != 0 and "SSL" in bad.stderr
    finally:
        delete(ec2, endpoint_id)
    r = aws_in(srv, iid, "ec2", "describe-vpcs")
    assert r.returncode != 0 and "Could not connect to the endpoint URL" in r.stderr


def test_sts_through_its_endpoint_names_the_endpoints_account(srv, world):
    ec2, vpc, subnet, sg, iid = world
    endpoint_id = endpoint(ec2, vpc, subnet, sg, STS)
    try:
        r = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(
            aws_in(srv, iid, "sts", "get-caller-identity", "--endpoint-url", f"https://sts.{REGION}.amazonaws.com")),
            timeout=20, interval=0.5, what="get-caller-identity through the endpoint")
        assert json.loads(r.stdout)["Account"] == ACCOUNT_1
    finally:
        delete(ec2, endpoint_id)


def test_the_endpoints_security_group_decides(srv, world):
    ec2, vpc, subnet, _sg, iid = world
    closed = ec2.create_security_group(GroupName="closed", Description="nothing in", VpcId=vpc)["GroupId"]
    endpoint_id = endpoint(ec2, vpc, subnet, closed, EC2)
    try:
        r = aws_in(srv, iid, "ec2", "describe-vpcs")
        assert r.returncode != 0 and "Connect timeout" in r.stderr
    finally:
        delete(ec2, endpoint_id)
