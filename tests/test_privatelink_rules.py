"""PrivateLink control plane, one rule at a time, through a real server and boto3.

Account 111111111111 is the provider, 222222222222 the consumer, 333333333333 a stranger.
"""
from __future__ import annotations

import itertools
import json
import re
import urllib.request

import botocore.exceptions
import pytest

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION  # provider, consumer
from tests.helpers.errors import error_of
from tests.helpers.privatelink import endpoint, wait_state
from vpclab.control.privatelink.connection_notifications import read_notifications

ACCOUNT_3 = "333333333333"
_names = itertools.count()


def default_subnets(ec2) -> list[dict]:
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return sorted(subnets, key=lambda s: s["AvailabilityZone"])


def make_nlb(srv, zones: int = 3, account: str = ACCOUNT_1, **kwargs) -> str:
    ec2 = srv.client("ec2", account)
    subnets = default_subnets(ec2)[:zones]
    lb = srv.client("elbv2", account).create_load_balancer(
        Name=f"pl-nlb-{next(_names)}", Type="network", Scheme="internal",
        Subnets=[s["SubnetId"] for s in subnets], **kwargs)
    return lb["LoadBalancers"][0]["LoadBalancerArn"]


def make_service(srv, zones: int = 3, allow: list[str] | None = None, **kwargs) -> dict:
    ec2 = srv.client("ec2", ACCOUNT_1)
    kwargs.setdefault("AcceptanceRequired", True)
    svc = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[make_nlb(srv, zones)], **kwargs)["ServiceConfiguration"]
    if allow:
        ec2.modify_vpc_endpoint_service_permissions(ServiceId=svc["ServiceId"], AddAllowedPrincipals=allow)
    return svc


def make_endpoint(srv, svc: dict, account: str = ACCOUNT_2, zones: int = 3, **kwargs) -> dict:
    ec2 = srv.client("ec2", account)
    subnets = default_subnets(ec2)[:zones]
    vpc_id = subnets[0]["VpcId"]
    return ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=svc["ServiceName"],
        SubnetIds=[s["SubnetId"] for s in subnets], **kwargs)["VpcEndpoint"]


def connection(ec2, endpoint_id: str) -> dict:
    conns = ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "vpc-endpoint-id", "Values": [endpoint_id]}])["VpcEndpointConnections"]
    assert len(conns) == 1
    return conns[0]


@pytest.fixture(scope="module")
def srv(shared_server):
    return shared_server


@pytest.fixture
def p(srv):
    return srv.client("ec2", ACCOUNT_1)


@pytest.fixture
def c(srv):
    return srv.client("ec2", ACCOUNT_2)


# Services ------------------------------------------------------------------------------

def test_create_service_names_zones_and_defaults(srv, p):
    arn = make_nlb(srv, zones=2)
    svc = p.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[arn],
        TagSpecifications=[{"ResourceType": "vpc-endpoint-service",
                            "Tags": [{"Key": "Name", "Value": "demo-service-provider"}]}],
    )["ServiceConfiguration"]
    sid = svc["ServiceId"]
    assert re.fullmatch(r"vpce-svc-[0-9a-f]{17}", sid)
    assert svc["ServiceName"] == f"com.amazonaws.vpce.{REGION}.{sid}"
    assert svc["BaseEndpointDnsNames"] == [f"{sid}.{REGION}.vpce.amazonaws.com"]
    assert svc["ServiceState"] == "Available"
    assert svc["ServiceType"] == [{"ServiceType": "Interface"}]
    assert svc["AvailabilityZones"] == ["ap-south-1a", "ap-south-1b"]
    assert svc["AvailabilityZoneIds"] == ["aps1-az1", "aps1-az3"]
    assert svc["AcceptanceRequired"] is False
    assert svc["ManagesVpcEndpoints"] is False
    assert svc["PayerResponsibility"] == "ServiceOwner"
    assert svc["SupportedIpAddressTypes"] == ["ipv4"]
    assert svc["NetworkLoadBalancerArns"] == [arn]
    assert svc["Tags"] == [{"Key": "Name", "Value": "demo-service-provider"}]
    assert "PrivateDnsName" not in svc


def test_create_service_needs_callers_network_load_balancer(srv, p):
    missing = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_1}:loadbalancer/net/nope/0123456789abcdef"
    err = error_of(p.create_vpc_endpoint_service_configuration, NetworkLoadBalancerArns=[missing])
    assert err["Code"] == "InvalidParameter"
    others = make_nlb(srv, account=ACCOUNT_2)
    err = error_of(p.create_vpc_endpoint_service_configuration, NetworkLoadBalancerArns=[others])
    assert err["Code"] == "InvalidParameter"


def test_client_token_is_idempotent(srv, p):
    arn = make_nlb(srv)
    one = p.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[arn], ClientToken="tok-1")
    two = p.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[arn], ClientToken="tok-1")
    assert one["ServiceConfiguration"]["ServiceId"] == two["ServiceConfiguration"]["ServiceId"]


def test_private_dns_name_verification(srv, p):
    svc = make_service(srv, PrivateDnsName="api.example.com")
    config = svc["PrivateDnsNameConfiguration"]
    assert svc["PrivateDnsName"] == "api.example.com"
    assert config["State"] == "pendingVerification" and config["Type"] == "TXT"
    assert re.fullmatch(r"_[a-z0-9]+", config["Name"])
    assert re.fullmatch(r"vpce:[a-z0-9]+", config["Value"])
    assert p.start_vpc_endpoint_service_private_dns_verification(ServiceId=svc["ServiceId"])["ReturnValue"]
    got = p.describe_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])["ServiceConfigurations"][0]
    assert got["PrivateDnsNameConfiguration"]["State"] == "verified"
    p.modify_vpc_endpoint_service_configuration(ServiceId=svc["ServiceId"], RemovePrivateDnsName=True)
    got = p.describe_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])["ServiceConfigurations"][0]
    assert "PrivateDnsName" not in got and "PrivateDnsNameConfiguration" not in got


