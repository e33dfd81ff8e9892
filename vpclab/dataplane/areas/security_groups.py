"""Security groups as stateful nft filters, in the namespace where the ENI's traffic passes.

Every filter is stateful (conntrack): packets of established/related flows pass, a new
flow must match an allow rule of one of the ENI's groups, and what matches none is
dropped silently (a default deny: a client times out, as on AWS).

- Instance: table `inet <p>-sg` in the instance namespace; chain `input` (policy drop)
  for the ingress rules, chain `output` (policy drop) for the egress rules; traffic to
  the link-local services (metadata, the 169.254.169.253 resolver) is never filtered.
- Endpoint ENIs: table `inet <p>-sgep` in the provider router where the ENI's link ends
  (`endpoints`); a chain of type nat (run for a flow's first packet only) at
  prerouting priority ``dstnat - 10`` (before the listener DNAT rewrites the address)
  sends each new flow from a link through the verdict map ``eni_groups`` (link ifname ->
  ``goto`` the chain of that ENI's set of groups; one chain per distinct set, ending in
  drop). Peers are the consumer's own addresses, as they arrive. A thousand endpoints
  sharing groups are a thousand map elements and one chain, so an endpoint more or less
  is an element update.
- ENIs of endpoints to services vpclab serves (`service_endpoints`): table
  `inet <p>-sgsvc` in the VPC's own router, whose addresses they are; an input chain
  sends each new flow to one of their addresses through the verdict map ``svc_groups``
  (ENI address -> ``goto`` the chain of its groups, ending in drop), and drops whatever
  comes to them from an endpoint link (another VPC). Peers are the VPC's own addresses.
- NLB nodes with groups: table `inet <p>-sg` in the router namespace the nodes are
  addresses of, a nat chain (first packets only) at ``dstnat - 10``: new flows from the
  VPC to a node's address must match an ingress rule of its NLB's groups (verdict map
  ``nodes``, node address -> ``vpc_<NLB hash>``); PrivateLink flows (from endpoint
  links) are checked only while `enforce_sg_inbound_on_privatelink` (verdict map
  ``privatelink``, link -> ``pl_<NLB hash>``), and then only by protocol and port
  against the rules whose peer is ``0.0.0.0/0`` (consumer addresses are not in the
  provider's space; a rule naming a CIDR or a group never matches them). Egress rules of
  NLB groups are not enforced (vpclab's choice).

Rules (`model.ec2.SecurityGroupRule`): protocol ``-1`` (all), ``tcp``/``udp`` with a
port range, ``icmp`` with type/code (-1 = any), another protocol number; peers
``cidr_ipv4``, ``cidr_ipv6``, or a referenced group ``group_id``, matched through a named
set per group holding the private IPs of every ENI and instance in that group (a member
more or less is an element update). Prefix-list peers match nothing (vpclab has no
managed prefix lists).

A rule change touches only the tables whose content changes: those of the namespaces
whose ENIs are in the group (and those whose rules reference it, for membership sets);
every other namespace's table is equal to what was applied, so the backend leaves it be.
"""
from __future__ import annotations

import hashlib

from ...kernel import naming
from ...kernel.nft import NftChain, NftSet, NftTable
from ...model.ec2 import SecurityGroupRule
from ...model.elbv2 import LoadBalancer
from ..planner import PlanBuilder
from ..world import LINK_LOCAL_RESOLVER, METADATA_ADDRESS, World
from .endpoints import endpoint_enis, node_link_name
from .network import instance_namespace
from .service_endpoints import router_of, service_enis
from .nodes import node_namespace, node_public_ip, nodes, realized, transit_pattern

#: Before the endpoint / listener DNAT (dstnat = -100), after conntrack (-200).
PRE_DNAT = "dstnat - 10"
ESTABLISHED = ("ct state established,related accept", "ct state invalid drop")


def set_name(group_id: str) -> str:
    return "g_" + group_id.replace("-", "_")


