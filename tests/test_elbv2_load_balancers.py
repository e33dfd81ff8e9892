"""Network Load Balancers through real boto3: the seed lab's NLB half, then each rule."""
from __future__ import annotations

import re

import pytest

from tests.helpers.accounts import ACCOUNT_2, REGION
from tests.helpers.elbv2 import (
    default_subnets,
    default_vpc,
    nlb,
    run_instance,
    security_group,
    tcp_group,
    unique,
    wait_active,
)
from tests.helpers.errors import error_of


@pytest.fixture
def elb(shared_server):
    return shared_server.client("elbv2")


@pytest.fixture
def elb_2(shared_server):
    return shared_server.client("elbv2", ACCOUNT_2)


def test_seed_lab_nlb_half(elb, ec2):
    """Target group demo-service-tg, an instance, NLB demo-service-nlb on all three default
    subnets with a security group, TCP:80 forwarding; the NLB becomes active, the target
    stays `initial` because nothing checks it without a data plane."""
    vpc_id = default_vpc(ec2)
    subnets = default_subnets(ec2)
    assert len(subnets) == 3
    sg = security_group(ec2, vpc_id)
    tg = elb.create_target_group(Name="demo-service-tg", Protocol="TCP", Port=80, VpcId=vpc_id,
                                 TargetType="instance")["TargetGroups"][0]
    assert tg["HealthCheckProtocol"] == "TCP" and tg["HealthCheckPort"] == "traffic-port"
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthCheckTimeoutSeconds"],
            tg["HealthyThresholdCount"], tg["UnhealthyThresholdCount"]) == (30, 10, 5, 2)
    assert tg["HealthCheckEnabled"] is True
    assert re.fullmatch(rf"arn:aws:elasticloadbalancing:{REGION}:111111111111:targetgroup/demo-service-tg/[0-9a-f]{{16}}",
                        tg["TargetGroupArn"])

    instance_id = run_instance(ec2, subnets[0]["SubnetId"])
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": instance_id}])

    lb = elb.create_load_balancer(Name="demo-service-nlb", Type="network", Scheme="internet-facing",
                                  Subnets=[s["SubnetId"] for s in subnets], SecurityGroups=[sg],
                                  IpAddressType="ipv4")["LoadBalancers"][0]
    m = re.fullmatch(rf"arn:aws:elasticloadbalancing:{REGION}:111111111111:loadbalancer/net/demo-service-nlb/([0-9a-f]{{16}})",
                     lb["LoadBalancerArn"])
    assert m
    assert lb["DNSName"] == f"demo-service-nlb-{m.group(1)}.elb.{REGION}.amazonaws.com"
    assert lb["CanonicalHostedZoneId"] == "ZVDDRBQ08TROA"
    assert lb["State"]["Code"] == "provisioning"
    assert lb["Type"] == "network" and lb["Scheme"] == "internet-facing" and lb["VpcId"] == vpc_id
    assert lb["SecurityGroups"] == [sg]
    assert lb["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "on"
    assert sorted(z["ZoneName"] for z in lb["AvailabilityZones"]) == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]

    # One requester-managed ENI per zone, with the NLB's security group.
    enis = ec2.describe_network_interfaces(Filters=[
        {"Name": "description", "Values": [f"ELB net/demo-service-nlb/{m.group(1)}"]}])["NetworkInterfaces"]
    assert len(enis) == 3
    assert {e["InterfaceType"] for e in enis} == {"network_load_balancer"}
    assert all(e["RequesterManaged"] for e in enis)
    assert {e["SubnetId"] for e in enis} == {s["SubnetId"] for s in subnets}
    assert all([g["GroupId"] for g in e["Groups"]] == [sg] for e in enis)

    listener = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
                                   )["Listeners"][0]
    assert listener["ListenerArn"].startswith(
        lb["LoadBalancerArn"].replace(":loadbalancer/", ":listener/") + "/")

    wait_active(elb, lb["LoadBalancerArn"])
    got = elb.describe_load_balancers(Names=["demo-service-nlb"])["LoadBalancers"][0]
    assert got["State"]["Code"] == "active"

    described = elb.describe_target_groups(TargetGroupArns=[tg["TargetGroupArn"]])["TargetGroups"][0]
    assert described["LoadBalancerArns"] == [lb["LoadBalancerArn"]]

    health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    assert len(health) == 1
    assert health[0]["Target"]["Id"] == instance_id and health[0]["Target"]["Port"] == 80
    assert health[0]["HealthCheckPort"] == "80"
    assert health[0]["TargetHealth"]["State"] == "initial"
    assert health[0]["TargetHealth"]["Reason"] == "Elb.RegistrationInProgress"

    # Tear down as the lab does: NLB, then target group.
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert error_of(elb.describe_load_balancers, LoadBalancerArns=[lb["LoadBalancerArn"]])["Code"] == "LoadBalancerNotFound"
    assert ec2.describe_network_interfaces(Filters=[
        {"Name": "description", "Values": [f"ELB net/demo-service-nlb/{m.group(1)}"]}])["NetworkInterfaces"] == []
    assert error_of(elb.describe_listeners, ListenerArns=[listener["ListenerArn"]])["Code"] == "ListenerNotFound"
    elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    ec2.terminate_instances(InstanceIds=[instance_id])


