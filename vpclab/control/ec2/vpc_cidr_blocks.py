"""A VPC's IPv4 CIDR blocks: AssociateVpcCidrBlock, DisassociateVpcCidrBlock, and the
`CidrBlockAssociationSet` DescribeVpcs shows (primary first).

AWS's rules for a secondary block (VPC user guide, "VPC CIDR blocks"): /16 to /28; at
most `MAX_BLOCKS` blocks, the primary included (the default quota "IPv4 CIDR blocks per
VPC"); no overlap with a block the VPC has; and, by the table "IPv4 CIDR block
association restrictions", a block from a private range (10.0.0.0/8, 172.16.0.0/12,
192.168.0.0/16, 198.19.0.0/16) only when the primary block is in that same range, while
100.64.0.0/10 and publicly routable blocks are allowed whatever the primary; and no block
the same as or larger than the destination of a route in one of the VPC's route tables
(a /25 may be added beside a route to a /24, not the /24 or a /16 around it). The primary
block cannot be disassociated, nor a block a subnet lies in.

Each association gets a local route in every route table of the VPC while it is
associated, as AWS adds one. The answers say `associating` / `disassociating`, as AWS's
do; vpclab reaches `associated` / `disassociated` at once (DescribeVpcs shows those), and a
disassociated block stays listed for `DISASSOCIATED_VISIBLE_FOR`, as AWS keeps showing it
for a while (Terraform reads `disassociated` as gone).
"""
from __future__ import annotations

import ipaddress

from ...model.ec2 import RouteEntry, RouteTable, Subnet, Vpc, VpcCidrBlock
from ...model.internet import LOCAL
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterValue, MissingParameter, error
from ...store import Transaction
from ..common.ids import new_id
from ..common.ipv6 import VPC_IPV6, refuse_ipv6
from ..common.lookup import VPC, get_owned

#: The default quota of IPv4 CIDR blocks per VPC, the primary included.
MAX_BLOCKS = 5

#: How long DescribeVpcs keeps showing a disassociated block.
DISASSOCIATED_VISIBLE_FOR = 3600.0

#: Ranges from which a secondary block may come only when the primary is in the same one.
RESTRICTED_RANGES = tuple(ipaddress.IPv4Network(n) for n in
                          ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "198.19.0.0/16"))


def parse_cidr(value: str, param: str = "cidrBlock") -> ipaddress.IPv4Network:
    """An IPv4 CIDR block a request gives (host bits may be set, as AWS accepts)."""
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        net = None
    if net is None or "/" not in value:
        raise InvalidParameterValue(
            f"Value ({value}) for parameter {param} is invalid. This is not a valid CIDR block."
        )
    return net


def check_vpc_cidr_size(net: ipaddress.IPv4Network, cidr: str) -> None:
    """A VPC's blocks are /16 to /28."""
    if not 16 <= net.prefixlen <= 28:
        raise AwsError(f"The CIDR '{cidr}' is invalid.", code="InvalidVpc.Range")


def association_view(association_id: str, cidr_block: str, state: str) -> dict:
    return {"AssociationId": association_id, "CidrBlock": cidr_block, "CidrBlockState": {"State": state}}


def association_set(vpc: Vpc) -> list[dict]:
    """`CidrBlockAssociationSet`: the primary block's association, then the others'."""
    return [association_view(vpc.cidr_association_id, vpc.cidr_block, "associated")] + [
        association_view(b.association_id, b.cidr_block, b.state) for b in vpc.secondary_cidr_blocks]


def association_ids(vpc: Vpc) -> list[str]:
    return [vpc.cidr_association_id] + [b.association_id for b in vpc.secondary_cidr_blocks]


def association_cidrs(vpc: Vpc) -> list[str]:
    return [vpc.cidr_block] + [b.cidr_block for b in vpc.secondary_cidr_blocks]


def association_states(vpc: Vpc) -> list[str]:
    return ["associated"] + [b.state for b in vpc.secondary_cidr_blocks]


def _restricted_range(net: ipaddress.IPv4Network) -> ipaddress.IPv4Network | None:
    return next((r for r in RESTRICTED_RANGES if net.subnet_of(r)), None)


def _check_routes(tx: Transaction, vpc: Vpc, net: ipaddress.IPv4Network, cidr: str) -> None:
    for table in tx.list(RouteTable, vpc_id=vpc.id):
        for route in table.routes:
            if route.gateway_id == LOCAL or not route.destination_cidr:
                continue
            if parse_cidr(route.destination_cidr).subnet_of(net):
                # The rule is the VPC user guide's; the wording is vpclab's (unconfirmed).
                raise AwsError(f"The CIDR '{cidr}' is the same as or larger than the destination "
                               f"{route.destination_cidr} of a route in route table {table.id}.",
                               code="InvalidVpc.Range")


