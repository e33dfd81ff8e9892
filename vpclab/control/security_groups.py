"""Security groups and their rules."""
from __future__ import annotations

from ..model.ec2 import SecurityGroup
from .ids import new_id


def all_traffic_rule(egress: bool, *, cidr_ipv4: str | None = None, group_id: str | None = None,
                     group_owner: str | None = None) -> dict:
    return {
        "id": new_id("sgr"),
        "egress": egress,
        "protocol": "-1",
        "from_port": -1,
        "to_port": -1,
        "cidr_ipv4": cidr_ipv4,
        "cidr_ipv6": None,
        "prefix_list_id": None,
        "group_id": group_id,
        "group_owner": group_owner,
        "description": None,
        "tags": {},
    }


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
            all_traffic_rule(True, cidr_ipv4="0.0.0.0/0"),
        ],
    )
