"""A platform team's PrivateLink code, as it would be written for AWS: the seed lab's
provider (nginx behind an NLB, an endpoint service that requires acceptance) and its
consumer (an instance and an interface endpoint in another account).

Nothing here knows about vpclab: each function takes a boto3 Session, as infrastructure
code does, so the tests next to it hand it a session of a vpclab account instead of a
real one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import boto3

NGINX_USER_DATA = "#!/bin/sh\nsystemctl start nginx\n"


@dataclass(frozen=True)
class Provider:
    instance_id: str
    target_group_arn: str
    load_balancer_arn: str
    service_id: str
    service_name: str


@dataclass(frozen=True)
class Consumer:
    instance_id: str
    security_group_id: str
    endpoint_id: str
    endpoint_dns_name: str


def default_network(ec2) -> tuple[str, str, list[str]]:
    """The default VPC's id and CIDR, and its default subnets (one per zone)."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                            {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return vpc["VpcId"], vpc["CidrBlock"], sorted(s["SubnetId"] for s in subnets)


def _image(ec2) -> str:
    return ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def _web_security_group(ec2, name: str, vpc_id: str, cidr: str) -> str:
    group = ec2.create_security_group(GroupName=name, Description=f"{name}: HTTP", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": cidr}]}])
    return group


def _launch(ec2, name: str, group: str, subnet: str, user_data: str | None = None) -> str:
    extra = {"UserData": user_data} if user_data else {}
    return ec2.run_instances(
        ImageId=_image(ec2), InstanceType="t2.micro", MinCount=1, MaxCount=1, SecurityGroupIds=[group],
        SubnetId=subnet, TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
        **extra)["Instances"][0]["InstanceId"]


def build_provider(session: boto3.Session, name: str = "demo", poll: float = 5.0) -> Provider:
    """nginx on an instance, a TCP target group with it, an NLB in every default subnet
    with a TCP:80 listener (waited for until `active`), and an endpoint service on the
    NLB that requires acceptance. No principal is allowed yet (`allow`)."""
    ec2, elbv2 = session.client("ec2"), session.client("elbv2")
    vpc_id, cidr, subnets = default_network(ec2)
    group = _web_security_group(ec2, f"{name}-web", vpc_id, "0.0.0.0/0")
    instance = _launch(ec2, f"{name}-server", group, subnets[0], NGINX_USER_DATA)
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": poll})
    target_group = elbv2.create_target_group(Name=f"{name}-tg", Protocol="TCP", Port=80, VpcId=vpc_id,
                                             TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": instance}])
    nlb = elbv2.create_load_balancer(Name=f"{name}-nlb", Type="network", Scheme="internal", Subnets=subnets,
                                     SecurityGroups=[group])["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}])
    elbv2.get_waiter("load_balancer_available").wait(LoadBalancerArns=[nlb], WaiterConfig={"Delay": poll})
    service = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[nlb], AcceptanceRequired=True)["ServiceConfiguration"]
    return Provider(instance, target_group, nlb, service["ServiceId"], service["ServiceName"])


def allow(session: boto3.Session, provider: Provider, account: str) -> None:
    """Let `account` find and connect to the provider's endpoint service."""
    session.client("ec2").modify_vpc_endpoint_service_permissions(
        ServiceId=provider.service_id, AddAllowedPrincipals=[f"arn:aws:iam::{account}:root"])


def build_consumer(session: boto3.Session, service_name: str, name: str = "demo", poll: float = 5.0) -> Consumer:
    """An instance, and an interface endpoint to `service_name` in every default subnet
    with a security group that lets the VPC reach it on port 80. The service must be
    visible to this account first (InvalidServiceName otherwise, as on AWS)."""
    ec2 = session.client("ec2")
    ec2.describe_vpc_endpoint_services(ServiceNames=[service_name])  # "Verify service"
    vpc_id, cidr, subnets = default_network(ec2)
    group = _web_security_group(ec2, f"{name}-endpoint", vpc_id, cidr)
    instance = _launch(ec2, f"{name}-client", group, subnets[0])
    endpoint = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=service_name,
                                       SubnetIds=subnets, SecurityGroupIds=[group])["VpcEndpoint"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": poll})
    return Consumer(instance, group, endpoint["VpcEndpointId"], endpoint["DnsEntries"][0]["DnsName"])


def endpoint_state(session: boto3.Session, consumer: Consumer) -> str:
    return session.client("ec2").describe_vpc_endpoints(
        VpcEndpointIds=[consumer.endpoint_id])["VpcEndpoints"][0]["State"]


def accept(session: boto3.Session, provider: Provider, consumer: Consumer, timeout: float = 60.0,
           poll: float = 5.0) -> None:
    """The provider accepts the consumer's endpoint; returns once the provider sees the
    connection `available` (the consumer's endpoint is then available too)."""
    ec2 = session.client("ec2")
    ec2.accept_vpc_endpoint_connections(ServiceId=provider.service_id, VpcEndpointIds=[consumer.endpoint_id])
    deadline = time.monotonic() + timeout
    while True:
        connections = ec2.describe_vpc_endpoint_connections(Filters=[
            {"Name": "vpc-endpoint-id", "Values": [consumer.endpoint_id]}])["VpcEndpointConnections"]
        if connections and connections[0]["VpcEndpointState"] == "available":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"endpoint {consumer.endpoint_id} not available {timeout:g} s after acceptance")
        time.sleep(poll)
