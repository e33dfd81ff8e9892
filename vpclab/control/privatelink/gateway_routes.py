"""Gateway endpoints' routes: in each route table of the endpoint, one route that sends
the service's prefix list to the endpoint, as AWS adds it.

DescribeRouteTables shows it as `DestinationPrefixListId pl-…`, `GatewayId vpce-…`,
Origin `CreateRoute`, State `active`. The endpoint's RouteTableIds and these routes change
together, here only: CreateVpcEndpoint, ModifyVpcEndpoint (Add/RemoveRouteTableIds) and
DeleteVpcEndpoints. (DeleteRouteTable takes the table's id out of the endpoints that
name it, in the route-table area.) vpclab carries no traffic along them: S3 and DynamoDB
are not emulated.
"""
from __future__ import annotations

from ...model.ec2 import RouteEntry, RouteTable
from ...model.privatelink import Endpoint
from ...protocol.dispatch import RequestContext
from ...protocol.errors import AwsError, InvalidParameter
from ...store import Transaction
from ..common.lookup import ROUTE_TABLE, get_owned


class RouteAlreadyExists(AwsError):
    code = "RouteAlreadyExists"


def check_route_tables(tx: Transaction, ctx: RequestContext, ep: Endpoint, prefix_list_id: str,
                       table_ids: list[str]) -> list[RouteTable]:
    """The caller's route tables named by `table_ids`, in the endpoint's VPC, without a
    route for the prefix list yet (AWS's RouteAlreadyExists: another endpoint to the same
    service already routes it there)."""
    for tid in table_ids:
        ROUTE_TABLE.check(tid)
    tables = [get_owned(tx, ctx, RouteTable, tid, ROUTE_TABLE) for tid in dict.fromkeys(table_ids)]
    for table in tables:
        if table.vpc_id != ep.vpc_id:
            # Unconfirmed wording; the code is AWS's for a table of another VPC.
            raise InvalidParameter(f"The route table {table.id} does not belong to the VPC {ep.vpc_id}.")
        if any(r.destination_prefix_list_id == prefix_list_id for r in table.routes):
            raise RouteAlreadyExists(
                f"route table {table.id} already has a route with destination-prefix-list-id {prefix_list_id}"
            )
    return tables


def add_routes(tx: Transaction, ep: Endpoint, prefix_list_id: str, tables: list[RouteTable]) -> None:
    for table in tables:
        table.routes.append(RouteEntry(destination_prefix_list_id=prefix_list_id, gateway_id=ep.id,
                                       origin="CreateRoute"))
        tx.put(table)
        if table.id not in ep.route_table_ids:
            ep.route_table_ids.append(table.id)


def remove_routes(tx: Transaction, ep: Endpoint, table_ids: list[str]) -> None:
    """Take the endpoint's route out of each of `table_ids` (and the ids out of the endpoint)."""
    for tid in table_ids:
        table = tx.get(RouteTable, tid)
        if table is not None:
            table.routes = [r for r in table.routes if r.gateway_id != ep.id]
            tx.put(table)
        if tid in ep.route_table_ids:
            ep.route_table_ids.remove(tid)
