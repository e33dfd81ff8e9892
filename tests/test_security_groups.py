"""Security groups and rules through real boto3."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import ACCOUNT_1, REGION
from tests.helpers.errors import code_of, message_of


@pytest.fixture
def vpc(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    yield vpc_id
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    for g in groups:  # drop cross references first
        for direction, revoke in (("IpPermissions", ec2.revoke_security_group_ingress),
                                  ("IpPermissionsEgress", ec2.revoke_security_group_egress)):
            ids = [r["SecurityGroupRuleId"] for r in ec2.describe_security_group_rules(
                Filters=[{"Name": "group-id", "Values": [g["GroupId"]]}])["SecurityGroupRules"]
                if r["IsEgress"] == (direction == "IpPermissionsEgress") and r.get("ReferencedGroupInfo")
                and r["ReferencedGroupInfo"]["GroupId"] != g["GroupId"]]
            if ids:
                revoke(GroupId=g["GroupId"], SecurityGroupRuleIds=ids)
    for g in groups:
        if g["GroupName"] != "default":
            ec2.delete_security_group(GroupId=g["GroupId"])
    ec2.delete_vpc(VpcId=vpc_id)


def make_group(ec2, vpc, name="web", **kw):
    return ec2.create_security_group(GroupName=name, Description=f"{name} group", VpcId=vpc, **kw)["GroupId"]


def group_of(ec2, gid) -> dict:
    return ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]


def test_default_groups(ec2):
    groups = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert len(groups) == 1
    g = groups[0]
    assert g["Description"] == "default VPC security group"
    assert g["OwnerId"] == ACCOUNT_1
    assert g["SecurityGroupArn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT_1}:security-group/{g['GroupId']}"
    assert g["IpPermissions"] == [{
        "IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
        "UserIdGroupPairs": [{"GroupId": g["GroupId"], "UserId": ACCOUNT_1}],
    }]
    assert g["IpPermissionsEgress"] == [{
        "IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [], "PrefixListIds": [],
        "UserIdGroupPairs": [],
    }]


def test_create_security_group(ec2, vpc):
    resp = ec2.create_security_group(
        GroupName="web", Description="web servers", VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "Name", "Value": "web"}]}])
    gid = resp["GroupId"]
    assert gid.startswith("sg-") and len(gid) == 20
    assert resp["SecurityGroupArn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT_1}:security-group/{gid}"
    assert resp["Tags"] == [{"Key": "Name", "Value": "web"}]
    g = group_of(ec2, gid)
    assert g["GroupName"] == "web" and g["Description"] == "web servers" and g["VpcId"] == vpc
    assert g["IpPermissions"] == []
    assert g["IpPermissionsEgress"] == [{
        "IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [], "PrefixListIds": [],
        "UserIdGroupPairs": [],
    }]
    assert g["Tags"] == [{"Key": "Name", "Value": "web"}]


def test_create_in_default_vpc(ec2):
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    gid = ec2.create_security_group(GroupName="in-default", Description="d")["GroupId"]
    try:
        assert group_of(ec2, gid)["VpcId"] == default_vpc
        got = ec2.describe_security_groups(GroupNames=["in-default"])["SecurityGroups"]
        assert [g["GroupId"] for g in got] == [gid]
    finally:
        ec2.delete_security_group(GroupName="in-default")
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupNames=["in-default"])
    assert code_of(err) == "InvalidGroup.NotFound"
    assert message_of(err) == f"The security group 'in-default' does not exist in default VPC '{default_vpc}'"


def test_create_errors(ec2, vpc):
    make_group(ec2, vpc, "dup")
    with pytest.raises(ClientError) as err:
        make_group(ec2, vpc, "dup")
    assert code_of(err) == "InvalidGroup.Duplicate"
    assert message_of(err) == f"The security group 'dup' already exists for VPC '{vpc}'"
    with pytest.raises(ClientError) as err:
        make_group(ec2, vpc, "default")
    assert code_of(err) == "InvalidGroup.Reserved"
    with pytest.raises(ClientError) as err:
        make_group(ec2, vpc, "sg-web")
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        make_group(ec2, "vpc-0123456789abcdef0", "x")
    assert code_of(err) == "InvalidVpcID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="x", Description="é", VpcId=vpc)
    assert code_of(err) == "InvalidParameterValue"


def test_no_default_vpc(server):
    ec2 = server.client("ec2")
    default_vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    for s in ec2.describe_subnets()["Subnets"]:
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    # The default VPC's internet gateway keeps it from being deleted, as on AWS.
    for igw in ec2.describe_internet_gateways()["InternetGateways"]:
        ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=default_vpc)
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    ec2.delete_vpc(VpcId=default_vpc)
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="x", Description="x")
    assert code_of(err) == "VPCIdNotSpecified"


def test_dry_run(ec2, vpc):
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="dry", Description="d", VpcId=vpc, DryRun=True)
    assert code_of(err) == "DryRunOperation"
    assert ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["dry"]}])["SecurityGroups"] == []
    gid = make_group(ec2, vpc, "dry")
    perm = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perm, DryRun=True)
    assert code_of(err) == "DryRunOperation"
    assert group_of(ec2, gid)["IpPermissions"] == []
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perm)
    for call in (
        lambda: ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=perm, DryRun=True),
        lambda: ec2.delete_security_group(GroupId=gid, DryRun=True),
        lambda: ec2.describe_security_groups(DryRun=True),
        lambda: ec2.describe_security_group_rules(DryRun=True),
        lambda: ec2.authorize_security_group_egress(
            GroupId=gid, DryRun=True,
            IpPermissions=[{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert code_of(err) == "DryRunOperation"
    assert len(group_of(ec2, gid)["IpPermissions"]) == 1


def test_seed_lab_http_from_anywhere(ec2, vpc):
    """The seed lab's group: TCP 80 from 0.0.0.0/0."""
    gid = make_group(ec2, vpc, "nginx-sg")
    resp = ec2.authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTP"}]}])
    assert resp["Return"] is True
    (rule,) = resp["SecurityGroupRules"]
    assert rule["SecurityGroupRuleId"].startswith("sgr-")
    assert rule == {
        "SecurityGroupRuleId": rule["SecurityGroupRuleId"], "GroupId": gid, "GroupOwnerId": ACCOUNT_1,
        "IsEgress": False, "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIpv4": "0.0.0.0/0",
        "Description": "HTTP", "Tags": [],
        "SecurityGroupRuleArn": f"arn:aws:ec2:{REGION}:{ACCOUNT_1}:security-group-rule/{rule['SecurityGroupRuleId']}",
    }
    assert group_of(ec2, gid)["IpPermissions"] == [{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTP"}],
        "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": [],
    }]
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(
            GroupId=gid,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert code_of(err) == "InvalidPermission.Duplicate"
    assert message_of(err) == (
        'the specified rule "peer: 0.0.0.0/0, TCP, from port: 80, to port: 80, ALLOW" already exists')
    # The stored form the data plane reads.
    found = ec2.describe_security_groups(Filters=[
        {"Name": "ip-permission.from-port", "Values": ["80"]},
        {"Name": "ip-permission.cidr", "Values": ["0.0.0.0/0"]},
        {"Name": "ip-permission.protocol", "Values": ["tcp"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in found] == [gid]


def test_rules_grouped_into_permissions(ec2, vpc):
    gid = make_group(ec2, vpc, "app")
    lb = make_group(ec2, vpc, "lb")
    resp = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "6", "FromPort": 8080, "ToPort": 8090,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "192.168.1.7/24", "Description": "office"}],
         "UserIdGroupPairs": [{"GroupId": lb, "Description": "from lb"}]},
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "50", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
    ])
    assert len(resp["SecurityGroupRules"]) == 6
    assert len({r["SecurityGroupRuleId"] for r in resp["SecurityGroupRules"]}) == 6
    ref = [r for r in resp["SecurityGroupRules"] if "ReferencedGroupInfo" in r][0]
    assert ref["ReferencedGroupInfo"] == {"GroupId": lb, "UserId": ACCOUNT_1}
    # More peers for an existing (protocol, ports) join its IpPermission.
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8090, "IpRanges": [{"CidrIp": "172.16.0.0/12"}]}])
    perms = group_of(ec2, gid)["IpPermissions"]
    assert perms == [
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8090,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "192.168.1.0/24", "Description": "office"},
                      {"CidrIp": "172.16.0.0/12"}],
         "Ipv6Ranges": [], "PrefixListIds": [],
         "UserIdGroupPairs": [{"GroupId": lb, "UserId": ACCOUNT_1, "Description": "from lb"}]},
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [],
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}], "PrefixListIds": [], "UserIdGroupPairs": []},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
        {"IpProtocol": "50", "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
    ]
    found = ec2.describe_security_groups(Filters=[{"Name": "ip-permission.group-id", "Values": [lb]}])
    assert [g["GroupId"] for g in found["SecurityGroups"]] == [gid]
    found = ec2.describe_security_groups(Filters=[{"Name": "ip-permission.group-name", "Values": ["lb"]}])
    assert [g["GroupId"] for g in found["SecurityGroups"]] == [gid]
    found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                  {"Name": "ip-permission.to-port", "Values": ["8090"]}])
    assert [g["GroupId"] for g in found["SecurityGroups"]] == [gid]


