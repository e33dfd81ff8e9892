"""Network Load Balancers as node namespaces that DNAT by flow hash.

Each mapping (one per enabled zone) of an NLB is a *node*: namespace `<p>-<node eni id>`
with `eth0` = the node's private IP on its subnet's bridge (`attach_to_subnet`), and one
nft table `<p>-nlb`:

- per listener and protocol (TCP -> tcp, UDP -> udp, TCP_UDP -> both), two rules in the
  nat prerouting chain, one for traffic from the VPC (`eth0`, to the node's private IP)
  and one for PrivateLink traffic (from an endpoint's link, to that endpoint ENI's
  address: the pair is an element of the set ``eni_forwarding``, which the endpoint area
  fills only while the endpoint forwards). Both get
  ``meta mark set jhash(saddr . sport . daddr . dport) mod B`` and are DNATed through the
  map ``be_<proto>_<port>`` (bucket -> target ip . port). B is fixed (256, or the next
  power of two above the number of targets), so registering, deregistering or a health
  change rewrites map *elements* only, never the table: bucket i goes to target
  ``i mod n`` of the sorted forwarding set. The mark is only a carrier from the hash to
  the map lookup (nft cannot key a named map on a jhash result directly); buckets stay
  far below the endpoint area's link marks, so the policy routing of link replies never
  sees them, and it is scrubbed when the packet crosses into the target's namespace.
- ``ct status dnat`` traffic leaving `eth0` is SNATed to the node's private IP: targets
  see the node as the source, for direct and PrivateLink traffic alike (as on AWS for
  PrivateLink; vpclab does not preserve client IPs).
- from endpoint links, only DNATed flows pass, and no new flow leaves on one: a consumer
  can reach the listeners and nothing else of the provider VPC (rules in the nat chains,
  which run for a flow's first packet only; no filter chain on the per-packet path).

Forwarding set of a node for a target group (the plan's policy, shared with the proxy
relay's choice): registered targets that are not draining (draining targets keep their
flows through conntrack, but get no new ones), whose instance is live (instance
targets -> its private IP; ip targets as given); with cross-zone off (target group
attribute, else the NLB's), only those in the node's zone or in zone `all` — and all of
them when none is (vpclab's choice, so a one-zone lab still works); of those the healthy
ones (a `TargetHealth` record `healthy` observed since registration), or all of them when
none is healthy (fail-open, as AWS).

A listener whose target group has proxy protocol v2 on is DNATed to the node's own
relay port (`proxy_v2.relay_port`) instead of the targets; the relay picks the target.
PrivateLink flows to a relay carry their link's mark (``meta mark set ct mark``), which
the accepted socket inherits (`tcp_fwmark_accept`): it routes the relay's replies back
over the link and tells the relay which endpoint the connection came through.

TLS listeners are not realized (vpclab terminates no TLS).

`observe`: once a pass applied the nodes of a `provisioning` NLB, it becomes `active`.
"""
from __future__ import annotations

import logging

from ..model.elbv2 import Listener, LoadBalancer, TargetGroup
from . import naming
from .desired_network import attach_to_subnet
from .nft import NftChain, NftSet, NftTable
from .planner import PlanBuilder
from .world import World

log = logging.getLogger("vpclab.dataplane.nlb")

BUCKETS = 256
HASH_SEED = "0x7670636c"  # fixed, so a re-applied table hashes flows the same way
NODE_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
}
PROTOCOLS = {"TCP": ("tcp",), "UDP": ("udp",), "TCP_UDP": ("tcp", "udp")}
#: Set of ``link ifname . ENI ip`` pairs whose PrivateLink traffic the listeners take
#: (filled by the endpoint area while the endpoint forwards).
ENI_FORWARDING = "eni_forwarding"


# Small pure queries (used by the endpoint and security group areas too) -------------------

def transit_pattern(prefix: str) -> str:
    """nft interface wildcard matching every endpoint link end (both sides) of `prefix`."""
    return f"{prefix}{naming.TAG_TRANSIT}*"