def members(world: World) -> dict[str, set[str]]:
    """{group id: private IPv4s of every ENI and instance in the group}."""
    out: dict[str, set[str]] = {}
    for eni in world.enis.values():
        if eni.private_ip:
            for gid in eni.security_group_ids:
                out.setdefault(gid, set()).add(eni.private_ip)
    for inst in world.instances.values():
        if inst.private_ip and inst.state not in ("terminated",):
            for gid in inst.security_group_ids:
                out.setdefault(gid, set()).add(inst.private_ip)
    return out


def _ports(proto: str, rule: SecurityGroupRule) -> str:
    lo, hi = rule.from_port, rule.to_port
    if lo == -1 or (lo <= 0 and hi >= 65535):
        return f"meta l4proto {proto}"
    return f"{proto} dport {lo}" if lo == hi else f"{proto} dport {lo}-{hi}"


def match_protocol(rule: SecurityGroupRule) -> str | None:
    """The nft match of a rule's protocol and ports ("" = anything), None if unknown."""
    proto = rule.protocol.lower()
    if proto in ("-1", "all"):
        return ""
    if proto in ("tcp", "6"):
        return _ports("tcp", rule)
    if proto in ("udp", "17"):
        return _ports("udp", rule)
    if proto in ("icmp", "1"):
        out = "meta l4proto icmp"
        if rule.from_port != -1:
            out += f" icmp type {rule.from_port}"
            if rule.to_port != -1:
                out += f" icmp code {rule.to_port}"
        return out
    if proto in ("icmpv6", "58"):
        return "meta l4proto ipv6-icmp"
    if proto.isdigit() and 0 <= int(proto) <= 255:
        return f"meta l4proto {int(proto)}"
    return None


def match_peer(rule: SecurityGroupRule, egress: bool, sets: set[str]) -> str | None:
    """The nft match of a rule's peer; adds referenced groups to `sets`; None = matches nothing."""
    side = "daddr" if egress else "saddr"
    if rule.cidr_ipv4:
        cidr = rule.cidr_ipv4
        return "meta nfproto ipv4" if cidr == "0.0.0.0/0" else f"ip {side} {cidr}"
    if rule.cidr_ipv6:
        cidr = rule.cidr_ipv6
        return "meta nfproto ipv6" if cidr == "::/0" else f"ip6 {side} {cidr}"
    if rule.group_id:
        sets.add(rule.group_id)
        return f"ip {side} @{set_name(rule.group_id)}"
    return None  # prefix lists: none exist in vpclab


def rule_statements(world: World, group_ids: list[str], egress: bool, sets: set[str],
                    any_source_only: bool = False) -> list[str]:
    """One `... accept` per rule of the groups, in a stable order, without duplicates."""
    out: list[str] = []
    for gid in sorted(set(group_ids)):
        group = world.security_groups.get(gid)
        if group is None:
            continue
        for rule in sorted(group.rules, key=lambda r: r.id):
            if rule.egress != egress:
                continue
            if any_source_only and rule.cidr_ipv4 != "0.0.0.0/0" and rule.cidr_ipv6 != "::/0":
                continue
            proto = match_protocol(rule)
            peer = match_peer(rule, egress, sets) if not any_source_only else (
                "meta nfproto ipv4" if rule.cidr_ipv4 == "0.0.0.0/0" else "meta nfproto ipv6")
            if proto is None or peer is None:
                continue
            stmt = " ".join(p for p in (peer, proto, "accept") if p)
            if stmt not in out:
                out.append(stmt)
    return out


def _sets(world: World, member_ips: dict[str, set[str]], used: set[str]) -> tuple[NftSet, ...]:
    return tuple(NftSet.of(set_name(g), "ipv4_addr", sorted(member_ips.get(g, ()))) for g in sorted(used))


# Tables ------------------------------------------------------------------------------------

def instance_table(world: World, prefix: str, group_ids: list[str], member_ips: dict[str, set[str]]) -> NftTable:
    used: set[str] = set()
    ingress = rule_statements(world, group_ids, False, used)
    egress = rule_statements(world, group_ids, True, used)
    return NftTable("inet", naming.table_name(prefix, "sg"), _sets(world, member_ips, used), (
        NftChain("input", ESTABLISHED + ('iifname "lo" accept',) + tuple(ingress), "filter", "input", 0, "drop"),
        NftChain("output", ESTABLISHED + ('oifname "lo" accept', *LINK_LOCAL_SERVICES) + tuple(egress),
                 "filter", "output", 0, "drop"),
    ))