def test_legacy_parameters(ec2):
    gid = ec2.create_security_group(GroupName="legacy", Description="legacy")["GroupId"]
    try:
        ec2.authorize_security_group_ingress(GroupName="legacy", IpProtocol="tcp", FromPort=22, ToPort=22,
                                             CidrIp="203.0.113.0/24")
        ec2.authorize_security_group_ingress(GroupId=gid, SourceSecurityGroupName="default")
        perms = group_of(ec2, gid)["IpPermissions"]
        default_id = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
        assert {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in perms} == {
            ("tcp", 22, 22), ("icmp", -1, -1), ("tcp", 0, 65535), ("udp", 0, 65535)}
        pairs = [pair for p in perms for pair in p["UserIdGroupPairs"]]
        assert pairs == [{"GroupId": default_id, "UserId": ACCOUNT_1}] * 3
        ec2.revoke_security_group_ingress(GroupName="legacy", IpProtocol="tcp", FromPort=22, ToPort=22,
                                          CidrIp="203.0.113.0/24")
        ec2.revoke_security_group_ingress(GroupId=gid, SourceSecurityGroupName="default")
        assert group_of(ec2, gid)["IpPermissions"] == []
        with pytest.raises(ClientError) as err:
            ec2.authorize_security_group_ingress(GroupId=gid, CidrIp="10.0.0.0/8", IpProtocol="tcp", FromPort=1,
                                                 ToPort=2, IpPermissions=[{"IpProtocol": "-1"}])
        assert code_of(err) == "InvalidParameterCombination"
        with pytest.raises(ClientError) as err:
            ec2.authorize_security_group_ingress(IpProtocol="tcp", FromPort=1, ToPort=2, CidrIp="10.0.0.0/8")
        assert code_of(err) == "MissingParameter"
    finally:
        ec2.delete_security_group(GroupId=gid)


