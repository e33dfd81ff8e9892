"""Shared set-up for the ELBv2 tests: default subnets, a security group, an instance."""
from __future__ import annotations

import itertools
import uuid

_counter = itertools.count()


def unique(prefix: str) -> str:
    """A name no other test of the shared server uses (ELBv2 names are 1-32 chars)."""
    return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:6]}"[:32].rstrip("-")


def default_vpc(ec2) -> str:
    return ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]


def default_subnets(ec2) -> list[dict]:
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return sorted(subnets, key=lambda s: s["AvailabilityZone"])


def security_group(ec2, vpc_id: str | None = None, port: int = 80) -> str:
    vpc_id = vpc_id or default_vpc(ec2)
    gid = ec2.create_security_group(GroupName=unique("nlb-group"), Description="nlb", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    return gid


def an_image(ec2) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    x86 = [i for i in images if i.get("Architecture") == "x86_64"] or images
    return x86[0]["ImageId"]


def run_instance(ec2, subnet_id: str | None = None, wait: bool = True) -> str:
    kwargs = {"SubnetId": subnet_id} if subnet_id else {}
    inst = ec2.run_instances(ImageId=an_image(ec2), InstanceType="t3.micro", MinCount=1, MaxCount=1,
                             **kwargs)["Instances"][0]
    if wait:
        ec2.get_waiter("instance_running").wait(InstanceIds=[inst["InstanceId"]],
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return inst["InstanceId"]


def tcp_group(elb, vpc_id: str, name: str | None = None, **kwargs) -> dict:
    args = {"Name": name or unique("tg"), "Protocol": "TCP", "Port": 80, "VpcId": vpc_id, **kwargs}
    return elb.create_target_group(**args)["TargetGroups"][0]


def nlb(elb, subnets: list[str], name: str | None = None, **kwargs) -> dict:
    return elb.create_load_balancer(Name=name or unique("nlb"), Type="network", Subnets=subnets,
                                    **kwargs)["LoadBalancers"][0]


def wait_active(elb, arn: str) -> None:
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[arn],
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 20})
