"""Internet gateways through real boto3: create, attach, detach, delete, describe (ids,
filters, paging), AWS's errors, the default VPC's gateway, and another account's view."""
from __future__ import annotations

import pytest

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.errors import error_of
from tests.helpers.server import ServerProcess, free_port
from tests.test_awscli import aws_json
from tests.test_instances import launch, one, wait_state
from vpclab.model import KINDS
from vpclab.model.ec2 import NetworkInterface, PublicIpAssociation
from vpclab.store import open_store

MISSING = "igw-0123456789abcdef0"


@pytest.fixture
def vpc(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    yield vpc_id
    for igw in ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]:
        ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
    ec2.delete_vpc(VpcId=vpc_id)


@pytest.fixture
def igw(ec2):
    igw_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    yield igw_id
    left = ec2.describe_internet_gateways(Filters=[{"Name": "internet-gateway-id", "Values": [igw_id]}])
    for g in left["InternetGateways"]:
        for a in g["Attachments"]:
            ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=a["VpcId"])
        ec2.delete_internet_gateway(InternetGatewayId=igw_id)


def default_vpc(ec2) -> str:
    return ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]


def test_default_vpc_has_an_attached_gateway(ec2):
    vpc_id = default_vpc(ec2)
    gateways = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    assert len(gateways) == 1
    igw = gateways[0]
    assert igw["InternetGatewayId"].startswith("igw-") and len(igw["InternetGatewayId"]) == 21
    assert igw["Attachments"] == [{"State": "available", "VpcId": vpc_id}]
    assert igw["OwnerId"] == ACCOUNT_1
    assert "Tags" not in igw or igw["Tags"] == []


def test_create_describe_and_tag(ec2):
    created = ec2.create_internet_gateway(TagSpecifications=[
        {"ResourceType": "internet-gateway", "Tags": [{"Key": "Name", "Value": "edge"}]},
        {"ResourceType": "vpc", "Tags": [{"Key": "ignored", "Value": "x"}]},
    ])["InternetGateway"]
    igw_id = created["InternetGatewayId"]
    try:
        assert created["Attachments"] == []
        assert created["OwnerId"] == ACCOUNT_1
        assert created["Tags"] == [{"Key": "Name", "Value": "edge"}]
        assert ec2.describe_internet_gateways(InternetGatewayIds=[igw_id])["InternetGateways"] == [created]
        ec2.create_tags(Resources=[igw_id], Tags=[{"Key": "team", "Value": "net"}])
        got = ec2.describe_internet_gateways(Filters=[{"Name": "tag:team", "Values": ["net"]}])["InternetGateways"]
        assert [g["InternetGatewayId"] for g in got] == [igw_id]
        tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [igw_id]}])["Tags"]
        assert {(t["Key"], t["ResourceType"]) for t in tags} == {("Name", "internet-gateway"), ("team", "internet-gateway")}
    finally:
        ec2.delete_internet_gateway(InternetGatewayId=igw_id)
    assert error_of(ec2.describe_internet_gateways, InternetGatewayIds=[igw_id]) == {
        "Code": "InvalidInternetGatewayID.NotFound",
        "Message": f"The internetGateway ID '{igw_id}' does not exist",
    }


def test_attach_and_detach(ec2, vpc, igw):
    assert ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]
    assert got["Attachments"] == [{"State": "available", "VpcId": vpc}]
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    got = ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]
    assert got["Attachments"] == []


def test_attach_errors(ec2, vpc, igw):
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    # The gateway is attached already (to this VPC or any other).
    assert error_of(ec2.attach_internet_gateway, InternetGatewayId=igw, VpcId=vpc) == {
        "Code": "Resource.AlreadyAssociated",
        "Message": f"resource {igw} is already attached to network {vpc}",
    }
    # The VPC has a gateway already.
    second = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    try:
        assert error_of(ec2.attach_internet_gateway, InternetGatewayId=second, VpcId=vpc) == {
            "Code": "InvalidParameterValue",
            "Message": f"Network {vpc} already has an internet gateway attached",
        }
    finally:
        ec2.delete_internet_gateway(InternetGatewayId=second)
    err = error_of(ec2.attach_internet_gateway, InternetGatewayId=MISSING, VpcId=vpc)
    assert err["Code"] == "InvalidInternetGatewayID.NotFound"
    err = error_of(ec2.attach_internet_gateway, InternetGatewayId="igw-nothex", VpcId=vpc)
    assert err == {"Code": "InvalidInternetGatewayId.Malformed", "Message": 'Invalid id: "igw-nothex"'}
    assert error_of(ec2.attach_internet_gateway, InternetGatewayId=igw,
                    VpcId="vpc-0123456789abcdef0")["Code"] == "InvalidVpcID.NotFound"


