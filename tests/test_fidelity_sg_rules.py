"""ModifySecurityGroupRules' errors for malformed rules, as AWS gives them, through real
boto3; every refusal leaves the group's rules as they were."""
from __future__ import annotations

import uuid

import pytest

from tests.helpers.errors import error_of

NO_PROTOCOL = "Invalid value 'null' for protocol. VPC security group rules must specify protocols explicitly."
NO_PEER = "The request must contain exactly one of: cidrIp, cidrIpv6, prefixListId, or referencedGroupId"
TWO_PEERS = "Only one of cidrIp, cidrIpv6, prefixListId, or referencedGroupId can be specified"


@pytest.fixture(scope="module")
def vpc(shared_server):
    return shared_server.client("ec2").create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]


@pytest.fixture
def group(ec2, vpc):
    gid = ec2.create_security_group(GroupName=f"fid-{uuid.uuid4().hex[:12]}", Description="d", VpcId=vpc)["GroupId"]
    (rule,) = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])["SecurityGroupRules"]
    return gid, rule["SecurityGroupRuleId"]


def _rules(ec2, gid):
    return ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]


@pytest.mark.parametrize("spec, code, message", [
    ({"FromPort": 22, "ToPort": 22, "CidrIpv4": "10.0.0.0/8"}, "InvalidParameterValue", NO_PROTOCOL),
    ({"IpProtocol": "", "FromPort": 22, "ToPort": 22, "CidrIpv4": "10.0.0.0/8"}, "InvalidParameterValue", NO_PROTOCOL),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}, "MissingParameter", NO_PEER),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Description": "x"}, "MissingParameter", NO_PEER),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "10.0.0.0/8", "PrefixListId": "pl-12345678"},
     "InvalidParameterCombination", TWO_PEERS),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "10.0.0.0/33"},
     "InvalidParameterValue", "CIDR block 10.0.0.0/33 is malformed"),
    ({"IpProtocol": "bogus", "CidrIpv4": "10.0.0.0/8"},
     "InvalidParameterValue", "Invalid value 'bogus' for IP protocol. Unknown protocol."),
    ({"IpProtocol": "tcp", "FromPort": 22, "CidrIpv4": "10.0.0.0/8"}, "InvalidParameterValue",
     "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange."),
    ({"IpProtocol": "tcp", "FromPort": 0, "ToPort": 70000, "CidrIpv4": "10.0.0.0/8"},
     "InvalidPermission.Malformed", "TCP/UDP port (70000) out of range"),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv6": "::/0"}, "InvalidParameterValue", None),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "ReferencedGroupId": "sg-bad"},
     "InvalidGroupId.Malformed", None),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListId": "pl-x"},
     "InvalidPrefixListId.Malformed", 'Invalid id: "pl-x" (expecting "pl-...")'),
])
def test_malformed_rules(ec2, group, spec, code, message):
    gid, rid = group
    before = _rules(ec2, gid)
    err = error_of(ec2.modify_security_group_rules, GroupId=gid,
                   SecurityGroupRules=[{"SecurityGroupRuleId": rid, "SecurityGroupRule": spec}])
    assert err["Code"] == code
    if message is not None:
        assert err["Message"] == message
    assert _rules(ec2, gid) == before


def test_the_peer_is_checked_before_the_rule_id(ec2, group):
    gid, _ = group
    err = error_of(ec2.modify_security_group_rules, GroupId=gid, SecurityGroupRules=[{
        "SecurityGroupRuleId": "sgr-0123456789abcdef0", "SecurityGroupRule": {"IpProtocol": "-1"}}])
    assert (err["Code"], err["Message"]) == ("MissingParameter", NO_PEER)


def test_one_bad_update_applies_none(ec2, group):
    gid, rid = group
    (other,) = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])["SecurityGroupRules"]
    before = _rules(ec2, gid)
    err = error_of(ec2.modify_security_group_rules, GroupId=gid, SecurityGroupRules=[
        {"SecurityGroupRuleId": rid, "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 81, "ToPort": 81,
                                                           "CidrIpv4": "10.0.0.0/8"}},
        {"SecurityGroupRuleId": other["SecurityGroupRuleId"], "SecurityGroupRule": {"IpProtocol": "tcp"}}])
    assert err["Code"] == "MissingParameter"
    assert _rules(ec2, gid) == before


def test_authorize_without_a_protocol(ec2, group):
    gid, _ = group
    before = _rules(ec2, gid)
    err = error_of(ec2.authorize_security_group_ingress, GroupId=gid,
                   IpPermissions=[{"FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert (err["Code"], err["Message"]) == ("InvalidParameterValue", NO_PROTOCOL)
    assert _rules(ec2, gid) == before
