"""Internet gateways: Create, Attach, Detach, Delete and DescribeInternetGateways.

A gateway is attached to at most one VPC and a VPC has at most one gateway. What a
gateway carries is decided elsewhere: a subnet reaches the internet through the routes
its table sends to an attached gateway (`model/internet.py`), and the data plane
realizes that. A gateway cannot be detached while its VPC has mapped public addresses
(`dependents.mapped_public_addresses`), nor deleted while attached.
"""
from __future__ import annotations

from ...model.ec2 import InternetGateway, Vpc
from ...model.internet import attached_gateway
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, DependencyViolation, InvalidParameterValue
from ..common.dependents import mapped_public_addresses
from ..common.filters import filter_and_page
from ..common.lookup import INTERNET_GATEWAY, VPC, get_owned
from ..common.tags import tag_list, tags_from_specs
from .default_vpc import ensure_default_vpc
from .stored_routes import make_internet_gateway


def render(igw: InternetGateway) -> dict:
    return {
        "InternetGatewayId": igw.id,
        "OwnerId": igw.account,
        "Attachments": [{"State": "available", "VpcId": igw.vpc_id}] if igw.vpc_id else [],
        "Tags": tag_list(igw.tags),
    }


@operation("ec2", "CreateInternetGateway")
def create_internet_gateway(ctx: RequestContext, req: dict) -> dict:
    tags = tags_from_specs(req.get("TagSpecifications"), "internet-gateway")
    igw = make_internet_gateway(ctx.account, ctx.region, ctx.now.timestamp(), tags=tags)
    with ctx.write() as tx:
        tx.put(igw)
    return {"InternetGateway": render(igw)}


@operation("ec2", "AttachInternetGateway")
def attach_internet_gateway(ctx: RequestContext, req: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.write() as tx:
        igw = get_owned(tx, ctx, InternetGateway, req["InternetGatewayId"], INTERNET_GATEWAY)
        vpc = get_owned(tx, ctx, Vpc, req["VpcId"], VPC)
        if igw.vpc_id is not None:
            raise AwsError(f"resource {igw.id} is already attached to network {igw.vpc_id}",
                           code="Resource.AlreadyAssociated")
        if attached_gateway(tx.list(InternetGateway, vpc_id=vpc.id), vpc.id) is not None:
            raise InvalidParameterValue(f"Network {vpc.id} already has an internet gateway attached")
        igw.vpc_id = vpc.id
        tx.put(igw)
    return {}


@operation("ec2", "DetachInternetGateway")
def detach_internet_gateway(ctx: RequestContext, req: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.write() as tx:
        igw = get_owned(tx, ctx, InternetGateway, req["InternetGatewayId"], INTERNET_GATEWAY)
        vpc_id = req["VpcId"]
        VPC.check(vpc_id)
        if igw.vpc_id != vpc_id:
            # Unconfirmed wording (the code is AWS's).
            raise AwsError(f"resource {igw.id} is not attached to network {vpc_id}", code="Gateway.NotAttached")
        if mapped_public_addresses(tx, vpc_id):
            raise DependencyViolation(
                f"Network {vpc_id} has some mapped public address(es). "
                "Please unmap those public address(es) before detaching the gateway."
            )
        igw.vpc_id = None
        tx.put(igw)
    return {}


@operation("ec2", "DeleteInternetGateway")
def delete_internet_gateway(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        igw = get_owned(tx, ctx, InternetGateway, req["InternetGatewayId"], INTERNET_GATEWAY)
        if igw.vpc_id is not None:
            raise DependencyViolation(f"The internetGateway '{igw.id}' has dependencies and cannot be deleted.")
        tx.delete(igw)
    return {}


FILTERS = {
    "internet-gateway-id": lambda g: g.id,
    "owner-id": lambda g: g.account,
    "attachment.vpc-id": lambda g: g.vpc_id,
    "attachment.state": lambda g: "available" if g.vpc_id else None,
}


@operation("ec2", "DescribeInternetGateways")
def describe_internet_gateways(ctx: RequestContext, req: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.read() as tx:
        gateways = tx.list(InternetGateway, ctx.account, ctx.region)
    gateways = INTERNET_GATEWAY.select(gateways, req.get("InternetGatewayIds"))
    page, token = filter_and_page(gateways, req.get("Filters"), FILTERS, tags=lambda g: g.tags,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"InternetGateways": [render(g) for g in page], "NextToken": token}
