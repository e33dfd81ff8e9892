"""The provider's view of the endpoints connected to its services.

AcceptVpcEndpointConnections, RejectVpcEndpointConnections, DescribeVpcEndpointConnections.
A connection is the consumer's endpoint seen from the service: only the service's owner
accepts, rejects or lists them (anyone else gets InvalidVpcEndpointServiceId.NotFound).
Rejected and deleted connections stay listed.
"""
from __future__ import annotations

from ...model.privatelink import CONNECTED_STATES, Endpoint, EndpointService
from ...protocol.dispatch import RequestContext, operation
from ...store import Transaction
from ..common.filters import filter_and_page
from ..common.lookup import SERVICE, get_owned
from . import connection_notifications
from .common import connections_of

#: From which states the provider may accept or reject a connection. A rejected one may be
#: accepted again (its ENIs stayed), as the console offers.
ACCEPTABLE = ("pendingAcceptance", "rejected")
REJECTABLE = CONNECTED_STATES


def render(ep: Endpoint, service: EndpointService) -> dict:
    return {
        "ServiceId": service.id,
        "VpcEndpointId": ep.id,
        "VpcEndpointOwner": ep.account,
        "VpcEndpointState": ep.state,
        "CreationTimestamp": ep.created,
        "DnsEntries": ep.dns_entries,
        "NetworkLoadBalancerArns": service.network_load_balancer_arns,
        "IpAddressType": ep.ip_address_type,
        "VpcEndpointConnectionId": ep.connection_id,
        "VpcEndpointRegion": ep.region,
    }


def _error(eid: str, code: str, message: str) -> dict:
    return {"ResourceId": eid, "Error": {"Code": code, "Message": message}}


def _decide(ctx: RequestContext, req: dict, allowed: tuple[str, ...], new_state: str, event: str) -> dict:
    unsuccessful = []
    messages: list[dict] = []
    now = ctx.now.timestamp()
    with ctx.write() as tx:
        service = get_owned(tx, ctx, EndpointService, req["ServiceId"], SERVICE)
        for eid in req["VpcEndpointIds"]:
            ep = tx.get(Endpoint, eid)
            if ep is None or ep.service_id != service.id or ep.state == "deleted":
                unsuccessful.append(_error(eid, "InvalidVpcEndpoint.NotFound",
                                           f"The VpcEndpoint Id '{eid}' does not exist"))
                continue
            if ep.state not in allowed:
                unsuccessful.append(_error(
                    eid, "InvalidState",
                    f"Endpoint {eid} is in state '{ep.state}' and cannot be moved to '{new_state}'."))
                continue
            ep.state = new_state
            ep.state_changed = now
            tx.put(ep)
            messages += connection_notifications.collect(tx, ep, event, now)
    connection_notifications.deliver(ctx, messages)
    return {"Unsuccessful": unsuccessful}


@operation("ec2", "AcceptVpcEndpointConnections")
def accept_connections(ctx: RequestContext, req: dict) -> dict:
    """pendingAcceptance (or rejected) -> pending; `available` follows once the endpoint forwards."""
    return _decide(ctx, req, ACCEPTABLE, "pending", "Accept")


@operation("ec2", "RejectVpcEndpointConnections")
def reject_connections(ctx: RequestContext, req: dict) -> dict:
    """-> rejected. The endpoint's ENIs stay (the consumer deletes the endpoint) but pass nothing."""
    return _decide(ctx, req, REJECTABLE, "rejected", "Reject")


FILTERS = {
    "service-id": lambda c: c[1].id,
    "vpc-endpoint-owner": lambda c: c[0].account,
    "vpc-endpoint-state": lambda c: c[0].state,
    "vpc-endpoint-id": lambda c: c[0].id,
    "ip-address-type": lambda c: c[0].ip_address_type,
}


def _connections(tx: Transaction, ctx: RequestContext) -> list[tuple[Endpoint, EndpointService]]:
    out = []
    for service in tx.list(EndpointService, ctx.account, ctx.region):
        for ep in sorted(connections_of(tx, service), key=lambda e: e.created):
            out.append((ep, service))
    return out


@operation("ec2", "DescribeVpcEndpointConnections")
def describe_connections(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        items = _connections(tx, ctx)
    page, token = filter_and_page(items, req.get("Filters"), FILTERS,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"VpcEndpointConnections": [render(ep, svc) for ep, svc in page], "NextToken": token}