# Names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a" * 33, "bad_name", "-lead", "trail-", "internal-thing", ""])
def test_invalid_load_balancer_names(elb, ec2, name):
    subnet = default_subnets(ec2)[0]["SubnetId"]
    assert error_of(elb.create_load_balancer, Name=name, Type="network", Subnets=[subnet])["Code"] == "ValidationError"


def test_name_of_32_characters_is_fine(elb, ec2):
    name = unique("n").ljust(32, "x")
    lb = nlb(elb, [default_subnets(ec2)[0]["SubnetId"]], name=name)
    assert lb["LoadBalancerName"] == name
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def test_application_and_gateway_types_are_refused(elb, ec2):
    subnets = [s["SubnetId"] for s in default_subnets(ec2)]
    for lb_type in ("application", "gateway"):
        error = error_of(elb.create_load_balancer, Name=unique("x"), Type=lb_type, Subnets=subnets)
        code, message = error["Code"], error["Message"]
        assert code == "ValidationError" and "vpclab" in message
    # Type defaults to application on AWS.
    assert error_of(elb.create_load_balancer, Name=unique("x"), Subnets=subnets)["Code"] == "ValidationError"


def test_bad_scheme(elb, ec2):
    subnet = default_subnets(ec2)[0]["SubnetId"]
    assert error_of(elb.create_load_balancer, Name=unique("x"), Type="network", Subnets=[subnet],
                    Scheme="private")["Code"] == "ValidationError"


# Subnets and groups -------------------------------------------------------------------------------------

def test_two_subnets_in_one_zone(elb, ec2):
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="ap-south-1a")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24", AvailabilityZone="ap-south-1a")["Subnet"]["SubnetId"]
    error = error_of(elb.create_load_balancer, Name=unique("x"), Type="network", Subnets=[a, b])
    code, message = error["Code"], error["Message"]
    assert code == "InvalidConfigurationRequest"
    assert "same Availability Zone" in message
    # Nothing was left behind: the VPC still deletes once its subnets go.
    ec2.delete_subnet(SubnetId=a)
    ec2.delete_subnet(SubnetId=b)
    ec2.delete_vpc(VpcId=vpc)


def test_unknown_subnet_and_group(elb, ec2):
    subnet = default_subnets(ec2)[0]["SubnetId"]
    assert error_of(elb.create_load_balancer, Name=unique("x"), Type="network",
                    Subnets=["subnet-0123456789abcdef0"])["Code"] == "SubnetNotFound"
    assert error_of(elb.create_load_balancer, Name=unique("x"), Type="network", Subnets=[subnet],
                    SecurityGroups=["sg-0123456789abcdef0"])["Code"] == "InvalidSecurityGroup"
    assert error_of(elb.create_load_balancer, Name=unique("x"), Type="network")["Code"] == "ValidationError"


def test_subnets_of_two_vpcs(elb, ec2):
    vpc = ec2.create_vpc(CidrBlock="10.21.0.0/16")["Vpc"]["VpcId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.21.1.0/24", AvailabilityZone="ap-south-1b")["Subnet"]["SubnetId"]
    default_a = next(s for s in default_subnets(ec2) if s["AvailabilityZone"] == "ap-south-1a")["SubnetId"]
    assert error_of(elb.create_load_balancer, Name=unique("x"), Type="network",
                    Subnets=[default_a, other])["Code"] == "InvalidConfigurationRequest"
    ec2.delete_subnet(SubnetId=other)
    ec2.delete_vpc(VpcId=vpc)


