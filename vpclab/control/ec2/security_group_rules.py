"""Security group rules: Authorize/RevokeSecurityGroupIngress/Egress,
DescribeSecurityGroupRules, ModifySecurityGroupRules, UpdateSecurityGroupRuleDescriptions*.

Requests name rules as IpPermissions (or the older top-level CidrIp/IpProtocol/ports
parameters); they are read here into stored rules (`stored_rules.make_rule`), one
per peer, so that a rule is matched, deduplicated and revoked by what it allows, whatever
its description. The groups themselves, and how rules show inside a group, are
`security_groups.py`.
"""
from __future__ import annotations

import ipaddress
import re

from ...model.ec2 import SecurityGroup, SecurityGroupRule
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterCombination, InvalidParameterValue, MissingParameter
from ...store import Transaction
from ..common.filters import filter_and_page
from ..common.lookup import GROUP, GROUP_RULE, get_owned
from ..common.tags import tag_list, tags_from_specs
from .default_vpc import ensure_default_vpc
from .security_groups import (
    VALID_SET,
    VALID_TEXT,
    ip_permissions,
    name_not_found,
    target_group,
)
from .stored_rules import make_rule

# --- comparing and naming rules ------------------------------------------------------

def _rule_key(rule: SecurityGroupRule) -> tuple:
    """What makes two rules the same rule (AWS ignores the description)."""
    return (rule.egress, rule.protocol, rule.from_port, rule.to_port, rule.cidr_ipv4,
            rule.cidr_ipv6, rule.prefix_list_id, rule.group_id)


def _peer(rule: SecurityGroupRule) -> str:
    return rule.cidr_ipv4 or rule.cidr_ipv6 or rule.prefix_list_id or rule.group_id or ""


def _describe_rule(rule: SecurityGroupRule) -> str:
    """AWS's text for a rule in InvalidPermission.Duplicate."""
    proto = rule.protocol
    if proto == "-1":
        what = "ALL"
    elif proto in ("tcp", "udp"):
        what = f"{proto.upper()}, from port: {rule.from_port}, to port: {rule.to_port}"
    elif proto in ("icmp", "icmpv6"):
        # Unconfirmed: the wording AWS uses for ICMP rules.
        what = f"{proto.upper()}, type: {rule.from_port}, code: {rule.to_port}"
    else:
        what = proto
    return f"peer: {_peer(rule)}, {what}, ALLOW"


def rule_arn(group: SecurityGroup, rule: SecurityGroupRule) -> str:
    return f"arn:aws:ec2:{group.region}:{group.account}:security-group-rule/{rule.id}"


# --- rendering -----------------------------------------------------------------------

def render_rule(group: SecurityGroup, rule: SecurityGroupRule) -> dict:
    return {
        "SecurityGroupRuleId": rule.id,
        "GroupId": group.id,
        "GroupOwnerId": group.account,
        "IsEgress": rule.egress,
        "IpProtocol": rule.protocol,
        "FromPort": rule.from_port,
        "ToPort": rule.to_port,
        "CidrIpv4": rule.cidr_ipv4,
        "CidrIpv6": rule.cidr_ipv6,
        "PrefixListId": rule.prefix_list_id,
        "ReferencedGroupInfo": {"GroupId": rule.group_id, "UserId": rule.group_owner}
        if rule.group_id else None,
        "Description": rule.description,
        "Tags": tag_list(rule.tags) or [],
        "SecurityGroupRuleArn": rule_arn(group, rule),
    }


def _render_revoked(group: SecurityGroup, rule: SecurityGroupRule) -> dict:
    return {
        "SecurityGroupRuleId": rule.id,
        "GroupId": group.id,
        "IsEgress": rule.egress,
        "IpProtocol": rule.protocol,
        "FromPort": rule.from_port,
        "ToPort": rule.to_port,
        "CidrIpv4": rule.cidr_ipv4,
        "CidrIpv6": rule.cidr_ipv6,
        "PrefixListId": rule.prefix_list_id,
        "ReferencedGroupId": rule.group_id,
        "Description": rule.description,
    }


# --- reading rules from requests -------------------------------------------------------

_PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def normalize_protocol(value: object) -> str:
    """`tcp`, `udp`, `icmp`, `icmpv6`, `-1`, or another protocol number, as AWS stores it."""
    text = "" if value is None else str(value).strip().lower()
    if not text:
        raise InvalidParameterValue(
            "Invalid value 'null' for protocol. VPC security group rules must specify protocols explicitly.")
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


def _description(value: str | None) -> str | None:
    if value is None:
        return None
    if not VALID_TEXT.fullmatch(value):
        raise InvalidParameterValue(
            "Invalid rule description. Valid descriptions are strings less than 256 characters from the "
            f"following set:  {VALID_SET}"
        )
    return value


def _cidr(value: str | None, version: int) -> str:
    text = value or ""
    try:
        net = ipaddress.ip_network(text, strict=False)
        if net.version != version or "/" not in text:
            raise ValueError
    except ValueError:
        raise InvalidParameterValue(f"CIDR block {value} is malformed") from None
    # AWS keeps the network address: 10.0.0.5/24 is stored as 10.0.0.0/24.
    return str(net)


