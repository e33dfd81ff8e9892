"""Security-group rules as the store keeps them, and the rules AWS writes itself.

`make_rule` is the one constructor of a new stored rule (`model.ec2.SecurityGroupRule`,
with a fresh id): the rule API builds what a request asks for with it, and this module builds
what AWS puts in a group unasked, so the default VPC, CreateVpc and CreateSecurityGroup
all import it without importing each other's handlers.
"""
from __future__ import annotations

from ...model.ec2 import SecurityGroup, SecurityGroupRule
from ..common.ids import new_id


def make_rule(egress: bool, protocol: str, from_port: int, to_port: int, *, cidr_ipv4: str | None = None,
              cidr_ipv6: str | None = None, prefix_list_id: str | None = None, group_id: str | None = None,
              group_owner: str | None = None, description: str | None = None,
              tags: dict[str, str] | None = None) -> SecurityGroupRule:
    """One stored rule; exactly one peer is set."""
    return SecurityGroupRule(
        id=new_id("sgr"),
        egress=egress,
        protocol=protocol,
        from_port=from_port,
        to_port=to_port,
        cidr_ipv4=cidr_ipv4,
        cidr_ipv6=cidr_ipv6,
        prefix_list_id=prefix_list_id,
        group_id=group_id,
        group_owner=group_owner,
        description=description,
        tags=dict(tags or {}),
    )


def all_traffic_rule(egress: bool, *, cidr_ipv4: str | None = None, group_id: str | None = None,
                     group_owner: str | None = None) -> SecurityGroupRule:
    return make_rule(egress, "-1", -1, -1, cidr_ipv4=cidr_ipv4, group_id=group_id, group_owner=group_owner)


def all_out_rule() -> SecurityGroupRule:
    """The egress rule every new group starts with: all traffic to 0.0.0.0/0."""
    return all_traffic_rule(True, cidr_ipv4="0.0.0.0/0")


def make_default_group(account: str, region: str, vpc_id: str, now: float) -> SecurityGroup:
    """The `default` group every VPC gets: all traffic from itself in, everything out."""
    group_id = new_id("sg")
    return SecurityGroup(
        id=group_id,
        account=account,
        region=region,
        created=now,
        vpc_id=vpc_id,
        group_name="default",
        description="default VPC security group",
        rules=[
            all_traffic_rule(False, group_id=group_id, group_owner=account),
            all_out_rule(),
        ],
    )