def test_internal_nlb_with_private_addresses(elb, ec2):
    subnets = default_subnets(ec2)
    a = subnets[0]
    base = a["CidrBlock"].split("/")[0].rsplit(".", 2)[0]  # e.g. 172.31
    third = int(a["CidrBlock"].split(".")[2])
    ip = f"{base}.{third + 1}.77"
    name = unique("int")
    lb = elb.create_load_balancer(Name=name, Type="network", Scheme="internal",
                                  SubnetMappings=[{"SubnetId": a["SubnetId"], "PrivateIPv4Address": ip},
                                                  {"SubnetId": subnets[1]["SubnetId"]}])["LoadBalancers"][0]
    assert lb["DNSName"].startswith(f"internal-{name}-")
    assert lb["Scheme"] == "internal"
    zone = {z["SubnetId"]: z for z in lb["AvailabilityZones"]}
    assert zone[a["SubnetId"]]["LoadBalancerAddresses"] == [{"PrivateIPv4Address": ip}]
    other = zone[subnets[1]["SubnetId"]]["LoadBalancerAddresses"][0]["PrivateIPv4Address"]
    eni_ips = {e["PrivateIpAddress"] for e in ec2.describe_network_interfaces(Filters=[
        {"Name": "description", "Values": [f"ELB net/{name}/*"]}])["NetworkInterfaces"]}
    assert eni_ips == {ip, other}
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    assert attrs["ipv6.deny_all_igw_traffic"] == "true"
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def test_private_address_only_for_internal(elb, ec2):
    a = default_subnets(ec2)[0]
    ip = a["CidrBlock"].rsplit(".", 2)[0] + ".0.50"
    assert error_of(elb.create_load_balancer, Name=unique("x"), Type="network",
                    SubnetMappings=[{"SubnetId": a["SubnetId"], "PrivateIPv4Address": ip}])["Code"] == "ValidationError"


# Idempotency ----------------------------------------------------------------------------------------------

def test_create_is_idempotent_and_duplicate_name_differs(elb, ec2):
    subnets = [s["SubnetId"] for s in default_subnets(ec2)]
    name = unique("idem")
    first = nlb(elb, subnets, name=name)
    again = nlb(elb, list(reversed(subnets)), name=name)
    assert again["LoadBalancerArn"] == first["LoadBalancerArn"]
    assert len(elb.describe_load_balancers(Names=[name])["LoadBalancers"]) == 1
    error = error_of(elb.create_load_balancer, Name=name, Type="network", Subnets=subnets[:1])
    code, message = error["Code"], error["Message"]
    assert code == "DuplicateLoadBalancerName"
    assert message == f"A load balancer with the same name '{name}' exists, but with different settings"
    code = error_of(elb.create_load_balancer, Name=name, Type="network", Subnets=subnets, Scheme="internal")["Code"]
    assert code == "DuplicateLoadBalancerName"
    elb.delete_load_balancer(LoadBalancerArn=first["LoadBalancerArn"])


# Describe ----------------------------------------------------------------------------------------------------

def test_describe_by_arn_name_and_paging(elb, ec2):
    subnet = default_subnets(ec2)[0]["SubnetId"]
    made = [nlb(elb, [subnet]) for _ in range(3)]
    arns = [lb["LoadBalancerArn"] for lb in made]
    got = elb.describe_load_balancers(LoadBalancerArns=arns)["LoadBalancers"]
    assert sorted(lb["LoadBalancerArn"] for lb in got) == sorted(arns)
    assert error_of(elb.describe_load_balancers, Names=["no-such-lb"])["Code"] == "LoadBalancerNotFound"
    missing = arns[0][:-16] + "0" * 16
    assert error_of(elb.describe_load_balancers, LoadBalancerArns=[missing])["Code"] == "LoadBalancerNotFound"
    assert error_of(elb.describe_load_balancers, LoadBalancerArns=["not-an-arn"])["Code"] == "ValidationError"

    seen, marker = [], None
    while True:
        kwargs = {"PageSize": 2, **({"Marker": marker} if marker else {})}
        page = elb.describe_load_balancers(**kwargs)
        assert len(page["LoadBalancers"]) <= 2
        seen.extend(lb["LoadBalancerArn"] for lb in page["LoadBalancers"])
        marker = page.get("NextMarker")
        if not marker:
            break
    assert set(arns) <= set(seen) and len(seen) == len(set(seen))
    paginated = [lb["LoadBalancerArn"] for p in elb.get_paginator("describe_load_balancers").paginate(
        PaginationConfig={"PageSize": 1}) for lb in p["LoadBalancers"]]
    assert paginated == seen
    for arn in arns:
        elb.delete_load_balancer(LoadBalancerArn=arn)


