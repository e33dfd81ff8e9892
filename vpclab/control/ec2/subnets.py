"""Subnets: CreateSubnet, DescribeSubnets, DeleteSubnet, ModifySubnetAttribute.

A subnet is an IPv4 range of one VPC in one Availability Zone. Its free address count is
read off the network interfaces in it (`addresses.available_count`), so it is never
stored. DeleteSubnet removes the subnet's explicit route-table association with it, as
AWS does. vpclab has no IPv6 (yet), IPAM or Outposts: the parameters for them are refused
(IPv6 by `common.ipv6`), or accepted when they ask for what is already so (`false`).
"""
from __future__ import annotations

from collections.abc import Callable

from ...model.ec2 import NetworkInterface, RouteTable, Subnet, Vpc
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import (
    AwsError,
    DependencyViolation,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from ...store import Transaction
from ..common.filters import filter_and_page
from ..common.ids import new_id
from ..common.ipv6 import SUBNET_IPV6, refuse_ipv6, refuse_ipv6_true
from ..common.lookup import SUBNET, VPC, get_owned
from ..common.tags import tag_list, tags_from_specs
from .addresses import available_count
from .default_vpc import ensure_default_vpc
from .regions import Zone, zone_by_id, zone_by_name, zones
from .vpcs import BLOCK_PUBLIC_ACCESS_OFF, parse_cidr


def subnet_arn(subnet: Subnet) -> str:
    return f"arn:aws:ec2:{subnet.region}:{subnet.account}:subnet/{subnet.id}"


def render(subnet: Subnet, free: int) -> dict:
    return {
        "SubnetId": subnet.id,
        "SubnetArn": subnet_arn(subnet),
        "OwnerId": subnet.account,
        "State": subnet.state,
        "VpcId": subnet.vpc_id,
        "CidrBlock": subnet.cidr_block,
        "AvailableIpAddressCount": free,
        "AvailabilityZone": subnet.availability_zone,
        "AvailabilityZoneId": subnet.availability_zone_id,
        "DefaultForAz": subnet.default_for_az,
        "MapPublicIpOnLaunch": subnet.map_public_ip_on_launch,
        "MapCustomerOwnedIpOnLaunch": False,
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [],
        "Ipv6Native": False,
        "EnableDns64": False,
        "EnableLniAtDeviceIndex": None,
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": subnet.private_dns_hostname_type,
            "EnableResourceNameDnsARecord": subnet.enable_resource_name_dns_a_record,
            "EnableResourceNameDnsAAAARecord": subnet.enable_resource_name_dns_aaaa_record,
        },
        "Tags": tag_list(subnet.tags),
    }


def _zone_for(tx: Transaction, ctx: RequestContext, req: dict, vpc: Vpc) -> Zone:
    name, zone_id = req.get("AvailabilityZone"), req.get("AvailabilityZoneId")
    if name is not None and zone_id is not None:
        # Unconfirmed: AWS's exact wording when both are given.
        raise InvalidParameterCombination(
            "Only one of availabilityZone or availabilityZoneId may be specified."
        )
    if name is not None:
        zone = zone_by_name(ctx.region, name)
        if zone is None:
            raise InvalidParameterValue(
                f"Value ({name}) for parameter availabilityZone is invalid. Subnets can currently "
                f"only be created in the following availability zones: "
                + ", ".join(z.name for z in zones(ctx.region)) + "."
            )
        return zone
    if zone_id is not None:
        zone = zone_by_id(ctx.region, zone_id)
        if zone is None:
            raise InvalidParameterValue(
                f"Value ({zone_id}) for parameter availabilityZoneId is invalid. Subnets can currently "
                f"only be created in the following availability zones: "
                + ", ".join(z.zone_id for z in zones(ctx.region)) + "."
            )
        return zone
    # AWS picks a zone for the caller. vpclab picks the zone of the VPC with the fewest
    # subnets (the first such zone in the region's order), which spreads subnets out.
    taken = [s.availability_zone for s in tx.list(Subnet, vpc_id=vpc.id)]
    return min(zones(ctx.region), key=lambda z: taken.count(z.name))