@pytest.mark.parametrize("perm, code", [
    ({"IpProtocol": "tcp", "FromPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "udp", "FromPort": 0, "ToPort": 70000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
     "InvalidPermission.Malformed"),
    ({"IpProtocol": "icmp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "icmp", "FromPort": 300, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "bogus", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "256", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.0/33"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.1"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "Ipv6Ranges": [{"CidrIpv6": "10.0.0.0/8"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
      "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "bad\u00e9"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
      "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}]}, "InvalidGroup.NotFound"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "UserIdGroupPairs": [{"GroupId": "sg-bad"}]},
     "InvalidGroupId.Malformed"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
      "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "10.0.0.0/8"}]}, "InvalidPermission.Duplicate"),
])
def test_authorize_errors(ec2, vpc, perm, code):
    gid = make_group(ec2, vpc, "errs")
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[perm])
    assert code_of(err) == code
    assert group_of(ec2, gid)["IpPermissions"] == []


def test_authorize_unknown_group(ec2):
    perm = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId="sg-0123456789abcdef0", IpPermissions=perm)
    assert code_of(err) == "InvalidGroup.NotFound"
    assert message_of(err) == "The security group 'sg-0123456789abcdef0' does not exist"
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_egress(GroupId="nonsense", IpPermissions=perm)
    assert code_of(err) == "InvalidGroupId.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupName="no-such-group", IpPermissions=perm)
    assert code_of(err) == "InvalidGroup.NotFound"


def test_reference_other_vpc(ec2, vpc):
    gid = make_group(ec2, vpc, "here")
    other = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "UserIdGroupPairs": [{"GroupId": other}]}])
    assert code_of(err) == "InvalidGroup.NotFound"
    assert message_of(err) == "You have specified two resources that belong to different networks."