def test_other_account_sees_nothing(elb, elb_2, ec2):
    lb = nlb(elb, [default_subnets(ec2)[0]["SubnetId"]])
    arn = lb["LoadBalancerArn"]
    assert error_of(elb_2.describe_load_balancers, LoadBalancerArns=[arn])["Code"] == "LoadBalancerNotFound"
    assert error_of(elb_2.describe_load_balancer_attributes, LoadBalancerArn=arn)["Code"] == "LoadBalancerNotFound"
    assert error_of(elb_2.describe_tags, ResourceArns=[arn])["Code"] == "LoadBalancerNotFound"
    assert error_of(elb_2.describe_listeners, LoadBalancerArn=arn)["Code"] == "LoadBalancerNotFound"
    assert all(x["LoadBalancerArn"] != arn for x in elb_2.describe_load_balancers()["LoadBalancers"])
    # Deleting someone else's NLB is a no-op, as for a missing one.
    elb_2.delete_load_balancer(LoadBalancerArn=arn)
    assert elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"]
    elb.delete_load_balancer(LoadBalancerArn=arn)


# Delete -------------------------------------------------------------------------------------------------------

def test_delete_missing_succeeds(elb):
    arn = f"arn:aws:elasticloadbalancing:{REGION}:111111111111:loadbalancer/net/gone/0123456789abcdef"
    out = elb.delete_load_balancer(LoadBalancerArn=arn)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert error_of(elb.describe_load_balancers, LoadBalancerArns=[arn])["Code"] == "LoadBalancerNotFound"


def test_deletion_protection(elb, ec2):
    lb = nlb(elb, [default_subnets(ec2)[0]["SubnetId"]])
    arn = lb["LoadBalancerArn"]
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "true"}])
    assert error_of(elb.delete_load_balancer, LoadBalancerArn=arn)["Code"] == "OperationNotPermitted"
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    elb.delete_load_balancer(LoadBalancerArn=arn)


def test_vpc_with_nlb_or_target_group_cannot_be_deleted(elb, ec2):
    vpc = ec2.create_vpc(CidrBlock="10.22.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.22.1.0/24", AvailabilityZone="ap-south-1a")["Subnet"]["SubnetId"]
    tg = tcp_group(elb, vpc)
    assert error_of(ec2.delete_vpc, VpcId=vpc)["Code"] == "DependencyViolation"
    lb = nlb(elb, [subnet], Scheme="internal")
    assert error_of(ec2.delete_subnet, SubnetId=subnet)["Code"] == "DependencyViolation"
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    ec2.delete_subnet(SubnetId=subnet)
    assert error_of(ec2.delete_vpc, VpcId=vpc)["Code"] == "DependencyViolation"  # the target group
    elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    ec2.delete_vpc(VpcId=vpc)


# Attributes ---------------------------------------------------------------------------------------------------

