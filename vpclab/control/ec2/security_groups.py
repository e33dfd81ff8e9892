"""Security groups: CreateSecurityGroup, DescribeSecurityGroups, DeleteSecurityGroup.

A group keeps its rules in `SecurityGroup.rules`, one `SecurityGroupRule` per (direction,
protocol, port range, peer) with its own `sgr-…` id; the data plane reads the same rules
to program stateful filters. The wire form groups
them back into IpPermissions as AWS does: one IpPermission per (protocol, ports), listing
every peer of that (protocol, ports). Changing rules through the API is
`security_group_rules.py`.

Helpers for other areas (instances, load balancers, endpoints):
`find_groups`, `find_groups_by_name`, `default_group`.
"""
from __future__ import annotations

import re

from ...model.ec2 import SecurityGroup, SecurityGroupRule, Vpc
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import (
    AwsError,
    DependencyViolation,
    InvalidParameter,
    InvalidParameterValue,
    MissingParameter,
)
from ...store import Transaction
from ..common.dependents import group_dependents
from ..common.filters import filter_and_page
from ..common.ids import new_id
from ..common.lookup import GROUP, VPC, get_all_owned, get_owned
from ..common.tags import tag_list, tags_from_specs
from .default_vpc import ensure_default_vpc
from .stored_rules import all_out_rule

# --- ids and lookups other areas use -------------------------------------------------

def group_arn(group: SecurityGroup) -> str:
    return f"arn:aws:ec2:{group.region}:{group.account}:security-group/{group.id}"


def find_groups(tx: Transaction, ctx: RequestContext, group_ids: list[str], *, vpc_id: str | None = None,
                subnet_id: str | None = None) -> list[SecurityGroup]:
    """The caller's security groups `group_ids` (in order, once each), for RunInstances,
    CreateNetworkInterface, CreateLoadBalancer, CreateVpcEndpoint and the like.

    Raises InvalidGroupId.Malformed for an id not of the `sg-…` form and InvalidGroup.NotFound
    naming every id that is missing or another account's. With `vpc_id`, each group must be
    in that VPC: otherwise InvalidParameter "Security group <id> and subnet <subnet_id> belong
    to different networks." (AWS's words for instances; pass the subnet the resource goes in)
    or, without `subnet_id`, "Security group <id> does not belong to VPC <vpc_id>." (unconfirmed
    wording). Objects come from `tx`: mutate them only in a write transaction.
    """
    wanted = list(dict.fromkeys(group_ids))
    found = get_all_owned(tx, ctx, SecurityGroup, wanted, GROUP)
    if vpc_id is not None:
        for group in found:
            if group.vpc_id != vpc_id:
                if subnet_id is not None:
                    raise InvalidParameter(
                        f"Security group {group.id} and subnet {subnet_id} belong to different networks."
                    )
                raise InvalidParameter(f"Security group {group.id} does not belong to VPC {vpc_id}.")
    return found


def find_groups_by_name(tx: Transaction, ctx: RequestContext, names: list[str], vpc_id: str) -> list[SecurityGroup]:
    """The caller's groups named `names` in VPC `vpc_id` (RunInstances' `SecurityGroups`).

    InvalidGroup.NotFound "The security group '<name>' does not exist in VPC '<vpc_id>'"
    for the first name not there.
    """
    by_name = {g.group_name: g for g in tx.list(SecurityGroup, ctx.account, ctx.region, vpc_id=vpc_id)}
    out = []
    for name in dict.fromkeys(names):
        if name not in by_name:
            raise name_not_found(tx, name, vpc_id)
        out.append(by_name[name])
    return out


def default_group(tx: Transaction, account: str, region: str, vpc_id: str) -> SecurityGroup | None:
    """The `default` group of a VPC (what an instance or endpoint gets when none is named)."""
    return next(iter(tx.list(SecurityGroup, account, region, vpc_id=vpc_id, group_name="default")), None)


def name_not_found(tx: Transaction, name: str, vpc_id: str | None) -> AwsError:
    vpc = tx.get(Vpc, vpc_id) if vpc_id else None
    where = f" in default VPC '{vpc_id}'" if vpc is not None and vpc.is_default else (
        f" in VPC '{vpc_id}'" if vpc_id else "")
    return AwsError(f"The security group '{name}' does not exist{where}", code="InvalidGroup.NotFound")


