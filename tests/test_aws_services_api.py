"""Endpoints to AWS services, prefix lists and payer responsibility, through a real
server and boto3: each test asserts AWS's answer (codes, messages, shapes).

Account 555555555555 makes the endpoints (no other module uses it, so its VPCs hold
only what these tests make); 111111111111 owns an endpoint service where one is needed.
"""
from __future__ import annotations

import itertools
import json
import re

import pytest

from tests.helpers.accounts import ACCOUNT_1, REGION
from tests.helpers.errors import error_of
from tests.helpers.privatelink import endpoint, wait_state

ACCOUNT = "555555555555"
EC2 = f"com.amazonaws.{REGION}.ec2"
S3 = f"com.amazonaws.{REGION}.s3"
DYNAMODB = f"com.amazonaws.{REGION}.dynamodb"
ZONES = [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
_cidrs = itertools.count(10)


@pytest.fixture(scope="module")
def srv(shared_server):
    return shared_server


@pytest.fixture(scope="module")
def ec2(srv):
    return srv.client("ec2", ACCOUNT)


def make_vpc(ec2, dns: bool = True, zones: int = 2) -> tuple[str, list[str]]:
    """A new VPC (DNS support and hostnames on if `dns`) with one subnet per zone."""
    n = next(_cidrs)
    vpc_id = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]
    if dns:
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{n}.{i}.0/24", AvailabilityZone=ZONES[i])
               ["Subnet"]["SubnetId"] for i in range(zones)]
    return vpc_id, subnets


def details(ec2, **kwargs) -> list[dict]:
    return ec2.describe_vpc_endpoint_services(**kwargs)["ServiceDetails"]


def routes_to(ec2, endpoint_id: str) -> dict[str, list[dict]]:
    """{route table id: its routes whose target is the endpoint} of the caller's tables."""
    tables = ec2.describe_route_tables()["RouteTables"]
    return {t["RouteTableId"]: [r for r in t["Routes"] if r.get("GatewayId") == endpoint_id] for t in tables}


def main_table(ec2, vpc_id: str) -> str:
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    return tables[0]["RouteTableId"]


# Listing -------------------------------------------------------------------------------

def test_the_regions_aws_services_are_listed_in_service_name_order(ec2):
    out = ec2.describe_vpc_endpoint_services()
    names = [d["ServiceName"] for d in out["ServiceDetails"]]
    assert names == sorted(names)
    assert out["ServiceNames"] == list(dict.fromkeys(names))
    for short in ("ec2", "ec2messages", "ssm", "ssmmessages", "sts", "elasticloadbalancing", "cloudformation",
                  "logs", "monitoring", "kms", "secretsmanager", "sns", "sqs", "ecr.api", "ecr.dkr", "lambda",
                  "execute-api", "autoscaling", "events", "s3", "dynamodb"):
        assert f"com.amazonaws.{REGION}.{short}" in out["ServiceNames"]
    # S3 and DynamoDB: a Gateway entry, then an Interface one.
    for name in (S3, DYNAMODB):
        assert [d["ServiceType"] for d in out["ServiceDetails"] if d["ServiceName"] == name] \
            == [[{"ServiceType": "Gateway"}], [{"ServiceType": "Interface"}]]


def test_an_interface_service_detail_is_as_aws_sends_it(ec2):
    (detail,) = details(ec2, ServiceNames=[EC2])
    assert re.fullmatch(r"vpce-svc-[0-9a-f]{17}", detail.pop("ServiceId"))
    assert detail == {
        "ServiceName": EC2,
        "ServiceType": [{"ServiceType": "Interface"}],
        "ServiceRegion": REGION,
        "AvailabilityZoneIds": ["aps1-az1", "aps1-az3", "aps1-az2"],
        "AvailabilityZones": ZONES,
        "Owner": "amazon",
        "BaseEndpointDnsNames": [f"ec2.{REGION}.vpce.amazonaws.com"],
        "PrivateDnsName": f"ec2.{REGION}.amazonaws.com",
        "PrivateDnsNames": [{"PrivateDnsName": f"ec2.{REGION}.amazonaws.com"}],
        "VpcEndpointPolicySupported": True,
        "AcceptanceRequired": False,
        "ManagesVpcEndpoints": False,
        "PrivateDnsNameVerificationState": "verified",
        "SupportedIpAddressTypes": ["ipv4"],
        "Tags": [],
    }
    # The same id in every call: it is the region's.
    assert details(ec2, ServiceNames=[EC2])[0]["ServiceId"] == details(ec2, ServiceNames=[EC2])[0]["ServiceId"]


