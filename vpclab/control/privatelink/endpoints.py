"""VPC endpoints (the consumer's side of PrivateLink): Create/Describe/Modify/DeleteVpcEndpoint[s].

An interface endpoint gets one requester-managed ENI per subnet (one subnet per zone,
zones the service has, matched by zone id), DNS names under the service's
`<service-id>.<region>.vpce.amazonaws.com`, and a state:

    acceptance required:  pendingAcceptance --accept--> pending --> available
    otherwise:            pending --> available
    provider rejects:     pendingAcceptance | pending | available --> rejected (ENIs stay, pass nothing)
    consumer deletes:     any --> deleting --> deleted (ENIs removed)

`pending -> available` and `deleting -> deleted` are the data plane's to make once the
ENIs forward (or are gone). In a server without a data plane the lifecycle step below
makes those two transitions after `lifecycle.SETTLE_DELAY`. Both write them through
`model.observed.mark_endpoint_available` / `mark_endpoint_deleted`.

A deleted endpoint stays in DescribeVpcEndpoints as `deleted` for DELETED_VISIBLE_FOR
seconds (clients and Terraform treat `deleted` as gone), and in the provider's
DescribeVpcEndpointConnections until PURGE_AFTER or until the service is deleted.

An endpoint to an AWS service (`model.aws_services`; `common.endpoint_target`) has no
connection and no acceptance, and no provider sees it. As an Interface endpoint it goes
`pending` -> `available` by the same rule as any other; its private DNS is on unless the
request turns it off. A Gateway endpoint (S3, DynamoDB) has no ENIs, subnets or groups:
it is `available` at once and adds a prefix-list route to each of its route tables
(`gateway_routes`).
"""
from __future__ import annotations

import string

from ...model import aws_services
from ...model.ec2 import NetworkInterface, RouteTable, SecurityGroup, Subnet, Vpc
from ...model.elbv2 import LoadBalancer
from ...model.observed import mark_endpoint_available, mark_endpoint_deleted
from ...model.privatelink import Endpoint, EndpointService
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import (
    AwsError,
    InvalidParameter,
    InvalidParameterValue,
    MissingParameter,
)
from ...store import Transaction
from ..common import lifecycle
from ..common.filters import filter_and_page
from ..common.ids import new_id
from ..common.lookup import ENDPOINT, ROUTE_TABLE, SUBNET, VPC, find_owned, get_owned
from ..common.tags import tag_list, tags_from_specs
from ..ec2.addresses import create_network_interface
from ..ec2.default_vpc import ensure_default_vpc
from ..ec2.security_groups import default_group, find_groups
from . import connection_notifications, gateway_routes
from .common import (
    ENDPOINT_REQUESTER_ID,
    Target,
    base_dns_name,
    endpoint_target,
    hosted_zone_id,
    random_lower_alnum,
    subnet_zone_id,
    target_of,
)

ENDPOINT_TYPES = ("Interface", "Gateway", "GatewayLoadBalancer", "Resource", "ServiceNetwork")
IP_ADDRESS_TYPES = ("ipv4", "dualstack", "ipv6")

#: Seconds a deleted endpoint is still listed (as `deleted`) to its owner.
DELETED_VISIBLE_FOR = 60.0
#: Seconds after which a deleted endpoint is forgotten altogether (the provider's list too).
PURGE_AFTER = 3600.0


class DuplicateSubnetsInSameZone(AwsError):
    code = "DuplicateSubnetsInSameZone"


class InvalidState(AwsError):
    code = "InvalidState"


# Rendering -----------------------------------------------------------------------------

