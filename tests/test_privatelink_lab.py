"""The seed lab's PrivateLink part, step by step, through a real server and boto3.

seed/vpc-endpoint-services-lab.txt: account 1 serves nginx behind a TCP target group and an
NLB across the three default subnets, makes an endpoint service that requires acceptance;
account 2 cannot verify the service name until account 1 allows it, then makes an
interface endpoint in its three default subnets; account 1 accepts; the endpoint becomes
available; everything is deleted in the lab's order, and every delete out of order gets
AWS's refusal.
"""
from __future__ import annotations

import re
import time

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION  # provider, consumer
from tests.helpers.errors import error_of


def default_subnets(ec2) -> list[dict]:
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return sorted(subnets, key=lambda s: s["AvailabilityZone"])


def port_80_group(ec2, vpc_id: str, name: str) -> str:
    gid = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    return gid


def test_seed_lab_privatelink(server):
    ec2_1, elb_1 = server.client("ec2", ACCOUNT_1), server.client("elbv2", ACCOUNT_1)
    ec2_2 = server.client("ec2", ACCOUNT_2)

    # Account 1: an instance with port 80 open, a TCP target group, an NLB in every zone.
    subnets_1 = default_subnets(ec2_1)
    assert [s["AvailabilityZone"] for s in subnets_1] == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
    vpc_1 = subnets_1[0]["VpcId"]
    web_group = port_80_group(ec2_1, vpc_1, "demo-server-sg")
    image = ec2_1.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2_1.run_instances(ImageId=image, InstanceType="t2.micro", MinCount=1, MaxCount=1,
                                   SubnetId=subnets_1[0]["SubnetId"], SecurityGroupIds=[web_group])["Instances"][0]
    instance_id = instance["InstanceId"]
    ec2_1.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    tg = elb_1.create_target_group(Name="demo-service-tg", Protocol="TCP", Port=80, VpcId=vpc_1,
                                   TargetType="instance")["TargetGroups"][0]
    elb_1.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": instance_id}])
    lb = elb_1.create_load_balancer(Name="demo-service-nlb", Type="network", Scheme="internet-facing",
                                    Subnets=[s["SubnetId"] for s in subnets_1],
                                    SecurityGroups=[web_group])["LoadBalancers"][0]
    lb_arn = lb["LoadBalancerArn"]
    elb_1.create_listener(LoadBalancerArn=lb_arn, Protocol="TCP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    elb_1.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb_arn],
                                                     WaiterConfig={"Delay": 1, "MaxAttempts": 30})

    # The endpoint service, acceptance required, named by a tag.
    svc = ec2_1.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[lb_arn], AcceptanceRequired=True,
        TagSpecifications=[{"ResourceType": "vpc-endpoint-service",
                            "Tags": [{"Key": "Name", "Value": "demo-service-provider"}]}],
    )["ServiceConfiguration"]
    service_id, service_name = svc["ServiceId"], svc["ServiceName"]
    assert service_name == f"com.amazonaws.vpce.{REGION}.{service_id}"
    assert svc["ServiceState"] == "Available"
    assert svc["AvailabilityZones"] == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
    assert svc["BaseEndpointDnsNames"] == [f"{service_id}.{REGION}.vpce.amazonaws.com"]
    assert svc["AcceptanceRequired"] is True

    # Account 2: "Service name could not be verified."
    err = error_of(ec2_2.describe_vpc_endpoint_services, ServiceNames=[service_name])
    assert err == {"Code": "InvalidServiceName", "Message": f"The Vpc Endpoint Service '{service_name}' does not exist"}

    # Account 1 allows account 2's root; account 2 verifies.
    ec2_1.modify_vpc_endpoint_service_permissions(
        ServiceId=service_id, AddAllowedPrincipals=[f"arn:aws:iam::{ACCOUNT_2}:root"])
    detail = ec2_2.describe_vpc_endpoint_services(ServiceNames=[service_name])["ServiceDetails"][0]
    assert detail["Owner"] == ACCOUNT_1
    assert detail["AvailabilityZones"] == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]

    # Account 2: an interface endpoint in its three default subnets, port 80 open.
    subnets_2 = default_subnets(ec2_2)
    vpc_2 = subnets_2[0]["VpcId"]
    endpoint_group = port_80_group(ec2_2, vpc_2, "demo-endpoint-sg")
    ep = ec2_2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc_2, ServiceName=service_name,
        SubnetIds=[s["SubnetId"] for s in subnets_2], SecurityGroupIds=[endpoint_group],
        TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": [{"Key": "Name", "Value": "demo-endpoint"}]}],
    )["VpcEndpoint"]
    endpoint_id = ep["VpcEndpointId"]
    assert ep["State"] == "pendingAcceptance"
    assert ep["PrivateDnsEnabled"] is False
    assert ep["Groups"][0]["GroupId"] == endpoint_group
    regional = ep["DnsEntries"][0]["DnsName"]
    assert re.fullmatch(rf"{endpoint_id}-[a-z0-9]{{8}}\.{service_id}\.{REGION}\.vpce\.amazonaws\.com", regional)
    assert len(ep["NetworkInterfaceIds"]) == 3

    # Account 1 sees the request and accepts it.
    conns = ec2_1.describe_vpc_endpoint_connections(
        Filters=[{"Name": "service-id", "Values": [service_id]}])["VpcEndpointConnections"]
    assert [(c["VpcEndpointId"], c["VpcEndpointOwner"], c["VpcEndpointState"]) for c in conns] \
        == [(endpoint_id, ACCOUNT_2, "pendingAcceptance")]
    assert ec2_1.accept_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[endpoint_id])["Unsuccessful"] == []

    # Account 2: pending, then available.
    seen = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        state = ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["State"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == "available":
            break
        time.sleep(0.05)
    assert seen[-1] == "available"
    assert set(seen) <= {"pending", "available"}

    # Cleanup out of order: every step is refused as AWS refuses it.
    out = ec2_1.delete_vpc_endpoint_service_configurations(ServiceIds=[service_id])
    assert out["Unsuccessful"] == [{"ResourceId": service_id, "Error": {
        "Code": "ExistingVpcEndpointConnections", "Message": "Service has existing active VPC Endpoint connections!"}}]
    err = error_of(elb_1.delete_load_balancer, LoadBalancerArn=lb_arn)
    assert err["Code"] == "ResourceInUse"
    err = error_of(elb_1.delete_target_group, TargetGroupArn=tg["TargetGroupArn"])
    assert err["Code"] == "ResourceInUse"
    assert error_of(ec2_2.delete_security_group, GroupId=endpoint_group)["Code"] == "DependencyViolation"

    # Cleanup in the lab's order: endpoint, service, NLB, instance, target group.
    assert ec2_2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])["Unsuccessful"] == []
    deadline = time.monotonic() + 10
    while ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["State"] != "deleted":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    conns = ec2_1.describe_vpc_endpoint_connections(
        Filters=[{"Name": "service-id", "Values": [service_id]}])["VpcEndpointConnections"]
    assert [c["VpcEndpointState"] for c in conns] == ["deleted"]
    assert ec2_1.delete_vpc_endpoint_service_configurations(ServiceIds=[service_id])["Unsuccessful"] == []
    elb_1.delete_load_balancer(LoadBalancerArn=lb_arn)
    ec2_1.terminate_instances(InstanceIds=[instance_id])
    elb_1.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    ec2_2.delete_security_group(GroupId=endpoint_group)
    assert ec2_1.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"] == []
