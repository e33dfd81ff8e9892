"""AssociateVpcCidrBlock / DisassociateVpcCidrBlock (IPv4) as AWS answers them, through
real boto3: the association set (primary first), the states, AWS's rules and errors, the
filters, subnets in a secondary block, and the local routes."""
from __future__ import annotations

import pytest

from tests.helpers.errors import error_of


@pytest.fixture
def vpc(ec2):
    return ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]


def _shown(ec2, vpc_id: str) -> dict:
    return ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]


def _local_routes(ec2, vpc_id: str) -> list[str]:
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"][0]
    return [r["DestinationCidrBlock"] for r in table["Routes"] if r.get("GatewayId") == "local"]


def test_associate_and_disassociate(ec2, vpc):
    vid = vpc["VpcId"]
    primary = vpc["CidrBlockAssociationSet"][0]
    out = ec2.associate_vpc_cidr_block(VpcId=vid, CidrBlock="10.71.0.0/16")
    assoc = out["CidrBlockAssociation"]
    assert out["VpcId"] == vid
    assert assoc["AssociationId"].startswith("vpc-cidr-assoc-") and len(assoc["AssociationId"]) == 32
    assert (assoc["CidrBlock"], assoc["CidrBlockState"]) == ("10.71.0.0/16", {"State": "associating"})
    shown = _shown(ec2, vid)
    assert shown["CidrBlock"] == "10.70.0.0/16"
    assert shown["CidrBlockAssociationSet"] == [
        primary, {"AssociationId": assoc["AssociationId"], "CidrBlock": "10.71.0.0/16",
                  "CidrBlockState": {"State": "associated"}}]
    assert _local_routes(ec2, vid) == ["10.70.0.0/16", "10.71.0.0/16"]

    # A subnet may lie in the secondary block; then the block cannot be disassociated.
    sid = ec2.create_subnet(VpcId=vid, CidrBlock="10.71.3.0/24")["Subnet"]["SubnetId"]
    err = error_of(ec2.disassociate_vpc_cidr_block, AssociationId=assoc["AssociationId"])
    assert (err["Code"], err["Message"]) == (
        "InvalidCidrBlock.InUse", f"The vpc {vid} currently has a subnet within CIDR block 10.71.0.0/16")
    ec2.delete_subnet(SubnetId=sid)

    out = ec2.disassociate_vpc_cidr_block(AssociationId=assoc["AssociationId"])
    assert out["VpcId"] == vid
    assert out["CidrBlockAssociation"]["CidrBlockState"] == {"State": "disassociating"}
    shown = _shown(ec2, vid)
    assert shown["CidrBlockAssociationSet"][1]["CidrBlockState"] == {"State": "disassociated"}
    assert _local_routes(ec2, vid) == ["10.70.0.0/16"]
    # No subnet in a disassociated block; disassociating again: not found.
    assert error_of(ec2.create_subnet, VpcId=vid, CidrBlock="10.71.4.0/24")["Code"] == "InvalidSubnet.Range"
    assert error_of(ec2.disassociate_vpc_cidr_block,
                    AssociationId=assoc["AssociationId"])["Code"] == "InvalidVpcCidrBlockAssociationID.NotFound"
    # The same block may be associated again, under a new association.
    again = ec2.associate_vpc_cidr_block(VpcId=vid, CidrBlock="10.71.0.0/16")["CidrBlockAssociation"]
    assert again["AssociationId"] != assoc["AssociationId"]


def test_the_primary_block_cannot_be_disassociated(ec2, vpc):
    aid = vpc["CidrBlockAssociationSet"][0]["AssociationId"]
    err = error_of(ec2.disassociate_vpc_cidr_block, AssociationId=aid)
    assert (err["Code"], err["Message"]) == (
        "OperationNotPermitted",
        (f"The vpc CIDR block with association ID {aid} may not be disassociated. "
         "It is the primary IPv4 CIDR block of the VPC"))
    err = error_of(ec2.disassociate_vpc_cidr_block, AssociationId="vpc-cidr-assoc-0123456789abcdef0")
    assert err["Code"] == "InvalidVpcCidrBlockAssociationID.NotFound"


@pytest.mark.parametrize("cidr", ["172.16.0.0/16", "192.168.0.0/16", "198.19.0.0/16"])
def test_another_private_range_is_restricted(ec2, vpc, cidr):
    err = error_of(ec2.associate_vpc_cidr_block, VpcId=vpc["VpcId"], CidrBlock=cidr)
    assert err["Code"] == "InvalidVpc.Range"
    assert err["Message"].startswith(
        f"The CIDR '{cidr}' is restricted. Use a CIDR from the same private address range as the current "
        "VPC CIDR, or use a publicly-routable CIDR.")
    assert len(_shown(ec2, vpc["VpcId"])["CidrBlockAssociationSet"]) == 1


@pytest.mark.parametrize("cidr", ["100.64.0.0/16", "11.0.0.0/16", "10.200.0.0/28"])
def test_shared_and_public_and_same_range_are_allowed(ec2, vpc, cidr):
    ec2.associate_vpc_cidr_block(VpcId=vpc["VpcId"], CidrBlock=cidr)
    assert [a["CidrBlock"] for a in _shown(ec2, vpc["VpcId"])["CidrBlockAssociationSet"]] == ["10.70.0.0/16", cidr]