def target_group(tx: Transaction, ctx: RequestContext, req: dict, default_vpc_id: str | None = None) -> SecurityGroup:
    """The group a call names by GroupId, or by GroupName in the default VPC
    (`default_vpc_id`, from `ensure_default_vpc` called before the transaction)."""
    if req.get("GroupId"):
        return get_owned(tx, ctx, SecurityGroup, req["GroupId"], GROUP)
    name = req.get("GroupName")
    if not name:
        raise MissingParameter("The request must contain the parameter groupName or groupId")
    vpc_id = default_vpc_id
    found = [g for g in tx.list(SecurityGroup, ctx.account, ctx.region, group_name=name)
             if vpc_id is not None and g.vpc_id == vpc_id]
    if not found:
        raise name_not_found(tx, name, vpc_id)
    return found[0]


# --- rendering -----------------------------------------------------------------------

_PORTED = ("tcp", "udp", "icmp", "icmpv6")


def ip_permissions(rules: list[SecurityGroupRule]) -> list[dict]:
    """Rules of one direction as AWS shows them: one IpPermission per (protocol, ports)."""
    perms: dict[tuple, dict] = {}
    for rule in rules:
        key = (rule.protocol, rule.from_port, rule.to_port)
        perm = perms.get(key)
        if perm is None:
            perm = perms[key] = {
                "IpProtocol": rule.protocol,
                "FromPort": rule.from_port if rule.protocol in _PORTED else None,
                "ToPort": rule.to_port if rule.protocol in _PORTED else None,
                "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": [],
            }
        desc = rule.description
        if rule.cidr_ipv4:
            perm["IpRanges"].append({"CidrIp": rule.cidr_ipv4, "Description": desc})
        elif rule.cidr_ipv6:
            perm["Ipv6Ranges"].append({"CidrIpv6": rule.cidr_ipv6, "Description": desc})
        elif rule.prefix_list_id:
            perm["PrefixListIds"].append({"PrefixListId": rule.prefix_list_id, "Description": desc})
        elif rule.group_id:
            perm["UserIdGroupPairs"].append(
                {"GroupId": rule.group_id, "UserId": rule.group_owner, "Description": desc})
    return list(perms.values())


def render(group: SecurityGroup) -> dict:
    return {
        "GroupId": group.id,
        "GroupName": group.group_name,
        "Description": group.description,
        "OwnerId": group.account,
        "VpcId": group.vpc_id,
        "SecurityGroupArn": group_arn(group),
        "IpPermissions": ip_permissions([r for r in group.rules if not r.egress]),
        "IpPermissionsEgress": ip_permissions([r for r in group.rules if r.egress]),
        "Tags": tag_list(group.tags),
    }


# --- operations ----------------------------------------------------------------------

#: The characters AWS allows in a VPC security group's name and description, and in a
#: rule's description: "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*", up to 255.
VALID_TEXT = re.compile(r"[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]{0,255}")
VALID_SET = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"


def _check_text(value: str, param: str, noun: str) -> None:
    """AWS's two answers: non-ASCII text first, then anything outside `VALID_TEXT`."""
    if not value.isascii():
        raise InvalidParameterValue(
            f"Value ({value}) for parameter {param} is invalid. Character sets beyond ASCII are not supported."
        )
    if not VALID_TEXT.fullmatch(value):
        kind = "names are non-empty strings" if noun == "name" else "descriptions are strings"
        raise InvalidParameterValue(
            f"Invalid security group {noun}. Valid {kind} less than 256 characters from the "
            f"following set:  {VALID_SET}"
        )