def test_describe_service_configurations_filters_paging_and_errors(srv, p, c):
    svcs = [make_service(srv, TagSpecifications=[
        {"ResourceType": "vpc-endpoint-service", "Tags": [{"Key": "batch", "Value": "paging"}]}]) for _ in range(6)]
    ids = {s["ServiceId"] for s in svcs}
    tagged = [{"Name": "tag:batch", "Values": ["paging"]}]
    first = p.describe_vpc_endpoint_service_configurations(Filters=tagged, MaxResults=5)
    assert len(first["ServiceConfigurations"]) == 5 and first["NextToken"]
    rest = p.describe_vpc_endpoint_service_configurations(Filters=tagged, MaxResults=5, NextToken=first["NextToken"])
    assert {s["ServiceId"] for s in first["ServiceConfigurations"] + rest["ServiceConfigurations"]} == ids
    by_name = p.describe_vpc_endpoint_service_configurations(
        Filters=[{"Name": "service-name", "Values": [svcs[0]["ServiceName"]]}])["ServiceConfigurations"]
    assert [s["ServiceId"] for s in by_name] == [svcs[0]["ServiceId"]]
    assert p.describe_vpc_endpoint_service_configurations(Filters=[
        {"Name": "service-id", "Values": [svcs[1]["ServiceId"]]},
        {"Name": "service-state", "Values": ["Available"]},
        {"Name": "supported-ip-address-types", "Values": ["ipv4"]}])["ServiceConfigurations"][0]["ServiceId"] \
        == svcs[1]["ServiceId"]
    err = error_of(p.describe_vpc_endpoint_service_configurations, ServiceIds=["vpce-svc-0123456789abcdef0"])
    assert err["Code"] == "InvalidVpcEndpointServiceId.NotFound"
    # Another account's service is unknown to the consumer.
    err = error_of(c.describe_vpc_endpoint_service_configurations, ServiceIds=[svcs[0]["ServiceId"]])
    assert err["Code"] == "InvalidVpcEndpointServiceId.NotFound"


def test_modify_service_configuration(srv, p):
    svc = make_service(srv, zones=1)
    sid = svc["ServiceId"]
    old = svc["NetworkLoadBalancerArns"][0]
    new = make_nlb(srv, zones=3)
    p.modify_vpc_endpoint_service_configuration(
        ServiceId=sid, AcceptanceRequired=False, AddNetworkLoadBalancerArns=[new], RemoveNetworkLoadBalancerArns=[old])
    got = p.describe_vpc_endpoint_service_configurations(ServiceIds=[sid])["ServiceConfigurations"][0]
    assert got["AcceptanceRequired"] is False
    assert got["NetworkLoadBalancerArns"] == [new]
    assert got["AvailabilityZones"] == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
    err = error_of(p.modify_vpc_endpoint_service_configuration, ServiceId=sid, RemoveNetworkLoadBalancerArns=[new])
    assert err["Code"] == "InvalidParameter"
    # IPv6 needs dualstack load balancers.
    err = error_of(p.modify_vpc_endpoint_service_configuration, ServiceId=sid, AddSupportedIpAddressTypes=["ipv6"])
    assert err["Code"] == "InvalidParameter"
    p.modify_vpc_endpoint_service_configuration(ServiceId=sid, PrivateDnsName="svc.example.org")
    got = p.describe_vpc_endpoint_service_configurations(ServiceIds=[sid])["ServiceConfigurations"][0]
    assert got["PrivateDnsNameConfiguration"]["State"] == "pendingVerification"


def test_delete_unknown_service_is_unsuccessful_item(p, c, srv):
    svc = make_service(srv)
    out = p.delete_vpc_endpoint_service_configurations(ServiceIds=["vpce-svc-0123456789abcdef0"])
    assert out["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcEndpointService.NotFound"
    assert out["Unsuccessful"][0]["ResourceId"] == "vpce-svc-0123456789abcdef0"
    # The consumer cannot delete the provider's service: it does not exist for it.
    out = c.delete_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])
    assert out["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcEndpointService.NotFound"
    assert p.delete_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])["Unsuccessful"] == []
    err = error_of(p.describe_vpc_endpoint_service_configurations, ServiceIds=[svc["ServiceId"]])
    assert err["Code"] == "InvalidVpcEndpointServiceId.NotFound"


# Permissions and visibility ------------------------------------------------------------

def test_allowed_principal_forms(srv, p):
    sid = make_service(srv)["ServiceId"]
    principals = [f"arn:aws:iam::{ACCOUNT_2}:root", f"arn:aws:iam::{ACCOUNT_3}:user/alice",
                  f"arn:aws:iam::{ACCOUNT_3}:role/deployer", "*"]
    out = p.modify_vpc_endpoint_service_permissions(ServiceId=sid, AddAllowedPrincipals=principals)
    assert out["ReturnValue"] is True
    assert [a["Principal"] for a in out["AddedPrincipals"]] == principals
    got = p.describe_vpc_endpoint_service_permissions(ServiceId=sid)["AllowedPrincipals"]
    assert {a["Principal"]: a["PrincipalType"] for a in got} == dict(zip(principals, ["Account", "User", "Role", "All"]))
    for a in got:
        assert re.fullmatch(r"vpce-svc-perm-[0-9a-f]{17}", a["ServicePermissionId"])
        assert a["ServiceId"] == sid
    roles = p.describe_vpc_endpoint_service_permissions(
        ServiceId=sid, Filters=[{"Name": "principal-type", "Values": ["Role"]}])["AllowedPrincipals"]
    assert [a["Principal"] for a in roles] == [principals[2]]
    one = p.describe_vpc_endpoint_service_permissions(
        ServiceId=sid, Filters=[{"Name": "principal", "Values": [principals[0]]}])["AllowedPrincipals"]
    assert len(one) == 1
    p.modify_vpc_endpoint_service_permissions(ServiceId=sid, RemoveAllowedPrincipals=principals[1:])
    got = p.describe_vpc_endpoint_service_permissions(ServiceId=sid)["AllowedPrincipals"]
    assert [a["Principal"] for a in got] == [principals[0]]