def test_detach_errors(ec2, vpc, igw):
    assert error_of(ec2.detach_internet_gateway, InternetGatewayId=igw, VpcId=vpc) == {
        "Code": "Gateway.NotAttached",
        "Message": f"resource {igw} is not attached to network {vpc}",
    }
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    other = default_vpc(ec2)
    assert error_of(ec2.detach_internet_gateway, InternetGatewayId=igw, VpcId=other)["Code"] == "Gateway.NotAttached"
    assert error_of(ec2.detach_internet_gateway, InternetGatewayId=MISSING,
                    VpcId=vpc)["Code"] == "InvalidInternetGatewayID.NotFound"


def test_delete_attached_refused(ec2, vpc, igw):
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert error_of(ec2.delete_internet_gateway, InternetGatewayId=igw) == {
        "Code": "DependencyViolation",
        "Message": f"The internetGateway '{igw}' has dependencies and cannot be deleted.",
    }
    # And the VPC keeps its gateway: DeleteVpc refuses until it is detached.
    assert error_of(ec2.delete_vpc, VpcId=vpc) == {
        "Code": "DependencyViolation",
        "Message": f"The vpc '{vpc}' has dependencies and cannot be deleted.",
    }
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    assert error_of(ec2.delete_internet_gateway, InternetGatewayId=igw)["Code"] == "InvalidInternetGatewayID.NotFound"


def test_dry_run(ec2, vpc, igw):
    for call, kw in ((ec2.create_internet_gateway, {}),
                     (ec2.attach_internet_gateway, {"InternetGatewayId": igw, "VpcId": vpc}),
                     (ec2.delete_internet_gateway, {"InternetGatewayId": igw}),
                     (ec2.describe_internet_gateways, {})):
        assert error_of(call, DryRun=True, **kw)["Code"] == "DryRunOperation"
    # Nothing changed.
    assert ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]["Attachments"] == []
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert error_of(ec2.detach_internet_gateway, InternetGatewayId=igw, VpcId=vpc,
                    DryRun=True)["Code"] == "DryRunOperation"
    assert ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]["Attachments"] != []


def test_filters_and_paging(ec2, vpc, igw):
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    detached = [ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"] for _ in range(5)]
    try:
        def ids(**kw):
            return {g["InternetGatewayId"] for g in ec2.describe_internet_gateways(**kw)["InternetGateways"]}

        available = ids(Filters=[{"Name": "attachment.state", "Values": ["available"]}])
        assert igw in available and not available & set(detached)
        assert ids(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}]) == {igw}
        assert ids(Filters=[{"Name": "internet-gateway-id", "Values": detached[:2]}]) == set(detached[:2])
        assert set(detached) | {igw} <= ids(Filters=[{"Name": "owner-id", "Values": [ACCOUNT_1]}])
        assert ids(InternetGatewayIds=[igw], Filters=[{"Name": "attachment.state", "Values": ["available"]}]) == {igw}
        err = error_of(ec2.describe_internet_gateways, InternetGatewayIds=[igw, MISSING])
        assert err == {"Code": "InvalidInternetGatewayID.NotFound",
                       "Message": f"The internetGateway ID '{MISSING}' does not exist"}
        assert error_of(ec2.describe_internet_gateways,
                        Filters=[{"Name": "bogus", "Values": ["x"]}])["Code"] == "InvalidParameterValue"
        seen: list[str] = []
        kwargs: dict = {"MaxResults": 5}
        while True:
            page = ec2.describe_internet_gateways(**kwargs)
            assert len(page["InternetGateways"]) <= 5
            seen += [g["InternetGatewayId"] for g in page["InternetGateways"]]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        assert len(seen) == len(set(seen)) and set(detached) | {igw} <= set(seen)
    finally:
        for d in detached:
            ec2.delete_internet_gateway(InternetGatewayId=d)