def render(tx: Transaction, ep: Endpoint) -> dict:
    """As AWS answers: the list members always present (empty when empty); a Gateway
    endpoint without IpAddressType or DnsOptions."""
    interface = ep.endpoint_type != "Gateway"
    groups = []
    for gid in ep.security_group_ids:
        group = tx.get(SecurityGroup, gid)
        groups.append({"GroupId": gid, "GroupName": group.group_name if group else None})
    return {
        "VpcEndpointId": ep.id,
        "VpcEndpointType": ep.endpoint_type,
        "VpcId": ep.vpc_id,
        "ServiceName": ep.service_name,
        "State": ep.state,
        "PolicyDocument": ep.policy_document,
        "RouteTableIds": ep.route_table_ids,
        "SubnetIds": ep.subnet_ids,
        "Groups": groups,
        "IpAddressType": ep.ip_address_type if interface else None,
        "DnsOptions": ep.dns_options if interface else None,
        "PrivateDnsEnabled": ep.private_dns_enabled,
        "RequesterManaged": ep.requester_managed,
        "NetworkInterfaceIds": ep.network_interface_ids,
        "DnsEntries": ep.dns_entries,
        "CreationTimestamp": ep.created,
        "Tags": tag_list(ep.tags) or [],
        "OwnerId": ep.account,
        "LastError": ep.last_error,
        "ServiceRegion": ep.region,
    }


def dns_entries(ep: Endpoint, target: Target | None, zones: list[str]) -> list[dict]:
    """Regional name first, then one zonal name per zone (by zone name), then the private
    name; none for a Gateway endpoint. The names end in the target's `dns_tail` (the
    service id's for an endpoint service, `<prefix>.<region>.vpce.amazonaws.com` for an
    AWS service) and start with its `dns_stem` (`*.` for S3)."""
    if ep.endpoint_type == "Gateway":
        return []
    zone_id = hosted_zone_id(ep.region)
    star = target.dns_stem if target else ""
    stem = f"{star}{ep.id}-{ep.dns_suffix}"
    tail = target.dns_tail if target else base_dns_name(ep.region, ep.service_id)
    entries = [{"DnsName": f"{stem}.{tail}", "HostedZoneId": zone_id}]
    for az in sorted(zones):
        entries.append({"DnsName": f"{stem}-{az}.{tail}", "HostedZoneId": zone_id})
    if ep.private_dns_enabled and ep.private_dns_name:
        # The private name lives in a private hosted zone vpclab keeps per endpoint.
        entries.append({"DnsName": ep.private_dns_name, "HostedZoneId": private_zone_id(ep.id)})
    return entries


def private_zone_id(endpoint_id: str) -> str:
    """A stable, plausible Route 53 private hosted zone id for an endpoint's private name."""
    alphabet = string.ascii_uppercase + string.digits
    digest = int(endpoint_id.split("-")[-1], 16)
    chars = []
    for _ in range(20):
        digest, rem = divmod(digest, len(alphabet))
        chars.append(alphabet[rem])
    return "Z" + "".join(chars)


def refresh_dns(tx: Transaction, ep: Endpoint) -> None:
    zones = [s.availability_zone for s in (tx.get(Subnet, sid) for sid in ep.subnet_ids) if s]
    ep.dns_entries = dns_entries(ep, target_of(tx, ep), zones)


# Validation ----------------------------------------------------------------------------

def check_subnets(tx: Transaction, ctx: RequestContext, ep: Endpoint, service: Target,
                  subnet_ids: list[str]) -> list[Subnet]:
    """The new subnets of `ep`: the caller's, in its VPC, one per zone, zones the service has."""
    for sid in subnet_ids:
        SUBNET.check(sid)
    subnets = [get_owned(tx, ctx, Subnet, sid, SUBNET) for sid in dict.fromkeys(subnet_ids)]
    offered = set(service.zone_ids)
    taken = {subnet_zone_id(s): s.id for s in (tx.get(Subnet, sid) for sid in ep.subnet_ids) if s}
    for subnet in subnets:
        if subnet.vpc_id != ep.vpc_id:
            raise InvalidParameter(f"The subnet ID '{subnet.id}' does not belong to the VPC '{ep.vpc_id}'.")
        zid = subnet_zone_id(subnet)
        if zid in taken:
            raise DuplicateSubnetsInSameZone(
                f"Found another VPC endpoint subnet in the availability zone of {subnet.id}. "
                "VPC endpoint subnets should be in different availability zones supported by the "
                "VPC endpoint service."
            )
        if zid not in offered:
            raise InvalidParameter(
                f"The VPC endpoint service {service.service_name} does not support the "
                f"availability zone of the subnet: {subnet.id}."
            )
        taken[zid] = subnet.id
    return subnets