@pytest.mark.parametrize("bad", [
    f"arn:aws:iam::{ACCOUNT_2}:user/team/alice",  # paths are not supported
    f"arn:aws:sts::{ACCOUNT_2}:assumed-role/deployer/session",
    f"arn:aws:iam::{ACCOUNT_2}:group/admins",
    "222222222222",
    "garbage",
])
def test_invalid_principals(srv, p, bad):
    sid = make_service(srv)["ServiceId"]
    err = error_of(p.modify_vpc_endpoint_service_permissions, ServiceId=sid, AddAllowedPrincipals=[bad])
    assert err == {"Code": "InvalidPrincipal", "Message": f"Invalid Principal: '{bad}'"}


def test_permissions_are_the_owners(srv, c):
    sid = make_service(srv, allow=[f"arn:aws:iam::{ACCOUNT_2}:root"])["ServiceId"]
    for call, kwargs in [
        (c.describe_vpc_endpoint_service_permissions, {}),
        (c.modify_vpc_endpoint_service_permissions, {"AddAllowedPrincipals": ["*"]}),
        (c.modify_vpc_endpoint_service_configuration, {"AcceptanceRequired": False}),
        (c.start_vpc_endpoint_service_private_dns_verification, {}),
        (c.accept_vpc_endpoint_connections, {"VpcEndpointIds": ["vpce-0123456789abcdef0"]}),
        (c.reject_vpc_endpoint_connections, {"VpcEndpointIds": ["vpce-0123456789abcdef0"]}),
    ]:
        assert error_of(call, ServiceId=sid, **kwargs)["Code"] == "InvalidVpcEndpointServiceId.NotFound"


def test_service_visibility(srv, p, c):
    svc = make_service(srv)
    name, sid = svc["ServiceName"], svc["ServiceId"]
    stranger = srv.client("ec2", ACCOUNT_3)
    err = error_of(c.describe_vpc_endpoint_services, ServiceNames=[name])
    assert err == {"Code": "InvalidServiceName", "Message": f"The Vpc Endpoint Service '{name}' does not exist"}
    assert name not in c.describe_vpc_endpoint_services()["ServiceNames"]
    # The provider always sees its own.
    assert p.describe_vpc_endpoint_services(ServiceNames=[name])["ServiceNames"] == [name]

    p.modify_vpc_endpoint_service_permissions(ServiceId=sid, AddAllowedPrincipals=[f"arn:aws:iam::{ACCOUNT_2}:root"])
    got = c.describe_vpc_endpoint_services(ServiceNames=[name])
    assert got["ServiceNames"] == [name]
    detail = got["ServiceDetails"][0]
    assert detail["Owner"] == ACCOUNT_1
    assert detail["ServiceId"] == sid
    assert detail["AvailabilityZones"] == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
    assert detail["AcceptanceRequired"] is True
    assert detail["BaseEndpointDnsNames"] == [f"{sid}.{REGION}.vpce.amazonaws.com"]
    assert detail["VpcEndpointPolicySupported"] is False
    assert detail["SupportedIpAddressTypes"] == ["ipv4"]
    assert detail["ServiceType"] == [{"ServiceType": "Interface"}]
    listed = c.describe_vpc_endpoint_services(Filters=[{"Name": "owner", "Values": [ACCOUNT_1]},
                                                       {"Name": "service-type", "Values": ["Interface"]}])
    assert name in listed["ServiceNames"]
    # Allowing 222… says nothing to 333….
    assert error_of(stranger.describe_vpc_endpoint_services, ServiceNames=[name])["Code"] == "InvalidServiceName"
    # A user ARN of an account admits that account (vpclab callers are accounts).
    p.modify_vpc_endpoint_service_permissions(ServiceId=sid, AddAllowedPrincipals=[f"arn:aws:iam::{ACCOUNT_3}:role/x"])
    assert stranger.describe_vpc_endpoint_services(ServiceNames=[name])["ServiceNames"] == [name]


def test_star_allows_everyone(srv):
    svc = make_service(srv, allow=["*"])
    stranger = srv.client("ec2", ACCOUNT_3)
    assert stranger.describe_vpc_endpoint_services(ServiceNames=[svc["ServiceName"]])["ServiceNames"] \
        == [svc["ServiceName"]]


# Endpoints -----------------------------------------------------------------------------

def test_default_endpoint_type_is_gateway(srv, c):
    svc = make_service(srv, allow=["*"])
    subnets = default_subnets(c)
    err = error_of(c.create_vpc_endpoint, VpcId=subnets[0]["VpcId"], ServiceName=svc["ServiceName"],
                   SubnetIds=[subnets[0]["SubnetId"]])
    assert err == {"Code": "InvalidParameter",
                   "Message": "Subnet IDs are only supported for Interface and GatewayLoadBalancer type VPC Endpoints."}
    err = error_of(c.create_vpc_endpoint, VpcId=subnets[0]["VpcId"], ServiceName=svc["ServiceName"])
    assert err["Code"] == "InvalidParameter"


