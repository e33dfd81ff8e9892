"""List members AWS answers empty are answered empty, not left out, and the members AWS
leaves out are left out: one of each resource, through real boto3, each answer compared
with AWS's documented examples (botocore's examples-1.json) and recorded AWS CLI answers.

The exemptions name why an example's key is not in vpclab's answer: the example shows a
resource with something this one lacks (tags, an Elastic IP association, an ALB's HTTP
health check), which AWS leaves out as vpclab does.
"""
from __future__ import annotations

import json
from pathlib import Path

import botocore
import pytest

from tests.helpers.elbv2 import (
    default_subnets,
    default_vpc,
    nlb,
    run_instance,
    tcp_group,
    wait_active,
)

DATA = Path(botocore.__file__).parent / "data"
EXAMPLES = {
    "ec2": json.loads((DATA / "ec2/2016-11-15/examples-1.json").read_text())["examples"],
    "elbv2": json.loads((DATA / "elbv2/2015-12-01/examples-1.json").read_text())["examples"],
}

#: Keys of documented examples that AWS, too, leaves out of an answer about this lab's
#: resources, and why.
EXEMPT = {
    "Tags": "EC2 leaves tagSet out for an untagged resource (the examples are tagged)",
    "Association.AssociationId": "only an Elastic IP association has an id (the instance has an Amazon address)",
    "InstanceId": "the Elastic IP is not associated",
    "NetworkInterfaceId": "the Elastic IP is not associated",
    "NetworkInterfaceOwnerId": "the Elastic IP is not associated",
    "PrivateIpAddress": "the Elastic IP is not associated",
    "AssociationId": "the Elastic IP is not associated",
    "SecurityGroups": "the example is an Application Load Balancer; an NLB made without groups has none",
    "HealthCheckPath": "the example is an HTTP target group",
    "Matcher": "the example is an HTTP target group",
    "Key": "no tags",
    "Value": "no tags",
}