def test_load_balancer_attributes(elb, ec2):
    lb = nlb(elb, [default_subnets(ec2)[0]["SubnetId"]])
    arn = lb["LoadBalancerArn"]
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attrs["deletion_protection.enabled"] == "false"
    assert attrs["load_balancing.cross_zone.enabled"] == "false"
    assert attrs["ipv6.deny_all_igw_traffic"] == "false"
    assert attrs["dns_record.client_routing_policy"] == "any_availability_zone"
    assert attrs["zonal_shift.config.enabled"] == "false"
    assert attrs["access_logs.s3.enabled"] == "false"
    out = elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "load_balancing.cross_zone.enabled", "Value": "true"},
        {"Key": "dns_record.client_routing_policy", "Value": "availability_zone_affinity"}])["Attributes"]
    assert {a["Key"]: a["Value"] for a in out}["load_balancing.cross_zone.enabled"] == "true"
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attrs["dns_record.client_routing_policy"] == "availability_zone_affinity"
    bad = [
        ({"Key": "no.such.key", "Value": "1"}, "ValidationError"),
        ({"Key": "idle_timeout.timeout_seconds", "Value": "60"}, "InvalidConfigurationRequest"),
        ({"Key": "deletion_protection.enabled", "Value": "yes"}, "ValidationError"),
        ({"Key": "dns_record.client_routing_policy", "Value": "nearest"}, "ValidationError"),
        ({"Key": "access_logs.s3.enabled", "Value": "true"}, "InvalidConfigurationRequest"),
    ]
    for attr, code in bad:
        assert error_of(elb.modify_load_balancer_attributes, LoadBalancerArn=arn, Attributes=[attr])["Code"] == code, attr
    elb.delete_load_balancer(LoadBalancerArn=arn)


# Security groups, subnets ---------------------------------------------------------------------------------------

def test_set_security_groups(elb, ec2):
    subnet = default_subnets(ec2)[0]["SubnetId"]
    sg1, sg2 = security_group(ec2), security_group(ec2)
    lb = nlb(elb, [subnet], SecurityGroups=[sg1])
    arn = lb["LoadBalancerArn"]
    out = elb.set_security_groups(LoadBalancerArn=arn, SecurityGroups=[sg2],
                                  EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic="off")
    assert out["SecurityGroupIds"] == [sg2]
    assert out["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
    got = elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    assert got["SecurityGroups"] == [sg2]
    assert got["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] == "off"
    suffix = arn.rsplit("/", 1)[1]
    eni = ec2.describe_network_interfaces(Filters=[
        {"Name": "description", "Values": [f"ELB net/{lb['LoadBalancerName']}/{suffix}"]}])["NetworkInterfaces"][0]
    assert [g["GroupId"] for g in eni["Groups"]] == [sg2]
    assert error_of(elb.set_security_groups, LoadBalancerArn=arn, SecurityGroups=[])["Code"] == "ValidationError"
    assert error_of(elb.set_security_groups, LoadBalancerArn=arn,
                    SecurityGroups=["sg-0123456789abcdef0"])["Code"] == "InvalidSecurityGroup"
    elb.delete_load_balancer(LoadBalancerArn=arn)

    bare = nlb(elb, [subnet])
    assert "SecurityGroups" not in bare or bare["SecurityGroups"] == []
    assert error_of(elb.set_security_groups, LoadBalancerArn=bare["LoadBalancerArn"],
                    SecurityGroups=[sg1])["Code"] == "ValidationError"
    elb.delete_load_balancer(LoadBalancerArn=bare["LoadBalancerArn"])


def test_set_subnets_adds_zones(elb, ec2):
    subnets = default_subnets(ec2)
    lb = nlb(elb, [subnets[0]["SubnetId"]])
    arn = lb["LoadBalancerArn"]
    out = elb.set_subnets(LoadBalancerArn=arn, Subnets=[subnets[0]["SubnetId"], subnets[1]["SubnetId"]])
    assert sorted(z["SubnetId"] for z in out["AvailabilityZones"]) == sorted(
        [subnets[0]["SubnetId"], subnets[1]["SubnetId"]])
    assert error_of(elb.set_subnets, LoadBalancerArn=arn, Subnets=[subnets[1]["SubnetId"]])["Code"] == \
        "InvalidConfigurationRequest"
    elb.delete_load_balancer(LoadBalancerArn=arn)


# State ------------------------------------------------------------------------------------------------------------

def test_provisioning_then_active(elb, ec2):
    lb = nlb(elb, [default_subnets(ec2)[0]["SubnetId"]])
    assert lb["State"]["Code"] == "provisioning"
    wait_active(elb, lb["LoadBalancerArn"])
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    elb.get_waiter("load_balancers_deleted").wait(LoadBalancerArns=[lb["LoadBalancerArn"]],
                                                  WaiterConfig={"Delay": 1, "MaxAttempts": 5})