def test_s3_has_a_gateway_entry_and_a_wildcard_interface_entry(ec2):
    gateway, interface = details(ec2, Filters=[{"Name": "service-name", "Values": [S3]}])
    assert gateway["ServiceType"] == [{"ServiceType": "Gateway"}]
    assert gateway["BaseEndpointDnsNames"] == [f"s3.{REGION}.amazonaws.com"]
    assert "PrivateDnsName" not in gateway and gateway["Tags"] == []
    assert interface["BaseEndpointDnsNames"] == [f"s3.{REGION}.vpce.amazonaws.com"]
    assert interface["PrivateDnsName"] == f"*.s3.{REGION}.amazonaws.com"
    assert gateway["ServiceId"] != interface["ServiceId"]
    # ECR's registry API answers for every registry, its api under `api.ecr`.
    (dkr,) = details(ec2, ServiceNames=[f"com.amazonaws.{REGION}.ecr.dkr"])
    assert dkr["PrivateDnsName"] == f"*.dkr.ecr.{REGION}.amazonaws.com"
    (api,) = details(ec2, ServiceNames=[f"com.amazonaws.{REGION}.ecr.api"])
    assert api["BaseEndpointDnsNames"] == [f"api.ecr.{REGION}.vpce.amazonaws.com"]


def test_filters_as_terraform_uses_them(ec2):
    # aws_vpc_endpoint: exactly one result per service type for a service-name filter.
    by_name = details(ec2, Filters=[{"Name": "service-name", "Values": [EC2]}])
    assert [d["ServiceName"] for d in by_name] == [EC2]
    # The data source adds service-type.
    (gw,) = details(ec2, Filters=[{"Name": "service-name", "Values": [S3]},
                                  {"Name": "service-type", "Values": ["Gateway"]}])
    assert gw["ServiceType"] == [{"ServiceType": "Gateway"}]
    gateways = details(ec2, Filters=[{"Name": "service-type", "Values": ["Gateway"]}])
    assert [d["ServiceName"] for d in gateways] == [DYNAMODB, S3]
    amazon = details(ec2, Filters=[{"Name": "owner", "Values": ["amazon"]}])
    assert amazon and all(d["Owner"] == "amazon" for d in amazon)
    assert details(ec2, Filters=[{"Name": "owner", "Values": [ACCOUNT]}]) == []


def test_an_unknown_service_name_is_invalid_service_name(ec2):
    for name in (f"com.amazonaws.{REGION}.nosuchservice", "com.amazonaws.us-east-1.ec2"):
        err = error_of(ec2.describe_vpc_endpoint_services, ServiceNames=[name])
        assert err == {"Code": "InvalidServiceName", "Message": f"The Vpc Endpoint Service '{name}' does not exist"}
        vpc_id, subnets = make_vpc(ec2, zones=1)
        err = error_of(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=name,
                       SubnetIds=subnets)
        assert err == {"Code": "InvalidServiceName", "Message": f"The Vpc Endpoint Service '{name}' does not exist"}


# Interface endpoints -------------------------------------------------------------------

DNS_REGIONAL = re.compile(r"(vpce-[0-9a-f]{17})-([a-z0-9]{8})\.ec2\." + REGION + r"\.vpce\.amazonaws\.com")
DNS_ZONAL = re.compile(r"(vpce-[0-9a-f]{17})-([a-z0-9]{8})-([a-z0-9-]+)\.ec2\." + REGION + r"\.vpce\.amazonaws\.com")


