"""Network ACLs: DescribeNetworkAcls, answering with the default network ACL of every VPC.

vpclab filters traffic with security groups only, and every subnet is associated with
its VPC's default ACL, which allows everything: so that ACL is derived, not stored. Its
id comes from the VPC's id and each association's from its subnet's, so they are the
same after a restart, and the ACL goes with its VPC. Its entries are AWS's defaults: rule
100 allows all traffic and rule 32767 (`*`) denies the rest, each way, listed egress
first as AWS lists them.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from ...model.ec2 import Subnet, Vpc
from ...protocol.dispatch import RequestContext, operation
from ...store import Transaction
from ..common.filters import filter_and_page
from ..common.lookup import IdKind
from .default_vpc import ensure_default_vpc

NETWORK_ACL = IdKind("acl", "InvalidNetworkAclID", "networkAcl ID")


def _derived(prefix: str, of: str) -> str:
    return f"{prefix}-" + hashlib.sha256(f"vpclab:{prefix}:{of}".encode()).hexdigest()[:17]


def default_network_acl_id(vpc_id: str) -> str:
    return _derived("acl", vpc_id)


def association_id(subnet_id: str) -> str:
    return _derived("aclassoc", subnet_id)


def _entries() -> list[dict]:
    return [{"CidrBlock": "0.0.0.0/0", "Egress": egress, "Protocol": "-1", "RuleAction": action,
             "RuleNumber": number}
            for egress in (True, False) for number, action in ((100, "allow"), (32767, "deny"))]


def render(tx: Transaction, vpc: Vpc) -> dict:
    acl_id = default_network_acl_id(vpc.id)
    subnets = sorted(tx.list(Subnet, vpc.account, vpc.region, vpc_id=vpc.id), key=lambda s: s.created)
    return {
        "Associations": [{"NetworkAclAssociationId": association_id(s.id), "NetworkAclId": acl_id,
                          "SubnetId": s.id} for s in subnets],
        "Entries": _entries(),
        "IsDefault": True,
        "NetworkAclId": acl_id,
        "Tags": [],
        "VpcId": vpc.id,
        "OwnerId": vpc.account,
    }


def _each(key: str, of: str = "Entries") -> Callable[[dict], list]:
    return lambda acl: [e.get(key) for e in acl[of]]


FILTERS = {
    "network-acl-id": lambda a: a["NetworkAclId"],
    "vpc-id": lambda a: a["VpcId"],
    "default": lambda a: a["IsDefault"],
    "owner-id": lambda a: a["OwnerId"],
    "association.association-id": _each("NetworkAclAssociationId", "Associations"),
    "association.network-acl-id": _each("NetworkAclId", "Associations"),
    "association.subnet-id": _each("SubnetId", "Associations"),
    "entry.cidr": _each("CidrBlock"),
    "entry.egress": _each("Egress"),
    "entry.protocol": _each("Protocol"),
    "entry.rule-action": _each("RuleAction"),
    "entry.rule-number": _each("RuleNumber"),
}


@operation("ec2", "DescribeNetworkAcls")
def describe_network_acls(ctx: RequestContext, req: dict) -> dict:
    ensure_default_vpc(ctx)
    with ctx.read() as tx:
        vpcs = sorted(tx.list(Vpc, ctx.account, ctx.region), key=lambda v: v.created)
        acls = [render(tx, v) for v in vpcs]
    acls = NETWORK_ACL.select(acls, req.get("NetworkAclIds"), lambda a: a["NetworkAclId"])
    page, token = filter_and_page(acls, req.get("Filters"), FILTERS,
                                  tags=lambda a: {t["Key"]: t["Value"] for t in a["Tags"]},
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"NetworkAcls": page, "NextToken": token}