def _referenced_group(tx: Transaction, ctx: RequestContext, target: SecurityGroup, pair: dict) -> SecurityGroup:
    """The group a UserIdGroupPair names. Without VPC peering it must be in the target's VPC."""
    if pair.get("GroupId"):
        gid = pair["GroupId"]
        ref = get_owned(tx, ctx, SecurityGroup, gid, GROUP)
        if pair.get("UserId") not in (None, ctx.account):
            raise GROUP.not_found(gid)
    elif pair.get("GroupName"):
        # Unconfirmed: AWS takes names only in the default VPC; vpclab looks in the target's VPC.
        found = tx.list(SecurityGroup, ctx.account, ctx.region, vpc_id=target.vpc_id, group_name=pair["GroupName"])
        if not found:
            raise name_not_found(tx, pair["GroupName"], target.vpc_id)
        ref = found[0]
    else:
        raise MissingParameter("The request must contain the parameter groupId or groupName in UserIdGroupPairs")
    if ref.vpc_id != target.vpc_id:
        raise AwsError("You have specified two resources that belong to different networks.",
                       code="InvalidGroup.NotFound")
    return ref


def rules_from_permissions(tx: Transaction, ctx: RequestContext, target: SecurityGroup, perms: list[dict],
                           egress: bool, tags: dict[str, str] | None = None) -> list[SecurityGroupRule]:
    """One new rule per peer of each IpPermission (ids are fresh; nothing is stored)."""
    out = []
    for perm in perms:
        protocol = normalize_protocol(perm.get("IpProtocol"))
        lo, hi = port_range(protocol, perm.get("FromPort"), perm.get("ToPort"))

        def rule(**peer: str | None) -> SecurityGroupRule:
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

#: AWS's default quota of inbound (and, separately, outbound) rules per group.
MAX_RULES = 60


def _authorize(ctx: RequestContext, req: dict, egress: bool) -> dict:
    perms = _permissions(req)
    tags = tags_from_specs(req.get("TagSpecifications"), "security-group-rule")
    default_vpc_id = ensure_default_vpc(ctx)
    with ctx.write() as tx:
        group = target_group(tx, ctx, req, default_vpc_id)
        new = rules_from_permissions(tx, ctx, group, perms, egress, tags)
        seen = {_rule_key(r) for r in group.rules}
        for rule in new:
            key = _rule_key(rule)
            if key in seen:
                raise AwsError(f'the specified rule "{_describe_rule(rule)}" already exists',
                               code="InvalidPermission.Duplicate")
            seen.add(key)
        if sum(1 for r in group.rules + new if r.egress == egress) > MAX_RULES:
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


def _revoke(ctx: RequestContext, req: dict, egress: bool) -> dict:
    rule_ids = req.get("SecurityGroupRuleIds")
    if rule_ids and any(req.get(k) is not None for k in ("IpPermissions", *_LEGACY)):
        raise InvalidParameterCombination(
            "The parameter 'securityGroupRuleIds' may not be used in combination with 'ipPermissions'"
        )
    perms = [] if rule_ids else _permissions(req)
    unknown: list[dict] = []
    default_vpc_id = ensure_default_vpc(ctx)
    with ctx.write() as tx:
        group = target_group(tx, ctx, req, default_vpc_id)
        mine = {r.id: r for r in group.rules if r.egress == egress}
        if rule_ids:
            for rid in rule_ids:
                GROUP_RULE.check(rid)
            missing = [rid for rid in rule_ids if rid not in mine]
            if missing:
                raise GROUP_RULE.not_found(missing[0])
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
        gone_ids = {r.id for r in gone}
        group.rules = [r for r in group.rules if r.id not in gone_ids]
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
        GROUP_RULE.check(rid)
    with ctx.read() as tx:
        pairs = [(g, r) for g in tx.list(SecurityGroup, ctx.account, ctx.region) for r in g.rules]
    # Ingress first, then egress, within each group, as AWS lists them.
    pairs.sort(key=lambda p: (p[0].created, p[0].id, p[1].egress))
    if rule_ids:
        known = {r.id for _, r in pairs}
        missing = [rid for rid in rule_ids if rid not in known]
        if missing:
            raise GROUP_RULE.not_found(missing[0])
        pairs = [p for p in pairs if p[1].id in set(rule_ids)]
    fields = {
        "group-id": lambda p: p[0].id,
        "security-group-rule-id": lambda p: p[1].id,
    }
    page, token = filter_and_page(pairs, req.get("Filters"), fields, tags=lambda p: p[1].tags,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"SecurityGroupRules": [render_rule(g, r) for g, r in page], "NextToken": token}


