"""Security groups and their rules.

A group keeps its rules in `SecurityGroup.rules`, one dict per (direction, protocol, port
range, peer) with its own `sgr-…` id, keyed as `model.ec2._RuleFields` documents; the
data plane reads exactly those keys to program stateful filters. The wire form groups
them back into IpPermissions as AWS does: one IpPermission per (protocol, ports), listing
every peer of that (protocol, ports).

Helpers for other areas (instances, load balancers, endpoints):
`find_groups`, `find_groups_by_name`, `default_group`, and `GROUP_DEPENDENTS` to
register what else keeps a group from being deleted.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from ..model.ec2 import Instance, NetworkInterface, SecurityGroup, Vpc
from ..protocol.dispatch import RequestContext, operation
from ..protocol.errors import (
    AwsError,
    DependencyViolation,
    InvalidParameter,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from ..store import Transaction
from .filters import by_ids, filter_and_page
from .ids import is_well_formed, new_id
from .lookup import GROUP, VPC, get_all_owned, get_owned
from .tags import tag_list, tags_from_specs

# --- rules as stored -------------------------------------------------------------------


def all_traffic_rule(egress: bool, *, cidr_ipv4: str | None = None, group_id: str | None = None,
                     group_owner: str | None = None) -> dict:
    return make_rule(egress, "-1", -1, -1, cidr_ipv4=cidr_ipv4, group_id=group_id, group_owner=group_owner)


def make_rule(egress: bool, protocol: str, from_port: int, to_port: int, *, cidr_ipv4: str | None = None,
              cidr_ipv6: str | None = None, prefix_list_id: str | None = None, group_id: str | None = None,
              group_owner: str | None = None, description: str | None = None,
              tags: dict[str, str] | None = None) -> dict:
    """One stored rule (see `model.ec2._RuleFields`); exactly one peer is set."""
    return {
        "id": new_id("sgr"),
        "egress": egress,
        "protocol": protocol,
        "from_port": from_port,
        "to_port": to_port,
        "cidr_ipv4": cidr_ipv4,
        "cidr_ipv6": cidr_ipv6,
        "prefix_list_id": prefix_list_id,
        "group_id": group_id,
        "group_owner": group_owner,
        "description": description,
        "tags": dict(tags or {}),
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


def _rule_key(rule: dict) -> tuple:
    """What makes two rules the same rule (AWS ignores the description)."""
    return (rule["egress"], rule["protocol"], rule["from_port"], rule["to_port"], rule["cidr_ipv4"],
            rule["cidr_ipv6"], rule["prefix_list_id"], rule["group_id"])


def _peer(rule: dict) -> str:
    return rule["cidr_ipv4"] or rule["cidr_ipv6"] or rule["prefix_list_id"] or rule["group_id"] or ""


def _describe_rule(rule: dict) -> str:
    """AWS's text for a rule in InvalidPermission.Duplicate."""
    proto = rule["protocol"]
    if proto == "-1":
        what = "ALL"
    elif proto in ("tcp", "udp"):
        what = f"{proto.upper()}, from port: {rule['from_port']}, to port: {rule['to_port']}"
    elif proto in ("icmp", "icmpv6"):
        # Unconfirmed: the wording AWS uses for ICMP rules.
        what = f"{proto.upper()}, type: {rule['from_port']}, code: {rule['to_port']}"
    else:
        what = proto
    return f"peer: {_peer(rule)}, {what}, ALLOW"


# --- ids and lookups other areas use -------------------------------------------------

def group_arn(group: SecurityGroup) -> str:
    return f"arn:aws:ec2:{group.region}:{group.account}:security-group/{group.id}"


def rule_arn(group: SecurityGroup, rule: dict) -> str:
    return f"arn:aws:ec2:{group.region}:{group.account}:security-group-rule/{rule['id']}"