def _check_allowed(vpc: Vpc, net: ipaddress.IPv4Network, cidr: str) -> None:
    check_vpc_cidr_size(net, cidr)
    restricted = _restricted_range(net)
    if restricted is not None and restricted != _restricted_range(parse_cidr(vpc.cidr_block)):
        raise AwsError(
            f"The CIDR '{cidr}' is restricted. Use a CIDR from the same private address range as the current "
            "VPC CIDR, or use a publicly-routable CIDR. For additional restrictions, see "
            "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html",
            code="InvalidVpc.Range")
    blocks = vpc.ipv4_cidr_blocks()
    if any(net.overlaps(parse_cidr(b)) for b in blocks):
        # The code is AWS's for a block it refuses; the wording is vpclab's (unconfirmed).
        raise AwsError(f"The CIDR '{cidr}' conflicts with another CIDR block of the VPC '{vpc.id}'.",
                       code="InvalidVpc.Range")
    if len(blocks) >= MAX_BLOCKS:
        raise AwsError(f"This network '{vpc.id}' has met its maximum number of allowed CIDRs: {MAX_BLOCKS}",
                       code="CidrLimitExceeded")


def _prune(vpc: Vpc, now: float) -> None:
    vpc.secondary_cidr_blocks = [b for b in vpc.secondary_cidr_blocks
                                 if b.state != "disassociated" or now - b.since <= DISASSOCIATED_VISIBLE_FOR]


def _set_local_route(tx: Transaction, vpc: Vpc, cidr: str, present: bool) -> None:
    """Add (or remove) the `local` route for `cidr` in every route table of `vpc`."""
    for table in tx.list(RouteTable, vpc_id=vpc.id):
        has = any(r.destination_cidr == cidr and r.gateway_id == LOCAL for r in table.routes)
        if present and not has:
            table.routes.append(RouteEntry(destination_cidr=cidr, gateway_id=LOCAL, origin="CreateRouteTable"))
        elif not present and has:
            table.routes = [r for r in table.routes if not (r.destination_cidr == cidr and r.gateway_id == LOCAL)]
        else:
            continue
        tx.put(table)


@operation("ec2", "AssociateVpcCidrBlock")
def associate_vpc_cidr_block(ctx: RequestContext, req: dict) -> dict:
    refuse_ipv6(req, VPC_IPV6)
    if req.get("Ipv4IpamPoolId") is not None:
        raise error("InvalidParameterValue",
                    f"Value ({req['Ipv4IpamPoolId']}) for parameter ipv4IpamPoolId is invalid. vpclab has no IPAM.")
    cidr = req.get("CidrBlock")
    if cidr is None:
        raise MissingParameter("Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.")
    net = parse_cidr(cidr)
    now = ctx.now.timestamp()
    with ctx.write() as tx:
        vpc = get_owned(tx, ctx, Vpc, req["VpcId"], VPC)
        _check_allowed(vpc, net, cidr)
        _check_routes(tx, vpc, net, cidr)
        _prune(vpc, now)
        block = VpcCidrBlock(association_id=new_id("vpc-cidr-assoc"), cidr_block=str(net), since=now)
        vpc.secondary_cidr_blocks.append(block)
        tx.put(vpc)
        _set_local_route(tx, vpc, block.cidr_block, present=True)
    return {"VpcId": vpc.id, "CidrBlockAssociation": association_view(block.association_id, block.cidr_block,
                                                                       "associating")}


def _association_not_found(association_id: str) -> AwsError:
    return AwsError(f"The vpc CIDR block association ID '{association_id}' does not exist",
                    code="InvalidVpcCidrBlockAssociationID.NotFound")


@operation("ec2", "DisassociateVpcCidrBlock")
def disassociate_vpc_cidr_block(ctx: RequestContext, req: dict) -> dict:
    association_id = req.get("AssociationId")
    if not association_id:
        raise MissingParameter("The request must contain the parameter associationId")
    now = ctx.now.timestamp()
    with ctx.write() as tx:
        vpcs = tx.list(Vpc, ctx.account, ctx.region, where=lambda v: association_id in association_ids(v))
        if not vpcs:
            raise _association_not_found(association_id)
        vpc = vpcs[0]
        if association_id == vpc.cidr_association_id:
            raise AwsError(f"The vpc CIDR block with association ID {association_id} may not be disassociated. "
                           "It is the primary IPv4 CIDR block of the VPC", code="OperationNotPermitted")
        block = next(b for b in vpc.secondary_cidr_blocks if b.association_id == association_id)
        if block.state != "associated":
            raise _association_not_found(association_id)
        net = parse_cidr(block.cidr_block)
        if tx.list(Subnet, vpc_id=vpc.id, where=lambda s: parse_cidr(s.cidr_block).subnet_of(net)):
            raise AwsError(f"The vpc {vpc.id} currently has a subnet within CIDR block {block.cidr_block}",
                           code="InvalidCidrBlock.InUse")
        block.state, block.since = "disassociated", now
        tx.put(vpc)
        _set_local_route(tx, vpc, block.cidr_block, present=False)
    return {"VpcId": vpc.id, "CidrBlockAssociation": association_view(block.association_id, block.cidr_block,
                                                                       "disassociating")}