#: ModifySecurityGroupRules' peer members, each with the IpPermission it makes.
_RULE_PEERS = {
    "CidrIpv4": lambda value, desc: {"IpRanges": [{"CidrIp": value, "Description": desc}]},
    "CidrIpv6": lambda value, desc: {"Ipv6Ranges": [{"CidrIpv6": value, "Description": desc}]},
    "PrefixListId": lambda value, desc: {"PrefixListIds": [{"PrefixListId": value, "Description": desc}]},
    "ReferencedGroupId": lambda value, desc: {"UserIdGroupPairs": [{"GroupId": value, "Description": desc}]},
}


def _rule_peer(spec: dict) -> str:
    """The one peer member a SecurityGroupRuleRequest sets (AWS checks this first)."""
    peers = [k for k in _RULE_PEERS if spec.get(k) is not None]
    if len(peers) > 1:
        raise InvalidParameterCombination(
            "Only one of cidrIp, cidrIpv6, prefixListId, or referencedGroupId can be specified")
    if not peers:
        raise MissingParameter(
            "The request must contain exactly one of: cidrIp, cidrIpv6, prefixListId, or referencedGroupId")
    return peers[0]


def _check_same_cidr_family(rid: str, old: SecurityGroupRule, peer: str) -> None:
    """A CIDR rule stays of its IP version (AWS refuses switching one to the other)."""
    if peer == "CidrIpv4" and old.cidr_ipv6:
        raise InvalidParameterValue(f"Invalid rule type for security group rule '{rid}'. "
                                    "You may not specify CidrIpv4 for an existing IPv6 CIDR rule.")
    if peer == "CidrIpv6" and old.cidr_ipv4:
        raise InvalidParameterValue(f"Invalid rule type for security group rule '{rid}'. "
                                    "You may not specify CidrIpv6 for an existing IPv4 CIDR rule.")


@operation("ec2", "ModifySecurityGroupRules")
def modify_security_group_rules(ctx: RequestContext, req: dict) -> dict:
    """Each update replaces one rule, keeping its id and tags; all or none are applied.
    AWS's order of checks: the rule id is given, exactly one peer, the rule exists, then
    the protocol, ports and peer themselves (`rules_from_permissions`, as Authorize)."""
    with ctx.write() as tx:
        group = target_group(tx, ctx, {"GroupId": req["GroupId"]})
        for update in req.get("SecurityGroupRules") or ():
            rid = update.get("SecurityGroupRuleId")
            if not rid:
                raise MissingParameter("The request must contain the parameter SecurityGroupRuleId")
            GROUP_RULE.check(rid)
            spec = update.get("SecurityGroupRule") or {}
            peer = _rule_peer(spec)
            index = next((i for i, r in enumerate(group.rules) if r.id == rid), None)
            if index is None:
                raise GROUP_RULE.not_found(rid)
            old = group.rules[index]
            _check_same_cidr_family(rid, old, peer)
            perm = {"IpProtocol": spec.get("IpProtocol"), "FromPort": spec.get("FromPort"),
                    "ToPort": spec.get("ToPort"), **_RULE_PEERS[peer](spec[peer], spec.get("Description"))}
            (new,) = rules_from_permissions(tx, ctx, group, [perm], old.egress, old.tags)
            new.id = rid
            if any(_rule_key(r) == _rule_key(new) for r in group.rules if r.id != rid):
                raise AwsError(f'the specified rule "{_describe_rule(new)}" already exists',
                               code="InvalidPermission.Duplicate")
            group.rules[index] = new
        tx.put(group)
    return {"Return": True}


def _update_descriptions(ctx: RequestContext, req: dict, egress: bool) -> dict:
    default_vpc_id = ensure_default_vpc(ctx)
    with ctx.write() as tx:
        group = target_group(tx, ctx, req, default_vpc_id)
        mine = [r for r in group.rules if r.egress == egress]
        if req.get("SecurityGroupRuleDescriptions"):
            by_id = {r.id: r for r in mine}
            for item in req["SecurityGroupRuleDescriptions"]:
                rid = item.get("SecurityGroupRuleId") or ""
                GROUP_RULE.check(rid)
                if rid not in by_id:
                    raise GROUP_RULE.not_found(rid)
                by_id[rid].description = _description(item.get("Description"))
        else:
            by_key = {_rule_key(r): r for r in mine}
            for wanted in rules_from_permissions(tx, ctx, group, _permissions(req), egress):
                rule = by_key.get(_rule_key(wanted))
                if rule is None:
                    raise AwsError("The specified rule does not exist in this security group.",
                                   code="InvalidPermission.NotFound")
                rule.description = wanted.description
        tx.put(group)
    return {"Return": True}


@operation("ec2", "UpdateSecurityGroupRuleDescriptionsIngress")
def update_security_group_rule_descriptions_ingress(ctx: RequestContext, req: dict) -> dict:
    return _update_descriptions(ctx, req, egress=False)


@operation("ec2", "UpdateSecurityGroupRuleDescriptionsEgress")
def update_security_group_rule_descriptions_egress(ctx: RequestContext, req: dict) -> dict:
    return _update_descriptions(ctx, req, egress=True)