def check_group_id(value: str) -> None:
    """InvalidGroupId.Malformed unless `value` looks like `sg-` + 8 or 17 hex digits."""
    if not is_well_formed(value, "sg"):
        raise AwsError(f'Invalid id: "{value}" (expecting "sg-...")', code="InvalidGroupId.Malformed")


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
    for gid in wanted:
        check_group_id(gid)
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
            raise _name_not_found(tx, name, vpc_id)
        out.append(by_name[name])
    return out


def default_group(tx: Transaction, account: str, region: str, vpc_id: str) -> SecurityGroup | None:
    """The `default` group of a VPC (what an instance or endpoint gets when none is named)."""
    return next(iter(tx.list(SecurityGroup, account, region, vpc_id=vpc_id, group_name="default")), None)


def _name_not_found(tx: Transaction, name: str, vpc_id: str | None) -> AwsError:
    vpc = tx.get(Vpc, vpc_id) if vpc_id else None
    where = f" in default VPC '{vpc_id}'" if vpc is not None and vpc.is_default else (
        f" in VPC '{vpc_id}'" if vpc_id else "")
    return AwsError(f"The security group '{name}' does not exist{where}", code="InvalidGroup.NotFound")


def ensure_default_vpc(ctx: RequestContext) -> str | None:
    # default_vpc imports this module (for make_default_group): import it when first used.
    from .default_vpc import ensure_default_vpc as ensure

    return ensure(ctx)


def _target_group(tx: Transaction, ctx: RequestContext, req: dict, default_vpc_id: str | None = None) -> SecurityGroup:
    """The group a call names by GroupId, or by GroupName in the default VPC
    (`default_vpc_id`, from `ensure_default_vpc` called before the transaction)."""
    if req.get("GroupId"):
        check_group_id(req["GroupId"])
        return get_owned(tx, ctx, SecurityGroup, req["GroupId"], GROUP)
    name = req.get("GroupName")
    if not name:
        raise MissingParameter("The request must contain the parameter groupName or groupId")
    vpc_id = default_vpc_id
    found = [g for g in tx.list(SecurityGroup, ctx.account, ctx.region, group_name=name)
             if vpc_id is not None and g.vpc_id == vpc_id]
    if not found:
        raise _name_not_found(tx, name, vpc_id)
    return found[0]


#: Finders `fn(tx, group_id) -> list` of other resources (load balancers, endpoints) that
#: use a group, so that DeleteSecurityGroup refuses while they do. Areas register here.
GROUP_DEPENDENTS: list[Callable[[Transaction, str], list]] = []


def dependents(tx: Transaction, group: SecurityGroup) -> list:
    found: list = [e for e in tx.list(NetworkInterface, region=group.region)
                   if group.id in e.security_group_ids]
    found += [i for i in tx.list(Instance, region=group.region)
              if group.id in i.security_group_ids and i.state != "terminated"]
    found += [g for g in tx.list(SecurityGroup, region=group.region)
              if g.id != group.id and any(r["group_id"] == group.id for r in g.rules)]
    for finder in GROUP_DEPENDENTS:
        found.extend(finder(tx, group.id))
    return found


# --- rendering -----------------------------------------------------------------------

_PORTED = ("tcp", "udp", "icmp", "icmpv6")


def ip_permissions(rules: list[dict]) -> list[dict]:
    """Rules of one direction as AWS shows them: one IpPermission per (protocol, ports)."""
    perms: dict[tuple, dict] = {}
    for rule in rules:
        key = (rule["protocol"], rule["from_port"], rule["to_port"])
        perm = perms.get(key)
        if perm is None:
            perm = perms[key] = {
                "IpProtocol": rule["protocol"],
                "FromPort": rule["from_port"] if rule["protocol"] in _PORTED else None,
                "ToPort": rule["to_port"] if rule["protocol"] in _PORTED else None,
                "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": [],
            }
        desc = rule.get("description")
        if rule["cidr_ipv4"]:
            perm["IpRanges"].append({"CidrIp": rule["cidr_ipv4"], "Description": desc})
        elif rule["cidr_ipv6"]:
            perm["Ipv6Ranges"].append({"CidrIpv6": rule["cidr_ipv6"], "Description": desc})
        elif rule["prefix_list_id"]:
            perm["PrefixListIds"].append({"PrefixListId": rule["prefix_list_id"], "Description": desc})
        elif rule["group_id"]:
            perm["UserIdGroupPairs"].append(
                {"GroupId": rule["group_id"], "UserId": rule["group_owner"], "Description": desc})
    return list(perms.values())