def test_endpoint_needs_allowed_service_name(srv, c):
    svc = make_service(srv)
    err = error_of(make_endpoint, srv=srv, svc=svc)
    assert err == {"Code": "InvalidServiceName",
                   "Message": f"The Vpc Endpoint Service '{svc['ServiceName']}' does not exist"}
    fake = {"ServiceName": f"com.amazonaws.vpce.{REGION}.vpce-svc-0123456789abcdef0"}
    assert error_of(make_endpoint, srv=srv, svc=fake)["Code"] == "InvalidServiceName"


def test_endpoint_subnets_one_per_zone_of_the_service(srv, c):
    svc = make_service(srv, zones=2, allow=[f"arn:aws:iam::{ACCOUNT_2}:root"])
    subnets = default_subnets(c)
    vpc_id = subnets[0]["VpcId"]
    extra = c.create_subnet(VpcId=vpc_id, CidrBlock="172.31.200.0/24", AvailabilityZone="ap-south-1a")["Subnet"]
    err = error_of(c.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=svc["ServiceName"],
                   SubnetIds=[subnets[0]["SubnetId"], extra["SubnetId"]])
    assert err["Code"] == "DuplicateSubnetsInSameZone"
    c_subnet = subnets[2]  # ap-south-1c: the service's NLB is only in 1a and 1b
    assert c_subnet["AvailabilityZone"] == "ap-south-1c"
    err = error_of(c.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=svc["ServiceName"],
                   SubnetIds=[c_subnet["SubnetId"]])
    assert err == {"Code": "InvalidParameter", "Message":
                   f"The VPC endpoint service {svc['ServiceName']} does not support the availability zone of "
                   f"the subnet: {c_subnet['SubnetId']}."}
    c.delete_subnet(SubnetId=extra["SubnetId"])
    # Nothing was left behind by the refused calls.
    assert c.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": [subnets[0]["SubnetId"]]},
                 {"Name": "interface-type", "Values": ["vpc_endpoint"]}])["NetworkInterfaces"] == []


DNS_REGIONAL = r"(vpce-[0-9a-f]{17})-([a-z0-9]{8})\.(vpce-svc-[0-9a-f]{17})\.ap-south-1\.vpce\.amazonaws\.com"
DNS_ZONAL = r"(vpce-[0-9a-f]{17})-([a-z0-9]{8})-(ap-south-1[a-c])\.(vpce-svc-[0-9a-f]{17})\.ap-south-1\.vpce\.amazonaws\.com"


def test_endpoint_enis_groups_and_dns_names(srv, c):
    svc = make_service(srv, allow=[f"arn:aws:iam::{ACCOUNT_2}:root"])
    ep = make_endpoint(srv, svc, TagSpecifications=[{"ResourceType": "vpc-endpoint",
                                                     "Tags": [{"Key": "Name", "Value": "demo-endpoint"}]}])
    eid = ep["VpcEndpointId"]
    assert re.fullmatch(r"vpce-[0-9a-f]{17}", eid)
    assert ep["State"] == "pendingAcceptance"
    assert ep["VpcEndpointType"] == "Interface"
    assert ep["PrivateDnsEnabled"] is False
    assert ep["RequesterManaged"] is False
    assert ep["OwnerId"] == ACCOUNT_2
    assert ep["Tags"] == [{"Key": "Name", "Value": "demo-endpoint"}]
    default_group = c.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [ep["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    assert ep["Groups"] == [{"GroupId": default_group["GroupId"], "GroupName": "default"}]

    entries = [e["DnsName"] for e in ep["DnsEntries"]]
    assert len(entries) == 4
    regional = re.fullmatch(DNS_REGIONAL, entries[0])
    assert regional and regional.group(1) == eid and regional.group(3) == svc["ServiceId"]
    suffix = regional.group(2)
    zonal = [re.fullmatch(DNS_ZONAL, e) for e in entries[1:]]
    assert all(z and z.group(1) == eid and z.group(2) == suffix for z in zonal)
    assert [z.group(3) for z in zonal] == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
    assert len({e["HostedZoneId"] for e in ep["DnsEntries"]}) == 1

    enis = c.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]
    assert len(enis) == 3
    assert {e["SubnetId"] for e in enis} == set(ep["SubnetIds"])
    for eni in enis:
        assert eni["Description"] == f"VPC Endpoint Interface {eid}"
        assert eni["InterfaceType"] == "vpc_endpoint"
        assert eni["RequesterManaged"] is True
        assert [g["GroupId"] for g in eni["Groups"]] == [default_group["GroupId"]]

    # The provider sees the same names on the connection.
    conn = connection(srv.client("ec2", ACCOUNT_1), eid)
    assert conn["DnsEntries"] == ep["DnsEntries"]
    assert conn["VpcEndpointOwner"] == ACCOUNT_2
    assert conn["VpcEndpointState"] == "pendingAcceptance"
    assert re.fullmatch(r"vpce-con-[0-9a-f]{17}", conn["VpcEndpointConnectionId"])
    assert conn["NetworkLoadBalancerArns"] == svc["NetworkLoadBalancerArns"]
    assert conn["IpAddressType"] == "ipv4"


def test_without_acceptance_pending_then_available(srv, c):
    svc = make_service(srv, AcceptanceRequired=False, allow=["*"])
    ep = make_endpoint(srv, svc)
    assert ep["State"] == "pending"
    wait_state(c, ep["VpcEndpointId"], "available")


def test_private_dns(srv, p, c):
    plain = make_service(srv, allow=["*"])
    err = error_of(make_endpoint, srv=srv, svc=plain, zones=1, PrivateDnsEnabled=True)
    assert err["Code"] == "InvalidParameter"
    named = make_service(srv, allow=["*"], PrivateDnsName="orders.example.com")
    err = error_of(make_endpoint, srv=srv, svc=named, zones=1, PrivateDnsEnabled=True)
    assert err["Code"] == "InvalidParameter"  # not verified yet
    ep = make_endpoint(srv, named, zones=1)
    assert ep["PrivateDnsEnabled"] is False  # default: only for a verified name
    p.start_vpc_endpoint_service_private_dns_verification(ServiceId=named["ServiceId"])
    detail = c.describe_vpc_endpoint_services(ServiceNames=[named["ServiceName"]])["ServiceDetails"][0]
    assert detail["PrivateDnsName"] == "orders.example.com"
    assert detail["PrivateDnsNameVerificationState"] == "verified"
    ep2 = make_endpoint(srv, named, zones=1)
    assert ep2["PrivateDnsEnabled"] is True
    assert ep2["DnsEntries"][-1]["DnsName"] == "orders.example.com"
    # One endpoint of a VPC answers a private name: a second one conflicts until the first is gone.
    err = error_of(c.modify_vpc_endpoint, VpcEndpointId=ep["VpcEndpointId"], PrivateDnsEnabled=True)
    assert err["Code"] == "InvalidParameter"
    assert err["Message"] == ("private-dns-enabled cannot be set because there is already a conflicting DNS "
                              f"domain for orders.example.com in the VPC {ep['VpcId']}")
    c.delete_vpc_endpoints(VpcEndpointIds=[ep2["VpcEndpointId"]])
    wait_state(c, ep2["VpcEndpointId"], "deleted")
    c.modify_vpc_endpoint(VpcEndpointId=ep["VpcEndpointId"], PrivateDnsEnabled=True)
    assert endpoint(c, ep["VpcEndpointId"])["DnsEntries"][-1]["DnsName"] == "orders.example.com"
    # A VPC without DNS hostnames cannot have private DNS.
    vpc = c.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]
    err = error_of(c.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc["VpcId"],
                   ServiceName=named["ServiceName"], PrivateDnsEnabled=True)
    assert err["Code"] == "InvalidParameter"
    assert "enableDnsHostnames" in err["Message"]
    c.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"], ep2["VpcEndpointId"]])
    c.delete_vpc(VpcId=vpc["VpcId"])