def test_egress_rules(ec2, vpc):
    gid = make_group(ec2, vpc, "eg")
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert code_of(err) == "InvalidPermission.Duplicate"
    assert message_of(err) == 'the specified rule "peer: 0.0.0.0/0, ALL, ALLOW" already exists'
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert group_of(ec2, gid)["IpPermissionsEgress"] == []
    # The region's S3 prefix list (AWS refuses one that does not exist).
    pl = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [
        f"com.amazonaws.{ec2.meta.region_name}.s3"]}])["PrefixLists"][0]["PrefixListId"]
    resp = ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": pl}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": gid}]}])
    assert all(r["IsEgress"] for r in resp["SecurityGroupRules"])
    g = group_of(ec2, gid)
    assert g["IpPermissions"] == []
    assert [p["PrefixListIds"] for p in g["IpPermissionsEgress"]] == [[{"PrefixListId": pl}], []]
    found = ec2.describe_security_groups(Filters=[
        {"Name": "egress.ip-permission.prefix-list-id", "Values": [pl]}])["SecurityGroups"]
    assert [x["GroupId"] for x in found] == [gid]
    assert ec2.describe_security_groups(Filters=[
        {"Name": "ip-permission.prefix-list-id", "Values": [pl]}])["SecurityGroups"] == []


def test_revoke(ec2, vpc):
    gid = make_group(ec2, vpc, "rv")
    rules = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "192.168.0.0/16"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])["SecurityGroupRules"]
    # By permission: one peer of a merged IpPermission goes, the other stays.
    resp = ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert resp["Return"] is True
    assert [r["CidrIpv4"] for r in resp["RevokedSecurityGroupRules"]] == ["10.0.0.0/8"]
    assert [p["IpRanges"] for p in group_of(ec2, gid)["IpPermissions"]] == [
        [{"CidrIp": "192.168.0.0/16"}], [{"CidrIp": "0.0.0.0/0"}]]
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert code_of(err) == "InvalidPermission.NotFound"
    assert message_of(err) == "The specified rule does not exist in this security group."
    # Part known, part not: the known part goes, the rest is reported.
    resp = ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "192.168.0.0/16"}, {"CidrIp": "172.16.0.0/12"}]}])
    assert resp["UnknownIpPermissions"][0]["IpRanges"] == [{"CidrIp": "172.16.0.0/12"}]
    # By rule id.
    https = [r for r in rules if r["FromPort"] == 443][0]["SecurityGroupRuleId"]
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_egress(GroupId=gid, SecurityGroupRuleIds=[https])
    assert code_of(err) == "InvalidSecurityGroupRuleId.NotFound"
    resp = ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[https])
    assert [r["SecurityGroupRuleId"] for r in resp["RevokedSecurityGroupRules"]] == [https]
    assert group_of(ec2, gid)["IpPermissions"] == []
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[https])
    assert code_of(err) == "InvalidSecurityGroupRuleId.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=["sgr-nope"])
    assert code_of(err) == "InvalidSecurityGroupRuleId.Malformed"


