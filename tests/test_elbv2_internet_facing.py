"""Internet-facing and internal NLBs' addresses through real boto3: a public address per
node (ELB's own or a subnet mapping's Elastic IP), how DescribeLoadBalancers and
DescribeNetworkInterfaces show them, their errors, what deletion gives back, and the DNS
answers of the name."""
from __future__ import annotations

import pytest

from tests.helpers.accounts import ACCOUNT_2
from tests.helpers.elbv2 import nlb, unique
from tests.helpers.errors import error_of
from tests.test_elastic_ips import public_vpc
from tests.test_public_addresses import assert_public


@pytest.fixture
def elb(shared_server):
    return shared_server.client("elbv2")


def mapped(elb, name: str, mappings: list[dict], **kwargs) -> dict:
    return elb.create_load_balancer(Name=name, Type="network", SubnetMappings=mappings,
                                    **kwargs)["LoadBalancers"][0]


def two_zone_vpc(ec2, cidr: str) -> tuple[str, list[str]]:
    vpc, first = public_vpc(ec2, cidr)
    second = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "2.0/24"),
                               AvailabilityZone="ap-south-1b")["Subnet"]["SubnetId"]
    return vpc, [first, second]


def node_enis(ec2, lb: dict) -> list[dict]:
    name = lb["LoadBalancerArn"].split("loadbalancer/")[1]
    return ec2.describe_network_interfaces(
        Filters=[{"Name": "description", "Values": [f"ELB {name}"]}])["NetworkInterfaces"]


def test_internet_facing_nodes_have_public_addresses(ec2, elb):
    vpc, subnets = two_zone_vpc(ec2, "10.41.0.0/16")
    lb = nlb(elb, subnets, unique("pub"), Scheme="internet-facing")
    # ELB assigns the addresses; DescribeLoadBalancers lists none for a zone without an Elastic IP.
    assert [z["LoadBalancerAddresses"] for z in lb["AvailabilityZones"]] == [[], []]
    enis = node_enis(ec2, lb)
    assert len(enis) == 2
    ips = []
    for eni in enis:
        association = eni["Association"]
        assert association["IpOwnerId"] == "amazon-elb"
        assert "AllocationId" not in association
        assert_public(association["PublicIp"])
        ips.append(association["PublicIp"])
    assert len(set(ips)) == 2
    found = ec2.describe_network_interfaces(
        Filters=[{"Name": "association.ip-owner-id", "Values": ["amazon-elb"]},
                 {"Name": "vpc-id", "Values": [vpc]}])["NetworkInterfaces"]
    assert sorted(e["NetworkInterfaceId"] for e in found) == sorted(e["NetworkInterfaceId"] for e in enis)
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert node_enis(ec2, lb) == []
    # Given back: nothing holds them any more.
    assert ec2.describe_network_interfaces(
        Filters=[{"Name": "association.public-ip", "Values": ips}])["NetworkInterfaces"] == []


def test_internal_nodes_have_none(ec2, elb):
    vpc, subnets = two_zone_vpc(ec2, "10.42.0.0/16")
    lb = nlb(elb, subnets, unique("int"), Scheme="internal")
    assert lb["DNSName"].startswith("internal-")
    enis = node_enis(ec2, lb)
    for zone in lb["AvailabilityZones"]:
        eni = next(e for e in enis if e["SubnetId"] == zone["SubnetId"])
        assert zone["LoadBalancerAddresses"] == [{"PrivateIPv4Address": eni["PrivateIpAddress"]}]
        assert "Association" not in eni
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def test_subnet_mapping_elastic_ips(ec2, elb):
    vpc, subnets = two_zone_vpc(ec2, "10.43.0.0/16")
    eip = ec2.allocate_address(Domain="vpc")
    lb = mapped(elb, unique("eip"), [{"SubnetId": subnets[0], "AllocationId": eip["AllocationId"]},
                                     {"SubnetId": subnets[1]}])
    zones = {z["SubnetId"]: z["LoadBalancerAddresses"] for z in lb["AvailabilityZones"]}
    assert zones[subnets[0]] == [{"IpAddress": eip["PublicIp"], "AllocationId": eip["AllocationId"]}]
    assert zones[subnets[1]] == []
    described = elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]
    assert described["AvailabilityZones"] == lb["AvailabilityZones"]
    eni = next(e for e in node_enis(ec2, lb) if e["SubnetId"] == subnets[0])
    assert eni["Association"]["AllocationId"] == eip["AllocationId"]
    assert eni["Association"]["PublicIp"] == eip["PublicIp"]
    shown = ec2.describe_addresses(AllocationIds=[eip["AllocationId"]])["Addresses"][0]
    assert shown["NetworkInterfaceId"] == eni["NetworkInterfaceId"] and "InstanceId" not in shown
    # The node's address is the NLB's: it cannot be moved, disassociated or released.
    assoc = shown["AssociationId"]
    assert error_of(ec2.disassociate_address, AssociationId=assoc)["Code"] == "AuthFailure"
    assert error_of(ec2.release_address, AllocationId=eip["AllocationId"])["Code"] == "InvalidIPAddress.InUse"
    # In use: another NLB cannot take it.
    err = error_of(mapped, elb, unique("eip2"), [{"SubnetId": subnets[0], "AllocationId": eip["AllocationId"]}])
    assert (err["Code"], err["Message"]) == ("ResourceInUse", "The allocation IDs are not available for use")
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    # Deleting the NLB leaves the Elastic IP allocated and free.
    left = ec2.describe_addresses(AllocationIds=[eip["AllocationId"]])["Addresses"][0]
    assert "AssociationId" not in left and left["PublicIp"] == eip["PublicIp"]
    ec2.release_address(AllocationId=eip["AllocationId"])


