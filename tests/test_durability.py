"""Durability and isolation of the store, through real server processes.

* a clean restart (SIGTERM) brings back every resource with identical fields;
* `kill -9` in the middle of a burst of writes loses nothing that was acknowledged
  (a 200 went back to the client) and leaves a store that loads and answers;
* one account never sees another account's VPCs.

Which resource kinds are exercised follows the operation registry, so areas other
engineers add (subnets, security groups, ...) are covered as they land.
"""
from __future__ import annotations

import sqlite3
import threading
import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

import vpclab.control  # noqa: F401  (registers every operation handler)
from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION
from tests.helpers.server import ServerProcess, free_port
from vpclab.protocol.dispatch import implemented

EC2 = set(implemented("ec2"))
OTHER_REGION = "us-east-1"


def client(srv, account=ACCOUNT_1, region=REGION, **config):
    return boto3.client(
        "ec2", endpoint_url=srv.url, region_name=region, aws_access_key_id=account,
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=20, **config))


def strip(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def by_key(items, key):
    return sorted(items, key=lambda item: item[key])


def populate(srv) -> None:
    """Resources of every implemented kind in two accounts and two regions."""
    for account, region in ((ACCOUNT_1, REGION), (ACCOUNT_2, REGION), (ACCOUNT_1, OTHER_REGION)):
        ec2 = client(srv, account, region)
        for n in range(3):
            vpc = ec2.create_vpc(
                CidrBlock=f"10.{n}.0.0/16",
                TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": f"vpc-{n}"}]}],
            )["Vpc"]
            vpc_id = vpc["VpcId"]
            ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "env", "Value": "test"},
                                                      {"Key": "n", "Value": str(n)}])
            if "ModifyVpcAttribute" in EC2 and n == 0:
                ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
            if "DeleteTags" in EC2 and n == 1:
                ec2.delete_tags(Resources=[vpc_id], Tags=[{"Key": "n"}])
            if "CreateSubnet" in EC2:
                zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
                subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{n}.1.0/24",
                                           AvailabilityZone=zone)["Subnet"]
                ec2.create_tags(Resources=[subnet["SubnetId"]], Tags=[{"Key": "tier", "Value": "app"}])
            if "CreateSecurityGroup" in EC2:
                sg = ec2.create_security_group(GroupName=f"group-{n}", Description="durable", VpcId=vpc_id)
                if "AuthorizeSecurityGroupIngress" in EC2:
                    ec2.authorize_security_group_ingress(
                        GroupId=sg["GroupId"],
                        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                        "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
        if "DeleteVpc" in EC2:
            doomed = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
            ec2.delete_vpc(VpcId=doomed)
        if "CreateKeyPair" in EC2:
            ec2.create_key_pair(KeyName=f"key-{account}")


def snapshot(srv) -> dict:
    """Everything a client can read back, per account and region."""
    out = {}
    for account, region in ((ACCOUNT_1, REGION), (ACCOUNT_2, REGION), (ACCOUNT_1, OTHER_REGION)):
        ec2 = client(srv, account, region)
        vpcs = by_key(ec2.describe_vpcs()["Vpcs"], "VpcId")
        state = {
            "vpcs": vpcs,
            "tags": sorted(ec2.describe_tags()["Tags"], key=lambda t: (t["ResourceId"], t["Key"])),
        }
        if "DescribeVpcAttribute" in EC2:
            state["dns"] = {
                v["VpcId"]: strip(ec2.describe_vpc_attribute(VpcId=v["VpcId"], Attribute="enableDnsHostnames"))
                for v in vpcs
            }
        if "DescribeSubnets" in EC2:
            state["subnets"] = by_key(ec2.describe_subnets()["Subnets"], "SubnetId")
        if "DescribeSecurityGroups" in EC2:
            state["sgs"] = by_key(ec2.describe_security_groups()["SecurityGroups"], "GroupId")
        if "DescribeKeyPairs" in EC2:
            state["keys"] = by_key(ec2.describe_key_pairs()["KeyPairs"], "KeyPairId")
        if "DescribeNetworkInterfaces" in EC2:
            state["enis"] = by_key(ec2.describe_network_interfaces()["NetworkInterfaces"],
                                   "NetworkInterfaceId")
        out[(account, region)] = state
    return out


# (a) restart ---------------------------------------------------------------------------
def test_restart_keeps_everything(tmp_path):
    state_dir = tmp_path / "state"
    srv = ServerProcess(state_dir, free_port()).start()
    try:
        populate(srv)
        before = snapshot(srv)
    finally:
        code = srv.stop()  # SIGTERM: a clean shutdown
    assert code == 0, f"server exited {code} on SIGTERM"

    srv2 = ServerProcess(state_dir, free_port()).start()
    try:
        after = snapshot(srv2)
        assert after == before
        # and the restored store still takes writes
        ec2 = client(srv2)
        vpc_id = ec2.create_vpc(CidrBlock="10.200.0.0/16")["Vpc"]["VpcId"]
        assert [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]] == [vpc_id]
    finally:
        srv2.stop()
    assert sum(len(s["vpcs"]) for s in before.values()) >= 9


def test_restart_twice_is_stable(tmp_path):
    state_dir = tmp_path / "state"
    srv = ServerProcess(state_dir, free_port()).start()
    try:
        populate(srv)
        first = snapshot(srv)
    finally:
        srv.stop()
    for _ in range(2):
        srv = ServerProcess(state_dir, free_port()).start()
        try:
            assert snapshot(srv) == first
        finally:
            srv.stop()


# (b) kill -9 mid-burst -----------------------------------------------------------------
THREADS = 8
BURST_SECONDS = 2.0