def _keys(obj, path: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{path}.{k}" if path else k
            out.add(p)
            out |= _keys(v, p)
    elif isinstance(obj, list):
        for v in obj:
            out |= _keys(v, path + "[]")
    return out


def _exempt(key: str) -> bool:
    """A key below an exempt member, or ending in an exempt path (`Association.AssociationId`)."""
    parts = key.replace("[]", "").split(".")[1:]
    return any(p in EXEMPT for p in parts) or any(".".join(parts[i:]) in EXEMPT for i in range(len(parts)))


def _misses(service: str, operation: str, answer: dict) -> list[str]:
    mine = _keys(answer)
    out = []
    for example in EXAMPLES[service].get(operation, []):
        for key in sorted(_keys(example.get("output", {})) - mine):
            if not _exempt(key):
                out.append(f"{operation} ({example['id']}): {key}")
    return out


@pytest.fixture(scope="module")
def lab(shared_server):
    ec2, elb = shared_server.client("ec2"), shared_server.client("elbv2")
    vpc = default_vpc(ec2)
    subnet = default_subnets(ec2)[0]["SubnetId"]
    instance = run_instance(ec2, subnet)
    ec2.create_key_pair(KeyName="fidelity-empty")
    ec2.allocate_address(Domain="vpc")
    tg = tcp_group(elb, vpc)
    lb = nlb(elb, [subnet])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": instance}])
    wait_active(elb, lb["LoadBalancerArn"])
    return {"ec2": ec2, "elb": elb, "vpc": vpc, "subnet": subnet, "instance": instance, "tg": tg, "lb": lb}


EC2_CALLS = {
    "DescribeVpcs": lambda ec2: ec2.describe_vpcs(),
    "DescribeSubnets": lambda ec2: ec2.describe_subnets(),
    "DescribeSecurityGroups": lambda ec2: ec2.describe_security_groups(),
    "DescribeSecurityGroupRules": lambda ec2: ec2.describe_security_group_rules(),
    "DescribeNetworkInterfaces": lambda ec2: ec2.describe_network_interfaces(),
    "DescribeInstances": lambda ec2: ec2.describe_instances(),
    "DescribeKeyPairs": lambda ec2: ec2.describe_key_pairs(),
    "DescribeAvailabilityZones": lambda ec2: ec2.describe_availability_zones(),
    "DescribeRouteTables": lambda ec2: ec2.describe_route_tables(),
    "DescribeInternetGateways": lambda ec2: ec2.describe_internet_gateways(),
    "DescribeAddresses": lambda ec2: ec2.describe_addresses(),
}


@pytest.mark.parametrize("operation", sorted(EC2_CALLS))
def test_ec2_answers_have_the_documented_keys(lab, operation):
    answer = EC2_CALLS[operation](lab["ec2"])
    answer.pop("ResponseMetadata")
    assert _misses("ec2", operation, answer) == []


ELB_CALLS = {
    "DescribeLoadBalancers": lambda elb, lab: elb.describe_load_balancers(),
    "DescribeTargetGroups": lambda elb, lab: elb.describe_target_groups(),
    "DescribeListeners": lambda elb, lab: elb.describe_listeners(LoadBalancerArn=lab["lb"]["LoadBalancerArn"]),
    "DescribeTargetHealth": lambda elb, lab: elb.describe_target_health(TargetGroupArn=lab["tg"]["TargetGroupArn"]),
    "DescribeTags": lambda elb, lab: elb.describe_tags(ResourceArns=[lab["lb"]["LoadBalancerArn"]]),
}


@pytest.mark.parametrize("operation", sorted(ELB_CALLS))
def test_elbv2_answers_have_the_documented_keys(lab, operation):
    answer = ELB_CALLS[operation](lab["elb"], lab)
    answer.pop("ResponseMetadata")
    assert _misses("elbv2", operation, answer) == []


def test_vpc_lists(lab):
    ec2 = lab["ec2"]
    created = ec2.create_vpc(CidrBlock="10.95.0.0/16")["Vpc"]
    # CreateVpc answers the IPv6 set empty; DescribeVpcs leaves it out for a VPC without
    # IPv6 and shows Block Public Access (recorded AWS CLI answers of both).
    assert created["Ipv6CidrBlockAssociationSet"] == []
    assert "BlockPublicAccessStates" not in created
    assert [a["CidrBlock"] for a in created["CidrBlockAssociationSet"]] == ["10.95.0.0/16"]
    shown = ec2.describe_vpcs(VpcIds=[created["VpcId"]])["Vpcs"][0]
    assert "Ipv6CidrBlockAssociationSet" not in shown
    assert shown["BlockPublicAccessStates"] == {"InternetGatewayBlockMode": "off"}
    assert len(shown["CidrBlockAssociationSet"]) == 1


def test_subnet_lists(lab):
    ec2 = lab["ec2"]
    created = ec2.create_subnet(VpcId=lab["vpc"], CidrBlock="172.31.200.0/24")["Subnet"]
    assert created["Ipv6CidrBlockAssociationSet"] == []
    assert "BlockPublicAccessStates" not in created
    shown = ec2.describe_subnets(SubnetIds=[created["SubnetId"]])["Subnets"][0]
    assert shown["Ipv6CidrBlockAssociationSet"] == []
    assert shown["BlockPublicAccessStates"] == {"InternetGatewayBlockMode": "off"}
    ec2.delete_subnet(SubnetId=created["SubnetId"])


def test_security_group_lists(lab):
    ec2 = lab["ec2"]
    gid = ec2.create_security_group(GroupName="fidelity-empty", Description="d", VpcId=lab["vpc"])["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert group["IpPermissions"] == []
    (egress,) = group["IpPermissionsEgress"]
    assert (egress["Ipv6Ranges"], egress["PrefixListIds"], egress["UserIdGroupPairs"]) == ([], [], [])
    ec2.delete_security_group(GroupId=gid)


def test_instance_and_interface_lists(lab):
    ec2 = lab["ec2"]
    inst = ec2.describe_instances(InstanceIds=[lab["instance"]])["Reservations"][0]["Instances"][0]
    assert inst["ProductCodes"] == []
    (nic,) = inst["NetworkInterfaces"]
    assert nic["Ipv6Addresses"] == []
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[nic["NetworkInterfaceId"]])["NetworkInterfaces"][0]
    assert eni["Ipv6Addresses"] == []
    assert len(eni["PrivateIpAddresses"]) == 1


def test_zone_and_route_table_lists(lab):
    ec2 = lab["ec2"]
    assert all(z["Messages"] == [] for z in ec2.describe_availability_zones()["AvailabilityZones"])
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [lab["vpc"]]}])["RouteTables"][0]
    assert table["PropagatingVgws"] == []


def test_elbv2_lists(lab):
    elb = lab["elb"]
    tg = elb.create_target_group(Name="fidelity-unused", Protocol="TCP", Port=80, VpcId=lab["vpc"])["TargetGroups"][0]
    assert tg["LoadBalancerArns"] == []
    assert elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"] == []
    assert elb.describe_tags(ResourceArns=[tg["TargetGroupArn"]])["TagDescriptions"][0]["Tags"] == []
    elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