def test_interface_endpoint_to_ec2(srv, ec2):
    vpc_id, subnets = make_vpc(ec2)
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=EC2,
                                 SubnetIds=subnets)["VpcEndpoint"]
    eid = ep["VpcEndpointId"]
    assert ep["State"] == "pending"
    assert ep["PrivateDnsEnabled"] is True  # AWS's default for its own services
    assert ep["ServiceName"] == EC2 and ep["VpcEndpointType"] == "Interface"
    assert ep["RouteTableIds"] == [] and ep["Tags"] == []
    assert json.loads(ep["PolicyDocument"]) == {
        "Statement": [{"Action": "*", "Effect": "Allow", "Principal": "*", "Resource": "*"}]}
    names = [e["DnsName"] for e in ep["DnsEntries"]]
    regional = DNS_REGIONAL.fullmatch(names[0])
    assert regional and regional.group(1) == eid
    assert [DNS_ZONAL.fullmatch(n).group(3) for n in names[1:3]] == ZONES[:2]
    assert names[3:] == [f"ec2.{REGION}.amazonaws.com"]
    default_group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                          {"Name": "group-name", "Values": ["default"]}])
    group_id = default_group["SecurityGroups"][0]["GroupId"]
    assert [g["GroupId"] for g in ep["Groups"]] == [group_id]
    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]
    assert sorted(e["SubnetId"] for e in enis) == sorted(subnets)
    for eni in enis:
        assert eni["InterfaceType"] == "vpc_endpoint" and eni["RequesterManaged"] is True
        assert eni["Description"] == f"VPC Endpoint Interface {eid}"
        assert [g["GroupId"] for g in eni["Groups"]] == [group_id]
    wait_state(ec2, eid, "available")
    # No provider sees it: no account has a connection to an AWS service.
    for account in (ACCOUNT, ACCOUNT_1):
        conns = srv.client("ec2", account).describe_vpc_endpoint_connections()["VpcEndpointConnections"]
        assert eid not in [c["VpcEndpointId"] for c in conns]
    # Modify: a subnet fewer, private DNS off.
    ec2.modify_vpc_endpoint(VpcEndpointId=eid, RemoveSubnetIds=[subnets[1]], PrivateDnsEnabled=False)
    got = endpoint(ec2, eid)
    assert got["SubnetIds"] == [subnets[0]] and len(got["NetworkInterfaceIds"]) == 1
    assert got["PrivateDnsEnabled"] is False
    assert [DNS_ZONAL.fullmatch(e["DnsName"]) is not None for e in got["DnsEntries"]] == [False, True]
    by_filter = ec2.describe_vpc_endpoints(Filters=[{"Name": "service-name", "Values": [EC2]},
                                                    {"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    assert [e["VpcEndpointId"] for e in by_filter] == [eid]
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[eid])["Unsuccessful"] == []
    wait_state(ec2, eid, "deleted")
    assert ec2.describe_network_interfaces(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkInterfaces"] == []


def test_s3_interface_endpoint_names_start_with_a_wildcard(ec2):
    vpc_id, subnets = make_vpc(ec2, zones=1)
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=S3, SubnetIds=subnets,
                                 PrivateDnsEnabled=False)["VpcEndpoint"]
    eid = ep["VpcEndpointId"]
    stem = f"*.{eid}-" + ep["DnsEntries"][0]["DnsName"].split("-")[2].split(".")[0]
    assert [e["DnsName"] for e in ep["DnsEntries"]] == [
        f"{stem}.s3.{REGION}.vpce.amazonaws.com", f"{stem}-{ZONES[0]}.s3.{REGION}.vpce.amazonaws.com"]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[eid])


def test_s3_private_dns_answers_inbound_resolvers_only_beside_a_gateway_endpoint(ec2):
    vpc_id, subnets = make_vpc(ec2, zones=1)
    err = error_of(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=S3,
                   SubnetIds=subnets)
    assert err == {"Code": "InvalidParameter", "Message":
                   f"To set PrivateDnsOnlyForInboundResolverEndpoint to true, the VPC {vpc_id} must have a "
                   "Gateway endpoint for the service."}
    open_to_all = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=S3, SubnetIds=subnets,
        DnsOptions={"PrivateDnsOnlyForInboundResolverEndpoint": False})["VpcEndpoint"]
    assert open_to_all["PrivateDnsEnabled"] is True
    assert open_to_all["DnsOptions"] == {"DnsRecordIpType": "ipv4", "PrivateDnsOnlyForInboundResolverEndpoint": False}
    assert open_to_all["DnsEntries"][-1]["DnsName"] == f"*.s3.{REGION}.amazonaws.com"
    ec2.delete_vpc_endpoints(VpcEndpointIds=[open_to_all["VpcEndpointId"]])
    wait_state(ec2, open_to_all["VpcEndpointId"], "deleted")
    gateway = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3, RouteTableIds=[main_table(ec2, vpc_id)])
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=S3,
                                 SubnetIds=subnets)["VpcEndpoint"]
    assert ep["DnsOptions"] == {"DnsRecordIpType": "ipv4", "PrivateDnsOnlyForInboundResolverEndpoint": True}
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"], gateway["VpcEndpoint"]["VpcEndpointId"]])