def test_modify_endpoint(srv, c):
    svc = make_service(srv, allow=["*"])
    ep = make_endpoint(srv, svc, zones=1)
    eid = ep["VpcEndpointId"]
    subnets = default_subnets(c)
    group = c.create_security_group(GroupName=f"ep-{next(_names)}", Description="endpoint",
                                    VpcId=ep["VpcId"])["GroupId"]
    c.modify_vpc_endpoint(VpcEndpointId=eid, AddSubnetIds=[subnets[1]["SubnetId"], subnets[2]["SubnetId"]],
                          RemoveSubnetIds=[subnets[0]["SubnetId"]], AddSecurityGroupIds=[group],
                          PolicyDocument='{"Statement":[]}')
    got = endpoint(c, eid)
    assert sorted(got["SubnetIds"]) == sorted([subnets[1]["SubnetId"], subnets[2]["SubnetId"]])
    assert len(got["NetworkInterfaceIds"]) == 2
    assert [re.fullmatch(DNS_ZONAL, e["DnsName"]).group(3) for e in got["DnsEntries"][1:]] \
        == ["ap-south-1b", "ap-south-1c"]
    assert {g["GroupId"] for g in got["Groups"]} >= {group}
    assert got["PolicyDocument"] == '{"Statement":[]}'
    enis = c.describe_network_interfaces(NetworkInterfaceIds=got["NetworkInterfaceIds"])["NetworkInterfaces"]
    assert all(group in [g["GroupId"] for g in e["Groups"]] for e in enis)
    c.modify_vpc_endpoint(VpcEndpointId=eid, ResetPolicy=True)
    assert "PolicyDocument" not in endpoint(c, eid)
    err = error_of(c.modify_vpc_endpoint, VpcEndpointId=eid, RemoveSubnetIds=[subnets[0]["SubnetId"]])
    assert err["Code"] == "InvalidParameter"  # not one of its subnets any more
    err = error_of(c.modify_vpc_endpoint, VpcEndpointId=eid, RemoveSecurityGroupIds=[g["GroupId"] for g in got["Groups"]])
    assert err["Code"] == "InvalidParameter"  # an endpoint keeps at least one group
    c.delete_vpc_endpoints(VpcEndpointIds=[eid])
    wait_state(c, eid, "deleted")
    c.delete_security_group(GroupId=group)


def test_describe_endpoints_filters_and_errors(srv, c):
    svc = make_service(srv, AcceptanceRequired=False, allow=["*"])
    eps = [make_endpoint(srv, svc, zones=1) for _ in range(6)]
    ids = {e["VpcEndpointId"] for e in eps}
    flt = [{"Name": "service-name", "Values": [svc["ServiceName"]]}]
    first = c.describe_vpc_endpoints(Filters=flt, MaxResults=5)
    rest = c.describe_vpc_endpoints(Filters=flt, MaxResults=5, NextToken=first["NextToken"])
    assert {e["VpcEndpointId"] for e in first["VpcEndpoints"] + rest["VpcEndpoints"]} == ids
    for name, value in [("vpc-id", eps[0]["VpcId"]), ("vpc-endpoint-id", eps[0]["VpcEndpointId"]),
                        ("vpc-endpoint-type", "Interface"), ("ip-address-type", "ipv4")]:
        got = c.describe_vpc_endpoints(Filters=flt + [{"Name": name, "Values": [value]}])["VpcEndpoints"]
        assert eps[0]["VpcEndpointId"] in {e["VpcEndpointId"] for e in got}
    err = error_of(c.describe_vpc_endpoints, VpcEndpointIds=["vpce-0123456789abcdef0"])
    assert err["Code"] == "InvalidVpcEndpointId.NotFound"
    # The provider does not see the consumer's endpoints as its own.
    err = error_of(srv.client("ec2", ACCOUNT_1).describe_vpc_endpoints, VpcEndpointIds=[eps[0]["VpcEndpointId"]])
    assert err["Code"] == "InvalidVpcEndpointId.NotFound"
    c.delete_vpc_endpoints(VpcEndpointIds=list(ids))