def test_describe_security_group_rules(ec2, vpc):
    gid = make_group(ec2, vpc, "rules")
    made = ec2.authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                       for p in range(1000, 1006)],
        TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": [{"Key": "k", "Value": "v"}]}],
    )["SecurityGroupRules"]
    assert all(r["Tags"] == [{"Key": "k", "Value": "v"}] for r in made)
    flt = [{"Name": "group-id", "Values": [gid]}]
    everything = ec2.describe_security_group_rules(Filters=flt)["SecurityGroupRules"]
    assert len(everything) == 7  # six ingress, the default egress
    assert [r["IsEgress"] for r in everything] == [False] * 6 + [True]
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        resp = ec2.describe_security_group_rules(Filters=flt, MaxResults=5, **kw)
        seen += resp["SecurityGroupRules"]
        token = resp.get("NextToken")
        if not token:
            break
    assert seen == everything
    one = made[2]["SecurityGroupRuleId"]
    assert ec2.describe_security_group_rules(SecurityGroupRuleIds=[one])["SecurityGroupRules"] == [made[2]]
    got = ec2.describe_security_group_rules(Filters=[{"Name": "security-group-rule-id", "Values": [one]}])
    assert got["SecurityGroupRules"] == [made[2]]
    tagged = ec2.describe_security_group_rules(Filters=[{"Name": "tag:k", "Values": ["v"]}])["SecurityGroupRules"]
    assert sorted(r["SecurityGroupRuleId"] for r in tagged) == sorted(r["SecurityGroupRuleId"] for r in made)
    with pytest.raises(ClientError) as err:
        ec2.describe_security_group_rules(SecurityGroupRuleIds=["sgr-0123456789abcdef0"])
    assert code_of(err) == "InvalidSecurityGroupRuleId.NotFound"


def test_modify_security_group_rules(ec2, vpc):
    gid = make_group(ec2, vpc, "mod")
    (rule,) = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])["SecurityGroupRules"]
    rid = rule["SecurityGroupRuleId"]
    resp = ec2.modify_security_group_rules(GroupId=gid, SecurityGroupRules=[{
        "SecurityGroupRuleId": rid,
        "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8081, "CidrIpv4": "10.0.0.0/8",
                              "Description": "changed"}}])
    assert resp["Return"] is True
    (got,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rid])["SecurityGroupRules"]
    assert (got["FromPort"], got["ToPort"], got["CidrIpv4"], got["Description"]) == (8080, 8081, "10.0.0.0/8", "changed")
    with pytest.raises(ClientError) as err:
        ec2.modify_security_group_rules(GroupId=gid, SecurityGroupRules=[{
            "SecurityGroupRuleId": "sgr-0123456789abcdef0",
            "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "10.0.0.0/8"}}])
    assert code_of(err) == "InvalidSecurityGroupRuleId.NotFound"


def test_update_rule_descriptions(ec2, vpc):
    gid = make_group(ec2, vpc, "desc")
    perm = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[perm])
    perm["IpRanges"][0]["Description"] = "web"
    ec2.update_security_group_rule_descriptions_ingress(GroupId=gid, IpPermissions=[perm])
    assert group_of(ec2, gid)["IpPermissions"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0", "Description": "web"}]


def test_describe_filters_and_paging(ec2, vpc):
    made = [make_group(ec2, vpc, f"pg{i}", TagSpecifications=[
        {"ResourceType": "security-group", "Tags": [{"Key": "batch", "Value": "pg"}]}]) for i in range(6)]
    flt = [{"Name": "vpc-id", "Values": [vpc]}]
    page1 = ec2.describe_security_groups(Filters=flt, MaxResults=5)
    assert len(page1["SecurityGroups"]) == 5 and page1["NextToken"]
    page2 = ec2.describe_security_groups(Filters=flt, MaxResults=5, NextToken=page1["NextToken"])
    assert "NextToken" not in page2
    ids = [g["GroupId"] for g in page1["SecurityGroups"] + page2["SecurityGroups"]]
    assert len(ids) == 7 and set(made) <= set(ids)  # and the VPC's default group

    def ids_for(*filters):
        got = ec2.describe_security_groups(Filters=[{"Name": n, "Values": v} for n, v in filters])
        return sorted(g["GroupId"] for g in got["SecurityGroups"])

    assert ids_for(("group-name", ["pg1"]), ("vpc-id", [vpc])) == [made[1]]
    assert ids_for(("group-id", [made[2]])) == [made[2]]
    assert ids_for(("description", ["pg3 group"])) == [made[3]]
    assert ids_for(("tag:batch", ["pg"])) == sorted(made)
    assert ids_for(("tag-key", ["batch"]), ("owner-id", [ACCOUNT_1])) == sorted(made)
    assert ids_for(("vpc-id", [vpc]), ("egress.ip-permission.cidr", ["0.0.0.0/0"]),
                   ("egress.ip-permission.protocol", ["-1"])) == sorted(ids)
    assert ec2.describe_security_groups(GroupIds=made[:2])["SecurityGroups"][0]["GroupId"] in made[:2]
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupIds=[made[0], "sg-0123456789abcdef0"])
    assert code_of(err) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupIds=["web"])
    assert code_of(err) == "InvalidGroupId.Malformed"
    # Names outside the default VPC are not found by GroupNames.
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupNames=["pg0"])
    assert code_of(err) == "InvalidGroup.NotFound"