def check_private_dns(vpc: Vpc, service: Target, enabled: bool | None) -> bool:
    """Whether private DNS is on, and AWS's InvalidParameter when it cannot be.

    The three messages are AWS's, word for word (as Terraform's and CDK's users quote
    them). Not asked: on for an AWS service that offers a private DNS name (AWS's default,
    which then needs the VPC's DNS attributes like an explicit request); for an endpoint
    service of an account, on only when its name is verified and the VPC resolves it.
    """
    if enabled is None and service.default_private_dns is not None:
        enabled = service.default_private_dns
    if enabled is None:
        return bool(service.private_dns_name) and service.private_dns_verified \
            and vpc.enable_dns_support and vpc.enable_dns_hostnames
    if not enabled:
        return False
    if not service.private_dns_name:
        raise InvalidParameter(
            f"Private DNS can't be enabled because the service {service.service_name} "
            "does not provide a private DNS name."
        )
    if not service.private_dns_verified:
        raise InvalidParameter(
            f"Private DNS can't be enabled because the service {service.service_name} "
            "has not verified the private DNS name."
        )
    if not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
        raise InvalidParameter(
            "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames "
            f"VPC attributes set to true for {vpc.id}"
        )
    return True


def check_ip_address_type(service: Target, ip_type: str | None, subnets: list[Subnet]) -> str:
    supported = service.supported_ip_address_types
    if ip_type is None:
        return "ipv4" if "ipv4" in supported else "ipv6"
    if ip_type not in IP_ADDRESS_TYPES:
        raise InvalidParameterValue(f"Value ({ip_type}) for parameter IpAddressType is invalid.")
    needs = {"ipv4": ["ipv4"], "ipv6": ["ipv6"], "dualstack": ["ipv4", "ipv6"]}[ip_type]
    if any(t not in supported for t in needs):
        raise InvalidParameter(
            f"The VPC endpoint service {service.service_name} does not support the IP address type {ip_type}."
        )
    if "ipv6" in needs and subnets:
        # vpclab subnets have no IPv6 CIDR blocks yet.
        raise InvalidParameter(f"The subnet {subnets[0].id} does not have an IPv6 CIDR block.")
    return ip_type


def check_dns_options(options: dict | None, ip_type: str) -> dict:
    record = (options or {}).get("DnsRecordIpType") or {"ipv4": "ipv4", "ipv6": "ipv6", "dualstack": "dualstack"}[ip_type]
    allowed = {"ipv4": ("ipv4",), "ipv6": ("ipv6",), "dualstack": ("ipv4", "ipv6", "dualstack")}[ip_type]
    if record == "service-defined":
        record = allowed[0]
    if record not in allowed:
        raise InvalidParameter(f"DnsRecordIpType {record} is not valid for the IpAddressType {ip_type}.")
    out = {"DnsRecordIpType": record}
    if options and options.get("PrivateDnsOnlyForInboundResolverEndpoint") is not None:
        out["PrivateDnsOnlyForInboundResolverEndpoint"] = bool(options["PrivateDnsOnlyForInboundResolverEndpoint"])
    return out


def node_addresses(tx: Transaction, service_id: str) -> set[str]:
    """The private IPs of the NLB nodes behind a service.

    An endpoint ENI's address must differ from them: in the node, where the ENI's link
    ends, the node's own address is local, so it could not also stand for the ENI."""
    service = tx.get(EndpointService, service_id)
    out: set[str] = set()
    for arn in (service.network_load_balancer_arns if service else ()):
        lb = tx.get(LoadBalancer, arn)
        out.update(m.private_ip for m in (lb.mappings if lb else ()) if m.private_ip)
    return out