def render(group: SecurityGroup) -> dict:
    return {
        "GroupId": group.id,
        "GroupName": group.group_name,
        "Description": group.description,
        "OwnerId": group.account,
        "VpcId": group.vpc_id,
        "SecurityGroupArn": group_arn(group),
        "IpPermissions": ip_permissions([r for r in group.rules if not r["egress"]]),
        "IpPermissionsEgress": ip_permissions([r for r in group.rules if r["egress"]]),
        "Tags": tag_list(group.tags),
    }


def render_rule(group: SecurityGroup, rule: dict) -> dict:
    return {
        "SecurityGroupRuleId": rule["id"],
        "GroupId": group.id,
        "GroupOwnerId": group.account,
        "IsEgress": rule["egress"],
        "IpProtocol": rule["protocol"],
        "FromPort": rule["from_port"],
        "ToPort": rule["to_port"],
        "CidrIpv4": rule["cidr_ipv4"],
        "CidrIpv6": rule["cidr_ipv6"],
        "PrefixListId": rule["prefix_list_id"],
        "ReferencedGroupInfo": {"GroupId": rule["group_id"], "UserId": rule["group_owner"]}
        if rule["group_id"] else None,
        "Description": rule.get("description"),
        "Tags": tag_list(rule.get("tags") or {}) or [],
        "SecurityGroupRuleArn": rule_arn(group, rule),
    }


def _render_revoked(group: SecurityGroup, rule: dict) -> dict:
    return {
        "SecurityGroupRuleId": rule["id"],
        "GroupId": group.id,
        "IsEgress": rule["egress"],
        "IpProtocol": rule["protocol"],
        "FromPort": rule["from_port"],
        "ToPort": rule["to_port"],
        "CidrIpv4": rule["cidr_ipv4"],
        "CidrIpv6": rule["cidr_ipv6"],
        "PrefixListId": rule["prefix_list_id"],
        "ReferencedGroupId": rule["group_id"],
        "Description": rule.get("description"),
    }


# --- reading rules from requests -------------------------------------------------------

_PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def normalize_protocol(value) -> str:
    """`tcp`, `udp`, `icmp`, `icmpv6`, `-1`, or another protocol number, as AWS stores it."""
    if value is None:
        raise MissingParameter("The request must contain the parameter ipProtocol")
    text = str(value).strip().lower()
    if text in ("tcp", "udp", "icmp", "icmpv6", "-1"):
        return text
    if re.fullmatch(r"\d{1,3}", text) and int(text) <= 255:
        return _PROTOCOL_NUMBERS.get(str(int(text)), str(int(text)))
    raise InvalidParameterValue(f"Invalid value '{value}' for IP protocol. Unknown protocol.")