def test_private_dns_needs_the_vpcs_dns_attributes(ec2):
    vpc_id, subnets = make_vpc(ec2, dns=False, zones=1)
    message = ("Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes "
               f"set to true for {vpc_id}")
    # AWS's default for its services is private DNS on: the request fails the same way.
    for extra in ({}, {"PrivateDnsEnabled": True}):
        err = error_of(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=EC2,
                       SubnetIds=subnets, **extra)
        assert err == {"Code": "InvalidParameter", "Message": message}
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=EC2, SubnetIds=subnets,
                                 PrivateDnsEnabled=False)["VpcEndpoint"]
    assert ep["PrivateDnsEnabled"] is False and len(ep["DnsEntries"]) == 2
    err = error_of(ec2.modify_vpc_endpoint, VpcEndpointId=ep["VpcEndpointId"], PrivateDnsEnabled=True)
    assert err == {"Code": "InvalidParameter", "Message": message}
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])


def test_private_dns_for_a_service_without_a_private_name(ec2):
    vpc_id, subnets = make_vpc(ec2, zones=1)
    err = error_of(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=DYNAMODB,
                   SubnetIds=subnets, PrivateDnsEnabled=True)
    assert err == {"Code": "InvalidParameter", "Message":
                   f"Private DNS can't be enabled because the service {DYNAMODB} does not provide a private DNS name."}
    # Not asked: off, as the service has no name to answer.
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=DYNAMODB,
                                 SubnetIds=subnets)["VpcEndpoint"]
    assert ep["PrivateDnsEnabled"] is False
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])


def test_two_endpoints_with_private_dns_for_one_service_conflict(ec2):
    vpc_id, subnets = make_vpc(ec2, zones=1)
    first = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=EC2,
                                    SubnetIds=subnets)["VpcEndpoint"]
    err = error_of(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=EC2,
                   SubnetIds=subnets)
    assert err == {"Code": "InvalidParameter", "Message":
                   "private-dns-enabled cannot be set because there is already a conflicting DNS domain for "
                   f"ec2.{REGION}.amazonaws.com in the VPC {vpc_id}"}
    # Without private DNS a second one is fine.
    second = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=EC2,
                                     SubnetIds=subnets, PrivateDnsEnabled=False)["VpcEndpoint"]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[first["VpcEndpointId"], second["VpcEndpointId"]])


def test_an_endpoint_type_the_service_does_not_offer(ec2):
    vpc_id, subnets = make_vpc(ec2, zones=1)
    # VpcEndpointType defaults to Gateway.
    err = error_of(ec2.create_vpc_endpoint, VpcId=vpc_id, ServiceName=EC2)
    assert err == {"Code": "InvalidParameter",
                   "Message": "Endpoint type (Gateway) does not match available service types ([Interface])."}
    err = error_of(ec2.create_vpc_endpoint, VpcEndpointType="GatewayLoadBalancer", VpcId=vpc_id,
                   ServiceName=S3, SubnetIds=subnets)
    assert err == {"Code": "InvalidParameter", "Message":
                   "Endpoint type (GatewayLoadBalancer) does not match available service types ([Gateway, Interface])."}


