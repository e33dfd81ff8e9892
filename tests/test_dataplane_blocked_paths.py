"""Ways AWS decides where traffic goes, or that it goes nowhere, checked with real packets.

- a principal that is not allowed cannot make an endpoint at all;
- with one target healthy and one not, every flow goes to the healthy one;
- with no target healthy, the NLB fails open and spreads flows over all targets.

Targets serve HTTP on port 80 (each answers its own host name) and the health check
looks at port 8080, which only some targets serve: so health and traffic are separate
knobs, as they are on AWS.
"""
from collections import Counter
from functools import partial

import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.instances import vpclab_exec
from tests.helpers.waiting import wait_for as _wait_for

SERVE_80 = "mkdir -p /tmp/www && hostname > /tmp/www/index.html && cd /tmp/www && " \
           "(nohup python3 -m http.server 80 >/dev/null 2>&1 &)\n"
SERVE_8080 = "(cd /tmp && nohup python3 -m http.server 8080 >/dev/null 2>&1 & echo $! > /tmp/hc.pid)\n"


wait = partial(_wait_for, timeout=30.0, interval=0.2)


def health(elb, tg) -> dict:
    return {d["Target"]["Id"]: d["TargetHealth"]["State"]
            for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}


def test_principal_not_allowed_gets_no_endpoint(shared_server):
    provider, consumer = shared_server.client("ec2", ACCOUNT_1), shared_server.client("ec2", ACCOUNT_2)
    elb = shared_server.client("elbv2", ACCOUNT_1)
    subnets = [s["SubnetId"] for s in provider.describe_subnets()["Subnets"]]
    lb = elb.create_load_balancer(Name="blocked-nlb", Type="network", Subnets=subnets)["LoadBalancers"][0]
    svc = provider.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[lb["LoadBalancerArn"]])["ServiceConfiguration"]
    vpc = consumer.describe_vpcs()["Vpcs"][0]["VpcId"]
    consumer_subnets = [s["SubnetId"] for s in consumer.describe_subnets()["Subnets"]]
    enis_before = consumer.describe_network_interfaces()["NetworkInterfaces"]
    with pytest.raises(ClientError) as err:
        consumer.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"],
                                     SubnetIds=consumer_subnets)
    assert err.value.response["Error"]["Code"] == "InvalidServiceName"
    assert consumer.describe_vpc_endpoints()["VpcEndpoints"] == []
    assert consumer.describe_network_interfaces()["NetworkInterfaces"] == enis_before


def test_unhealthy_target_gets_no_flows_and_all_unhealthy_fails_open(fast_dataplane_server):
    srv = fast_dataplane_server
    ec2, elb = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "172.31.0.0/16"}]}
        for p in (80, 8080)])
    image = ec2.describe_images()["Images"][0]["ImageId"]

    def launch(name, script):
        inst = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 SecurityGroupIds=[sg], UserData="#!/bin/sh\n" + script,
                                 Placement={"AvailabilityZone": "ap-south-1a"},
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": [{"Key": "Name", "Value": name}]}])["Instances"][0]
        return inst["InstanceId"], inst["PrivateIpAddress"]

    a, a_ip = launch("target-a", SERVE_80 + SERVE_8080)
    b, b_ip = launch("target-b", SERVE_80)
    client, _ = launch("client", "")
    for iid in (a, b, client):
        wait(lambda: ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
             ["State"]["Name"] == "running")
    tg = elb.create_target_group(Name="web", Protocol="TCP", Port=80, VpcId=vpc, HealthCheckPort="8080",
                                 HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
                                 UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": a}, {"Id": b}])
    subnet_a = ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": ["ap-south-1a"]}])
    lb = elb.create_load_balancer(Name="web", Type="network", Scheme="internal", SecurityGroups=[sg],
                                  Subnets=[subnet_a["Subnets"][0]["SubnetId"]])["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    node_ip = lb["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["PrivateIPv4Address"]
    host_a, host_b = "ip-" + a_ip.replace(".", "-"), "ip-" + b_ip.replace(".", "-")

    def answers(n=24) -> Counter:
        out = vpclab_exec(srv, "client", f"for i in $(seq {n}); do curl -s --max-time 2 http://{node_ip}/; done")
        return Counter(line for line in out.split() if line.startswith("ip-"))

    # A passes its health check on 8080, B does not: every flow goes to A.
    wait(lambda: health(elb, tg) == {a: "healthy", b: "unhealthy"})
    seen = wait(lambda: (lambda c: c if sum(c.values()) == 24 else None)(answers()))
    assert set(seen) == {host_a}, seen

    # Stop A's health server: no target is healthy, and the NLB fails open to both.
    vpclab_exec(srv, "target-a", "kill $(cat /tmp/hc.pid)")
    wait(lambda: health(elb, tg) == {a: "unhealthy", b: "unhealthy"})
    seen = wait(lambda: (lambda c: c if set(c) == {host_a, host_b} else None)(answers(40)), timeout=30)
    assert set(seen) == {host_a, host_b}