def test_kill9_loses_no_acknowledged_write(tmp_path):
    state_dir = tmp_path / "state"
    srv = ServerProcess(state_dir, free_port()).start()
    acked_vpcs: dict[str, tuple[str, str]] = {}  # vpc id -> (account, cidr)
    acked_tags: set[tuple[str, str, str]] = set()  # (account, vpc id, tag key)
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        account = f"{300000000000 + n}"
        ec2 = client(srv, account)
        i = 0
        while not stop.is_set():
            i += 1
            cidr = f"10.{n}.{i % 256}.0/24"
            try:
                vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
                with lock:
                    acked_vpcs[vpc_id] = (account, cidr)
                ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": f"k{i}", "Value": "v"}])
                with lock:
                    acked_tags.add((account, vpc_id, f"k{i}"))
            except (botocore.exceptions.EndpointConnectionError,
                    botocore.exceptions.ConnectionClosedError,
                    botocore.exceptions.ReadTimeoutError,
                    botocore.exceptions.HTTPClientError):
                return  # the server is gone
            except BaseException as exc:  # anything else is a failure of the test
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(THREADS)]
    try:
        for t in threads:
            t.start()
        time.sleep(BURST_SECONDS)  # the writers run this long before the kill
        with lock:
            acked_before_kill = len(acked_vpcs)
        srv.kill9()  # SIGKILL while the writers are still going
        stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        stop.set()
        srv.stop()
    assert not errors, errors
    assert acked_before_kill > 20, "the burst acknowledged too few writes to mean anything"

    # The database itself is sound, before any server touches it again.
    db = sqlite3.connect(state_dir / "state.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()

    srv2 = ServerProcess(state_dir, free_port()).start()
    try:
        accounts = {account for account, _ in acked_vpcs.values()}
        present: dict[str, dict] = {}
        tags_present: set[tuple[str, str, str]] = set()
        for account in accounts:
            ec2 = client(srv2, account)
            for vpc in ec2.describe_vpcs()["Vpcs"]:
                present[vpc["VpcId"]] = vpc
            for tag in ec2.describe_tags()["Tags"]:
                tags_present.add((account, tag["ResourceId"], tag["Key"]))
        missing = [v for v in acked_vpcs if v not in present]
        assert not missing, f"{len(missing)} acknowledged VPCs lost after kill -9: {missing[:5]}"
        for vpc_id, (account, cidr) in acked_vpcs.items():
            vpc = present[vpc_id]
            assert vpc["OwnerId"] == account and vpc["CidrBlock"] == cidr, vpc
        lost_tags = acked_tags - tags_present
        assert not lost_tags, f"acknowledged tags lost: {sorted(lost_tags)[:5]}"
        # still writable, and by-id reads work for what was acknowledged
        ec2 = client(srv2, next(iter(accounts)))
        some = [v for v, (a, _) in acked_vpcs.items() if a == next(iter(accounts))][:5]
        assert {v["VpcId"] for v in ec2.describe_vpcs(VpcIds=some)["Vpcs"]} == set(some)
        ec2.create_vpc(CidrBlock="10.250.0.0/16")
    finally:
        srv2.stop()


# (c) cross-account invisibility -------------------------------------------------------
@pytest.fixture(scope="module")
def two_accounts(shared_server):
    ec2_1 = shared_server.client("ec2", ACCOUNT_1)
    ec2_2 = shared_server.client("ec2", ACCOUNT_2)
    vpc = ec2_1.create_vpc(
        CidrBlock="10.42.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "secret"}]}],
    )["Vpc"]
    return ec2_1, ec2_2, vpc["VpcId"]


def test_other_account_cannot_list(two_accounts):
    ec2_1, ec2_2, vpc_id = two_accounts
    assert vpc_id in {v["VpcId"] for v in ec2_1.describe_vpcs()["Vpcs"]}
    theirs = ec2_2.describe_vpcs()["Vpcs"]
    assert vpc_id not in {v["VpcId"] for v in theirs}
    assert all(v["OwnerId"] == ACCOUNT_2 for v in theirs)
    assert ec2_2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"] == []
    assert ec2_2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["secret"]}])["Vpcs"] == []
    assert ec2_2.describe_vpcs(Filters=[{"Name": "owner-id", "Values": [ACCOUNT_1]}])["Vpcs"] == []
    assert vpc_id not in {t["ResourceId"] for t in ec2_2.describe_tags()["Tags"]}


def _code(call) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call()
    return err.value.response["Error"]["Code"]


def test_other_account_gets_not_found_by_id(two_accounts):
    _, ec2_2, vpc_id = two_accounts
    assert _code(lambda: ec2_2.describe_vpcs(VpcIds=[vpc_id])) == "InvalidVpcID.NotFound"
    assert _code(lambda: ec2_2.create_tags(Resources=[vpc_id], Tags=[{"Key": "a", "Value": "b"}])) \
        == "InvalidVpcID.NotFound"
    if "DeleteVpc" in EC2:
        assert _code(lambda: ec2_2.delete_vpc(VpcId=vpc_id)) == "InvalidVpcID.NotFound"
    if "DescribeVpcAttribute" in EC2:
        assert _code(lambda: ec2_2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")) \
            == "InvalidVpcID.NotFound"
    if "CreateSubnet" in EC2:
        assert _code(lambda: ec2_2.create_subnet(VpcId=vpc_id, CidrBlock="10.42.1.0/24")) \
            == "InvalidVpcID.NotFound"


def test_owner_still_sees_it_unchanged(two_accounts):
    ec2_1, _, vpc_id = two_accounts
    [vpc] = ec2_1.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert vpc["OwnerId"] == ACCOUNT_1
    assert {t["Key"]: t["Value"] for t in vpc.get("Tags", [])} == {"Name": "secret"}