def add_interfaces(tx: Transaction, ctx: RequestContext, ep: Endpoint, subnets: list[Subnet]) -> None:
    avoid = node_addresses(tx, ep.service_id)
    for subnet in subnets:
        eni = create_network_interface(
            tx, ctx, subnet,
            description=f"VPC Endpoint Interface {ep.id}",
            interface_type="vpc_endpoint",
            security_group_ids=ep.security_group_ids,
            requester_managed=True,
            requester_id=ENDPOINT_REQUESTER_ID,
            owner_kind="vpc-endpoint",
            owner_id=ep.id,
            account=ep.account,
            avoid=avoid,
        )
        ep.subnet_ids.append(subnet.id)
        ep.network_interface_ids.append(eni.id)


def interfaces_of(tx: Transaction, ep: Endpoint) -> list[NetworkInterface]:
    return tx.list(NetworkInterface, owner_kind="vpc-endpoint", owner_id=ep.id)


# Create --------------------------------------------------------------------------------

@operation("ec2", "CreateVpcEndpoint")
def create_endpoint(ctx: RequestContext, req: dict) -> dict:
    etype = req.get("VpcEndpointType") or "Gateway"
    if etype not in ENDPOINT_TYPES:
        raise InvalidParameterValue(f"Value ({etype}) for parameter VpcEndpointType is invalid.")
    subnet_ids = req.get("SubnetIds") or [c["SubnetId"] for c in req.get("SubnetConfigurations") or () if c.get("SubnetId")]
    if subnet_ids and etype == "Gateway":
        raise InvalidParameter("Subnet IDs are only supported for Interface and GatewayLoadBalancer type VPC Endpoints.")
    if req.get("SecurityGroupIds") and etype == "Gateway":
        # Unconfirmed wording (the code is AWS's, as for subnets).
        raise InvalidParameter("Security group IDs are only supported for Interface type VPC Endpoints.")
    if req.get("RouteTableIds") and etype != "Gateway":
        raise InvalidParameter("Route table IDs are only supported for Gateway type VPC Endpoint.")
    if not req.get("VpcId"):
        raise MissingParameter("The request must contain the parameter VpcId")
    if not req.get("ServiceName"):
        raise MissingParameter("The request must contain the parameter ServiceName")
    ensure_default_vpc(ctx)
    token = req.get("ClientToken")
    messages: list[dict] = []
    with ctx.write() as tx:
        if token:
            for old in tx.list(Endpoint, ctx.account, ctx.region, client_token=token):
                return {"VpcEndpoint": render(tx, old), "ClientToken": token}
        vpc = get_owned(tx, ctx, Vpc, req["VpcId"], VPC)
        target = endpoint_target(tx, ctx, req["ServiceName"], etype)
        now = ctx.now.timestamp()
        ep = Endpoint(
            id=new_id("vpce"),
            account=ctx.account,
            region=ctx.region,
            created=now,
            tags=tags_from_specs(req.get("TagSpecifications"), "vpc-endpoint"),
            endpoint_type=etype,
            vpc_id=vpc.id,
            service_name=target.service_name,
            service_id=target.service_id,
            service_account=target.account,
            state="pendingAcceptance" if target.acceptance_required else "pending",
            dns_suffix=random_lower_alnum(8),
            policy_document=req.get("PolicyDocument") or default_policy(target, etype),
            state_changed=now,
            connection_id="" if target.aws else new_id("vpce-con"),
            client_token=token or "",
            private_dns_name=target.private_dns_name,
        )
        if etype == "Gateway":
            make_gateway(tx, ctx, ep, target, req.get("RouteTableIds") or [])
        else:
            make_interface(tx, ctx, vpc, ep, target, subnet_ids, req)
        tx.put(ep)
        messages = connection_notifications.collect(tx, ep, "Connect", now)
        out = render(tx, ep)
    connection_notifications.deliver(ctx, messages)
    return {"VpcEndpoint": out, "ClientToken": token}


def default_policy(target: Target, etype: str) -> str | None:
    """AWS's full-access policy for an endpoint to an AWS service made without one;
    vpclab's endpoint services take no policy (VpcEndpointPolicySupported false)."""
    if target.aws is None:
        return None
    return aws_services.GATEWAY_DEFAULT_POLICY if etype == "Gateway" else aws_services.INTERFACE_DEFAULT_POLICY


