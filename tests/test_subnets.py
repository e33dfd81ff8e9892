"""Subnets through real boto3: create, describe (filters, paging), delete, attributes."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import ACCOUNT_1, REGION
from tests.helpers.errors import code_of, message_of


@pytest.fixture
def vpc(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    yield vpc_id
    for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)


def test_default_subnets(ec2):
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    by_zone = {s["AvailabilityZone"]: s for s in subnets}
    assert sorted(by_zone) == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
    a = by_zone["ap-south-1a"]
    assert a["CidrBlock"] == "172.31.32.0/20"
    assert a["AvailabilityZoneId"] == "aps1-az1"
    assert a["MapPublicIpOnLaunch"] is True
    assert a["AvailableIpAddressCount"] == 4091
    assert a["OwnerId"] == ACCOUNT_1
    assert a["SubnetArn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT_1}:subnet/{a['SubnetId']}"


def test_create_subnet(ec2, vpc):
    subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZone="ap-south-1b",
        TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "web"}]}],
    )["Subnet"]
    assert subnet["SubnetId"].startswith("subnet-") and len(subnet["SubnetId"]) == 24
    assert subnet["VpcId"] == vpc
    assert subnet["CidrBlock"] == "10.1.1.0/24"
    assert subnet["AvailabilityZone"] == "ap-south-1b"
    assert subnet["AvailabilityZoneId"] == "aps1-az3"
    assert subnet["AvailableIpAddressCount"] == 251
    assert subnet["DefaultForAz"] is False
    assert subnet["MapPublicIpOnLaunch"] is False
    assert subnet["State"] == "available"
    assert subnet["Tags"] == [{"Key": "Name", "Value": "web"}]
    assert subnet["SubnetArn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT_1}:subnet/{subnet['SubnetId']}"
    got = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"]
    # DescribeSubnets adds VPC Block Public Access, which CreateSubnet's answer lacks (as AWS).
    assert got == [{**subnet, "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"}}]


def test_create_subnet_by_zone_id_and_default_zone(ec2, vpc):
    s1 = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.2.0/24", AvailabilityZoneId="aps1-az2")["Subnet"]
    assert s1["AvailabilityZone"] == "ap-south-1c"
    zones = {s1["AvailabilityZone"]}
    for i in (3, 4):
        zones.add(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24")["Subnet"]["AvailabilityZone"])
    # Zones chosen for the caller spread the subnets over the region.
    assert zones == {"ap-south-1a", "ap-south-1b", "ap-south-1c"}


@pytest.mark.parametrize("cidr", ["10.2.0.0/24", "10.1.0.0/29", "10.0.0.0/15", "10.1.0.0/15"])
def test_create_subnet_range(ec2, vpc, cidr):
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)
    assert code_of(err) == "InvalidSubnet.Range"
    assert message_of(err) == f"The CIDR '{cidr}' is invalid."


def test_create_subnet_conflict(ec2, vpc):
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.8.0/22")
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.9.0/24")
    assert code_of(err) == "InvalidSubnet.Conflict"
    assert message_of(err) == "The CIDR '10.1.9.0/24' conflicts with another subnet"


def test_create_subnet_bad_input(ec2, vpc):
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZone="us-east-1a")
    assert code_of(err) == "InvalidParameterValue"
    assert message_of(err) == (
        "Value (us-east-1a) for parameter availabilityZone is invalid. Subnets can currently only be "
        "created in the following availability zones: ap-south-1a, ap-south-1b, ap-south-1c."
    )
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZoneId="use1-az1")
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.300.0/24")
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId="vpc-0123456789abcdef0", CidrBlock="10.1.1.0/24")
    assert code_of(err) == "InvalidVpcID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId="vpc-nope", CidrBlock="10.1.1.0/24")
    assert code_of(err) == "InvalidVpcID.Malformed"


def test_dry_run(ec2, vpc):
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.5.0/24", DryRun=True)
    assert code_of(err) == "DryRunOperation"
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"] == []
    with pytest.raises(ClientError) as err:
        ec2.describe_subnets(DryRun=True)
    assert code_of(err) == "DryRunOperation"
    sid = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.5.0/24")["Subnet"]["SubnetId"]
    with pytest.raises(ClientError) as err:
        ec2.delete_subnet(SubnetId=sid, DryRun=True)
    assert code_of(err) == "DryRunOperation"
    assert ec2.describe_subnets(SubnetIds=[sid])["Subnets"]
    # A dry run that would fail reports the failure.
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.5.0/24", DryRun=True)
    assert code_of(err) == "InvalidSubnet.Conflict"


def test_describe_filters(ec2, vpc):
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.10.0/24", AvailabilityZone="ap-south-1a",
                          TagSpecifications=[{"ResourceType": "subnet",
                                              "Tags": [{"Key": "tier", "Value": "public"}]}])["Subnet"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.11.0/28", AvailabilityZone="ap-south-1c")["Subnet"]

    def ids(*filters):
        found = ec2.describe_subnets(Filters=[{"Name": n, "Values": v} for n, v in filters])["Subnets"]
        return sorted(s["SubnetId"] for s in found)

    both = sorted([a["SubnetId"], b["SubnetId"]])
    assert ids(("vpc-id", [vpc])) == both
    assert ids(("vpc-id", [vpc]), ("availability-zone", ["ap-south-1a"])) == [a["SubnetId"]]
    assert ids(("vpc-id", [vpc]), ("availabilityZone", ["ap-south-1c"])) == [b["SubnetId"]]
    assert ids(("vpc-id", [vpc]), ("availability-zone-id", ["aps1-az2"])) == [b["SubnetId"]]
    assert ids(("cidr-block", ["10.1.10.0/24"])) == [a["SubnetId"]]
    assert ids(("cidr", ["10.1.11.0/28"])) == [b["SubnetId"]]
    assert ids(("cidrBlock", ["10.1.1?.0/*"])) == both
    assert ids(("subnet-id", [a["SubnetId"]])) == [a["SubnetId"]]
    assert ids(("vpc-id", [vpc]), ("default-for-az", ["false"])) == both
    assert ids(("vpc-id", [vpc]), ("defaultForAz", ["true"])) == []
    assert ids(("vpc-id", [vpc]), ("state", ["available"])) == both
    assert ids(("vpc-id", [vpc]), ("owner-id", [ACCOUNT_1])) == both
    assert ids(("vpc-id", [vpc]), ("map-public-ip-on-launch", ["false"])) == both
    assert ids(("vpc-id", [vpc]), ("available-ip-address-count", ["11"])) == [b["SubnetId"]]
    assert ids(("tag:tier", ["public"])) == [a["SubnetId"]]
    assert ids(("tag-key", ["tier"])) == [a["SubnetId"]]
    assert ids(("tag-value", ["pub*"])) == [a["SubnetId"]]
    with pytest.raises(ClientError) as err:
        ids(("no-such-filter", ["x"]))
    assert code_of(err) == "InvalidParameterValue"


def test_describe_errors(ec2):
    with pytest.raises(ClientError) as err:
        ec2.describe_subnets(SubnetIds=["subnet-0123456789abcdef0"])
    assert code_of(err) == "InvalidSubnetID.NotFound"
    assert message_of(err) == "The subnet ID 'subnet-0123456789abcdef0' does not exist"
    with pytest.raises(ClientError) as err:
        ec2.describe_subnets(SubnetIds=["subnet-x"])
    assert code_of(err) == "InvalidSubnetID.Malformed"


def test_pagination(ec2, vpc):
    made = {ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{20 + i}.0/24")["Subnet"]["SubnetId"] for i in range(7)}
    seen, token, pages = [], None, 0
    while True:
        kw = {"NextToken": token} if token else {}
        resp = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}], MaxResults=5, **kw)
        seen += [s["SubnetId"] for s in resp["Subnets"]]
        pages += 1
        token = resp.get("NextToken")
        if not token:
            break
    assert pages == 2 and sorted(seen) == sorted(made)
    paginator = ec2.get_paginator("describe_subnets")
    got = [s["SubnetId"] for p in paginator.paginate(PaginationConfig={"PageSize": 5},
                                                       Filters=[{"Name": "vpc-id", "Values": [vpc]}])
           for s in p["Subnets"]]
    assert sorted(got) == sorted(made)
    with pytest.raises(ClientError) as err:
        ec2.describe_subnets(MaxResults=1001)
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.describe_subnets(MaxResults=5, NextToken="garbage")
    assert code_of(err) == "InvalidNextToken"


def test_delete_subnet(ec2, vpc):
    sid = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.30.0/24")["Subnet"]["SubnetId"]
    ec2.delete_subnet(SubnetId=sid)
    with pytest.raises(ClientError) as err:
        ec2.describe_subnets(SubnetIds=[sid])
    assert code_of(err) == "InvalidSubnetID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.delete_subnet(SubnetId=sid)
    assert code_of(err) == "InvalidSubnetID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.delete_subnet(SubnetId="subnet-zz")
    assert code_of(err) == "InvalidSubnetID.Malformed"
    # The range is free again.
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.30.0/24")


def test_vpc_with_subnet_cannot_be_deleted(ec2, vpc):
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.31.0/24")
    with pytest.raises(ClientError) as err:
        ec2.delete_vpc(VpcId=vpc)
    assert code_of(err) == "DependencyViolation"


def test_delete_subnet_with_interface(server):
    """An ENI in a subnet keeps it."""
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]
    sid = subnet["SubnetId"]
    ec2.create_network_interface(SubnetId=sid)
    got = ec2.describe_subnets(SubnetIds=[sid])["Subnets"][0]
    assert got["AvailableIpAddressCount"] == 250
    with pytest.raises(ClientError) as err:
        ec2.delete_subnet(SubnetId=sid)
    assert code_of(err) == "DependencyViolation"
    assert message_of(err) == f"The subnet '{sid}' has dependencies and cannot be deleted."



def test_modify_subnet_attribute(ec2, vpc):
    sid = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.40.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
    got = ec2.describe_subnets(SubnetIds=[sid])["Subnets"][0]
    assert got["MapPublicIpOnLaunch"] is True
    found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                          {"Name": "map-public-ip-on-launch", "Values": ["true"]}])
    assert [s["SubnetId"] for s in found["Subnets"]] == [sid]
    ec2.modify_subnet_attribute(SubnetId=sid, PrivateDnsHostnameTypeOnLaunch="resource-name")
    ec2.modify_subnet_attribute(SubnetId=sid, EnableResourceNameDnsARecordOnLaunch={"Value": True})
    opts = ec2.describe_subnets(SubnetIds=[sid])["Subnets"][0]["PrivateDnsNameOptionsOnLaunch"]
    assert opts == {"HostnameType": "resource-name", "EnableResourceNameDnsARecord": True,
                    "EnableResourceNameDnsAAAARecord": False}
    with pytest.raises(ClientError) as err:
        ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": False},
                                    EnableResourceNameDnsARecordOnLaunch={"Value": False})
    assert code_of(err) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as err:
        ec2.modify_subnet_attribute(SubnetId=sid, AssignIpv6AddressOnCreation={"Value": True})
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.modify_subnet_attribute(SubnetId=sid, PrivateDnsHostnameTypeOnLaunch="bogus")
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.modify_subnet_attribute(SubnetId="subnet-0123456789abcdef0", MapPublicIpOnLaunch={"Value": True})
    assert code_of(err) == "InvalidSubnetID.NotFound"


def test_cross_account_invisible(ec2, ec2_2, vpc):
    sid = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.50.0/24")["Subnet"]["SubnetId"]
    with pytest.raises(ClientError) as err:
        ec2_2.describe_subnets(SubnetIds=[sid])
    assert code_of(err) == "InvalidSubnetID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2_2.delete_subnet(SubnetId=sid)
    assert code_of(err) == "InvalidSubnetID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2_2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
    assert code_of(err) == "InvalidSubnetID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2_2.create_subnet(VpcId=vpc, CidrBlock="10.1.51.0/24")
    assert code_of(err) == "InvalidVpcID.NotFound"
    assert sid not in [s["SubnetId"] for s in ec2_2.describe_subnets()["Subnets"]]
    # Account 2's own default subnets use the same ranges in its own default VPC.
    assert {s["CidrBlock"] for s in ec2_2.describe_subnets()["Subnets"]} == {
        "172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"}
