"""Elastic IP addresses: AllocateAddress, AssociateAddress, DisassociateAddress,
ReleaseAddress, DescribeAddresses.

An Elastic IP is allocated from the one pool (`public_ips.py`) and kept by its account
until released. Associated, it sits on an ENI (an instance's primary ENI, a plain ENI,
an NLB node's) and replaces the address EC2 had given that ENI; the ENI's `association`
is the record both planes read, and `public_ips.holder` decides whether an allocation
is associated. Only `vpc` addresses exist (EC2-Classic is retired).
"""
from __future__ import annotations

from collections.abc import Callable

from ...model.ec2 import ElasticIp, Instance, InternetGateway, NetworkInterface, Vpc
from ...model.internet import attached_gateway
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterCombination, InvalidParameterValue, MissingParameter
from ...store import Transaction
from ..common.filters import filter_and_page
from ..common.ids import new_id
from ..common.lookup import ALLOCATION, ENI, INSTANCE, IdKind, find_owned, get_owned
from ..common.tags import tag_list, tags_from_specs
from .public_ips import allocate_public_ip, associate, dissociate, holder, instance_of

#: `vpc-max-elastic-ips` of DescribeAccountAttributes: addresses per account and region.
MAX_ELASTIC_IPS = 5

ASSOCIATION = IdKind("eipassoc", "InvalidAssociationID", "association ID")


def _limit_reached() -> AwsError:
    return AwsError("The maximum number of addresses has been reached.", code="AddressLimitExceeded")


def render(tx: Transaction, eip: ElasticIp) -> dict:
    """An `Address`: association fields only while an ENI carries the address."""
    out: dict = {
        "AllocationId": eip.id,
        "PublicIp": eip.public_ip,
        "Domain": eip.domain,
        "PublicIpv4Pool": "amazon",
        "NetworkBorderGroup": eip.network_border_group,
        "Tags": tag_list(eip.tags),
    }
    eni = holder(tx, eip)
    if eni is not None:
        out.update({
            "AssociationId": eip.association_id,
            "NetworkInterfaceId": eni.id,
            "NetworkInterfaceOwnerId": eni.account,
            "PrivateIpAddress": eni.private_ip,
            "InstanceId": instance_of(eni),
        })
    return out


# --- AllocateAddress -------------------------------------------------------------------------

@operation("ec2", "AllocateAddress")
def allocate_address(ctx: RequestContext, req: dict) -> dict:
    domain = req.get("Domain") or "vpc"
    if domain != "vpc":
        raise InvalidParameterValue(f"Invalid value '{domain}' for domain: EC2-Classic is retired; use 'vpc'.")
    if req.get("Address") or req.get("CustomerOwnedIpv4Pool") or req.get("IpamPoolId"):
        raise InvalidParameterValue("vpclab allocates Elastic IP addresses from Amazon's pool only.")
    pool = req.get("PublicIpv4Pool")
    if pool not in (None, "amazon"):
        raise InvalidParameterValue(f"The public IPv4 pool '{pool}' does not exist.")
    group = req.get("NetworkBorderGroup") or ctx.region
    if group != ctx.region:
        raise InvalidParameterValue(f"Invalid network border group '{group}'.")
    for spec in req.get("TagSpecifications") or ():
        rtype = spec.get("ResourceType")
        if rtype is not None and rtype != "elastic-ip":
            raise InvalidParameterValue(f"'{rtype}' is not a valid taggable resource type for this operation.")
    tags = tags_from_specs(req.get("TagSpecifications"), "elastic-ip")
    with ctx.write() as tx:
        if len(tx.list(ElasticIp, ctx.account, ctx.region)) >= MAX_ELASTIC_IPS:
            raise _limit_reached()
        eip = ElasticIp(id=new_id("eipalloc"), account=ctx.account, region=ctx.region,
                        created=ctx.now.timestamp(), tags=tags, public_ip=allocate_public_ip(tx),
                        domain="vpc", network_border_group=ctx.region)
        tx.put(eip)
    return {"PublicIp": eip.public_ip, "AllocationId": eip.id, "PublicIpv4Pool": "amazon",
            "NetworkBorderGroup": eip.network_border_group, "Domain": eip.domain}