# Provider decisions --------------------------------------------------------------------

def test_accept_reject_and_connection_listing(srv, p, c):
    svc = make_service(srv, allow=[f"arn:aws:iam::{ACCOUNT_2}:root"])
    sid = svc["ServiceId"]
    one, two = make_endpoint(srv, svc, zones=1), make_endpoint(srv, svc, zones=1)
    pending = p.describe_vpc_endpoint_connections(Filters=[
        {"Name": "service-id", "Values": [sid]},
        {"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance"]},
        {"Name": "vpc-endpoint-owner", "Values": [ACCOUNT_2]}])["VpcEndpointConnections"]
    assert {x["VpcEndpointId"] for x in pending} == {one["VpcEndpointId"], two["VpcEndpointId"]}

    out = p.accept_vpc_endpoint_connections(ServiceId=sid,
                                            VpcEndpointIds=[one["VpcEndpointId"], "vpce-0123456789abcdef0"])
    assert [(u["ResourceId"], u["Error"]["Code"]) for u in out["Unsuccessful"]] \
        == [("vpce-0123456789abcdef0", "InvalidVpcEndpoint.NotFound")]
    assert endpoint(c, one["VpcEndpointId"])["State"] in ("pending", "available")
    wait_state(c, one["VpcEndpointId"], "available")
    # Accepting again: not in an acceptable state.
    out = p.accept_vpc_endpoint_connections(ServiceId=sid, VpcEndpointIds=[one["VpcEndpointId"]])
    assert out["Unsuccessful"][0]["Error"]["Code"] == "InvalidState"

    out = p.reject_vpc_endpoint_connections(ServiceId=sid, VpcEndpointIds=[two["VpcEndpointId"], one["VpcEndpointId"]])
    assert out["Unsuccessful"] == []
    assert endpoint(c, two["VpcEndpointId"])["State"] == "rejected"
    assert endpoint(c, one["VpcEndpointId"])["State"] == "rejected"
    rejected = endpoint(c, one["VpcEndpointId"])
    assert len(rejected["NetworkInterfaceIds"]) == 1  # the ENIs stay
    assert connection(p, two["VpcEndpointId"])["VpcEndpointState"] == "rejected"
    out = p.reject_vpc_endpoint_connections(ServiceId=sid, VpcEndpointIds=[two["VpcEndpointId"]])
    assert out["Unsuccessful"][0]["Error"]["Code"] == "InvalidState"
    # An endpoint of another service is not this service's connection.
    other = make_service(srv, allow=["*"])
    third = make_endpoint(srv, other, zones=1)
    out = p.accept_vpc_endpoint_connections(ServiceId=sid, VpcEndpointIds=[third["VpcEndpointId"]])
    assert out["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcEndpoint.NotFound"
    # Rejected connections do not hold the service.
    c.delete_vpc_endpoints(VpcEndpointIds=[third["VpcEndpointId"]])
    assert p.delete_vpc_endpoint_service_configurations(ServiceIds=[sid])["Unsuccessful"] == []
    assert endpoint(c, one["VpcEndpointId"])["State"] == "rejected"
    c.delete_vpc_endpoints(VpcEndpointIds=[one["VpcEndpointId"], two["VpcEndpointId"]])


def test_consumer_sees_no_connections(srv, c):
    svc = make_service(srv, allow=["*"])
    make_endpoint(srv, svc, zones=1)
    conns = c.describe_vpc_endpoint_connections()["VpcEndpointConnections"]
    assert all(x["ServiceId"] != svc["ServiceId"] for x in conns)


def test_removing_a_principal_keeps_existing_connections(srv, p, c):
    principal = f"arn:aws:iam::{ACCOUNT_2}:root"
    svc = make_service(srv, AcceptanceRequired=False, allow=[principal])
    ep = make_endpoint(srv, svc, zones=1)
    wait_state(c, ep["VpcEndpointId"], "available")
    p.modify_vpc_endpoint_service_permissions(ServiceId=svc["ServiceId"], RemoveAllowedPrincipals=[principal])
    assert endpoint(c, ep["VpcEndpointId"])["State"] == "available"
    assert connection(p, ep["VpcEndpointId"])["VpcEndpointState"] == "available"
    assert error_of(make_endpoint, srv=srv, svc=svc, zones=1)["Code"] == "InvalidServiceName"


# Deleting ------------------------------------------------------------------------------

def test_delete_endpoint_states_enis_and_connection(srv, p, c):
    svc = make_service(srv, AcceptanceRequired=False, allow=["*"])
    ep = make_endpoint(srv, svc)
    eid = ep["VpcEndpointId"]
    wait_state(c, eid, "available")
    out = p.delete_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])
    assert out["Unsuccessful"] == [{"ResourceId": svc["ServiceId"], "Error": {
        "Code": "ExistingVpcEndpointConnections",
        "Message": "Service has existing active VPC Endpoint connections!"}}]
    out = c.delete_vpc_endpoints(VpcEndpointIds=[eid, "vpce-0123456789abcdef0"])
    assert [(u["ResourceId"], u["Error"]["Code"]) for u in out["Unsuccessful"]] \
        == [("vpce-0123456789abcdef0", "InvalidVpcEndpoint.NotFound")]
    assert endpoint(c, eid)["State"] in ("deleting", "deleted")
    wait_state(c, eid, "deleted")
    assert c.describe_network_interfaces(Filters=[
        {"Name": "network-interface-id", "Values": ep["NetworkInterfaceIds"]}])["NetworkInterfaces"] == []
    assert connection(p, eid)["VpcEndpointState"] == "deleted"
    # Deleting again succeeds quietly; the provider may not delete the consumer's endpoint.
    assert c.delete_vpc_endpoints(VpcEndpointIds=[eid])["Unsuccessful"] == []
    assert p.delete_vpc_endpoints(VpcEndpointIds=[eid])["Unsuccessful"][0]["Error"]["Code"] \
        == "InvalidVpcEndpoint.NotFound"
    assert p.delete_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])["Unsuccessful"] == []