#: Security groups do not filter an instance's traffic to the link-local services (the
#: instance metadata service, the resolver's 169.254.169.253), as on AWS.
LINK_LOCAL_SERVICES = tuple(f"ip daddr {a} accept" for a in (LINK_LOCAL_RESOLVER, METADATA_ADDRESS))


def group_set_chain(group_ids: list[str]) -> str:
    key = ",".join(sorted(set(group_ids)))
    return "gs_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def endpoint_table(world: World, prefix: str, links: dict[str, list[str]],
                   member_ips: dict[str, set[str]]) -> NftTable:
    """`links`: {link ifname (provider end): its ENI's group ids} of the links ending in
    one router."""
    used: set[str] = set()
    chains: dict[str, NftChain] = {}
    elements: dict[str, str] = {}
    for link, groups in sorted(links.items()):
        name = group_set_chain(groups)
        if name not in chains:
            chains[name] = NftChain(name, tuple(rule_statements(world, groups, False, used)) + ("drop",))
        elements[f'"{link}"'] = f"goto {name}"
    return NftTable("inet", naming.table_name(prefix, "sgep"), (
        *_sets(world, member_ips, used),
        NftSet.map("eni_groups", "ifname", "verdict", elements),
    ), (
        *(chains[k] for k in sorted(chains)),
        # A nat-type chain: the kernel runs it for the first packet of a flow only (what
        # `ct state new` selected anyway), and it shares the nat hook with the listener
        # DNAT, so established packets cost no extra hook (benchmarks/dataplane.py).
        NftChain("prerouting", (f'iifname "{transit_pattern(prefix)}" ct state new iifname vmap @eni_groups',),
                 "nat", "prerouting", PRE_DNAT, "accept"),
    ))


def service_endpoint_table(world: World, prefix: str, addresses: dict[str, list[str]],
                           member_ips: dict[str, set[str]]) -> NftTable:
    """`addresses`: {ENI address: its group ids} of the service endpoint ENIs of one VPC
    router (their traffic is the router's own input)."""
    used: set[str] = set()
    chains: dict[str, NftChain] = {}
    elements: dict[str, str] = {}
    for address, groups in sorted(addresses.items()):
        name = group_set_chain(groups)
        if name not in chains:
            chains[name] = NftChain(name, tuple(rule_statements(world, groups, False, used)) + ("drop",))
        elements[address] = f"goto {name}"
    return NftTable("inet", naming.table_name(prefix, "sgsvc"), (
        *_sets(world, member_ips, used),
        NftSet.map("svc_groups", "ipv4_addr", "verdict", elements),
        NftSet.of("svc_addresses", "ipv4_addr", sorted(addresses)),
    ), (
        *(chains[k] for k in sorted(chains)),
        # Nothing from another VPC (an endpoint link ending in this router) reaches the
        # API: it would act as this VPC's account. (The nlb table drops such new flows
        # too; this holds whatever that table says.)
        NftChain("input", (f'iifname "{transit_pattern(prefix)}" ip daddr @svc_addresses drop',
                           "ct state established,related accept", "ip daddr vmap @svc_groups"),
                 "filter", "input", 0, "accept"),
    ))


def _lb_tag(lb_arn: str) -> str:
    return hashlib.sha256(lb_arn.encode()).hexdigest()[:12]


