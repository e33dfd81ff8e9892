"""Route tables: Create/Delete/DescribeRouteTables, Create/Replace/DeleteRoute,
Associate/Disassociate/ReplaceRouteTableAssociation.

A route table belongs to one VPC and starts with its `local` route (the VPC's CIDR, which
can be neither deleted nor pointed elsewhere). A subnet uses the table it is explicitly
associated with, else its VPC's main table (`model.internet.table_of_subnet`); the main
association moves with ReplaceRouteTableAssociation and is never removed.

Routes may target an internet gateway attached to the table's VPC (`GatewayId igw-…`),
or a network interface or instance of the VPC. vpclab realizes `local` and internet
gateway routes; routes to an interface or instance are stored and shown as AWS shows
them, but nothing forwards traffic along them. A route's state is
`model.internet.route_active`'s answer, never stored.

A Gateway endpoint (S3, DynamoDB) adds a route for its service's prefix list
(`DestinationPrefixListId pl-…`, `GatewayId vpce-…`) to each of its route tables; the
endpoint API adds and removes them (`control/privatelink/gateway_routes.py`), and
DeleteRouteTable takes a deleted table out of the endpoints that named it, as AWS does.
"""
from __future__ import annotations

import ipaddress

from ...model.ec2 import (
    Instance,
    InternetGateway,
    NetworkInterface,
    RouteEntry,
    RouteTable,
    RouteTableAssociation,
    Subnet,
    Vpc,
)
from ...model.internet import LOCAL, route_active
from ...model.privatelink import Endpoint
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
from ..common.lookup import (
    ENI,
    INSTANCE,
    INTERNET_GATEWAY,
    ROUTE_TABLE,
    ROUTE_TABLE_ASSOCIATION,
    SUBNET,
    VPC,
    find_owned,
    get_owned,
)
from ..common.tags import tag_list, tags_from_specs
from .default_vpc import ensure_default_vpc
from .stored_routes import make_route_table
from .vpcs import parse_cidr

#: Route targets vpclab has no resource for: (request member, AWS's NotFound code, its noun).
_ABSENT_TARGETS = (
    ("NatGatewayId", "InvalidNatGatewayID.NotFound", "natGateway ID"),
    ("VpcPeeringConnectionId", "InvalidVpcPeeringConnectionID.NotFound", "vpcPeeringConnection ID"),
    ("TransitGatewayId", "InvalidTransitGatewayID.NotFound", "transitGateway ID"),
    ("EgressOnlyInternetGatewayId", "InvalidGatewayID.NotFound", "gateway ID"),
    ("LocalGatewayId", "InvalidLocalGatewayID.NotFound", "localGateway ID"),
    ("CarrierGatewayId", "InvalidCarrierGatewayID.NotFound", "carrierGateway ID"),
    ("VpcEndpointId", "InvalidVpcEndpointId.NotFound", "vpcEndpoint ID"),
    ("CoreNetworkArn", "InvalidParameterValue", "core network"),
    ("OdbNetworkArn", "InvalidParameterValue", "ODB network"),
)


# Rendering ------------------------------------------------------------------------------------

def render_route(route: RouteEntry, table: RouteTable, gateways: dict[str, InternetGateway]) -> dict:
    return {
        "DestinationCidrBlock": route.destination_cidr or None,
        "DestinationPrefixListId": route.destination_prefix_list_id,
        "GatewayId": route.gateway_id,
        "InstanceId": route.instance_id,
        "InstanceOwnerId": table.account if route.instance_id else None,
        "NetworkInterfaceId": route.network_interface_id,
        "Origin": route.origin,
        "State": "active" if route_active(route, table.vpc_id, gateways) else "blackhole",
    }


def render_association(assoc: RouteTableAssociation, table: RouteTable) -> dict:
    return {
        "Main": assoc.main,
        "RouteTableAssociationId": assoc.id,
        "RouteTableId": table.id,
        "SubnetId": assoc.subnet_id,
        "GatewayId": assoc.gateway_id,
        "AssociationState": {"State": "associated"},
    }


def render(table: RouteTable, gateways: dict[str, InternetGateway]) -> dict:
    return {
        "RouteTableId": table.id,
        "VpcId": table.vpc_id,
        "OwnerId": table.account,
        "Routes": [render_route(r, table, gateways) for r in table.routes],
        "Associations": [render_association(a, table) for a in table.associations],
        "PropagatingVgws": [],
        "Tags": tag_list(table.tags),
    }


def _gateways(tx: Transaction, ctx: RequestContext) -> dict[str, InternetGateway]:
    return {g.id: g for g in tx.list(InternetGateway, ctx.account, ctx.region)}