@operation("ec2", "CreateSubnet")
def create_subnet(ctx: RequestContext, req: dict) -> dict:
    refuse_ipv6(req, SUBNET_IPV6)
    for unsupported, param in (("Ipv4IpamPoolId", "ipv4IpamPoolId"), ("OutpostArn", "outpostArn")):
        if req.get(unsupported) is not None:
            raise InvalidParameterValue(
                f"Value ({req[unsupported]}) for parameter {param} is invalid. vpclab has no IPAM or Outposts."
            )
    cidr = req.get("CidrBlock")
    if cidr is None:
        raise MissingParameter("Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.")
    net = parse_cidr(cidr)
    tags = tags_from_specs(req.get("TagSpecifications"), "subnet")
    ensure_default_vpc(ctx)
    with ctx.write() as tx:
        vpc = get_owned(tx, ctx, Vpc, req["VpcId"], VPC)
        if not 16 <= net.prefixlen <= 28 or not any(net.subnet_of(parse_cidr(b)) for b in vpc.ipv4_cidr_blocks()):
            raise AwsError(f"The CIDR '{cidr}' is invalid.", code="InvalidSubnet.Range")
        for other in tx.list(Subnet, vpc_id=vpc.id):
            if net.overlaps(parse_cidr(other.cidr_block)):
                raise AwsError(f"The CIDR '{cidr}' conflicts with another subnet", code="InvalidSubnet.Conflict")
        zone = _zone_for(tx, ctx, req, vpc)
        subnet = Subnet(
            id=new_id("subnet"),
            account=ctx.account,
            region=ctx.region,
            created=ctx.now.timestamp(),
            tags=tags,
            vpc_id=vpc.id,
            cidr_block=str(net),
            availability_zone=zone.name,
            availability_zone_id=zone.zone_id,
        )
        tx.put(subnet)
        free = available_count(tx, subnet)
    return {"Subnet": render(subnet, free)}


FILTERS = {
    "subnet-id": lambda s: s.id,
    "subnet-arn": subnet_arn,
    "vpc-id": lambda s: s.vpc_id,
    "cidr-block": lambda s: s.cidr_block,
    "cidr": lambda s: s.cidr_block,
    "cidrBlock": lambda s: s.cidr_block,
    "availability-zone": lambda s: s.availability_zone,
    "availabilityZone": lambda s: s.availability_zone,
    "availability-zone-id": lambda s: s.availability_zone_id,
    "availabilityZoneId": lambda s: s.availability_zone_id,
    "default-for-az": lambda s: s.default_for_az,
    "defaultForAz": lambda s: s.default_for_az,
    "state": lambda s: s.state,
    "owner-id": lambda s: s.account,
    "map-public-ip-on-launch": lambda s: s.map_public_ip_on_launch,
    "map-customer-owned-ip-on-launch": lambda s: False,
    "assign-ipv6-address-on-creation": lambda s: False,
    "ipv6-native": lambda s: False,
    "enable-dns64": lambda s: False,
    "ipv6-cidr-block-association.ipv6-cidr-block": lambda s: None,
    "ipv6-cidr-block-association.association-id": lambda s: None,
    "ipv6-cidr-block-association.state": lambda s: None,
    "private-dns-name-options-on-launch.hostname-type": lambda s: s.private_dns_hostname_type,
    "private-dns-name-options-on-launch.enable-resource-name-dns-a-record":
        lambda s: s.enable_resource_name_dns_a_record,
    "private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record":
        lambda s: s.enable_resource_name_dns_aaaa_record,
}