# --- Lookups ---------------------------------------------------------------------------------

def get_allocation(tx: Transaction, ctx: RequestContext, allocation_id: str | None,
                   public_ip: str | None = None) -> ElasticIp:
    """The caller's Elastic IP by allocation id (or, failing that, by its address)."""
    if allocation_id:
        return get_owned(tx, ctx, ElasticIp, allocation_id, ALLOCATION)
    if public_ip:
        found = tx.list(ElasticIp, ctx.account, ctx.region, public_ip=public_ip)
        if not found:
            raise AwsError(f"Address '{public_ip}' not found.", code="InvalidAddress.NotFound")
        return found[0]
    raise MissingParameter("The request must contain the parameter AllocationId")


def _target(tx: Transaction, ctx: RequestContext, req: dict) -> NetworkInterface:
    """The ENI AssociateAddress puts the address on: the instance's primary ENI, or the
    one named (at its primary private address, the one vpclab gives an ENI)."""
    instance_id, eni_id = req.get("InstanceId"), req.get("NetworkInterfaceId")
    if instance_id and eni_id:
        raise InvalidParameterCombination(
            "You may specify either an instance ID or a network interface ID, but not both.")
    if instance_id:
        inst = get_owned(tx, ctx, Instance, instance_id, INSTANCE)
        if inst.state in ("shutting-down", "terminated") or not inst.network_interface_id:
            raise AwsError(f"The instance '{inst.id}' is not in a valid state for this operation.",
                           code="IncorrectInstanceState")
        eni = tx.get(NetworkInterface, inst.network_interface_id)
        if eni is None:
            raise AwsError(f"The instance '{inst.id}' is not in a valid state for this operation.",
                           code="IncorrectInstanceState")
    elif eni_id:
        eni = get_owned(tx, ctx, NetworkInterface, eni_id, ENI)
        if eni.requester_managed:
            raise AwsError("You do not have permission to access the specified resource.", code="AuthFailure")
    else:
        raise MissingParameter("Either an instance ID or a network interface ID must be specified.")
    private_ip = req.get("PrivateIpAddress")
    if private_ip and private_ip != eni.private_ip:
        raise InvalidParameterValue(
            f"The private IP address '{private_ip}' is not associated with the network interface '{eni.id}'.")
    return eni


def check_gateway(tx: Transaction, vpc_id: str) -> None:
    """AWS's refusal to put a public address where the VPC has no internet gateway."""
    if attached_gateway(tx.list(InternetGateway), vpc_id) is None:
        raise AwsError(f"Network {vpc_id} is not attached to any internet gateway", code="Gateway.NotAttached")


# --- Associate / Disassociate / Release ------------------------------------------------------