# Tables ---------------------------------------------------------------------------------------

@operation("ec2", "CreateRouteTable")
def create_route_table(ctx: RequestContext, req: dict) -> dict:
    tags = tags_from_specs(req.get("TagSpecifications"), "route-table")
    ensure_default_vpc(ctx)
    with ctx.write() as tx:
        vpc = get_owned(tx, ctx, Vpc, req["VpcId"], VPC)
        table = make_route_table(vpc, ctx.now.timestamp(), tags=tags)
        tx.put(table)
        gateways = _gateways(tx, ctx)
    return {"RouteTable": render(table, gateways), "ClientToken": req.get("ClientToken")}


@operation("ec2", "DeleteRouteTable")
def delete_route_table(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        table = get_owned(tx, ctx, RouteTable, req["RouteTableId"], ROUTE_TABLE)
        # The main table, and a table any subnet (or gateway) is associated with.
        if table.associations:
            raise DependencyViolation(f"The routeTable '{table.id}' has dependencies and cannot be deleted.")
        for ep in tx.list(Endpoint, vpc_id=table.vpc_id, where=lambda e: table.id in e.route_table_ids):
            ep.route_table_ids.remove(table.id)
            tx.put(ep)
        tx.delete(table)
    return {}


FILTERS = {
    "route-table-id": lambda t: t.id,
    "vpc-id": lambda t: t.vpc_id,
    "owner-id": lambda t: t.account,
    "association.route-table-association-id": lambda t: [a.id for a in t.associations],
    "association.route-table-id": lambda t: [t.id for _ in t.associations],
    "association.subnet-id": lambda t: [a.subnet_id for a in t.associations],
    "association.gateway-id": lambda t: [a.gateway_id for a in t.associations],
    "association.main": lambda t: [a.main for a in t.associations],
    "route.destination-cidr-block": lambda t: [r.destination_cidr for r in t.routes],
    "route.gateway-id": lambda t: [r.gateway_id for r in t.routes],
    "route.instance-id": lambda t: [r.instance_id for r in t.routes],
    "route.origin": lambda t: [r.origin for r in t.routes],
    "route.destination-prefix-list-id": lambda t: [r.destination_prefix_list_id for r in t.routes],
    # Targets and destinations vpclab has none of: valid filters that match no table.
    **{name: lambda t: [] for name in (
        "route.nat-gateway-id", "route.transit-gateway-id", "route.vpc-peering-connection-id",
        "route.egress-only-internet-gateway-id", "route.destination-ipv6-cidr-block")},
}


@operation("ec2", "DescribeRouteTables")
def describe_route_tables(ctx: RequestContext, req: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.read() as tx:
        tables = tx.list(RouteTable, ctx.account, ctx.region)
        gateways = _gateways(tx, ctx)
    tables = ROUTE_TABLE.select(tables, req.get("RouteTableIds"))

    def states(table: RouteTable) -> list[str]:
        return ["active" if route_active(r, table.vpc_id, gateways) else "blackhole" for r in table.routes]

    fields = {**FILTERS, "route.state": states}
    page, token = filter_and_page(tables, req.get("Filters"), fields, tags=lambda t: t.tags,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"RouteTables": [render(t, gateways) for t in page], "NextToken": token}


# Routes ---------------------------------------------------------------------------------------

def _destination(req: dict) -> str:
    """The route's destination CIDR, normalized. vpclab has no IPv6 and no customer-managed
    prefix lists; the AWS-managed ones are a Gateway endpoint's, whose routes only the
    endpoint API changes (AWS's wording for refusing them is unconfirmed)."""
    if req.get("DestinationIpv6CidrBlock") is not None:
        raise InvalidParameterValue(
            f"Value ({req['DestinationIpv6CidrBlock']}) for parameter destinationIpv6CidrBlock is invalid. "
            "vpclab has no IPv6."
        )
    if req.get("DestinationPrefixListId") is not None:
        raise InvalidParameterValue(
            f"Value ({req['DestinationPrefixListId']}) for parameter destinationPrefixListId is invalid. "
            "vpclab has no customer-managed prefix lists; a Gateway endpoint's routes change with ModifyVpcEndpoint."
        )
    cidr = req.get("DestinationCidrBlock")
    if cidr is None:
        raise MissingParameter("The request must contain the parameter destinationCidrBlock or destinationIpv6CidrBlock")
    return str(parse_cidr(cidr, "destinationCidrBlock"))


def _find_route(table: RouteTable, destination: str) -> RouteEntry | None:
    return next((r for r in table.routes if r.destination_cidr == destination), None)


def _is_local(route: RouteEntry) -> bool:
    return route.gateway_id == LOCAL


def _target(tx: Transaction, ctx: RequestContext, table: RouteTable, destination: str, req: dict) -> RouteEntry:
    """The route `req` asks for (its one target checked against the table's VPC)."""
    given = [m for m in ("GatewayId", "NetworkInterfaceId", "InstanceId", *(t[0] for t in _ABSENT_TARGETS))
             if req.get(m) is not None]
    if len(given) != 1:
        # Unconfirmed wording (AWS refuses a route with no target, or with two).
        raise InvalidParameterCombination(
            "The request must contain exactly one of gatewayId, networkInterfaceId or instanceId"
            if not given else "Only one route target may be given: " + ", ".join(given)
        )
    member = given[0]
    value = req[member]
    for absent, code, noun in _ABSENT_TARGETS:
        if member == absent:
            raise AwsError(f"The {noun} '{value}' does not exist", code=code)
    route = RouteEntry(destination_cidr=destination)
    if member == "GatewayId":
        igw = find_owned(tx, ctx, InternetGateway, value) if value.startswith("igw-") else None
        if igw is None:
            raise AwsError(f"The gateway ID '{value}' does not exist", code="InvalidGatewayID.NotFound")
        if igw.vpc_id != table.vpc_id:
            raise InvalidParameterValue(f"route table {table.id} and network gateway {value} belong to different networks")
        vpc = tx.get(Vpc, table.vpc_id)
        if vpc is not None and any(ipaddress.IPv4Network(destination).subnet_of(ipaddress.IPv4Network(block))
                                   for block in vpc.ipv4_cidr_blocks()):
            # More specific than the local route: only an interface or an instance may take it.
            raise InvalidParameterValue(
                "Route target is not supported. This route only supports interface and instance targets."
            )
        route.gateway_id = value
    elif member == "NetworkInterfaceId":
        eni = get_owned(tx, ctx, NetworkInterface, value, ENI)
        if eni.vpc_id != table.vpc_id:
            raise InvalidParameterValue(f"route table {table.id} and interface {eni.id} belong to different networks")
        route.network_interface_id = eni.id
        route.instance_id = (eni.attachment or {}).get("instance_id")
    else:
        instance = get_owned(tx, ctx, Instance, value, INSTANCE)
        if instance.vpc_id != table.vpc_id:
            raise InvalidParameterValue(f"route table {table.id} and instance {instance.id} belong to different networks")
        route.instance_id = instance.id
        route.network_interface_id = instance.network_interface_id or None
    return route


@operation("ec2", "CreateRoute")
def create_route(ctx: RequestContext, req: dict) -> dict:
    destination = _destination(req)
    with ctx.write() as tx:
        table = get_owned(tx, ctx, RouteTable, req["RouteTableId"], ROUTE_TABLE)
        if _find_route(table, destination) is not None:
            raise AwsError(f"The route identified by {destination} already exists.", code="RouteAlreadyExists")
        table.routes.append(_target(tx, ctx, table, destination, req))
        tx.put(table)
    return {"Return": True}


@operation("ec2", "ReplaceRoute")
def replace_route(ctx: RequestContext, req: dict) -> dict:
    destination = _destination(req)
    with ctx.write() as tx:
        table = get_owned(tx, ctx, RouteTable, req["RouteTableId"], ROUTE_TABLE)
        old = _find_route(table, destination)
        if old is None:
            raise InvalidParameterValue(
                f"There is no route defined for '{destination}' in the route table. Use CreateRoute instead."
            )
        back_to_local = req.get("LocalTarget") or req.get("GatewayId") == LOCAL
        if _is_local(old):
            if back_to_local and not any(req.get(m) for m in ("NetworkInterfaceId", "InstanceId")):
                return {}  # already local: nothing to change
            # Unconfirmed wording: vpclab keeps the local route's target (AWS lets it point at
            # an interface, for middlebox routing, which vpclab does not realize).
            raise InvalidParameterValue(f"cannot replace local route {destination} in route table {table.id}")
        if back_to_local:
            raise InvalidParameterValue(
                f"Only the local route {destination} of route table {table.id} can be reset to its local target."
            )
        new = _target(tx, ctx, table, destination, {k: v for k, v in req.items() if k != "LocalTarget"})
        new.origin = old.origin
        table.routes[table.routes.index(old)] = new
        tx.put(table)
    return {}


@operation("ec2", "DeleteRoute")
def delete_route(ctx: RequestContext, req: dict) -> dict:
    destination = _destination(req)
    with ctx.write() as tx:
        table = get_owned(tx, ctx, RouteTable, req["RouteTableId"], ROUTE_TABLE)
        route = _find_route(table, destination)
        if route is None:
            raise AwsError(f"no route with destination-cidr-block {destination} in route table {table.id}",
                           code="InvalidRoute.NotFound")
        if _is_local(route):
            raise InvalidParameterValue(f"cannot remove local route {destination} in route table {table.id}")
        table.routes.remove(route)
        tx.put(table)
    return {}


# Associations ---------------------------------------------------------------------------------

def _association(tx: Transaction, ctx: RequestContext, association_id: str) -> tuple[RouteTable, RouteTableAssociation]:
    """The caller's association `association_id` and the table that holds it."""
    ROUTE_TABLE_ASSOCIATION.check(association_id)
    for table in tx.list(RouteTable, ctx.account, ctx.region):
        for assoc in table.associations:
            if assoc.id == association_id:
                return table, assoc
    raise ROUTE_TABLE_ASSOCIATION.not_found(association_id)


def _conflict(table: RouteTable) -> AwsError:
    return AwsError(f"the specified association for route table {table.id} conflicts with an existing association",
                    code="Resource.AlreadyAssociated")


@operation("ec2", "AssociateRouteTable")
def associate_route_table(ctx: RequestContext, req: dict) -> dict:
    subnet_id, gateway_id = req.get("SubnetId"), req.get("GatewayId")
    if (subnet_id is None) == (gateway_id is None):
        # Unconfirmed wording.
        raise InvalidParameterCombination("Exactly one of subnetId or gatewayId must be given.")
    ensure_default_vpc(ctx)
    with ctx.write() as tx:
        table = get_owned(tx, ctx, RouteTable, req["RouteTableId"], ROUTE_TABLE)
        tables = tx.list(RouteTable, ctx.account, ctx.region)
        assoc = RouteTableAssociation(id=new_id("rtbassoc"))
        if subnet_id is not None:
            subnet = get_owned(tx, ctx, Subnet, subnet_id, SUBNET)
            if subnet.vpc_id != table.vpc_id:
                raise InvalidParameterValue(f"Route table {table.id} and subnet {subnet.id} belong to different networks")
            if any(a.subnet_id == subnet.id for t in tables for a in t.associations):
                raise _conflict(table)
            assoc.subnet_id = subnet.id
        else:
            # An edge association (ingress routing): stored, not realized.
            igw = get_owned(tx, ctx, InternetGateway, req["GatewayId"], INTERNET_GATEWAY)
            if igw.vpc_id != table.vpc_id:
                raise InvalidParameterValue(f"route table {table.id} and network gateway {igw.id} belong to different networks")
            if any(a.gateway_id == igw.id for t in tables for a in t.associations):
                raise _conflict(table)
            assoc.gateway_id = igw.id
        table.associations.append(assoc)
        tx.put(table)
    return {"AssociationId": assoc.id, "AssociationState": {"State": "associated"}}


@operation("ec2", "DisassociateRouteTable")
def disassociate_route_table(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        table, assoc = _association(tx, ctx, req["AssociationId"])
        if assoc.main:
            raise InvalidParameterValue(f"cannot disassociate the main route table association {assoc.id}")
        table.associations.remove(assoc)
        tx.put(table)
    return {}


@operation("ec2", "ReplaceRouteTableAssociation")
def replace_route_table_association(ctx: RequestContext, req: dict) -> dict:
    """Moves a subnet's (or gateway's) association, or the VPC's main one, to another
    table of the VPC; the association gets a new id, as on AWS."""
    with ctx.write() as tx:
        old_table, assoc = _association(tx, ctx, req["AssociationId"])
        new_table = get_owned(tx, ctx, RouteTable, req["RouteTableId"], ROUTE_TABLE)
        if new_table.vpc_id != old_table.vpc_id:
            # Unconfirmed wording.
            raise InvalidParameterValue(
                f"Route table {new_table.id} and association {assoc.id} belong to different networks"
            )
        moved = RouteTableAssociation(id=new_id("rtbassoc"), subnet_id=assoc.subnet_id, main=assoc.main,
                                      gateway_id=assoc.gateway_id)
        old_table.associations.remove(assoc)  # the same object as new_table when they are one table
        new_table.associations.append(moved)
        tx.put(old_table)
        tx.put(new_table)
    return {"NewAssociationId": moved.id, "AssociationState": {"State": "associated"}}