def test_other_account_sees_none(ec2, ec2_2, vpc, igw):
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    seen = {g["InternetGatewayId"] for g in ec2_2.describe_internet_gateways()["InternetGateways"]}
    assert igw not in seen
    mine = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [default_vpc(ec2)]}])
    assert not seen & {g["InternetGatewayId"] for g in mine["InternetGateways"]}
    assert len(seen) == 1  # its own default VPC's
    assert error_of(ec2_2.describe_internet_gateways, InternetGatewayIds=[igw])["Code"] == \
        "InvalidInternetGatewayID.NotFound"
    assert error_of(ec2_2.delete_internet_gateway, InternetGatewayId=igw)["Code"] == \
        "InvalidInternetGatewayID.NotFound"
    other_vpc = default_vpc(ec2_2)
    assert error_of(ec2_2.attach_internet_gateway, InternetGatewayId=igw, VpcId=other_vpc)["Code"] == \
        "InvalidInternetGatewayID.NotFound"
    own = ec2_2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    try:
        # Another account's VPC is as missing as a VPC that does not exist.
        assert error_of(ec2_2.attach_internet_gateway, InternetGatewayId=own, VpcId=vpc)["Code"] == \
            "InvalidVpcID.NotFound"
    finally:
        ec2_2.delete_internet_gateway(InternetGatewayId=own)


def test_aws_cli_shape(shared_server, ec2, vpc, igw):
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    got = aws_json(shared_server, "ec2", "describe-internet-gateways", "--internet-gateway-ids", igw)
    assert got["InternetGateways"] == [
        {"Attachments": [{"State": "available", "VpcId": vpc}], "InternetGatewayId": igw, "OwnerId": ACCOUNT_1}
    ]


def test_detach_refused_while_an_instance_has_a_public_address(ec2, vpc, igw):
    """An instance's public address keeps its VPC's gateway attached until it is released."""
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    instance_id = launch(ec2, SubnetId=subnet)["Instances"][0]["InstanceId"]
    try:
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        assert one(ec2, instance_id).get("PublicIpAddress")
        assert error_of(ec2.detach_internet_gateway, InternetGatewayId=igw, VpcId=vpc) == {
            "Code": "DependencyViolation",
            "Message": f"Network {vpc} has some mapped public address(es). "
                       "Please unmap those public address(es) before detaching the gateway.",
        }
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])
        wait_state(ec2, instance_id, "terminated")
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]["Attachments"] == []
    ec2.delete_subnet(SubnetId=subnet)


def test_detach_refused_while_public_addresses_are_mapped(tmp_path):
    """An ENI of the VPC holding a public address keeps the gateway attached."""
    state = tmp_path / "state"
    srv = ServerProcess(state, free_port()).start()
    try:
        ec2 = srv.client("ec2")
        vpc_id = default_vpc(ec2)
        igw_id = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"][0]["InternetGatewayId"]
        subnet_id = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"][0]["SubnetId"]
        eni_id = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    finally:
        srv.stop()
    store = open_store(state, KINDS)
    try:
        with store.write() as tx:
            eni = tx.get(NetworkInterface, eni_id)
            eni.association = PublicIpAssociation(public_ip="198.18.1.7")
            tx.put(eni)
    finally:
        store.close()
    srv = ServerProcess(state, srv.port).start()
    try:
        ec2 = srv.client("ec2")
        assert error_of(ec2.detach_internet_gateway, InternetGatewayId=igw_id, VpcId=vpc_id) == {
            "Code": "DependencyViolation",
            "Message": f"Network {vpc_id} has some mapped public address(es). "
                       "Please unmap those public address(es) before detaching the gateway.",
        }
        ec2.delete_network_interface(NetworkInterfaceId=eni_id)
        ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
        assert ec2.describe_internet_gateways(InternetGatewayIds=[igw_id])["InternetGateways"][0]["Attachments"] == []
    finally:
        srv.stop()
