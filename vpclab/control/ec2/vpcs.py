"""VPCs: CreateVpc, DescribeVpcs, DeleteVpc, Modify/DescribeVpcAttribute.

A VPC is made with its default security group and its main route table (`local` only),
and DeleteVpc deletes both with it; whatever else it holds (`dependents.vpc_dependents`)
keeps it from being deleted. Its IPv4 CIDR blocks beyond the primary one are
`vpc_cidr_blocks`'s; IPv6 is refused (`common.ipv6`).
"""
from __future__ import annotations

from ...model.ec2 import RouteTable, SecurityGroup, Vpc
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import (
    DependencyViolation,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from ..common.dependents import vpc_dependents
from ..common.filters import filter_and_page
from ..common.ids import new_id
from ..common.ipv6 import VPC_IPV6, refuse_ipv6
from ..common.lookup import VPC, get_owned
from ..common.tags import tag_list, tags_from_specs
from .default_vpc import ensure_default_vpc
from .stored_routes import make_vpc_routing
from .stored_rules import make_default_group
from .vpc_cidr_blocks import (
    association_cidrs,
    association_ids,
    association_set,
    association_states,
    check_vpc_cidr_size,
    parse_cidr,
)

#: VPC Block Public Access as DescribeVpcs / DescribeSubnets show it: vpclab has none, so off.
BLOCK_PUBLIC_ACCESS_OFF = {"InternetGatewayBlockMode": "off"}


def render(vpc: Vpc) -> dict:
    """DescribeVpcs' `Vpc`. AWS leaves `Ipv6CidrBlockAssociationSet` out of DescribeVpcs for
    a VPC without IPv6 blocks (every VPC here) but answers it empty from CreateVpc, and
    shows `BlockPublicAccessStates` in DescribeVpcs only (recorded AWS CLI answers)."""
    return {
        "VpcId": vpc.id,
        "OwnerId": vpc.account,
        "State": vpc.state,
        "CidrBlock": vpc.cidr_block,
        "DhcpOptionsId": vpc.dhcp_options_id,
        "InstanceTenancy": vpc.instance_tenancy,
        "IsDefault": vpc.is_default,
        "CidrBlockAssociationSet": association_set(vpc),
        "BlockPublicAccessStates": dict(BLOCK_PUBLIC_ACCESS_OFF),
        "Tags": tag_list(vpc.tags),
    }


@operation("ec2", "CreateVpc")
def create_vpc(ctx: RequestContext, req: dict) -> dict:
    refuse_ipv6(req, VPC_IPV6)
    cidr = req.get("CidrBlock")
    if cidr is None:
        raise MissingParameter("Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.")
    net = parse_cidr(cidr)
    check_vpc_cidr_size(net, cidr)
    tenancy = req.get("InstanceTenancy", "default")
    if tenancy not in ("default", "dedicated", "host"):
        raise InvalidParameterValue(f"Value ({tenancy}) for parameter instanceTenancy is invalid.")
    ensure_default_vpc(ctx)
    now = ctx.now.timestamp()
    vpc = Vpc(
        id=new_id("vpc"),
        account=ctx.account,
        region=ctx.region,
        created=now,
        tags=tags_from_specs(req.get("TagSpecifications"), "vpc"),
        cidr_block=str(net),
        cidr_association_id=new_id("vpc-cidr-assoc"),
        instance_tenancy=tenancy,
        dhcp_options_id=new_id("dopt"),
        enable_dns_support=True,
        enable_dns_hostnames=False,
    )
    with ctx.write() as tx:
        tx.put(vpc)
        tx.put(make_default_group(ctx.account, ctx.region, vpc.id, now))
        make_vpc_routing(tx, vpc, now)
    # AWS answers `pending`; the VPC is usable (and Describe shows `available`) at once.
    shown = {**render(vpc), "State": "pending", "Ipv6CidrBlockAssociationSet": []}
    del shown["BlockPublicAccessStates"]
    return {"Vpc": shown}


FILTERS = {
    "vpc-id": lambda v: v.id,
    "cidr": lambda v: v.cidr_block,
    "cidr-block-association.cidr-block": association_cidrs,
    "cidr-block-association.association-id": association_ids,
    "cidr-block-association.state": association_states,
    "dhcp-options-id": lambda v: v.dhcp_options_id,
    "is-default": lambda v: v.is_default,
    "owner-id": lambda v: v.account,
    "state": lambda v: v.state,
    "instance-tenancy": lambda v: v.instance_tenancy,
    # AWS's IPv6 filters: vpclab's VPCs have no IPv6 blocks, so they match nothing.
    "ipv6-cidr-block-association.ipv6-cidr-block": lambda v: None,
    "ipv6-cidr-block-association.ipv6-pool": lambda v: None,
    "ipv6-cidr-block-association.association-id": lambda v: None,
    "ipv6-cidr-block-association.state": lambda v: None,
}


@operation("ec2", "DescribeVpcs")
def describe_vpcs(ctx: RequestContext, req: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.read() as tx:
        vpcs = tx.list(Vpc, ctx.account, ctx.region)
    vpcs = VPC.select(vpcs, req.get("VpcIds"))
    page, token = filter_and_page(vpcs, req.get("Filters"), FILTERS, tags=lambda v: v.tags,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"Vpcs": [render(v) for v in page], "NextToken": token}


@operation("ec2", "DeleteVpc")
def delete_vpc(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        vpc = get_owned(tx, ctx, Vpc, req["VpcId"], VPC)
        if vpc_dependents(tx, vpc.id):
            raise DependencyViolation(f"The vpc '{vpc.id}' has dependencies and cannot be deleted.")
        for group in tx.list(SecurityGroup, vpc_id=vpc.id):
            tx.delete(group)
        for table in tx.list(RouteTable, vpc_id=vpc.id):  # the main one: any other is a dependent
            tx.delete(table)
        tx.delete(vpc)
    return {}


_ATTRIBUTES = {
    "enableDnsSupport": "enable_dns_support",
    "enableDnsHostnames": "enable_dns_hostnames",
    "enableNetworkAddressUsageMetrics": "enable_network_address_usage_metrics",
}


@operation("ec2", "DescribeVpcAttribute")
def describe_vpc_attribute(ctx: RequestContext, req: dict) -> dict:
    name = req["Attribute"]
    if name not in _ATTRIBUTES:
        raise InvalidParameterValue(f"Value ({name}) for parameter attribute is invalid. Unknown attribute.")
    with ctx.read() as tx:
        vpc = get_owned(tx, ctx, Vpc, req["VpcId"], VPC)
    key = name[0].upper() + name[1:]
    return {"VpcId": vpc.id, key: {"Value": getattr(vpc, _ATTRIBUTES[name])}}


@operation("ec2", "ModifyVpcAttribute")
def modify_vpc_attribute(ctx: RequestContext, req: dict) -> dict:
    given = [(k, req[k[0].upper() + k[1:]]) for k in _ATTRIBUTES if k[0].upper() + k[1:] in req]
    if len(given) != 1:
        raise InvalidParameterCombination(
            "Fields for multiple attribute types specified: " + ", ".join(k for k, _ in given)
            if given else "No attribute specified."
        )
    name, value = given[0]
    if "Value" not in value:
        raise MissingParameter("The request must contain the parameter Value")
    with ctx.write() as tx:
        vpc = get_owned(tx, ctx, Vpc, req["VpcId"], VPC)
        setattr(vpc, _ATTRIBUTES[name], bool(value["Value"]))
        if not vpc.enable_dns_support and vpc.enable_dns_hostnames:
            raise InvalidParameterValue(
                "Cannot enable DNS hostnames without DNS support; enable DNS support first."
            )
        tx.put(vpc)
    return {}