def port_range(protocol: str, from_port: int | None, to_port: int | None) -> tuple[int, int]:
    """The stored (from, to) of a rule: ports for TCP/UDP, type and code for ICMP, else -1."""
    if protocol in ("tcp", "udp"):
        if from_port is None or to_port is None:
            raise InvalidParameterValue("Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.")
        for port in (from_port, to_port):
            if not 0 <= port <= 65535:
                raise AwsError(f"TCP/UDP port ({port}) out of range", code="InvalidPermission.Malformed")
        if from_port > to_port:
            # Unconfirmed: AWS's wording for a reversed range.
            raise InvalidParameterValue(
                f"Invalid value 'Invalid port range: from port {from_port} is greater than to port {to_port}.' for portRange."
            )
        return from_port, to_port
    if protocol in ("icmp", "icmpv6"):
        if from_port is None or to_port is None:
            if protocol == "icmpv6" and from_port is None and to_port is None:
                return -1, -1
            raise InvalidParameterValue("Invalid value 'Must specify both from and to ports with ICMP.' for portRange.")
        for value in (from_port, to_port):
            if not -1 <= value <= 255:
                raise InvalidParameterValue(f"Invalid value '{value}' for ICMP type or code.")
        if from_port == -1 and to_port != -1:
            raise InvalidParameterValue("Invalid value 'If you specify all ICMP types, you must specify all codes.' for portRange.")
        return from_port, to_port
    return -1, -1


_DESCRIPTION = re.compile(r"[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]*")


