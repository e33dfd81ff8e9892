"""IPv6 is refused, never silently ignored: every request that asks for it gets one error
(InvalidParameterValue, HTTP 400, naming the parameter and saying vpclab does not serve
IPv6 yet), and nothing changes. Through real boto3."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.helpers.elbv2 import an_image


def _refused(call, param: str, **kwargs) -> None:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    error = err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "InvalidParameterValue"
    assert f"for parameter {param} is invalid" in error["Message"]
    assert "vpclab does not serve IPv6 yet" in error["Message"]


def _vpc_ids(ec2) -> set[str]:
    return {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}


@pytest.fixture
def vpc(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    yield vpc_id


@pytest.mark.parametrize("kwargs, param", [
    ({"AmazonProvidedIpv6CidrBlock": True}, "amazonProvidedIpv6CidrBlock"),
    ({"Ipv6Pool": "ipv6pool-ec2-0123456789abcdef0", "Ipv6CidrBlock": "2001:db8::/56"}, "ipv6Pool"),
    ({"Ipv6CidrBlock": "2001:db8::/56"}, "ipv6CidrBlock"),
    ({"Ipv6IpamPoolId": "ipam-pool-0123456789abcdef0"}, "ipv6IpamPoolId"),
])
def test_create_vpc(ec2, kwargs, param):
    before = _vpc_ids(ec2)
    _refused(ec2.create_vpc, param, CidrBlock="10.62.0.0/16", **kwargs)
    assert _vpc_ids(ec2) == before


def test_create_vpc_without_ipv6_passes(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.63.0.0/16", AmazonProvidedIpv6CidrBlock=False)["Vpc"]
    assert vpc["Ipv6CidrBlockAssociationSet"] == []


@pytest.mark.parametrize("kwargs, param", [
    ({"AmazonProvidedIpv6CidrBlock": True}, "amazonProvidedIpv6CidrBlock"),
    ({"Ipv6CidrBlock": "2001:db8::/56", "Ipv6Pool": "ipv6pool-ec2-0123456789abcdef0"}, "ipv6Pool"),
    ({"Ipv6IpamPoolId": "ipam-pool-0123456789abcdef0", "Ipv6NetmaskLength": 56}, "ipv6IpamPoolId"),
    ({"Ipv6CidrBlockNetworkBorderGroup": "ap-south-1", "AmazonProvidedIpv6CidrBlock": True},
     "amazonProvidedIpv6CidrBlock"),
])
def test_associate_vpc_cidr_block(ec2, vpc, kwargs, param):
    _refused(ec2.associate_vpc_cidr_block, param, VpcId=vpc, **kwargs)
    shown = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]
    assert "Ipv6CidrBlockAssociationSet" not in shown and len(shown["CidrBlockAssociationSet"]) == 1


@pytest.mark.parametrize("kwargs, param", [
    ({"CidrBlock": "10.61.1.0/24", "Ipv6CidrBlock": "2001:db8::/64"}, "ipv6CidrBlock"),
    ({"Ipv6Native": True, "Ipv6CidrBlock": "2001:db8::/64"}, "ipv6CidrBlock"),
    ({"Ipv6Native": True}, "ipv6Native"),
])
def test_create_subnet(ec2, vpc, kwargs, param):
    _refused(ec2.create_subnet, param, VpcId=vpc, **kwargs)
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"] == []


@pytest.mark.parametrize("attribute, param", [
    ("AssignIpv6AddressOnCreation", "assignIpv6AddressOnCreation"),
    ("EnableDns64", "enableDns64"),
])
def test_modify_subnet_attribute(ec2, vpc, attribute, param):
    sid = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.2.0/24")["Subnet"]["SubnetId"]
    _refused(ec2.modify_subnet_attribute, param, SubnetId=sid, **{attribute: {"Value": True}})
    ec2.modify_subnet_attribute(SubnetId=sid, **{attribute: {"Value": False}})  # asks for nothing
    subnet = ec2.describe_subnets(SubnetIds=[sid])["Subnets"][0]
    assert subnet["AssignIpv6AddressOnCreation"] is False and subnet["EnableDns64"] is False


@pytest.mark.parametrize("kwargs, param", [
    ({"Ipv6AddressCount": 1}, "ipv6AddressCount"),
    ({"Ipv6Addresses": [{"Ipv6Address": "2001:db8::5"}]}, "ipv6Addresses"),
    ({"Ipv6PrefixCount": 1}, "ipv6PrefixCount"),
    ({"EnablePrimaryIpv6": True}, "enablePrimaryIpv6"),
])
def test_create_network_interface(ec2, vpc, kwargs, param):
    sid = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.3.0/24")["Subnet"]["SubnetId"]
    _refused(ec2.create_network_interface, param, SubnetId=sid, **kwargs)
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [sid]}])["NetworkInterfaces"] == []


@pytest.mark.parametrize("kwargs, param", [
    ({"Ipv6AddressCount": 1}, "ipv6AddressCount"),
    ({"Ipv6Addresses": [{"Ipv6Address": "2001:db8::5"}]}, "ipv6Addresses"),
    ({"EnablePrimaryIpv6": True}, "enablePrimaryIpv6"),
    ({"NetworkInterfaces": [{"DeviceIndex": 0, "Ipv6AddressCount": 2}]}, "networkInterface.1.ipv6AddressCount"),
    ({"NetworkInterfaces": [{"DeviceIndex": 0, "PrimaryIpv6": True}]}, "networkInterface.1.primaryIpv6"),
])
def test_run_instances(ec2, vpc, kwargs, param):
    sid = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.4.0/24")["Subnet"]["SubnetId"]
    if "NetworkInterfaces" in kwargs:
        kwargs["NetworkInterfaces"][0]["SubnetId"] = sid
    else:
        kwargs["SubnetId"] = sid
    _refused(ec2.run_instances, param, ImageId=an_image(ec2), MinCount=1, MaxCount=1, **kwargs)
    reservations = ec2.describe_instances(Filters=[{"Name": "subnet-id", "Values": [sid]}])["Reservations"]
    assert reservations == []


def test_asking_for_nothing_passes(ec2, vpc):
    sid = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.5.0/24", Ipv6Native=False)["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=sid, Ipv6AddressCount=0)["NetworkInterface"]
    assert eni["Ipv6Addresses"] == []
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])


@pytest.mark.parametrize("name", ["ipv6-cidr-block-association.ipv6-cidr-block", "ipv6-cidr-block-association.state",
                                  "ipv6-cidr-block-association.association-id", "ipv6-cidr-block-association.ipv6-pool"])
def test_ipv6_filters_match_nothing(ec2, vpc, name):
    assert ec2.describe_vpcs(Filters=[{"Name": name, "Values": ["*"]}])["Vpcs"] == []


def _elb_refused(call, **kwargs) -> None:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    error = err.value.response["Error"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "ValidationError"
    assert "vpclab does not serve IPv6 yet" in error["Message"]


def test_dualstack_load_balancers_and_ipv6_target_groups_are_refused(ec2, vpc, shared_server):
    elb = shared_server.client("elbv2")
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.1.0/24", AvailabilityZone="ap-south-1a")["Subnet"]
    before = elb.describe_load_balancers()["LoadBalancers"]
    _elb_refused(elb.create_load_balancer, Name="dual", Type="network", Scheme="internal",
                 Subnets=[subnet["SubnetId"]], IpAddressType="dualstack")
    assert elb.describe_load_balancers()["LoadBalancers"] == before
    _elb_refused(elb.create_target_group, Name="six", Protocol="TCP", Port=80, VpcId=vpc, TargetType="ip",
                 IpAddressType="ipv6")
    lb = elb.create_load_balancer(Name="four", Type="network", Scheme="internal",
                                  Subnets=[subnet["SubnetId"]])["LoadBalancers"][0]
    _elb_refused(elb.set_ip_address_type, LoadBalancerArn=lb["LoadBalancerArn"], IpAddressType="dualstack")
    [shown] = elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"]
    assert shown["IpAddressType"] == "ipv4"
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