def node_namespace(prefix: str, mapping: dict) -> str:
    return naming.namespace_name(prefix, mapping["network_interface_id"])


def nodes(world: World, lb: LoadBalancer) -> list[dict]:
    """The mappings of `lb` that can be realized (their subnet and VPC are known)."""
    out = []
    for m in lb.mappings:
        subnet = world.subnets.get(m.get("subnet_id", ""))
        if subnet is None or subnet.vpc_id not in world.vpcs:
            continue
        if not m.get("network_interface_id") or not m.get("private_ip"):
            continue
        out.append(m)
    return out


def realized(lb: LoadBalancer) -> bool:
    """NLBs that have nodes: network type, not failed."""
    return lb.type == "network" and lb.state in ("provisioning", "active")


def listeners_of(world: World, lb_arn: str) -> list[Listener]:
    return sorted((l for l in world.listeners.values() if l.load_balancer_arn == lb_arn),
                  key=lambda l: (l.port, l.protocol))


def listener_ports(world: World, lb_arn: str) -> list[tuple[str, int]]:
    """(nft protocol, port) of every realized listener of the NLB, sorted."""
    out = {(proto, l.port) for l in listeners_of(world, lb_arn) for proto in PROTOCOLS.get(l.protocol, ())}
    return sorted(out)


def forwarded_target_groups(listener: Listener) -> list[str]:
    arns: list[str] = []
    for action in listener.default_actions or ():
        if action.get("TargetGroupArn"):
            arns.append(action["TargetGroupArn"])
        for item in (action.get("ForwardConfig") or {}).get("TargetGroups") or ():
            if item.get("TargetGroupArn"):
                arns.append(item["TargetGroupArn"])
    return list(dict.fromkeys(arns))


def cross_zone(lb: LoadBalancer, tg: TargetGroup) -> bool:
    value = tg.attributes.get("load_balancing.cross_zone.enabled", "use_load_balancer_configuration")
    if value == "use_load_balancer_configuration":
        value = lb.attributes.get("load_balancing.cross_zone.enabled", "false")
    return str(value).lower() == "true"


def _healthy(world: World, tg: TargetGroup, target: dict) -> bool:
    rec = world.target_health.get(f"{tg.id}|{target['id']}|{target['port']}")
    return rec is not None and rec.state == "healthy" and rec.observed >= target.get("registered", 0)


def _address(world: World, tg: TargetGroup, target: dict) -> str | None:
    if tg.target_type == "ip":
        return target["id"]
    if tg.target_type == "instance":
        inst = world.instances.get(target["id"])
        if inst is None or inst.state not in ("pending", "running") or not inst.private_ip:
            return None
        return inst.private_ip
    return None  # alb / lambda targets: nothing vpclab can forward to


def forwarding_set(world: World, lb: LoadBalancer, mapping: dict, tg: TargetGroup) -> list[tuple[str, int]]:
    """Sorted (ip, port) that node `mapping` of `lb` sends new flows of `tg` to (module doc)."""
    pool = []
    for t in tg.targets:
        if t.get("deregistering_since") is not None or t.get("port") is None:
            continue
        ip = _address(world, tg, t)
        if ip is not None:
            pool.append((t, ip))
    if not cross_zone(lb, tg):
        local = [(t, ip) for t, ip in pool if t.get("availability_zone") in (None, "all", mapping.get("zone"))]
        pool = local or pool
    healthy = [(t, ip) for t, ip in pool if _healthy(world, tg, t)]
    chosen = healthy or pool
    return sorted({(ip, int(t["port"])) for t, ip in chosen})


def bucket_count(n: int) -> int:
    size = BUCKETS
    while size < n:
        size *= 2
    return size


def buckets(targets: list[tuple[str, int]], size: int) -> dict[str, str]:
    """Map elements bucket -> ``ip . port``; empty when there is no target."""
    if not targets:
        return {}
    return {str(i): f"{targets[i % len(targets)][0]} . {targets[i % len(targets)][1]}" for i in range(size)}