# Gateway endpoints ---------------------------------------------------------------------

def test_gateway_endpoint_to_s3(ec2):
    vpc_id, _ = make_vpc(ec2, zones=1)
    main = main_table(ec2, vpc_id)
    other = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    (pl,) = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [S3]}])["PrefixLists"]
    ep = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3, RouteTableIds=[main])["VpcEndpoint"]
    eid = ep["VpcEndpointId"]
    assert ep["VpcEndpointType"] == "Gateway" and ep["State"] == "available"
    assert ep["RouteTableIds"] == [main]
    assert (ep["SubnetIds"], ep["NetworkInterfaceIds"], ep["Groups"], ep["DnsEntries"], ep["Tags"]) \
        == ([], [], [], [], [])
    assert ep["PrivateDnsEnabled"] is False and ep["RequesterManaged"] is False
    assert ep["PolicyDocument"] == ('{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
                                    '"Action":"*","Resource":"*"}]}')
    route = {"DestinationPrefixListId": pl["PrefixListId"], "GatewayId": eid, "Origin": "CreateRoute",
             "State": "active"}
    assert routes_to(ec2, eid)[main] == [route] and routes_to(ec2, eid)[other] == []
    found = ec2.describe_route_tables(Filters=[{"Name": "route.destination-prefix-list-id",
                                                "Values": [pl["PrefixListId"]]}])["RouteTables"]
    assert [t["RouteTableId"] for t in found] == [main]
    # Move it to the other table.
    assert ec2.modify_vpc_endpoint(VpcEndpointId=eid, AddRouteTableIds=[other], RemoveRouteTableIds=[main])["Return"]
    assert endpoint(ec2, eid)["RouteTableIds"] == [other]
    assert routes_to(ec2, eid)[main] == [] and routes_to(ec2, eid)[other] == [route]
    # A second S3 endpoint cannot route the same prefix list in the same table.
    err = error_of(ec2.create_vpc_endpoint, VpcId=vpc_id, ServiceName=S3, RouteTableIds=[other])
    assert err == {"Code": "RouteAlreadyExists", "Message":
                   f"route table {other} already has a route with destination-prefix-list-id {pl['PrefixListId']}"}
    # The route is the endpoint's: DeleteRoute does not take it away.
    err = error_of(ec2.delete_route, RouteTableId=other, DestinationPrefixListId=pl["PrefixListId"])
    assert err["Code"] == "InvalidParameterValue"
    assert routes_to(ec2, eid)[other] == [route]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[eid])
    assert routes_to(ec2, eid)[other] == []
    wait_state(ec2, eid, "deleted")
    ec2.delete_route_table(RouteTableId=other)


def test_gateway_endpoint_errors(ec2):
    vpc_id, subnets = make_vpc(ec2, zones=1)
    err = error_of(ec2.create_vpc_endpoint, VpcId=vpc_id, ServiceName=S3, SubnetIds=subnets)
    assert err == {"Code": "InvalidParameter",
                   "Message": "Subnet IDs are only supported for Interface and GatewayLoadBalancer type VPC Endpoints."}
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"][0]
    err = error_of(ec2.create_vpc_endpoint, VpcId=vpc_id, ServiceName=S3, SecurityGroupIds=[group["GroupId"]])
    assert err["Code"] == "InvalidParameter"
    err = error_of(ec2.create_vpc_endpoint, VpcId=vpc_id, ServiceName=S3, RouteTableIds=["rtb-0123456789abcdef0"])
    assert err == {"Code": "InvalidRouteTableID.NotFound",
                   "Message": "The routeTable ID 'rtb-0123456789abcdef0' does not exist"}
    err = error_of(ec2.create_vpc_endpoint, VpcId=vpc_id, ServiceName=S3, RouteTableIds=["rtb-nope"])
    assert err["Code"] == "InvalidRouteTableId.Malformed"
    # Route tables belong to Gateway endpoints only.
    err = error_of(ec2.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=S3,
                   SubnetIds=subnets, RouteTableIds=[main_table(ec2, vpc_id)])
    assert err == {"Code": "InvalidParameter",
                   "Message": "Route table IDs are only supported for Gateway type VPC Endpoint."}


