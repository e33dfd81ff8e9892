"""CloudFormation's EC2 resource providers against a control plane of the test's own:
create (Ref and GetAtt values, CloudFormation's tags), update in place (same id), the
replacement decision the schema makes, delete, and the AWS errors as the events word them."""
from __future__ import annotations

import base64

import pytest

from tests.helpers.accounts import ACCOUNT_1, REGION
from tests.helpers.cfn_resources import ControlPlane, stack_ref
from vpclab.control.cloudformation import resources
from vpclab.control.cloudformation.resources import ResourceFailed


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    cp = ControlPlane(tmp_path_factory.mktemp("state"))
    try:
        yield cp
    finally:
        cp.stop()


def make(plane, type_name: str, logical_id: str, props: dict):
    out = resources.provider(type_name).create(plane.api(), logical_id, props, stack_ref(logical_id))
    return out


def tags_of(plane, resource_id: str) -> dict[str, str]:
    found = plane.call("DescribeTags", {"Filters": [{"Name": "resource-id", "Values": [resource_id]}]})["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def test_the_schema_decides_names_create_only_and_getatt():
    vpc = resources.schema("AWS::EC2::VPC")
    assert vpc.primary_identifier == (("VpcId",),)
    assert ("CidrBlock",) in vpc.create_only and ("EnableDnsSupport",) not in vpc.create_only
    assert {"CidrBlock", "DefaultSecurityGroup", "VpcId"} <= vpc.attributes
    endpoint = resources.schema("AWS::EC2::VPCEndpoint")
    assert {"DnsEntries", "NetworkInterfaceIds", "Id", "CreationTimestamp"} <= endpoint.attributes
    assert {"LoadBalancerFullName", "DNSName", "CanonicalHostedZoneID"} <= resources.schema(
        "AWS::ElasticLoadBalancingV2::LoadBalancer").attributes
    assert resources.schema("AWS::EC2::NoSuchThing") is None
    assert resources.provider("AWS::EC2::NoSuchThing") is None
    assert resources.provider("AWS::S3::Bucket") is None  # CloudFormation has it; vpclab does not make it


def test_vpc_create_getatt_update_in_place_and_delete(plane):
    p = resources.provider("AWS::EC2::VPC")
    props = {"CidrBlock": "10.20.0.0/16", "EnableDnsHostnames": "true",
             "Tags": [{"Key": "Name", "Value": "lab-vpc"}]}
    out = p.create(plane.api(), "LabVpc", props, stack_ref("LabVpc"))
    vpc_id = out.physical_id
    assert vpc_id.startswith("vpc-")
    assert out.attributes["CidrBlock"] == "10.20.0.0/16"
    assert out.attributes["DefaultSecurityGroup"].startswith("sg-")
    assert out.attributes["CidrBlockAssociations"][0].startswith("vpc-cidr-assoc-")
    assert out.attributes["EnableDnsHostnames"] is True and out.attributes["EnableDnsSupport"] is True
    tags = tags_of(plane, vpc_id)
    assert tags == {"aws:cloudformation:stack-name": "lab-stack", "aws:cloudformation:logical-id": "LabVpc",
                    "aws:cloudformation:stack-id": stack_ref("LabVpc").stack_id, "Name": "lab-vpc"}

    new = {**props, "EnableDnsHostnames": False, "Tags": [{"Key": "Name", "Value": "renamed"}]}
    assert p.replaces(props, new) is False
    assert p.replaces(props, {**props, "CidrBlock": "10.21.0.0/16"}) is True
    updated = p.update(plane.api(), vpc_id, props, new, stack_ref("LabVpc"))
    assert updated.physical_id == vpc_id
    assert plane.call("DescribeVpcAttribute", {"VpcId": vpc_id, "Attribute": "enableDnsHostnames"})[
        "EnableDnsHostnames"]["Value"] is False
    assert tags_of(plane, vpc_id)["Name"] == "renamed"

    p.delete(plane.api(), vpc_id, new, stack_ref("LabVpc"))
    assert plane.call("DescribeVpcs", {"Filters": [{"Name": "vpc-id", "Values": [vpc_id]}]})["Vpcs"] == []
    p.delete(plane.api(), vpc_id, new, stack_ref("LabVpc"))  # gone already is fine


def test_a_user_still_cannot_set_cloudformation_tags(plane):
    result = plane.calls.call(ACCOUNT_1, REGION, "ec2", "CreateVpc", {
        "CidrBlock": "10.30.0.0/16", "TagSpecifications": [
        {"ResourceType": "vpc", "Tags": [{"Key": "aws:cloudformation:stack-name", "Value": "forged"}]}]})
    assert result.error == {"Code": "InvalidParameterValue",
                            "Message": "Tag keys starting with 'aws:' are reserved for internal use"}


def test_cloudformation_may_set_only_its_own_aws_tags(plane):
    with pytest.raises(ResourceFailed) as err:
        make(plane, "AWS::EC2::VPC", "Odd", {"CidrBlock": "10.31.0.0/16", "Tags": [{"Key": "aws:other", "Value": "x"}]})
    assert "Tag keys starting with 'aws:' are reserved for internal use" in err.value.reason


@pytest.fixture(scope="module")
def vpc(plane):
    out = make(plane, "AWS::EC2::VPC", "Net", {"CidrBlock": "10.40.0.0/16"})
    yield out.physical_id


def test_subnet_outside_the_vpc_fails_with_the_aws_error(plane, vpc):
    with pytest.raises(ResourceFailed) as err:
        make(plane, "AWS::EC2::Subnet", "Bad", {"VpcId": vpc, "CidrBlock": "10.99.1.0/24"})
    reason = err.value.reason
    assert reason.startswith('Resource handler returned message: "The CIDR \'10.99.1.0/24\' is invalid.')
    assert "(Service: Ec2, Status Code: 400, Request ID: " in reason
    assert reason.endswith("HandlerErrorCode: InvalidRequest)")


def test_subnet_create_update_and_replacement(plane, vpc):
    p = resources.provider("AWS::EC2::Subnet")
    props = {"VpcId": vpc, "CidrBlock": "10.40.1.0/24", "AvailabilityZone": "ap-south-1b"}
    out = p.create(plane.api(), "Web", props, stack_ref("Web"))
    assert out.physical_id.startswith("subnet-")
    assert out.attributes["AvailabilityZone"] == "ap-south-1b"
    assert out.attributes["AvailabilityZoneId"] == "aps1-az3"
    assert out.attributes["VpcId"] == vpc and out.attributes["CidrBlock"] == "10.40.1.0/24"
    new = {**props, "MapPublicIpOnLaunch": "true"}
    assert not p.replaces(props, new)
    assert p.replaces(props, {**props, "CidrBlock": "10.40.2.0/24"})
    assert p.replaces(props, {**props, "AvailabilityZone": "ap-south-1a"})
    updated = p.update(plane.api(), out.physical_id, props, new, stack_ref("Web"))
    assert updated.physical_id == out.physical_id and updated.attributes["MapPublicIpOnLaunch"] is True
    p.delete(plane.api(), out.physical_id, new, stack_ref("Web"))
    assert plane.call("DescribeSubnets", {"Filters": [{"Name": "subnet-id", "Values": [out.physical_id]}]})[
        "Subnets"] == []


def rules_of(plane, group_id: str, egress: bool) -> list[tuple]:
    found = plane.call("DescribeSecurityGroupRules", {"Filters": [{"Name": "group-id", "Values": [group_id]}]})[
        "SecurityGroupRules"]
    return sorted((r["IpProtocol"], r.get("FromPort"), r.get("ToPort"), r.get("CidrIpv4"),
                   (r.get("ReferencedGroupInfo") or {}).get("GroupId")) for r in found if r["IsEgress"] == egress)


def test_security_group_inline_rules_update_in_place(plane, vpc):
    p = resources.provider("AWS::EC2::SecurityGroup")
    props = {"GroupDescription": "web", "VpcId": vpc,
             "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": "80", "ToPort": "80", "CidrIp": "0.0.0.0/0"}]}
    out = p.create(plane.api(), "WebSg", props, stack_ref("WebSg"))
    group_id = out.physical_id
    assert group_id.startswith("sg-") and out.attributes["GroupId"] == group_id and out.attributes["VpcId"] == vpc
    [group] = plane.call("DescribeSecurityGroups", {"GroupIds": [group_id]})["SecurityGroups"]
    assert group["GroupName"].startswith("lab-stack-WebSg-")
    assert rules_of(plane, group_id, False) == [("tcp", 80, 80, "0.0.0.0/0", None)]
    assert rules_of(plane, group_id, True) == [("-1", -1, -1, "0.0.0.0/0", None)]

    new = {**props, "SecurityGroupIngress": [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/8"},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "SourceSecurityGroupId": group_id}],
        "SecurityGroupEgress": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "10.40.0.0/16"}]}
    assert p.replaces(props, new) is False
    assert p.replaces(props, {**props, "GroupDescription": "other"}) is True
    updated = p.update(plane.api(), group_id, props, new, stack_ref("WebSg"))
    assert updated.physical_id == group_id
    assert rules_of(plane, group_id, False) == [("tcp", 22, 22, None, group_id), ("tcp", 443, 443, "10.0.0.0/8", None)]
    assert rules_of(plane, group_id, True) == [("tcp", 80, 80, "10.40.0.0/16", None)]

    rule = resources.provider("AWS::EC2::SecurityGroupIngress")
    made = rule.create(plane.api(), "Http", {"GroupId": group_id, "IpProtocol": "tcp", "FromPort": 8080,
                                              "ToPort": 8080, "CidrIp": "192.168.0.0/16"}, stack_ref("Http"))
    assert made.physical_id.startswith("sgr-")
    assert ("tcp", 8080, 8080, "192.168.0.0/16", None) in rules_of(plane, group_id, False)
    rule.delete(plane.api(), made.physical_id, {"GroupId": group_id}, stack_ref("Http"))
    assert ("tcp", 8080, 8080, "192.168.0.0/16", None) not in rules_of(plane, group_id, False)
    egress = resources.provider("AWS::EC2::SecurityGroupEgress").create(plane.api(), "Out", {
        "GroupId": group_id, "IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "CidrIp": "10.40.0.2/32"},
        stack_ref("Out"))
    assert ("udp", 53, 53, "10.40.0.2/32", None) in rules_of(plane, group_id, True)
    resources.provider("AWS::EC2::SecurityGroupEgress").delete(plane.api(), egress.physical_id,
                                                               {"GroupId": group_id}, stack_ref("Out"))

    p.delete(plane.api(), group_id, new, stack_ref("WebSg"))
    assert plane.call("DescribeSecurityGroups", {"Filters": [{"Name": "group-id", "Values": [group_id]}]})[
        "SecurityGroups"] == []


def test_security_group_in_use_fails_to_delete_with_the_aws_reason(plane, vpc):
    a = make(plane, "AWS::EC2::SecurityGroup", "A", {"GroupDescription": "a", "VpcId": vpc}).physical_id
    b = make(plane, "AWS::EC2::SecurityGroup", "B", {"GroupDescription": "b", "VpcId": vpc, "SecurityGroupIngress": [
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "SourceSecurityGroupId": a}]}).physical_id
    with pytest.raises(ResourceFailed) as err:
        resources.provider("AWS::EC2::SecurityGroup").delete(plane.api(), a, {"VpcId": vpc}, stack_ref("A"))
    assert f"resource {a} has a dependent object" in err.value.reason
    assert "HandlerErrorCode: ResourceConflict" in err.value.reason
    for group in (b, a):
        resources.provider("AWS::EC2::SecurityGroup").delete(plane.api(), group, {"VpcId": vpc}, stack_ref("X"))


