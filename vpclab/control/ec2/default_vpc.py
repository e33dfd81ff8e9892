"""The default VPC AWS gives every account in every region, made on first use.

172.31.0.0/16 with a default /20 subnet per zone, the default security group, DNS
support and hostnames on, an attached internet gateway and a main route table with
`local` and `0.0.0.0/0 -> igw-…`, as AWS makes it. It is made once per (account, region):
a user who deletes it (or its gateway) keeps it deleted.

The first use is also where VPCs stored without route tables get theirs
(`stored_routes.complete_routing`), so that a state directory made before them keeps
working.
"""
from __future__ import annotations

from ...model.ec2 import AccountRegion, Subnet, Vpc
from ...protocol.dispatch import RequestContext
from ...store import Transaction
from ..common.ids import new_id
from .regions import zones
from .stored_routes import complete_routing, make_vpc_routing, vpcs_without_main_table
from .stored_rules import make_default_group

DEFAULT_VPC_CIDR = "172.31.0.0/16"


def ensure_default_vpc(ctx: RequestContext) -> str | None:
    """The id of the caller's default VPC in its region, making it on first use."""
    key = f"{ctx.account}:{ctx.region}"
    zones(ctx.region)  # refuses an unknown region before anything is stored
    with ctx.store.read() as tx:
        record = tx.get(AccountRegion, key)
        # Settled: the default VPC was made and every VPC has its main route table.
        if (record is not None and record.initialized
                and not vpcs_without_main_table(tx, ctx.account, ctx.region)):
            return record.default_vpc_id
    # Outside the request's dry-run: the default VPC exists whether or not it was asked.
    with ctx.store.write() as tx:
        record = tx.get(AccountRegion, key)
        if record is not None and record.initialized:
            vpc_id = record.default_vpc_id
        else:
            vpc_id = create_default_vpc(tx, ctx.account, ctx.region, ctx.now.timestamp())
            tx.put(AccountRegion(id=key, account=ctx.account, region=ctx.region,
                                 default_vpc_id=vpc_id, initialized=True))
        complete_routing(tx, ctx.account, ctx.region, ctx.now.timestamp())
        return vpc_id


def create_default_vpc(tx: Transaction, account: str, region: str, now: float) -> str:
    vpc = Vpc(
        id=new_id("vpc"),
        account=account,
        region=region,
        created=now,
        cidr_block=DEFAULT_VPC_CIDR,
        cidr_association_id=new_id("vpc-cidr-assoc"),
        is_default=True,
        dhcp_options_id=new_id("dopt"),
        enable_dns_support=True,
        enable_dns_hostnames=True,
    )
    tx.put(vpc)
    for zone in zones(region):
        tx.put(Subnet(
            id=new_id("subnet"),
            account=account,
            region=region,
            created=now,
            vpc_id=vpc.id,
            cidr_block=zone.default_cidr,
            availability_zone=zone.name,
            availability_zone_id=zone.zone_id,
            default_for_az=True,
            map_public_ip_on_launch=True,
        ))
    tx.put(make_default_group(account, region, vpc.id, now))
    make_vpc_routing(tx, vpc, now)
    return vpc.id