def _relay_port(world: World, lb: LoadBalancer, tg_arn: str) -> int | None:
    from . import proxy_v2  # proxy_v2 imports this module

    return proxy_v2.relay_port(world, lb.id, tg_arn)


# The table of one node -------------------------------------------------------------------

def node_table(world: World, prefix: str, lb: LoadBalancer, mapping: dict) -> NftTable:
    sets: list[NftSet] = [NftSet.of(ENI_FORWARDING, "ifname . ipv4_addr", ())]
    dnat: list[str] = []
    transit = transit_pattern(prefix)
    node_ip = mapping["private_ip"]
    for listener in listeners_of(world, lb.id):
        protos = PROTOCOLS.get(listener.protocol, ())
        arns = [a for a in forwarded_target_groups(listener) if a in world.target_groups]
        if not protos or not arns:
            continue
        relay = _relay_port(world, lb, arns[0]) if len(arns) == 1 else None
        targets: set[tuple[str, int]] = set()
        for arn in arns:  # a weighted forward: the union (weights are not emulated)
            targets.update(forwarding_set(world, lb, mapping, world.target_groups[arn]))
        for proto in protos:
            from_vpc = f'iifname "eth0" ip daddr {node_ip} {proto} dport {listener.port}'
            from_link = f"iifname . ip daddr @{ENI_FORWARDING} {proto} dport {listener.port}"
            if relay is not None and proto == "tcp":
                dnat.append(f"{from_vpc} dnat ip to {node_ip}:{relay}")
                dnat.append(f"{from_link} meta mark set ct mark dnat ip to {node_ip}:{relay}")
                continue
            ordered = sorted(targets)
            size = bucket_count(len(ordered))
            name = f"be_{proto}_{listener.port}"
            sets.append(NftSet.map(name, "mark", "ipv4_addr . inet_service", buckets(ordered, size)))
            hashed = (f"meta mark set jhash ip saddr . {proto} sport . ip daddr . {proto} dport mod {size} "
                      f"seed {HASH_SEED} dnat ip to meta mark map @{name}")
            dnat.append(f"{from_vpc} {hashed}")
            dnat.append(f"{from_link} {hashed}")
    # Endpoint links carry only DNATed flows, consumer -> provider: a new flow from a link
    # that no listener DNATs, or a new flow leaving on one, is dropped. In the nat chains
    # (run for a flow's first packet only), not in a filter forward chain run for every
    # packet (benchmarks/dataplane.py).
    chains = (
        NftChain("prerouting", (*dnat, f'iifname "{transit}" drop'), "nat", "prerouting", "dstnat", "accept"),
        NftChain("postrouting", (f'ct status dnat oifname "eth0" snat ip to {node_ip}',
                                 f'oifname "{transit}" drop'),
                 "nat", "postrouting", "srcnat", "accept"),
    )
    return NftTable("ip", naming.table_name(prefix, "nlb"), tuple(sets), chains)


def contribute(world: World, builder: PlanBuilder) -> None:
    prefix = builder.prefix
    for lb in world.load_balancers.values():
        if not realized(lb):
            continue
        for m in nodes(world, lb):
            ns = node_namespace(prefix, m)
            attach_to_subnet(builder, world, prefix, ns, m["network_interface_id"], m["subnet_id"], m["private_ip"])
            draft = builder.namespace(ns)
            draft.sysctls.update(NODE_SYSCTLS)
            table = node_table(world, prefix, lb, m)
            draft.nft[table.name] = table


def observe(world: World, dp, now: float) -> None:
    """`provisioning` -> `active` for NLBs whose nodes the pass just applied."""
    ready = [lb.id for lb in world.load_balancers.values()
             if lb.state == "provisioning" and realized(lb) and lb.mappings
             and len(nodes(world, lb)) == len(lb.mappings)]
    if not ready:
        return
    with dp.store.write() as tx:
        for arn in ready:
            lb = tx.get(LoadBalancer, arn)
            if lb is not None and lb.state == "provisioning":
                lb.state = "active"
                tx.put(lb)