def test_vpc_subnet_and_group_in_use_by_endpoint(srv, c):
    svc = make_service(srv, allow=["*"])
    vpc = c.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]
    vid = vpc["VpcId"]
    bare = c.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vid, ServiceName=svc["ServiceName"])["VpcEndpoint"]
    err = error_of(c.delete_vpc, VpcId=vid)
    assert err["Code"] == "DependencyViolation"
    c.delete_vpc_endpoints(VpcEndpointIds=[bare["VpcEndpointId"]])
    wait_state(c, bare["VpcEndpointId"], "deleted")

    subnet = c.create_subnet(VpcId=vid, CidrBlock="10.77.1.0/24", AvailabilityZone="ap-south-1a")["Subnet"]
    group = c.create_security_group(GroupName="ep-in-use", Description="x", VpcId=vid)["GroupId"]
    ep = c.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vid, ServiceName=svc["ServiceName"],
                               SubnetIds=[subnet["SubnetId"]], SecurityGroupIds=[group])["VpcEndpoint"]
    assert error_of(c.delete_subnet, SubnetId=subnet["SubnetId"])["Code"] == "DependencyViolation"
    assert error_of(c.delete_security_group, GroupId=group)["Code"] == "DependencyViolation"
    assert error_of(c.delete_vpc, VpcId=vid)["Code"] == "DependencyViolation"
    c.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])
    wait_state(c, ep["VpcEndpointId"], "deleted")
    c.delete_security_group(GroupId=group)
    c.delete_subnet(SubnetId=subnet["SubnetId"])
    c.delete_vpc(VpcId=vid)


def test_load_balancer_of_a_service_is_in_use(srv, p):
    svc = make_service(srv)
    elbv2 = srv.client("elbv2", ACCOUNT_1)
    arn = svc["NetworkLoadBalancerArns"][0]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceInUse"
    p.delete_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])
    elbv2.delete_load_balancer(LoadBalancerArn=arn)


# Notifications -------------------------------------------------------------------------

TOPIC_P = f"arn:aws:sns:{REGION}:{ACCOUNT_1}:provider-events"
TOPIC_C = f"arn:aws:sns:{REGION}:{ACCOUNT_2}:consumer-events"


def test_connection_notifications_crud(srv, p, c):
    sid = make_service(srv)["ServiceId"]
    n = p.create_vpc_endpoint_connection_notification(
        ServiceId=sid, ConnectionNotificationArn=TOPIC_P, ConnectionEvents=["Connect", "Accept"])["ConnectionNotification"]
    nid = n["ConnectionNotificationId"]
    assert re.fullmatch(r"vpce-nfn-[0-9a-f]{17}", nid)
    assert n["ServiceId"] == sid and n["ConnectionNotificationType"] == "Topic"
    assert n["ConnectionNotificationState"] == "Enabled"
    assert n["ConnectionEvents"] == ["Connect", "Accept"]
    p.modify_vpc_endpoint_connection_notification(ConnectionNotificationId=nid, ConnectionEvents=["Reject"])
    got = p.describe_vpc_endpoint_connection_notifications(ConnectionNotificationId=nid)["ConnectionNotificationSet"]
    assert got[0]["ConnectionEvents"] == ["Reject"]
    by_service = p.describe_vpc_endpoint_connection_notifications(
        Filters=[{"Name": "service-id", "Values": [sid]}])["ConnectionNotificationSet"]
    assert [x["ConnectionNotificationId"] for x in by_service] == [nid]
    for bad in ["arn:aws:sqs:ap-south-1:111111111111:q", "topic", f"arn:aws:sns:{REGION}:1111:t"]:
        err = error_of(p.create_vpc_endpoint_connection_notification, ServiceId=sid,
                       ConnectionNotificationArn=bad, ConnectionEvents=["Connect"])
        assert err["Code"] == "InvalidParameter"
    err = error_of(p.create_vpc_endpoint_connection_notification, ServiceId=sid,
                   ConnectionNotificationArn=TOPIC_P, ConnectionEvents=["Explode"])
    assert err["Code"] == "InvalidParameter"
    # Another account's service is not found.
    err = error_of(c.create_vpc_endpoint_connection_notification, ServiceId=sid,
                   ConnectionNotificationArn=TOPIC_C, ConnectionEvents=["Connect"])
    assert err["Code"] == "InvalidVpcEndpointServiceId.NotFound"
    out = p.delete_vpc_endpoint_connection_notifications(ConnectionNotificationIds=[nid, "vpce-nfn-0123456789abcdef0"])
    assert [u["ResourceId"] for u in out["Unsuccessful"]] == ["vpce-nfn-0123456789abcdef0"]
    assert p.describe_vpc_endpoint_connection_notifications(
        Filters=[{"Name": "service-id", "Values": [sid]}])["ConnectionNotificationSet"] == []


