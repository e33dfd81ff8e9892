"""Route tables and internet gateways as AWS makes them unasked.

Every VPC has exactly one main route table, made with it and deleted with it; the
default VPC also has an attached internet gateway that its main table sends 0.0.0.0/0
to. The default VPC, CreateVpc and the route-table API build them here, so that none
imports another's handlers; `complete_routing` gives VPCs stored without them (a state
directory older than route tables) what they would have had.
"""
from __future__ import annotations

from ...model.ec2 import (
    InternetGateway,
    RouteEntry,
    RouteTable,
    RouteTableAssociation,
    Vpc,
)
from ...model.internet import LOCAL, attached_gateway, main_table
from ...store import Transaction
from ..common.ids import new_id

#: Where the default VPC's main table sends traffic for the internet.
INTERNET = "0.0.0.0/0"


def make_route_table(vpc: Vpc, now: float, *, main: bool = False,
                     tags: dict[str, str] | None = None) -> RouteTable:
    """A new table of `vpc` with a `local` route per associated IPv4 block; the VPC's
    main one if `main`."""
    return RouteTable(
        id=new_id("rtb"),
        account=vpc.account,
        region=vpc.region,
        created=now,
        tags=dict(tags or {}),
        vpc_id=vpc.id,
        routes=[RouteEntry(destination_cidr=cidr, gateway_id=LOCAL, origin="CreateRouteTable")
                for cidr in vpc.ipv4_cidr_blocks()],
        associations=[RouteTableAssociation(id=new_id("rtbassoc"), main=True)] if main else [],
    )


def make_internet_gateway(account: str, region: str, now: float, *, vpc_id: str | None = None,
                          tags: dict[str, str] | None = None) -> InternetGateway:
    """A new internet gateway, attached to `vpc_id` if given."""
    return InternetGateway(id=new_id("igw"), account=account, region=region, created=now,
                           tags=dict(tags or {}), vpc_id=vpc_id)


def make_vpc_routing(tx: Transaction, vpc: Vpc, now: float) -> RouteTable:
    """Store what AWS makes with `vpc`: its main route table, and for the default VPC an
    attached internet gateway with the main table's route to it."""
    table = make_route_table(vpc, now, main=True)
    if vpc.is_default:
        igw = attached_gateway(tx.list(InternetGateway, vpc_id=vpc.id), vpc.id)
        if igw is None:
            igw = make_internet_gateway(vpc.account, vpc.region, now, vpc_id=vpc.id)
            tx.put(igw)
        table.routes.append(RouteEntry(destination_cidr=INTERNET, gateway_id=igw.id, origin="CreateRoute"))
    tx.put(table)
    return table


def vpcs_without_main_table(tx: Transaction, account: str, region: str) -> list[Vpc]:
    """The caller's VPCs that have no main route table (stored before route tables were)."""
    tables = tx.list(RouteTable, account, region)
    return [v for v in tx.list(Vpc, account, region) if main_table(tables, v.id) is None]


def complete_routing(tx: Transaction, account: str, region: str, now: float) -> None:
    """Give each VPC without a main route table the routing it would have been made with.

    A VPC made by this version always has one (DeleteVpc removes it with the VPC, and
    the main association only ever moves between tables of the VPC), so this changes only
    VPCs stored by a version without route tables, and only once."""
    for vpc in vpcs_without_main_table(tx, account, region):
        make_vpc_routing(tx, vpc, now)