@operation("ec2", "DescribeSubnets")
def describe_subnets(ctx: RequestContext, req: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.read() as tx:
        subnets = tx.list(Subnet, ctx.account, ctx.region)
        free = {s.id: available_count(tx, s) for s in subnets}
    subnets = SUBNET.select(subnets, req.get("SubnetIds"))
    fields = {**FILTERS, "available-ip-address-count": lambda s: free[s.id]}
    page, token = filter_and_page(subnets, req.get("Filters"), fields, tags=lambda s: s.tags,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    # DescribeSubnets shows VPC Block Public Access; CreateSubnet's answer does not (as AWS).
    shown = [{**render(s, free[s.id]), "BlockPublicAccessStates": dict(BLOCK_PUBLIC_ACCESS_OFF)} for s in page]
    return {"Subnets": shown, "NextToken": token}


@operation("ec2", "DeleteSubnet")
def delete_subnet(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        subnet = get_owned(tx, ctx, Subnet, req["SubnetId"], SUBNET)
        # Every address in use (instances, NLB nodes, endpoint ENIs) is a network interface.
        if tx.list(NetworkInterface, subnet_id=subnet.id):
            raise DependencyViolation(f"The subnet '{subnet.id}' has dependencies and cannot be deleted.")
        for table in tx.list(RouteTable, vpc_id=subnet.vpc_id,
                             where=lambda t: any(a.subnet_id == subnet.id for a in t.associations)):
            table.associations = [a for a in table.associations if a.subnet_id != subnet.id]
            tx.put(table)
        tx.delete(subnet)
    return {}


def _no_ipv6(param: str) -> Callable[[Subnet, object], None]:
    """A setter for an IPv6 attribute: `false` is a no-op, `true` is refused (`common.ipv6`)."""

    def apply(subnet: Subnet, value: object) -> None:
        refuse_ipv6_true(value, param)

    return apply


def _not_on_outpost(param: str, subnet_id: str) -> Callable[[Subnet, object], None]:
    """A setter for an Outposts attribute: `false` is a no-op."""

    def apply(subnet: Subnet, value: object) -> None:
        if value:
            raise InvalidParameterValue(f"Invalid value 'true' for {param}. The subnet ({subnet_id}) is not on an Outpost.")

    return apply


def _hostname_type(subnet: Subnet, value: str) -> None:
    if value not in ("ip-name", "resource-name"):
        raise InvalidParameterValue(
            f"Value ({value}) for parameter privateDnsHostnameTypeOnLaunch is invalid. "
            "Valid values are: ip-name, resource-name"
        )
    subnet.private_dns_hostname_type = value


@operation("ec2", "ModifySubnetAttribute")
def modify_subnet_attribute(ctx: RequestContext, req: dict) -> dict:
    sid = req["SubnetId"]
    setters = {
        "MapPublicIpOnLaunch": lambda s, v: setattr(s, "map_public_ip_on_launch", v),
        "EnableResourceNameDnsARecordOnLaunch": lambda s, v: setattr(s, "enable_resource_name_dns_a_record", v),
        "EnableResourceNameDnsAAAARecordOnLaunch":
            lambda s, v: setattr(s, "enable_resource_name_dns_aaaa_record", v),
        "PrivateDnsHostnameTypeOnLaunch": _hostname_type,
        "AssignIpv6AddressOnCreation": _no_ipv6("assignIpv6AddressOnCreation"),
        "EnableDns64": _no_ipv6("enableDns64"),
        "MapCustomerOwnedIpOnLaunch": _not_on_outpost("mapCustomerOwnedIpOnLaunch", sid),
    }
    for outposts in ("EnableLniAtDeviceIndex", "DisableLniAtDeviceIndex", "CustomerOwnedIpv4Pool"):
        if req.get(outposts) is not None:
            raise InvalidParameterValue(f"The subnet ({sid}) is not on an Outpost.")
    given = [name for name in setters if req.get(name) is not None]
    # "You can only modify one attribute at a time." (the API reference)
    if len(given) != 1:
        raise InvalidParameterCombination(
            "Fields for multiple attribute types specified: " + ", ".join(given)
            if given else "No attribute specified."
        )
    name = given[0]
    value = req[name]
    if isinstance(value, dict):  # AttributeBooleanValue
        if "Value" not in value:
            raise MissingParameter("The request must contain the parameter Value")
        value = bool(value["Value"])
    with ctx.write() as tx:
        subnet = get_owned(tx, ctx, Subnet, sid, SUBNET)
        setters[name](subnet, value)
        tx.put(subnet)
    return {}
