"""GetSecurityGroupsForVpc: the security groups a network interface in a VPC can use.

Those are the VPC's own groups (vpclab has no VPC sharing and no security-group VPC
associations, so a group is usable in its own VPC only); each is listed with the VPC it
was made in as its PrimaryVpcId.
"""
from __future__ import annotations

from ...model.ec2 import SecurityGroup, Vpc
from ...protocol.dispatch import RequestContext, operation
from ..common.filters import filter_and_page
from ..common.lookup import VPC, get_owned
from ..common.tags import tag_list
from .default_vpc import ensure_default_vpc


def render(group: SecurityGroup) -> dict:
    return {
        "Description": group.description,
        "GroupName": group.group_name,
        "OwnerId": group.account,
        "GroupId": group.id,
        "Tags": tag_list(group.tags) or [],
        "PrimaryVpcId": group.vpc_id,
    }


FILTERS = {
    "group-id": lambda g: g.id,
    "description": lambda g: g.description,
    "group-name": lambda g: g.group_name,
    "owner-id": lambda g: g.account,
    "primary-vpc-id": lambda g: g.vpc_id,
}


@operation("ec2", "GetSecurityGroupsForVpc")
def get_security_groups_for_vpc(ctx: RequestContext, req: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.read() as tx:
        vpc = get_owned(tx, ctx, Vpc, req["VpcId"], VPC)
        groups = sorted(tx.list(SecurityGroup, ctx.account, ctx.region, vpc_id=vpc.id), key=lambda g: g.created)
    page, token = filter_and_page(groups, req.get("Filters"), FILTERS, tags=lambda g: g.tags,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"SecurityGroupForVpcs": [render(g) for g in page], "NextToken": token}