def test_a_gateway_endpoint_keeps_its_vpc_and_lets_its_tables_go(ec2):
    vpc_id, _ = make_vpc(ec2, zones=0)
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ep = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=DYNAMODB, RouteTableIds=[table])["VpcEndpoint"]
    # DeleteRouteTable takes the table out of the endpoint, as on AWS.
    ec2.delete_route_table(RouteTableId=table)
    assert endpoint(ec2, ep["VpcEndpointId"])["RouteTableIds"] == []
    err = error_of(ec2.modify_vpc_endpoint, VpcEndpointId=ep["VpcEndpointId"], RemoveRouteTableIds=[table])
    assert err == {"Code": "InvalidRouteTableID.NotFound", "Message": f"The routeTable ID '{table}' does not exist"}
    err = error_of(ec2.delete_vpc, VpcId=vpc_id)
    assert err == {"Code": "DependencyViolation", "Message": f"The vpc '{vpc_id}' has dependencies and cannot be deleted."}
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])
    wait_state(ec2, ep["VpcEndpointId"], "deleted")
    ec2.delete_vpc(VpcId=vpc_id)


# Prefix lists ----------------------------------------------------------------------------

def test_prefix_lists(ec2):
    lists = ec2.describe_prefix_lists()["PrefixLists"]
    assert [p["PrefixListName"] for p in lists] == [DYNAMODB, S3]
    for p in lists:
        assert re.fullmatch(r"pl-[0-9a-f]{8}", p["PrefixListId"]) and p["Cidrs"]
    assert ec2.describe_prefix_lists()["PrefixLists"] == lists  # the same ids every time
    s3 = lists[1]
    assert ec2.describe_prefix_lists(PrefixListIds=[s3["PrefixListId"]])["PrefixLists"] == [s3]
    assert ec2.describe_prefix_lists(
        Filters=[{"Name": "prefix-list-id", "Values": [s3["PrefixListId"]]}])["PrefixLists"] == [s3]
    err = error_of(ec2.describe_prefix_lists, PrefixListIds=["pl-0123abcd"])
    assert err == {"Code": "InvalidPrefixListID.NotFound", "Message": "The prefix list ID 'pl-0123abcd' does not exist"}
    err = error_of(ec2.describe_prefix_lists, PrefixListIds=["pl-zz"])
    assert err == {"Code": "InvalidPrefixListId.Malformed", "Message": 'Invalid id: "pl-zz" (expecting "pl-...")'}


def test_managed_prefix_lists(ec2):
    (s3,) = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [S3]}])["PrefixLists"]
    (managed,) = ec2.describe_managed_prefix_lists(PrefixListIds=[s3["PrefixListId"]])["PrefixLists"]
    assert managed == {
        "PrefixListId": s3["PrefixListId"], "AddressFamily": "IPv4", "State": "create-complete",
        "PrefixListArn": f"arn:aws:ec2:{REGION}:aws:prefix-list/{s3['PrefixListId']}",
        "PrefixListName": S3, "Tags": [], "OwnerId": "AWS"}
    assert len(ec2.describe_managed_prefix_lists(Filters=[{"Name": "owner-id", "Values": ["AWS"]}])["PrefixLists"]) == 2
    entries = ec2.get_managed_prefix_list_entries(PrefixListId=s3["PrefixListId"])["Entries"]
    assert [e["Cidr"] for e in entries] == s3["Cidrs"]


# Endpoint services of an account ---------------------------------------------------------