@pytest.mark.parametrize("cidr", ["10.70.0.0/16", "10.70.8.0/24", "10.0.0.0/8", "10.72.0.0/29", "10.72.0.0/15"])
def test_overlapping_or_wrongly_sized_blocks_are_refused(ec2, vpc, cidr):
    err = error_of(ec2.associate_vpc_cidr_block, VpcId=vpc["VpcId"], CidrBlock=cidr)
    assert err["Code"] == "InvalidVpc.Range"
    assert len(_shown(ec2, vpc["VpcId"])["CidrBlockAssociationSet"]) == 1


def test_at_most_five_blocks(ec2, vpc):
    vid = vpc["VpcId"]
    for n in range(1, 5):
        ec2.associate_vpc_cidr_block(VpcId=vid, CidrBlock=f"10.{70 + n}.0.0/16")
    err = error_of(ec2.associate_vpc_cidr_block, VpcId=vid, CidrBlock="10.80.0.0/16")
    assert (err["Code"], err["Message"]) == (
        "CidrLimitExceeded", f"This network '{vid}' has met its maximum number of allowed CIDRs: 5")
    assert len(_shown(ec2, vid)["CidrBlockAssociationSet"]) == 5


def test_unknown_vpc_and_missing_block(ec2):
    err = error_of(ec2.associate_vpc_cidr_block, VpcId="vpc-0123456789abcdef0", CidrBlock="10.1.0.0/16")
    assert err["Code"] == "InvalidVpcID.NotFound"
    err = error_of(ec2.associate_vpc_cidr_block, VpcId="vpc-0123456789abcdef0")
    assert err["Code"] == "MissingParameter"


def test_cidr_block_association_filters(ec2, vpc):
    vid = vpc["VpcId"]
    aid = ec2.associate_vpc_cidr_block(VpcId=vid, CidrBlock="10.75.0.0/16")["CidrBlockAssociation"]["AssociationId"]

    def found(name: str, value: str) -> list[str]:
        return [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": name, "Values": [value]}])["Vpcs"]]

    assert found("cidr-block-association.cidr-block", "10.75.0.0/16") == [vid]
    assert found("cidr-block-association.association-id", aid) == [vid]
    assert vid in found("cidr-block-association.state", "associated")
    assert found("cidr", "10.75.0.0/16") == []  # `cidr` is the primary block only
    ec2.disassociate_vpc_cidr_block(AssociationId=aid)
    # Terraform finds the association by id and reads `disassociated` as gone.
    assert found("cidr-block-association.association-id", aid) == [vid]
    assert vid in found("cidr-block-association.state", "disassociated")


def test_no_block_as_large_as_a_route_destination(ec2, vpc):
    vid = vpc["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vid)
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"][0]
    ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="11.0.0.0/24", GatewayId=igw)
    for cidr in ("11.0.0.0/24", "11.0.0.0/16"):
        err = error_of(ec2.associate_vpc_cidr_block, VpcId=vid, CidrBlock=cidr)
        assert err["Code"] == "InvalidVpc.Range"
    # Smaller than the route's destination: allowed (the VPC user guide's example, shifted).
    ec2.associate_vpc_cidr_block(VpcId=vid, CidrBlock="11.0.0.0/25")
    # The default route is larger than any block: it never stands in the way.
    ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_vpc_cidr_block(VpcId=vid, CidrBlock="12.0.0.0/16")


# Misses in files other helpers own (named in the report; not fixed here) ----------------

def test_a_new_route_table_has_a_local_route_per_block(ec2, vpc):
    vid = vpc["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vid, CidrBlock="10.76.0.0/16")
    table = ec2.create_route_table(VpcId=vid)["RouteTable"]
    assert [r["DestinationCidrBlock"] for r in table["Routes"] if r.get("GatewayId") == "local"] == [
        "10.70.0.0/16", "10.76.0.0/16"]


def test_a_gateway_route_more_specific_than_a_secondary_block_is_refused(ec2, vpc):
    vid = vpc["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vid, CidrBlock="10.77.0.0/16")
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vid)
    table = ec2.create_route_table(VpcId=vid)["RouteTable"]["RouteTableId"]
    err = error_of(ec2.create_route, RouteTableId=table, DestinationCidrBlock="10.77.1.0/24", GatewayId=igw)
    assert err["Code"] == "InvalidParameterValue"
    assert "only supports interface and instance targets" in err["Message"]


def test_an_ip_target_in_a_secondary_block(ec2, vpc, shared_server):
    vid = vpc["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vid, CidrBlock="10.77.0.0/16")
    ec2.create_subnet(VpcId=vid, CidrBlock="10.77.1.0/24", AvailabilityZone="ap-south-1a")
    elb = shared_server.client("elbv2")
    arn = elb.create_target_group(Name="fid-secondary", Protocol="TCP", Port=80, VpcId=vid,
                                  TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    try:
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.77.1.10"}])
        health = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        assert health[0]["Target"]["AvailabilityZone"] == "ap-south-1a"
    finally:
        elb.delete_target_group(TargetGroupArn=arn)