def test_security_group_in_the_default_vpc_is_referred_to_by_name(plane):
    out = make(plane, "AWS::EC2::SecurityGroup", "Classic", {"GroupDescription": "d", "GroupName": "cfn-named"})
    assert out.physical_id == "cfn-named" and out.attributes["GroupId"].startswith("sg-")
    resources.provider("AWS::EC2::SecurityGroup").delete(plane.api(), out.physical_id, {}, stack_ref("Classic"))
    assert plane.call("DescribeSecurityGroups", {"Filters": [{"Name": "group-name", "Values": ["cfn-named"]}]})[
        "SecurityGroups"] == []


def image_id(plane) -> str:
    return plane.call("DescribeImages", {"Owners": ["amazon"]})["Images"][0]["ImageId"]


def test_instance_waits_for_running_updates_in_place_and_terminates(plane, vpc):
    subnet = make(plane, "AWS::EC2::Subnet", "Apps", {"VpcId": vpc, "CidrBlock": "10.40.8.0/24"}).physical_id
    group = make(plane, "AWS::EC2::SecurityGroup", "AppSg", {"GroupDescription": "app", "VpcId": vpc}).physical_id
    other = make(plane, "AWS::EC2::SecurityGroup", "AppSg2", {"GroupDescription": "app2", "VpcId": vpc}).physical_id
    p = resources.provider("AWS::EC2::Instance")
    script = "#!/bin/bash\nsystemctl start nginx\n"
    props = {"ImageId": image_id(plane), "InstanceType": "t3.micro", "SubnetId": subnet,
             "SecurityGroupIds": [group], "UserData": base64.b64encode(script.encode()).decode(),
             "Tags": [{"Key": "Name", "Value": "web"}]}
    out = p.create(plane.api(), "Web", props, stack_ref("Web"))
    instance_id = out.physical_id
    assert instance_id.startswith("i-")
    assert out.attributes["PrivateIp"].startswith("10.40.8.")
    private_ip = out.attributes["PrivateIp"]
    assert out.attributes["PrivateDnsName"] == f"ip-{private_ip.replace('.', '-')}.{REGION}.compute.internal"
    assert out.attributes["AvailabilityZone"].startswith(REGION)
    assert out.attributes["State"]["Name"] == "running"
    attr = plane.call("DescribeInstanceAttribute", {"InstanceId": instance_id, "Attribute": "userData"})
    assert base64.b64decode(attr["UserData"]["Value"]).decode() == script
    assert tags_of(plane, instance_id)["aws:cloudformation:logical-id"] == "Web"

    new = {**props, "SecurityGroupIds": [other], "InstanceType": "t3.small", "DisableApiTermination": "false"}
    assert p.replaces(props, new) is False
    assert p.replaces(props, {**props, "ImageId": "ami-0123456789abcdef0"}) is True
    assert p.replaces(props, {**props, "SubnetId": "subnet-0123456789abcdef0"}) is True
    updated = p.update(plane.api(), instance_id, props, new, stack_ref("Web"))
    assert updated.physical_id == instance_id and updated.attributes["State"]["Name"] == "running"
    [inst] = plane.call("DescribeInstances", {"InstanceIds": [instance_id]})["Reservations"][0]["Instances"]
    assert inst["InstanceType"] == "t3.small"
    assert [g["GroupId"] for g in inst["SecurityGroups"]] == [other]

    p.delete(plane.api(), instance_id, new, stack_ref("Web"))
    [inst] = plane.call("DescribeInstances", {"InstanceIds": [instance_id]})["Reservations"][0]["Instances"]
    assert inst["State"]["Name"] == "terminated"
    p.delete(plane.api(), instance_id, new, stack_ref("Web"))  # terminated already
    # What the instance held is gone, so the next delete in reverse order goes through.
    resources.provider("AWS::EC2::Subnet").delete(plane.api(), subnet, {}, stack_ref("Apps"))


def test_instance_with_a_bad_image_fails_with_the_aws_error(plane):
    with pytest.raises(ResourceFailed) as err:
        make(plane, "AWS::EC2::Instance", "Bad", {"ImageId": "ami-0000000000000dead", "InstanceType": "t3.micro"})
    assert "ami-0000000000000dead" in err.value.reason and "HandlerErrorCode: NotFound" in err.value.reason