def _description(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > 255 or not _DESCRIPTION.fullmatch(value):
        raise InvalidParameterValue(
            "Invalid rule description. Valid descriptions are strings less than 256 characters from the "
            "following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
        )
    return value


def _cidr(value: str | None, version: int) -> str:
    try:
        net = ipaddress.ip_network(value or "", strict=False)
        if net.version != version or "/" not in value:
            raise ValueError
    except ValueError:
        raise InvalidParameterValue(f"CIDR block {value} is malformed") from None
    # AWS keeps the network address: 10.0.0.5/24 is stored as 10.0.0.0/24.
    return str(net)


def _referenced_group(tx: Transaction, ctx: RequestContext, target: SecurityGroup, pair: dict) -> SecurityGroup:
    """The group a UserIdGroupPair names. Without VPC peering it must be in the target's VPC."""
    if pair.get("GroupId"):
        gid = pair["GroupId"]
        check_group_id(gid)
        ref = get_owned(tx, ctx, SecurityGroup, gid, GROUP)
        if pair.get("UserId") not in (None, ctx.account):
            raise GROUP.not_found(gid)
    elif pair.get("GroupName"):
        # Unconfirmed: AWS takes names only in the default VPC; vpclab looks in the target's VPC.
        found = tx.list(SecurityGroup, ctx.account, ctx.region, vpc_id=target.vpc_id, group_name=pair["GroupName"])
        if not found:
            raise _name_not_found(tx, pair["GroupName"], target.vpc_id)
        ref = found[0]
    else:
        raise MissingParameter("The request must contain the parameter groupId or groupName in UserIdGroupPairs")
    if ref.vpc_id != target.vpc_id:
        raise AwsError("You have specified two resources that belong to different networks.",
                       code="InvalidGroup.NotFound")
    return ref


def rules_from_permissions(tx: Transaction, ctx: RequestContext, target: SecurityGroup, perms: list[dict],
                           egress: bool, tags: dict[str, str] | None = None) -> list[dict]:
    """One new rule per peer of each IpPermission (ids are fresh; nothing is stored)."""
    out = []
    for perm in perms:
        protocol = normalize_protocol(perm.get("IpProtocol"))
        lo, hi = port_range(protocol, perm.get("FromPort"), perm.get("ToPort"))

        def rule(**peer) -> dict:
            return make_rule(egress, protocol, lo, hi, tags=tags, **peer)

        peers = []
        for r in perm.get("IpRanges") or ():
            peers.append(rule(cidr_ipv4=_cidr(r.get("CidrIp"), 4), description=_description(r.get("Description"))))
        for r in perm.get("Ipv6Ranges") or ():
            peers.append(rule(cidr_ipv6=_cidr(r.get("CidrIpv6"), 6), description=_description(r.get("Description"))))
        for r in perm.get("PrefixListIds") or ():
            pl = r.get("PrefixListId") or ""
            if not re.fullmatch(r"pl-[0-9a-f]{8}(?:[0-9a-f]{9})?", pl):
                raise AwsError(f'Invalid id: "{pl}" (expecting "pl-...")', code="InvalidPrefixListId.Malformed")
            peers.append(rule(prefix_list_id=pl, description=_description(r.get("Description"))))
        for r in perm.get("UserIdGroupPairs") or ():
            ref = _referenced_group(tx, ctx, target, r)
            peers.append(rule(group_id=ref.id, group_owner=ref.account, description=_description(r.get("Description"))))
        if not peers:
            # Unconfirmed: AWS's answer to a permission with no source or destination.
            raise MissingParameter(
                "The request must contain the parameter ipRanges, ipv6Ranges, prefixListIds or groups"
            )
        out.extend(peers)
    return out


_LEGACY = ("CidrIp", "IpProtocol", "FromPort", "ToPort", "SourceSecurityGroupName", "SourceSecurityGroupOwnerId")


def _permissions(req: dict) -> list[dict]:
    """IpPermissions, or the same built from the older top-level parameters."""
    legacy = [k for k in _LEGACY if req.get(k) is not None]
    if req.get("IpPermissions"):
        if legacy:
            raise InvalidParameterCombination(
                f"The parameter 'ipPermissions' may not be used in combination with '{legacy[0][0].lower() + legacy[0][1:]}'"
            )
        return req["IpPermissions"]
    if not legacy:
        raise MissingParameter("The request must contain the parameter ipPermissions")
    source = req.get("SourceSecurityGroupName")
    if source is not None:
        # The API reference: a source group by name "creates rules that grant full ICMP,
        # UDP, and TCP access" and cannot be combined with a CIDR, protocol or ports.
        if any(req.get(k) is not None for k in ("CidrIp", "IpProtocol", "FromPort", "ToPort")):
            raise InvalidParameterCombination(
                "The parameter 'sourceSecurityGroupName' may not be used in combination with a CIDR, "
                "protocol or port range; use ipPermissions"
            )
        pair = {"GroupName": source, "UserId": req.get("SourceSecurityGroupOwnerId")}
        return [
            {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "UserIdGroupPairs": [pair]},
            {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": [pair]},
            {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": [pair]},
        ]
    perm = {"IpProtocol": req.get("IpProtocol"), "FromPort": req.get("FromPort"), "ToPort": req.get("ToPort")}
    if req.get("CidrIp") is not None:
        perm["IpRanges"] = [{"CidrIp": req["CidrIp"]}]
    return [perm]


# --- operations ----------------------------------------------------------------------

def _check_name_text(value: str, param: str) -> None:
    if not value.isascii():
        raise InvalidParameterValue(
            f"Value ({value}) for parameter {param} is invalid. Character sets beyond ASCII are not supported."
        )
    if len(value) > 255:
        raise InvalidParameterValue(f"Value ({value}) for parameter {param} is invalid. Length exceeds maximum of 255.")


@operation("ec2", "CreateSecurityGroup")
def create_security_group(ctx: RequestContext, req: dict) -> dict:
    name, description = req["GroupName"], req["Description"]
    _check_name_text(name, "GroupName")
    _check_name_text(description, "GroupDescription")
    if not name:
        raise MissingParameter("The request must contain the parameter groupName")
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
            rules=[all_traffic_rule(True, cidr_ipv4="0.0.0.0/0")],
        )
        tx.put(group)
    return {"GroupId": group.id, "Tags": tag_list(group.tags), "SecurityGroupArn": group_arn(group)}


def _permission_fields(prefix: str, egress: bool, names: dict[str, str]) -> dict:
    def rules(g: SecurityGroup) -> list[dict]:
        return [r for r in g.rules if r["egress"] == egress]

    return {
        f"{prefix}ip-permission.protocol": lambda g: [r["protocol"] for r in rules(g)],
        f"{prefix}ip-permission.from-port": lambda g: [r["from_port"] for r in rules(g)],
        f"{prefix}ip-permission.to-port": lambda g: [r["to_port"] for r in rules(g)],
        f"{prefix}ip-permission.cidr": lambda g: [r["cidr_ipv4"] for r in rules(g)],
        f"{prefix}ip-permission.ipv6-cidr": lambda g: [r["cidr_ipv6"] for r in rules(g)],
        f"{prefix}ip-permission.prefix-list-id": lambda g: [r["prefix_list_id"] for r in rules(g)],
        f"{prefix}ip-permission.group-id": lambda g: [r["group_id"] for r in rules(g)],
        f"{prefix}ip-permission.group-name": lambda g: [names.get(r["group_id"]) for r in rules(g)],
        f"{prefix}ip-permission.user-id": lambda g: [r["group_owner"] for r in rules(g)],
    }


@operation("ec2", "DescribeSecurityGroups")
def describe_security_groups(ctx: RequestContext, req: dict) -> dict:
    default_vpc_id = ensure_default_vpc(ctx)
    ids, names = req.get("GroupIds") or [], req.get("GroupNames") or []
    for gid in ids:
        check_group_id(gid)
    with ctx.read() as tx:
        groups = tx.list(SecurityGroup, ctx.account, ctx.region)
        if ids or names:
            chosen = {g.id for g in by_ids(groups, ids, lambda g: g.id, GROUP.not_found)} if ids else set()
            # GroupNames name groups of the default VPC only, as on AWS.
            in_default = {g.group_name: g for g in groups if g.vpc_id == default_vpc_id}
            for name in names:
                if name not in in_default:
                    raise _name_not_found(tx, name, default_vpc_id)
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
        group = _target_group(tx, ctx, req, default_vpc_id)
        if group.group_name == "default":
            raise AwsError(
                f'the specified group: "{group.id}" name: "default" cannot be deleted by a user',
                code="CannotDelete",
            )
        if dependents(tx, group):
            raise DependencyViolation(f"resource {group.id} has a dependent object")
        tx.delete(group)
    return {"Return": True, "GroupId": group.id}


#: AWS's default quota of inbound (and, separately, outbound) rules per group.
MAX_RULES = 60


def _authorize(ctx: RequestContext, req: dict, egress: bool) -> dict:
    perms = _permissions(req)
    tags = tags_from_specs(req.get("TagSpecifications"), "security-group-rule")
    default_vpc_id = ensure_default_vpc(ctx)
    with ctx.write() as tx:
        group = _target_group(tx, ctx, req, default_vpc_id)
        new = rules_from_permissions(tx, ctx, group, perms, egress, tags)
        seen = {_rule_key(r) for r in group.rules}
        for rule in new:
            key = _rule_key(rule)
            if key in seen:
                raise AwsError(f'the specified rule "{_describe_rule(rule)}" already exists',
                               code="InvalidPermission.Duplicate")
            seen.add(key)
        if sum(1 for r in group.rules + new if r["egress"] == egress) > MAX_RULES:
            raise AwsError("The maximum number of rules per security group has been reached.",
                           code="RulesPerSecurityGroupLimitExceeded")
        group.rules.extend(new)
        tx.put(group)
    return {"Return": True, "SecurityGroupRules": [render_rule(group, r) for r in new]}


@operation("ec2", "AuthorizeSecurityGroupIngress")
def authorize_security_group_ingress(ctx: RequestContext, req: dict) -> dict:
    return _authorize(ctx, req, egress=False)


@operation("ec2", "AuthorizeSecurityGroupEgress")
def authorize_security_group_egress(ctx: RequestContext, req: dict) -> dict:
    return _authorize(ctx, req, egress=True)


def _rule_not_found(rule_id: str) -> AwsError:
    return AwsError(f"The security group rule ID '{rule_id}' does not exist",
                    code="InvalidSecurityGroupRuleId.NotFound")


def _check_rule_id(rule_id: str) -> None:
    if not is_well_formed(rule_id, "sgr"):
        raise AwsError(f'Invalid id: "{rule_id}" (expecting "sgr-...")', code="InvalidSecurityGroupRuleId.Malformed")


def _revoke(ctx: RequestContext, req: dict, egress: bool) -> dict:
    rule_ids = req.get("SecurityGroupRuleIds")
    if rule_ids and any(req.get(k) is not None for k in ("IpPermissions", *_LEGACY)):
        raise InvalidParameterCombination(
            "The parameter 'securityGroupRuleIds' may not be used in combination with 'ipPermissions'"
        )
    perms = None if rule_ids else _permissions(req)
    unknown: list[dict] = []
    default_vpc_id = ensure_default_vpc(ctx)
    with ctx.write() as tx:
        group = _target_group(tx, ctx, req, default_vpc_id)
        mine = {r["id"]: r for r in group.rules if r["egress"] == egress}
        if rule_ids:
            for rid in rule_ids:
                _check_rule_id(rid)
            missing = [rid for rid in rule_ids if rid not in mine]
            if missing:
                raise _rule_not_found(missing[0])
            gone = [mine[rid] for rid in dict.fromkeys(rule_ids)]
        else:
            by_key = {_rule_key(r): r for r in mine.values()}
            gone = []
            for perm in perms:
                wanted = rules_from_permissions(tx, ctx, group, [perm], egress)
                matched = [by_key[_rule_key(w)] for w in wanted if _rule_key(w) in by_key]
                if len(matched) < len(wanted):
                    missed = [w for w in wanted if _rule_key(w) not in by_key]
                    unknown.extend(ip_permissions(missed))
                gone.extend(m for m in matched if m not in gone)
            if not gone:
                raise AwsError("The specified rule does not exist in this security group.",
                               code="InvalidPermission.NotFound")
        gone_ids = {r["id"] for r in gone}
        group.rules = [r for r in group.rules if r["id"] not in gone_ids]
        tx.put(group)
    # Some permissions matched and some did not: AWS revokes the ones that did and lists
    # the others in UnknownIpPermissions.
    return {
        "Return": True,
        "UnknownIpPermissions": unknown or None,
        "RevokedSecurityGroupRules": [_render_revoked(group, r) for r in gone],
    }


@operation("ec2", "RevokeSecurityGroupIngress")
def revoke_security_group_ingress(ctx: RequestContext, req: dict) -> dict:
    return _revoke(ctx, req, egress=False)


@operation("ec2", "RevokeSecurityGroupEgress")
def revoke_security_group_egress(ctx: RequestContext, req: dict) -> dict:
    return _revoke(ctx, req, egress=True)


@operation("ec2", "DescribeSecurityGroupRules")
def describe_security_group_rules(ctx: RequestContext, req: dict) -> dict:
    ensure_default_vpc(ctx)
    rule_ids = req.get("SecurityGroupRuleIds") or []
    for rid in rule_ids:
        _check_rule_id(rid)
    with ctx.read() as tx:
        pairs = [(g, r) for g in tx.list(SecurityGroup, ctx.account, ctx.region) for r in g.rules]
    # Ingress first, then egress, within each group, as AWS lists them.
    pairs.sort(key=lambda p: (p[0].created, p[0].id, p[1]["egress"]))
    if rule_ids:
        known = {r["id"] for _, r in pairs}
        missing = [rid for rid in rule_ids if rid not in known]
        if missing:
            raise _rule_not_found(missing[0])
        pairs = [p for p in pairs if p[1]["id"] in set(rule_ids)]
    fields = {
        "group-id": lambda p: p[0].id,
        "security-group-rule-id": lambda p: p[1]["id"],
    }
    page, token = filter_and_page(pairs, req.get("Filters"), fields, tags=lambda p: p[1].get("tags") or {},
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"SecurityGroupRules": [render_rule(g, r) for g, r in page], "NextToken": token}


@operation("ec2", "ModifySecurityGroupRules")
def modify_security_group_rules(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        group = _target_group(tx, ctx, {"GroupId": req["GroupId"]})
        for update in req.get("SecurityGroupRules") or ():
            rid = update.get("SecurityGroupRuleId")
            if not rid:
                raise MissingParameter("The request must contain the parameter SecurityGroupRuleId")
            _check_rule_id(rid)
            index = next((i for i, r in enumerate(group.rules) if r["id"] == rid), None)
            if index is None:
                raise _rule_not_found(rid)
            old = group.rules[index]
            spec = update.get("SecurityGroupRule") or {}
            perm = {"IpProtocol": spec.get("IpProtocol"), "FromPort": spec.get("FromPort"),
                    "ToPort": spec.get("ToPort")}
            peers = [k for k in ("CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupId") if spec.get(k)]
            if len(peers) != 1:
                raise InvalidParameterCombination(
                    "Exactly one of CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupId must be specified"
                )
            desc = spec.get("Description")
            peer = {
                "CidrIpv4": lambda: {"IpRanges": [{"CidrIp": spec["CidrIpv4"], "Description": desc}]},
                "CidrIpv6": lambda: {"Ipv6Ranges": [{"CidrIpv6": spec["CidrIpv6"], "Description": desc}]},
                "PrefixListId": lambda: {"PrefixListIds": [{"PrefixListId": spec["PrefixListId"], "Description": desc}]},
                "ReferencedGroupId": lambda: {"UserIdGroupPairs": [{"GroupId": spec["ReferencedGroupId"],
                                                                    "Description": desc}]},
            }[peers[0]]()
            (new,) = rules_from_permissions(tx, ctx, group, [{**perm, **peer}], old["egress"], old.get("tags"))
            new["id"] = rid
            if any(_rule_key(r) == _rule_key(new) for r in group.rules if r["id"] != rid):
                raise AwsError(f'the specified rule "{_describe_rule(new)}" already exists',
                               code="InvalidPermission.Duplicate")
            group.rules[index] = new
        tx.put(group)
    return {"Return": True}


def _update_descriptions(ctx: RequestContext, req: dict, egress: bool) -> dict:
    default_vpc_id = ensure_default_vpc(ctx)
    with ctx.write() as tx:
        group = _target_group(tx, ctx, req, default_vpc_id)
        mine = [r for r in group.rules if r["egress"] == egress]
        if req.get("SecurityGroupRuleDescriptions"):
            by_id = {r["id"]: r for r in mine}
            for item in req["SecurityGroupRuleDescriptions"]:
                rid = item.get("SecurityGroupRuleId") or ""
                _check_rule_id(rid)
                if rid not in by_id:
                    raise _rule_not_found(rid)
                by_id[rid]["description"] = _description(item.get("Description"))
        else:
            by_key = {_rule_key(r): r for r in mine}
            for wanted in rules_from_permissions(tx, ctx, group, _permissions(req), egress):
                rule = by_key.get(_rule_key(wanted))
                if rule is None:
                    raise AwsError("The specified rule does not exist in this security group.",
                                   code="InvalidPermission.NotFound")
                rule["description"] = wanted["description"]
        tx.put(group)
    return {"Return": True}


@operation("ec2", "UpdateSecurityGroupRuleDescriptionsIngress")
def update_security_group_rule_descriptions_ingress(ctx: RequestContext, req: dict) -> dict:
    return _update_descriptions(ctx, req, egress=False)


@operation("ec2", "UpdateSecurityGroupRuleDescriptionsEgress")
def update_security_group_rule_descriptions_egress(ctx: RequestContext, req: dict) -> dict:
    return _update_descriptions(ctx, req, egress=True)