def make_interface(tx: Transaction, ctx: RequestContext, vpc: Vpc, ep: Endpoint, target: Target,
                   subnet_ids: list[str], req: dict) -> None:
    subnets = check_subnets(tx, ctx, ep, target, subnet_ids)
    group_ids = req.get("SecurityGroupIds")
    if group_ids:
        ep.security_group_ids = [g.id for g in find_groups(tx, ctx, group_ids, vpc_id=vpc.id)]
    else:
        group = default_group(tx, vpc.account, vpc.region, vpc.id)
        ep.security_group_ids = [group.id] if group else []
    ep.ip_address_type = check_ip_address_type(target, req.get("IpAddressType"), subnets)
    ep.dns_options = check_dns_options(req.get("DnsOptions"), ep.ip_address_type)
    ep.dns_record_ip_type = ep.dns_options["DnsRecordIpType"]
    ep.private_dns_enabled = check_private_dns(vpc, target, req.get("PrivateDnsEnabled"))
    if ep.private_dns_enabled:
        check_dns_conflict(tx, ep)
        check_inbound_resolver_only(tx, ep, target, req.get("DnsOptions"))
    add_interfaces(tx, ctx, ep, subnets)
    refresh_dns(tx, ep)


def make_gateway(tx: Transaction, ctx: RequestContext, ep: Endpoint, target: Target, table_ids: list[str]) -> None:
    """No ENIs, no DNS: routes in the tables, and `available` at once, as on AWS."""
    assert target.aws is not None  # only AWS services offer Gateway endpoints in vpclab
    prefix_list = target.aws.prefix_list_id(ep.region)
    tables = gateway_routes.check_route_tables(tx, ctx, ep, prefix_list, table_ids)
    gateway_routes.add_routes(tx, ep, prefix_list, tables)
    ep.state = "available"
    ep.private_dns_name = None
    ep.dns_options = {}
    ep.ip_address_type = "ipv4"


def check_inbound_resolver_only(tx: Transaction, ep: Endpoint, target: Target, options: dict | None) -> None:
    """An Interface endpoint with private DNS to a service that also has a Gateway
    endpoint (S3) answers its private name only for the VPC's inbound resolver endpoints
    unless the request says otherwise (`PrivateDnsOnlyForInboundResolverEndpoint`, AWS's
    default true): instances in the VPC keep reaching the service through the Gateway
    endpoint, which the VPC must then have."""
    if target.aws is None or "Gateway" not in target.aws.types:
        return
    only_inbound = (options or {}).get("PrivateDnsOnlyForInboundResolverEndpoint")
    only_inbound = True if only_inbound is None else bool(only_inbound)
    ep.dns_options["PrivateDnsOnlyForInboundResolverEndpoint"] = only_inbound
    if only_inbound and not tx.list(Endpoint, vpc_id=ep.vpc_id, where=lambda e: e.service_name == ep.service_name
                                    and e.endpoint_type == "Gateway" and e.state not in ("deleting", "deleted")):
        raise InvalidParameter(
            f"To set PrivateDnsOnlyForInboundResolverEndpoint to true, the VPC {ep.vpc_id} must have a "
            "Gateway endpoint for the service."
        )


def check_dns_conflict(tx: Transaction, ep: Endpoint) -> None:
    """AWS's InvalidParameter when another endpoint of the VPC already answers the same
    private DNS name (until it is deleted: a deleting one still holds the name)."""
    for other in tx.list(Endpoint, vpc_id=ep.vpc_id):
        if other.id != ep.id and other.state != "deleted" and other.private_dns_enabled \
                and other.private_dns_name == ep.private_dns_name:
            raise InvalidParameter(
                "private-dns-enabled cannot be set because there is already a conflicting DNS domain "
                f"for {ep.private_dns_name} in the VPC {ep.vpc_id}"
            )


# Describe ------------------------------------------------------------------------------

FILTERS = {
    "service-name": lambda e: e.service_name,
    "vpc-id": lambda e: e.vpc_id,
    "vpc-endpoint-id": lambda e: e.id,
    "vpc-endpoint-state": lambda e: e.state,
    "vpc-endpoint-type": lambda e: e.endpoint_type,
    "ip-address-type": lambda e: e.ip_address_type,
}