@operation("ec2", "CreateSecurityGroup")
def create_security_group(ctx: RequestContext, req: dict) -> dict:
    name, description = req["GroupName"], req["Description"]
    if not name:
        raise MissingParameter("The request must contain the parameter groupName")
    _check_text(name, "GroupName", "name")
    _check_text(description, "GroupDescription", "description")
    if name.lower().startswith("sg-"):
        raise InvalidParameterValue("Group names may not be in the format sg-*.")
    if name == "default":
        raise AwsError("The name 'default' is reserved, and cannot be used to create a new security group.",
                       code="InvalidGroup.Reserved")
    tags = tags_from_specs(req.get("TagSpecifications"), "security-group")
    default_vpc_id = ensure_default_vpc(ctx)
    with ctx.write() as tx:
        if req.get("VpcId"):
            vpc_id = get_owned(tx, ctx, Vpc, req["VpcId"], VPC).id
        elif default_vpc_id is not None and tx.get(Vpc, default_vpc_id) is not None:
            vpc_id = default_vpc_id
        else:
            raise AwsError("No default VPC for this user", code="VPCIdNotSpecified")
        if tx.list(SecurityGroup, ctx.account, ctx.region, vpc_id=vpc_id, group_name=name):
            raise AwsError(f"The security group '{name}' already exists for VPC '{vpc_id}'",
                           code="InvalidGroup.Duplicate")
        group = SecurityGroup(
            id=new_id("sg"),
            account=ctx.account,
            region=ctx.region,
            created=ctx.now.timestamp(),
            tags=tags,
            vpc_id=vpc_id,
            group_name=name,
            description=description,
            rules=[all_out_rule()],
        )
        tx.put(group)
    return {"GroupId": group.id, "Tags": tag_list(group.tags), "SecurityGroupArn": group_arn(group)}


def _permission_fields(prefix: str, egress: bool, names: dict[str, str]) -> dict:
    def rules(g: SecurityGroup) -> list[SecurityGroupRule]:
        return [r for r in g.rules if r.egress == egress]

    return {
        f"{prefix}ip-permission.protocol": lambda g: [r.protocol for r in rules(g)],
        f"{prefix}ip-permission.from-port": lambda g: [r.from_port for r in rules(g)],
        f"{prefix}ip-permission.to-port": lambda g: [r.to_port for r in rules(g)],
        f"{prefix}ip-permission.cidr": lambda g: [r.cidr_ipv4 for r in rules(g)],
        f"{prefix}ip-permission.ipv6-cidr": lambda g: [r.cidr_ipv6 for r in rules(g)],
        f"{prefix}ip-permission.prefix-list-id": lambda g: [r.prefix_list_id for r in rules(g)],
        f"{prefix}ip-permission.group-id": lambda g: [r.group_id for r in rules(g)],
        f"{prefix}ip-permission.group-name": lambda g: [names.get(r.group_id) if r.group_id else None for r in rules(g)],
        f"{prefix}ip-permission.user-id": lambda g: [r.group_owner for r in rules(g)],
    }


@operation("ec2", "DescribeSecurityGroups")
def describe_security_groups(ctx: RequestContext, req: dict) -> dict:
    default_vpc_id = ensure_default_vpc(ctx)
    ids, names = req.get("GroupIds") or [], req.get("GroupNames") or []
    with ctx.read() as tx:
        groups = tx.list(SecurityGroup, ctx.account, ctx.region)
        if ids or names:
            chosen = {g.id for g in GROUP.select(groups, ids)} if ids else set()
            # GroupNames name groups of the default VPC only, as on AWS.
            in_default = {g.group_name: g for g in groups if g.vpc_id == default_vpc_id}
            for name in names:
                if name not in in_default:
                    raise name_not_found(tx, name, default_vpc_id)
                chosen.add(in_default[name].id)
            groups = [g for g in groups if g.id in chosen]
    group_names = {g.id: g.group_name for g in groups}
    fields = {
        "group-id": lambda g: g.id,
        "group-name": lambda g: g.group_name,
        "description": lambda g: g.description,
        "vpc-id": lambda g: g.vpc_id,
        "owner-id": lambda g: g.account,
        **_permission_fields("", False, group_names),
        **_permission_fields("egress.", True, group_names),
    }
    page, token = filter_and_page(groups, req.get("Filters"), fields, tags=lambda g: g.tags,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"SecurityGroups": [render(g) for g in page], "NextToken": token}


@operation("ec2", "DeleteSecurityGroup")
def delete_security_group(ctx: RequestContext, req: dict) -> dict:
    default_vpc_id = ensure_default_vpc(ctx)
    with ctx.write() as tx:
        group = target_group(tx, ctx, req, default_vpc_id)
        if group.group_name == "default":
            raise AwsError(
                f'the specified group: "{group.id}" name: "default" cannot be deleted by a user',
                code="CannotDelete",
            )
        if group_dependents(tx, group):
            raise DependencyViolation(f"resource {group.id} has a dependent object")
        tx.delete(group)
    return {"Return": True, "GroupId": group.id}