def test_subnet_mapping_errors(ec2, elb, shared_server):
    vpc, subnets = two_zone_vpc(ec2, "10.44.0.0/16")
    err = error_of(mapped, elb, unique("x"), [{"SubnetId": subnets[0], "AllocationId": "eipalloc-0123456789abcdef0"}])
    assert {k: err[k] for k in ("Code", "Message")} == {"Code": "AllocationIdNotFound",
                   "Message": "The allocation ID 'eipalloc-0123456789abcdef0' does not exist"}
    eip = ec2.allocate_address(Domain="vpc")
    err = error_of(mapped, elb, unique("x"), [{"SubnetId": subnets[0], "AllocationId": eip["AllocationId"]}],
                   Scheme="internal")
    assert err["Code"] == "ValidationError"
    err = error_of(mapped, elb, unique("x"), [{"SubnetId": subnets[0], "AllocationId": eip["AllocationId"]},
                                              {"SubnetId": subnets[1], "AllocationId": eip["AllocationId"]}])
    assert err["Code"] == "ResourceInUse"
    # Another account's Elastic IP is as missing.
    other = shared_server.client("ec2", ACCOUNT_2).allocate_address(Domain="vpc")
    err = error_of(mapped, elb, unique("x"), [{"SubnetId": subnets[0], "AllocationId": other["AllocationId"]}])
    assert err["Code"] == "AllocationIdNotFound"
    shared_server.client("ec2", ACCOUNT_2).release_address(AllocationId=other["AllocationId"])
    ec2.release_address(AllocationId=eip["AllocationId"])
    assert ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkInterfaces"] == []


def test_nlb_names_resolve_to_public_addresses_only_when_internet_facing():
    from tests.helpers.worlds import LB_ARN, provider_world
    from vpclab.dataplane.agents.dns import zones_for
    from vpclab.model.ec2 import PublicIpAssociation

    w = provider_world()
    lb = w.load_balancers[LB_ARN]
    lb.dns_name = "web-0123456789abcdef.elb.ap-south-1.amazonaws.com"
    publics = []
    for i, mapping in enumerate(lb.mappings):
        public = f"198.18.9.{i + 10}"
        w.enis[mapping.network_interface_id].association = PublicIpAssociation(public_ip=public,
                                                                               ip_owner_id="amazon-elb")
        publics.append(public)
    lb.scheme = "internet-facing"
    for zone in zones_for(w).values():
        assert sorted(zone.records[lb.dns_name]) == sorted(publics)
    lb.scheme = "internal"
    privates = sorted(m.private_ip for m in lb.mappings)
    for zone in zones_for(w).values():
        assert sorted(zone.records[lb.dns_name]) == privates


def test_internet_facing_needs_an_internet_gateway(ec2, elb):
    vpc = ec2.create_vpc(CidrBlock="10.45.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.45.1.0/24")["Subnet"]["SubnetId"]
    err = error_of(nlb, elb, [subnet], unique("nogw"))
    assert (err["Code"], err["Message"]) == ("InvalidSubnet", f"VPC {vpc} has no internet gateway")
    # A detached gateway is no gateway; an internal NLB needs none.
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert error_of(nlb, elb, [subnet], unique("nogw"), Scheme="internet-facing")["Code"] == "InvalidSubnet"
    internal = nlb(elb, [subnet], unique("int"), Scheme="internal")
    elb.delete_load_balancer(LoadBalancerArn=internal["LoadBalancerArn"])
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public = nlb(elb, [subnet], unique("gw"))
    assert public["Scheme"] == "internet-facing"
    elb.delete_load_balancer(LoadBalancerArn=public["LoadBalancerArn"])
