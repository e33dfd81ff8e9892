"""A malformed security group id in a group-id filter is AWS's InvalidGroupId.Malformed,
not an empty answer, in every Describe call that has such a filter; other id filters
match nothing (vpclab's choice). Through real boto3."""
from __future__ import annotations

import pytest

from tests.helpers.errors import error_of

CALLS = [
    ("describe_security_groups", "group-id"),
    ("describe_security_group_rules", "group-id"),
    ("describe_instances", "instance.group-id"),
    ("describe_instances", "group-id"),
    ("describe_instances", "network-interface.group-id"),
    ("describe_network_interfaces", "group-id"),
]


@pytest.mark.parametrize("call, name", CALLS)
@pytest.mark.parametrize("value", ["foo", "sg-123", "sg-0123456789abcdefg"])
def test_a_malformed_group_id(ec2, call, name, value):
    err = error_of(getattr(ec2, call), Filters=[{"Name": name, "Values": [value]}])
    assert (err["Code"], err["Message"]) == ("InvalidGroupId.Malformed", f'Invalid id: "{value}" (expecting "sg-...")')


@pytest.mark.parametrize("call, name", CALLS)
def test_an_empty_group_id(ec2, call, name):
    err = error_of(getattr(ec2, call), Filters=[{"Name": name, "Values": [""]}])
    assert (err["Code"], err["Message"]) == ("InvalidGroupId.Malformed", "The security group ID '' is malformed")


@pytest.mark.parametrize("call, name", CALLS)
def test_well_formed_and_wildcard_values_just_match(ec2, call, name):
    key = {"describe_security_groups": "SecurityGroups", "describe_security_group_rules": "SecurityGroupRules",
           "describe_instances": "Reservations", "describe_network_interfaces": "NetworkInterfaces"}[call]
    out = getattr(ec2, call)(Filters=[{"Name": name, "Values": ["sg-0123456789abcdef0", "sg-0123456?"]}])
    assert out[key] == []
    getattr(ec2, call)(Filters=[{"Name": name, "Values": ["sg-*"]}])


def test_a_real_group_is_found(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"][0]["GroupId"]
    found = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroups"]
    assert [g["GroupId"] for g in found] == [gid]


@pytest.mark.parametrize("call, name", [("describe_subnets", "vpc-id"), ("describe_vpcs", "vpc-id"),
                                        ("describe_network_interfaces", "subnet-id"),
                                        ("describe_instances", "instance-id")])
def test_other_id_filters_match_nothing(ec2, call, name):
    key = {"describe_subnets": "Subnets", "describe_vpcs": "Vpcs", "describe_network_interfaces": "NetworkInterfaces",
           "describe_instances": "Reservations"}[call]
    assert getattr(ec2, call)(Filters=[{"Name": name, "Values": ["foo"]}])[key] == []