def listed(ep: Endpoint, now: float) -> bool:
    return ep.state != "deleted" or now - ep.state_changed < DELETED_VISIBLE_FOR


@operation("ec2", "DescribeVpcEndpoints")
def describe_endpoints(ctx: RequestContext, req: dict) -> dict:
    ids = req.get("VpcEndpointIds")
    now = ctx.now.timestamp()
    with ctx.read() as tx:
        endpoints = [e for e in tx.list(Endpoint, ctx.account, ctx.region) if listed(e, now)]
        endpoints = ENDPOINT.select(endpoints, ids)
        page, token = filter_and_page(endpoints, req.get("Filters"), FILTERS, tags=lambda e: e.tags,
                                      max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
        out = [render(tx, e) for e in page]
    return {"VpcEndpoints": out, "NextToken": token}


# Modify --------------------------------------------------------------------------------

@operation("ec2", "ModifyVpcEndpoint")
def modify_endpoint(ctx: RequestContext, req: dict) -> dict:
    """Subnets, security groups, private DNS and the policy of an Interface endpoint; the
    route tables and the policy of a Gateway one.

    vpclab stores a policy document but does not evaluate it (its endpoint services
    report VpcEndpointPolicySupported false; AWS's handling of a policy given anyway is
    unconfirmed).
    """
    with ctx.write() as tx:
        ep = get_owned(tx, ctx, Endpoint, req["VpcEndpointId"], ENDPOINT)
        if ep.state in ("deleting", "deleted"):
            raise InvalidState(f"VPC endpoint {ep.id} is in state '{ep.state}' and cannot be modified.")
        target = target_of(tx, ep)
        if target is None:
            raise InvalidState(f"The endpoint service of {ep.id} no longer exists.")
        if ep.endpoint_type == "Gateway":
            modify_gateway(tx, ctx, ep, target, req)
        else:
            modify_interface(tx, ctx, ep, target, req)
        if req.get("ResetPolicy"):
            ep.policy_document = default_policy(target, ep.endpoint_type)
        elif req.get("PolicyDocument") is not None:
            ep.policy_document = req["PolicyDocument"]
        tx.put(ep)
    return {"Return": True}


def modify_gateway(tx: Transaction, ctx: RequestContext, ep: Endpoint, target: Target, req: dict) -> None:
    for member in ("AddSubnetIds", "RemoveSubnetIds"):
        if req.get(member):
            raise InvalidParameter("Subnet IDs are only supported for Interface and GatewayLoadBalancer type VPC Endpoints.")
    for member in ("AddSecurityGroupIds", "RemoveSecurityGroupIds"):
        if req.get(member):
            raise InvalidParameter("Security group IDs are only supported for Interface type VPC Endpoints.")
    assert target.aws is not None
    prefix_list = target.aws.prefix_list_id(ep.region)
    remove = list(dict.fromkeys(req.get("RemoveRouteTableIds") or ()))
    for tid in remove:
        # A table deleted since (DeleteRouteTable took it out of the endpoint) is not found.
        get_owned(tx, ctx, RouteTable, tid, ROUTE_TABLE)
    add = [t for t in dict.fromkeys(req.get("AddRouteTableIds") or ()) if t not in ep.route_table_ids]
    tables = gateway_routes.check_route_tables(tx, ctx, ep, prefix_list, add)
    gateway_routes.remove_routes(tx, ep, [t for t in remove if t in ep.route_table_ids])
    gateway_routes.add_routes(tx, ep, prefix_list, tables)


def modify_interface(tx: Transaction, ctx: RequestContext, ep: Endpoint, target: Target, req: dict) -> None:
    if req.get("AddRouteTableIds") or req.get("RemoveRouteTableIds"):
        raise InvalidParameter("Route table IDs are only supported for Gateway type VPC Endpoint.")
    vpc = get_owned(tx, ctx, Vpc, ep.vpc_id, VPC)
    for sid in req.get("RemoveSubnetIds") or ():
        if sid not in ep.subnet_ids:
            raise InvalidParameter(f"The subnet {sid} is not associated with the VPC endpoint {ep.id}.")
        for eni in interfaces_of(tx, ep):
            if eni.subnet_id == sid:
                tx.delete(eni)
                ep.network_interface_ids.remove(eni.id)
        ep.subnet_ids.remove(sid)
    add = [s for s in req.get("AddSubnetIds") or () if s not in ep.subnet_ids]
    add_interfaces(tx, ctx, ep, check_subnets(tx, ctx, ep, target, add))
    groups = list(ep.security_group_ids)
    if req.get("AddSecurityGroupIds"):
        groups += [g.id for g in find_groups(tx, ctx, req["AddSecurityGroupIds"], vpc_id=vpc.id) if g.id not in groups]
    groups = [g for g in groups if g not in (req.get("RemoveSecurityGroupIds") or ())]
    if not groups:
        raise InvalidParameter("A VPC endpoint must have at least one security group.")
    if groups != ep.security_group_ids:
        ep.security_group_ids = groups
        for eni in interfaces_of(tx, ep):
            eni.security_group_ids = list(groups)
            tx.put(eni)
    if "PrivateDnsEnabled" in req:
        ep.private_dns_name = target.private_dns_name
        ep.private_dns_enabled = check_private_dns(vpc, target, bool(req["PrivateDnsEnabled"]))
        if ep.private_dns_enabled:
            check_dns_conflict(tx, ep)
            check_inbound_resolver_only(tx, ep, target, req.get("DnsOptions") or ep.dns_options)
    if req.get("IpAddressType") or req.get("DnsOptions"):
        subnets = [s for s in (tx.get(Subnet, sid) for sid in ep.subnet_ids) if s]
        ep.ip_address_type = check_ip_address_type(target, req.get("IpAddressType") or ep.ip_address_type, subnets)
        ep.dns_options = check_dns_options(req.get("DnsOptions"), ep.ip_address_type)
        ep.dns_record_ip_type = ep.dns_options["DnsRecordIpType"]
    refresh_dns(tx, ep)


# Delete --------------------------------------------------------------------------------

@operation("ec2", "DeleteVpcEndpoints")
def delete_endpoints(ctx: RequestContext, req: dict) -> dict:
    """Moves each endpoint to `deleting` (then `deleted`, its ENIs removed); unknown ids are Unsuccessful."""
    unsuccessful = []
    messages: list[dict] = []
    now = ctx.now.timestamp()
    with ctx.write() as tx:
        for eid in req["VpcEndpointIds"]:
            ep = find_owned(tx, ctx, Endpoint, eid)
            if ep is None or not listed(ep, now):
                unsuccessful.append({"ResourceId": eid, "Error": {
                    "Code": "InvalidVpcEndpoint.NotFound",
                    "Message": f"The VpcEndpoint Id '{eid}' does not exist"}})
                continue
            if ep.state in ("deleting", "deleted"):
                continue  # already on its way: AWS answers success again
            ep.state = "deleting"
            ep.state_changed = now
            gateway_routes.remove_routes(tx, ep, list(ep.route_table_ids))
            tx.put(ep)
            messages += connection_notifications.collect(tx, ep, "Delete", now)
    connection_notifications.deliver(ctx, messages)
    return {"Unsuccessful": unsuccessful}


def settle_endpoints(tx: Transaction, now: float, dataplane: bool) -> None:
    """Without a data plane: pending -> available and deleting -> deleted after SETTLE_DELAY;
    and forget deleted endpoints after PURGE_AFTER."""
    for ep in tx.list(Endpoint, where=lambda e: e.state in ("pending", "deleting", "deleted")):
        due = not dataplane and now >= ep.state_changed + lifecycle.SETTLE_DELAY
        if ep.state == "pending" and due:
            mark_endpoint_available(tx, ep.id, now)
        elif ep.state == "deleting" and due:
            mark_endpoint_deleted(tx, ep.id, now)
        elif ep.state == "deleted" and now >= ep.state_changed + PURGE_AFTER:
            connection_notifications.delete_attached(tx, endpoint_id=ep.id)
            tx.delete(ep)