def make_service(srv, **kwargs) -> dict:
    owner = srv.client("ec2", ACCOUNT_1)
    subnets = owner.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    lb = srv.client("elbv2", ACCOUNT_1).create_load_balancer(
        Name=f"svc-api-{next(_cidrs)}", Type="network", Scheme="internal", Subnets=[subnets[0]["SubnetId"]])
    arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    return owner.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[arn],
                                                           **kwargs)["ServiceConfiguration"]


def test_payer_responsibility(srv):
    owner = srv.client("ec2", ACCOUNT_1)
    svc = make_service(srv)
    sid = svc["ServiceId"]
    out = owner.modify_vpc_endpoint_service_payer_responsibility(ServiceId=sid, PayerResponsibility="ServiceOwner")
    assert out["ReturnValue"] is True
    got = owner.describe_vpc_endpoint_service_configurations(ServiceIds=[sid])["ServiceConfigurations"][0]
    assert got["PayerResponsibility"] == "ServiceOwner"
    err = error_of(owner.modify_vpc_endpoint_service_payer_responsibility, ServiceId=sid,
                   PayerResponsibility="ServiceConsumer")
    assert err == {"Code": "InvalidParameterValue",
                   "Message": "Value (ServiceConsumer) for parameter PayerResponsibility is invalid."}
    err = error_of(owner.modify_vpc_endpoint_service_payer_responsibility, ServiceId="vpce-svc-0123456789abcdef0",
                   PayerResponsibility="ServiceOwner")
    assert err["Code"] == "InvalidVpcEndpointServiceId.NotFound"
    owner.delete_vpc_endpoint_service_configurations(ServiceIds=[sid])


def test_empty_tags_are_empty_lists(srv):
    """Tags of endpoints, service configurations and service details are `[]` when there
    are none, as AWS sends them (code that indexes them must not find them missing)."""
    owner = srv.client("ec2", ACCOUNT_1)
    svc = make_service(srv)
    assert svc["Tags"] == []
    conf = owner.describe_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])
    assert conf["ServiceConfigurations"][0]["Tags"] == []
    (detail,) = details(owner, ServiceNames=[svc["ServiceName"]])
    assert detail["Tags"] == []
    # Account-owned services sort after AWS's (`com.amazonaws.vpce.` after the region's names).
    names = owner.describe_vpc_endpoint_services()["ServiceNames"]
    assert names.index(svc["ServiceName"]) > names.index(f"com.amazonaws.{REGION}.xray")
    owner.delete_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])


def test_private_dns_messages_for_an_endpoint_service(srv):
    """The one place that decides private DNS answers an account's services with AWS's
    words too: no name, and a name not verified yet."""
    owner = srv.client("ec2", ACCOUNT_1)
    subnet = owner.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]},
                                             {"Name": "availability-zone", "Values": [ZONES[0]]}])["Subnets"][0]
    plain, named = make_service(srv), make_service(srv, PrivateDnsName="api.example.net")
    for svc, why in ((plain, "does not provide a private DNS name."), (named, "has not verified the private DNS name.")):
        err = error_of(owner.create_vpc_endpoint, VpcEndpointType="Interface", VpcId=subnet["VpcId"],
                       ServiceName=svc["ServiceName"], SubnetIds=[subnet["SubnetId"]], PrivateDnsEnabled=True)
        assert err == {"Code": "InvalidParameter",
                       "Message": f"Private DNS can't be enabled because the service {svc['ServiceName']} {why}"}
    owner.delete_vpc_endpoint_service_configurations(ServiceIds=[plain["ServiceId"], named["ServiceId"]])


def test_a_security_group_rule_names_an_existing_prefix_list_only(ec2):
    vpc_id, _ = make_vpc(ec2, zones=0)
    group = ec2.create_security_group(GroupName="to-s3", Description="egress to S3", VpcId=vpc_id)["GroupId"]
    (s3,) = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [S3]}])["PrefixLists"]
    ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": s3["PrefixListId"]}]}])
    err = error_of(ec2.authorize_security_group_egress, GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": "pl-0123abcd"}]}])
    assert err["Code"] in ("InvalidPrefixListID.NotFound", "InvalidPrefixListId.NotFound")
