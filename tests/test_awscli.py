"""The AWS CLI against vpclab, as a user would run it: a subprocess, JSON on stdout."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys


from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION


def aws_command() -> list[str]:
    exe = shutil.which("aws")
    return [exe] if exe else [sys.executable, "-m", "awscli"]


def run_aws(srv, *args: str, account: str = ACCOUNT_1, region: str = REGION,
            check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=account,
        AWS_SECRET_ACCESS_KEY="x",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_MAX_ATTEMPTS="1",
        AWS_PAGER="",
    )
    proc = subprocess.run(
        [*aws_command(), "--endpoint-url", srv.url, "--region", region, "--output", "json", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )
    if check:
        assert proc.returncode == 0, f"aws {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
    return proc


def aws_json(srv, *args: str, **kw) -> dict:
    out = run_aws(srv, *args, **kw).stdout
    return json.loads(out) if out.strip() else {}


def test_describe_vpcs_shows_default_vpc(shared_server):
    vpcs = aws_json(shared_server, "ec2", "describe-vpcs")["Vpcs"]
    default = [v for v in vpcs if v["IsDefault"]]
    assert [v["CidrBlock"] for v in default] == ["172.31.0.0/16"]
    assert default[0]["OwnerId"] == ACCOUNT_1


def test_create_vpc_then_describe_and_tag(shared_server):
    vpc = aws_json(shared_server, "ec2", "create-vpc", "--cidr-block", "10.1.0.0/16")["Vpc"]
    assert vpc["CidrBlock"] == "10.1.0.0/16" and vpc["VpcId"].startswith("vpc-")
    run_aws(shared_server, "ec2", "create-tags", "--resources", vpc["VpcId"],
            "--tags", "Key=Name,Value=from-cli")
    got = aws_json(shared_server, "ec2", "describe-vpcs", "--filters", "Name=tag:Name,Values=from-cli")
    assert [v["VpcId"] for v in got["Vpcs"]] == [vpc["VpcId"]]
    # --query (JMESPath) and text output work as usual
    text = run_aws(shared_server, "ec2", "describe-vpcs", "--vpc-ids", vpc["VpcId"],
                   "--query", "Vpcs[0].CidrBlock", "--output", "text").stdout.strip()
    assert text == "10.1.0.0/16"


def test_sts_get_caller_identity(shared_server):
    ident = aws_json(shared_server, "sts", "get-caller-identity", account=ACCOUNT_2)
    assert ident["Account"] == ACCOUNT_2
    assert ident["Arn"].startswith("arn:aws:") and ACCOUNT_2 in ident["Arn"]


def test_not_found_error(shared_server):
    proc = run_aws(shared_server, "ec2", "describe-vpcs", "--vpc-ids", "vpc-0123456789abcdef0", check=False)
    assert proc.returncode in (254, 255), proc
    assert "InvalidVpcID.NotFound" in proc.stderr
    assert proc.stdout.strip() == ""


def test_malformed_parameter_error(shared_server):
    proc = run_aws(shared_server, "ec2", "create-vpc", "--cidr-block", "10.0.0.0/99", check=False)
    assert proc.returncode in (254, 255), proc
    assert "InvalidParameterValue" in proc.stderr or "InvalidVpc.Range" in proc.stderr, proc.stderr


def test_dry_run(shared_server):
    proc = run_aws(shared_server, "ec2", "create-vpc", "--cidr-block", "10.9.0.0/16", "--dry-run", check=False)
    assert proc.returncode in (254, 255)
    assert "DryRunOperation" in proc.stderr


def test_describe_availability_zones(shared_server):
    zones = aws_json(shared_server, "ec2", "describe-availability-zones")["AvailabilityZones"]
    assert {z["RegionName"] for z in zones} == {REGION}
    assert all(z["ZoneId"].startswith("aps1-") for z in zones)


def test_elbv2_describe_load_balancers(shared_server):
    out = aws_json(shared_server, "elbv2", "describe-load-balancers")
    assert out["LoadBalancers"] == []