def nodes_table(world: World, prefix: str, lbs: list[LoadBalancer], links: dict[str, str],
                member_ips: dict[str, set[str]]) -> NftTable:
    """The groups of the NLBs `lbs` whose nodes are addresses of one router. `links`:
    {link ifname: NLB arn} of the links into those nodes whose NLB enforces its groups
    on PrivateLink traffic."""
    used: set[str] = set()
    chains: list[NftChain] = []
    by_address: dict[str, str] = {}
    for lb in sorted(lbs, key=lambda b: b.id):
        tag = _lb_tag(lb.id)
        chains.append(NftChain(f"vpc_{tag}", tuple(rule_statements(world, lb.security_group_ids, False, used))
                               + ("drop",)))
        if lb.enforce_sg_inbound_on_privatelink:
            pl_rules = rule_statements(world, lb.security_group_ids, False, set(), any_source_only=True)
            chains.append(NftChain(f"pl_{tag}", tuple(pl_rules) + ("drop",)))
        for m in nodes(world, lb):
            by_address[m.private_ip] = f"jump vpc_{tag}"
            public = node_public_ip(world, m)
            if public is not None:  # from the internet, with its real source
                by_address[public] = f"jump vpc_{tag}"
    elements = {f'"{link}"': f"jump pl_{_lb_tag(arn)}" for link, arn in links.items()}
    # A nat-type chain (a flow's first packet only, like the endpoint groups above): no
    # hook on the per-packet path of established flows.
    pre = ("iifname vmap @privatelink",
           f'iifname != "{transit_pattern(prefix)}" ip daddr vmap @nodes')
    chains.append(NftChain("prerouting", pre, "nat", "prerouting", PRE_DNAT, "accept"))
    return NftTable("inet", naming.table_name(prefix, "sg"),
                    (*_sets(world, member_ips, used), NftSet.map("privatelink", "ifname", "verdict", elements),
                     NftSet.map("nodes", "ipv4_addr", "verdict", by_address)),
                    tuple(chains))


def contribute(world: World, builder: PlanBuilder) -> None:
    prefix = builder.prefix
    member_ips = members(world)
    for inst in world.live_instances():
        ns = instance_namespace(prefix, inst.id)
        groups = list(inst.security_group_ids)
        eni = world.enis.get(inst.network_interface_id or "")
        if eni is not None and eni.security_group_ids:
            groups = list(eni.security_group_ids)
        if not builder.has(ns) or not groups:
            continue
        table = instance_table(world, prefix, groups, member_ips)
        builder.namespace(ns).nft[table.name] = table
    by_router: dict[str, dict[str, list[str]]] = {}
    enforced: dict[str, dict[str, str]] = {}
    for e in endpoint_enis(world):
        # The endpoint area (after this one) plans the link: same condition (`linked` means
        # lb, mapping and link are set; the None tests say so to the checker).
        if not e.linked or e.lb is None or e.mapping is None or e.link is None:
            continue
        router_ns = node_namespace(world, prefix, e.mapping)
        if router_ns is None:
            continue
        link = node_link_name(prefix, e.link.index)
        by_router.setdefault(router_ns, {})[link] = list(e.eni.security_group_ids
                                                          or e.endpoint.security_group_ids)
        if e.lb.security_group_ids and e.lb.enforce_sg_inbound_on_privatelink:
            enforced.setdefault(router_ns, {})[link] = e.lb.id
    for router_ns, links in by_router.items():
        table = endpoint_table(world, prefix, links, member_ips)
        builder.namespace(router_ns).nft[table.name] = table
    services: dict[str, dict[str, list[str]]] = {}
    for svc in service_enis(world):
        services.setdefault(router_of(prefix, svc), {})[svc.eni.private_ip] = list(
            svc.eni.security_group_ids or svc.endpoint.security_group_ids)
    for router_ns, addresses in services.items():
        if builder.has(router_ns):
            table = service_endpoint_table(world, prefix, addresses, member_ips)
            builder.namespace(router_ns).nft[table.name] = table
    guarded: dict[str, list[LoadBalancer]] = {}
    for lb in world.load_balancers.values():
        mappings = nodes(world, lb) if realized(lb) and lb.security_group_ids else []
        node_ns = node_namespace(world, prefix, mappings[0]) if mappings else None
        if node_ns is not None:  # the NLB area (after this one) makes the nodes: same `nodes` filter
            guarded.setdefault(node_ns, []).append(lb)
    for router_ns, lbs in guarded.items():
        table = nodes_table(world, prefix, lbs, enforced.get(router_ns, {}), member_ips)
        builder.namespace(router_ns).nft[table.name] = table