def test_notifications_are_delivered_to_the_log(srv, p, c):
    svc = make_service(srv, allow=["*"])
    sid = svc["ServiceId"]
    nid = p.create_vpc_endpoint_connection_notification(
        ServiceId=sid, ConnectionNotificationArn=TOPIC_P,
        ConnectionEvents=["Connect", "Accept", "Reject", "Delete"])["ConnectionNotification"]["ConnectionNotificationId"]
    one = make_endpoint(srv, svc, zones=1)
    mine = c.create_vpc_endpoint_connection_notification(
        VpcEndpointId=one["VpcEndpointId"], ConnectionNotificationArn=TOPIC_C,
        ConnectionEvents=["Accept", "Delete"])["ConnectionNotification"]["ConnectionNotificationId"]
    two = make_endpoint(srv, svc, zones=1)
    p.accept_vpc_endpoint_connections(ServiceId=sid, VpcEndpointIds=[one["VpcEndpointId"]])
    p.reject_vpc_endpoint_connections(ServiceId=sid, VpcEndpointIds=[two["VpcEndpointId"]])
    c.delete_vpc_endpoints(VpcEndpointIds=[one["VpcEndpointId"], two["VpcEndpointId"]])

    delivered = read_notifications(srv.state_dir)
    for envelope in delivered:
        assert envelope["Type"] == "Notification"
        assert re.fullmatch(r"[0-9a-f-]{36}", envelope["MessageId"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", envelope["Timestamp"])
    events = [(e["TopicArn"], json.loads(e["Message"])) for e in delivered]
    provider = [(m["connectionEvent"], m["vpcEndpointId"]) for t, m in events
                if t == TOPIC_P and m["connectionNotificationId"] == nid]
    assert provider == [("Connect", one["VpcEndpointId"]), ("Connect", two["VpcEndpointId"]),
                        ("Accept", one["VpcEndpointId"]), ("Reject", two["VpcEndpointId"]),
                        ("Delete", one["VpcEndpointId"]), ("Delete", two["VpcEndpointId"])]
    consumer = [(m["connectionEvent"], m["vpcEndpointId"], m["vpcEndpointOwner"], m["serviceId"])
                for t, m in events if t == TOPIC_C and m["connectionNotificationId"] == mine]
    assert consumer == [("Accept", one["VpcEndpointId"], ACCOUNT_2, sid), ("Delete", one["VpcEndpointId"], ACCOUNT_2, sid)]


def test_refused_call_delivers_nothing(srv, p, c):
    svc = make_service(srv, allow=["*"])
    p.create_vpc_endpoint_connection_notification(
        ServiceId=svc["ServiceId"], ConnectionNotificationArn=TOPIC_P, ConnectionEvents=["Connect"])
    before = len(read_notifications(srv.state_dir))
    subnets = default_subnets(c)
    error_of(c.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=subnets[0]["VpcId"],
             ServiceName=svc["ServiceName"], SubnetIds=[subnets[0]["SubnetId"]], SecurityGroupIds=["sg-0123456789abcdef0"])
    error_of(c.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=subnets[0]["VpcId"],
             ServiceName=svc["ServiceName"], SubnetIds=[subnets[0]["SubnetId"]], DryRun=True)
    assert len(read_notifications(srv.state_dir)) == before


# Tags and the wire ---------------------------------------------------------------------

def test_tags_on_services_and_endpoints(srv, p, c):
    svc = make_service(srv, allow=["*"])
    ep = make_endpoint(srv, svc, zones=1)
    p.create_tags(Resources=[svc["ServiceId"]], Tags=[{"Key": "team", "Value": "payments"}])
    c.create_tags(Resources=[ep["VpcEndpointId"]], Tags=[{"Key": "team", "Value": "orders"}])
    got = p.describe_vpc_endpoint_service_configurations(Filters=[{"Name": "tag:team", "Values": ["payments"]}])
    assert [s["ServiceId"] for s in got["ServiceConfigurations"]] == [svc["ServiceId"]]
    got = c.describe_vpc_endpoints(Filters=[{"Name": "tag:team", "Values": ["orders"]}])["VpcEndpoints"]
    assert [e["VpcEndpointId"] for e in got] == [ep["VpcEndpointId"]]
    # The consumer cannot tag the provider's service.
    assert error_of(c.create_tags, Resources=[svc["ServiceId"]], Tags=[{"Key": "x", "Value": "y"}])["Code"] \
        == "InvalidVpcEndpointServiceId.NotFound"


def _raw(srv, account: str, body: str) -> str:
    request = urllib.request.Request(
        srv.url, data=body.encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                 "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20240228/{REGION}/ec2/aws4_request, "
                                  "SignedHeaders=host, Signature=0",
                 "X-Amz-Date": "20240228T000000Z"})
    with urllib.request.urlopen(request) as response:
        return response.read().decode()


def test_states_are_camel_case_on_the_wire(srv, p):
    svc = make_service(srv, allow=["*"])
    ep = make_endpoint(srv, svc, zones=1)
    xml = _raw(srv, ACCOUNT_2, f"Action=DescribeVpcEndpoints&Version=2016-11-15&VpcEndpointId.1={ep['VpcEndpointId']}")
    assert "<state>pendingAcceptance</state>" in xml
    xml = _raw(srv, ACCOUNT_1, "Action=DescribeVpcEndpointConnections&Version=2016-11-15")
    assert "<vpcEndpointState>pendingAcceptance</vpcEndpointState>" in xml
    xml = _raw(srv, ACCOUNT_1, f"Action=DescribeVpcEndpointServiceConfigurations&Version=2016-11-15"
                               f"&ServiceId.1={svc['ServiceId']}")
    assert "<serviceState>Available</serviceState>" in xml