@operation("ec2", "AssociateAddress")
def associate_address(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        eip = get_allocation(tx, ctx, req.get("AllocationId"), req.get("PublicIp"))
        eni = _target(tx, ctx, req)
        check_gateway(tx, eni.vpc_id)
        current = holder(tx, eip)
        if current is not None and current.id != eni.id and not req.get("AllowReassociation"):
            raise AwsError(f"resource {eip.id} is already associated with associate-id {eip.association_id}",
                           code="Resource.AlreadyAssociated")
        if current is not None and current.requester_managed and current.id != eni.id:
            raise AwsError("You do not have permission to access the specified resource.", code="AuthFailure")
        association_id = associate(tx, eip, eni)
    return {"AssociationId": association_id}


def _by_association(tx: Transaction, ctx: RequestContext, association_id: str | None,
                    public_ip: str | None) -> ElasticIp:
    if association_id:
        ASSOCIATION.check(association_id)
        found = [e for e in tx.list(ElasticIp, ctx.account, ctx.region, association_id=association_id)
                 if holder(tx, e) is not None]
        if not found:
            raise ASSOCIATION.not_found(association_id)
        return found[0]
    if public_ip:
        eip = get_allocation(tx, ctx, None, public_ip)
        if holder(tx, eip) is None:
            raise AwsError(f"Address '{public_ip}' is not associated.", code="InvalidAssociationID.NotFound")
        return eip
    raise MissingParameter("The request must contain the parameter AssociationId")


@operation("ec2", "DisassociateAddress")
def disassociate_address(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        eip = _by_association(tx, ctx, req.get("AssociationId"), req.get("PublicIp"))
        eni = holder(tx, eip)
        if eni is not None and eni.requester_managed:
            # An NLB node's address goes with the NLB.
            raise AwsError("You do not have permission to access the specified resource.", code="AuthFailure")
        dissociate(tx, eip, renew=True)
    return {}


def _in_default_vpc(tx: Transaction, eni: NetworkInterface) -> bool:
    vpc = tx.get(Vpc, eni.vpc_id)
    return vpc is not None and vpc.is_default


@operation("ec2", "ReleaseAddress")
def release_address(ctx: RequestContext, req: dict) -> dict:
    """EC2's rule: an associated address in the default VPC is disassociated with the
    release; in any other VPC it must be disassociated first (InvalidIPAddress.InUse)."""
    if req.get("PublicIp") and not req.get("AllocationId"):
        raise InvalidParameterValue("You must specify an allocation id when releasing a VPC elastic IP address")
    with ctx.write() as tx:
        eip = get_allocation(tx, ctx, req.get("AllocationId"))
        eni = holder(tx, eip)
        if eni is not None:
            if eni.requester_managed or not _in_default_vpc(tx, eni):
                raise AwsError(f"Address {eip.public_ip} is in use.", code="InvalidIPAddress.InUse")
            dissociate(tx, eip, renew=True)
            eip = tx.get(ElasticIp, eip.id) or eip
        tx.delete(eip)
    return {}


# --- DescribeAddresses -----------------------------------------------------------------------

def _filters(tx: Transaction) -> dict[str, Callable[[ElasticIp], object]]:
    def field(key: str) -> Callable[[ElasticIp], object]:
        return lambda e: render(tx, e).get(key)

    return {
        "allocation-id": lambda e: e.id,
        "association-id": field("AssociationId"),
        "domain": lambda e: e.domain,
        "instance-id": field("InstanceId"),
        "network-border-group": lambda e: e.network_border_group,
        "network-interface-id": field("NetworkInterfaceId"),
        "network-interface-owner-id": field("NetworkInterfaceOwnerId"),
        "private-ip-address": field("PrivateIpAddress"),
        "public-ip": lambda e: e.public_ip,
        "public-ipv4-pool": lambda e: "amazon",
    }


@operation("ec2", "DescribeAddresses")
def describe_addresses(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        eips = sorted(tx.list(ElasticIp, ctx.account, ctx.region), key=lambda e: (e.created, e.id))
        eips = ALLOCATION.select(eips, req.get("AllocationIds"))
        wanted = req.get("PublicIps")
        if wanted:
            have = {e.public_ip for e in eips}
            missing = [ip for ip in wanted if ip not in have]
            if missing:
                raise AwsError(f"Address '{missing[0]}' not found.", code="InvalidAddress.NotFound")
            eips = [e for e in eips if e.public_ip in set(wanted)]
        chosen, _ = filter_and_page(eips, req.get("Filters"), _filters(tx), tags=lambda e: e.tags)
        out = [render(tx, e) for e in chosen]
    return {"Addresses": out}


def find_allocation(tx: Transaction, ctx: RequestContext, allocation_id: str) -> ElasticIp | None:
    """The caller's Elastic IP `allocation_id`, or None (another account's is as missing)."""
    return find_owned(tx, ctx, ElasticIp, allocation_id)