def test_delete_security_group(ec2, vpc):
    gid = make_group(ec2, vpc, "gone")
    resp = ec2.delete_security_group(GroupId=gid)
    assert resp["Return"] is True and resp["GroupId"] == gid
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=gid)
    assert code_of(err) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId="sg-x")
    assert code_of(err) == "InvalidGroupId.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group()
    assert code_of(err) == "MissingParameter"
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "group-name", "Values": ["default"]}])
    default_id = default["SecurityGroups"][0]["GroupId"]
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=default_id)
    assert code_of(err) == "CannotDelete"
    assert message_of(err) == f'the specified group: "{default_id}" name: "default" cannot be deleted by a user'


def test_delete_referenced_group(ec2, vpc):
    a, b = make_group(ec2, vpc, "a"), make_group(ec2, vpc, "b")
    perm = [{"IpProtocol": "tcp", "FromPort": 5, "ToPort": 5, "UserIdGroupPairs": [{"GroupId": b}]}]
    ec2.authorize_security_group_ingress(GroupId=a, IpPermissions=perm)
    # Referring to itself does not keep a group.
    ec2.authorize_security_group_ingress(GroupId=b, IpPermissions=perm)
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=b)
    assert code_of(err) == "DependencyViolation"
    assert message_of(err) == f"resource {b} has a dependent object"
    with pytest.raises(ClientError) as err:
        ec2.delete_vpc(VpcId=vpc)
    assert code_of(err) == "DependencyViolation"
    ec2.revoke_security_group_ingress(GroupId=a, IpPermissions=perm)
    ec2.delete_security_group(GroupId=b)


def test_delete_group_used_by_interface(server):
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    sid = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    gid = ec2.create_security_group(GroupName="used", Description="used", VpcId=vpc)["GroupId"]
    ec2.create_network_interface(SubnetId=sid, Groups=[gid])
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=gid)
    assert code_of(err) == "DependencyViolation"
    assert message_of(err) == f"resource {gid} has a dependent object"


def test_cross_account_invisible(ec2, ec2_2, vpc):
    gid = make_group(ec2, vpc, "private")
    with pytest.raises(ClientError) as err:
        ec2_2.describe_security_groups(GroupIds=[gid])
    assert code_of(err) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as err:
        ec2_2.delete_security_group(GroupId=gid)
    assert code_of(err) == "InvalidGroup.NotFound"
    perm = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    with pytest.raises(ClientError) as err:
        ec2_2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perm)
    assert code_of(err) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as err:
        ec2_2.create_security_group(GroupName="x", Description="x", VpcId=vpc)
    assert code_of(err) == "InvalidVpcID.NotFound"
    # Account 2's own group may not reference account 1's.
    own = ec2_2.create_security_group(GroupName="mine", Description="mine")["GroupId"]
    try:
        with pytest.raises(ClientError) as err:
            ec2_2.authorize_security_group_ingress(GroupId=own, IpPermissions=[
                {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": gid, "UserId": ACCOUNT_1}]}])
        assert code_of(err) == "InvalidGroup.NotFound"
        assert gid not in [g["GroupId"] for g in ec2_2.describe_security_groups()["SecurityGroups"]]
        rules = ec2_2.describe_security_group_rules()["SecurityGroupRules"]
        assert gid not in {r["GroupId"] for r in rules}
    finally:
        ec2_2.delete_security_group(GroupId=own)



def test_rule_limit(ec2, vpc):
    gid = make_group(ec2, vpc, "many")
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        for p in range(1, 61)])
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 61, "ToPort": 61, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert code_of(err) == "RulesPerSecurityGroupLimitExceeded"
