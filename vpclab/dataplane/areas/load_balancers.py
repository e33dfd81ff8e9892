"""Network Load Balancers: each node an address of the VPC's router that DNATs by flow hash
(docs/DATAPLANE.md, "NLB").

A node's private IP is a /32 on its subnet's bridge in its VPC's router
(`node_address`), so a packet to or through a node crosses no veth of its own (a node
namespace of its own is one veth pair more each way: see benchmarks/README.md). All nodes
in one VPC share one nft table `<p>-nlb` of its router (`nodes_table`):

- per node, a regular chain ``node_<eni hex>`` with, per listener and protocol (TCP ->
  tcp, UDP -> udp, TCP_UDP -> both), one rule ``<proto> dport <port>``: ``meta mark set
  jhash(saddr . sport . daddr . dport) mod B`` and DNAT through the map
  ``be_<eni hex>_<proto>_<port>`` (bucket -> target ip . port). B is fixed (256, or the
  next power of two above the number of targets), so registering, deregistering or a
  health change rewrites map *elements* only, never the table: bucket i goes to target
  ``i mod n`` of the sorted forwarding set. The mark is only a carrier from the hash to
  the map lookup (nft cannot key a named map on a jhash result directly); buckets stay
  far below the endpoint area's link marks, so the policy routing of link replies never
  sees them.
- the prerouting nat chain sends a new flow to a node's chain: PrivateLink traffic (from
  an endpoint's link, to that endpoint ENI's address) through the verdict map
  ``eni_forwarding`` (``link . ENI ip`` -> ``jump node_<hex>``, filled by the endpoint
  area only while the endpoint forwards); traffic from the VPC by its destination, the
  node's address (verdict map ``nodes``). What no listener takes is dropped: a new flow
  from a link, or to a node's address on another port (an NLB answers nothing but its
  listeners).
- DNATed flows are SNATed to the node's private IP: targets see the node as the source,
  for direct and PrivateLink traffic alike (as on AWS for PrivateLink; vpclab does not
  preserve client IPs). A PrivateLink flow's node is its link's (map ``link_snat``,
  link -> node IP, filled by the endpoint area); a VPC flow's is the address it was sent
  to.
- no new flow leaves on an endpoint link: a consumer reaches the listeners and nothing
  else of the provider VPC, and the provider nothing of the consumer's (rules in the nat
  chains, which run for a flow's first packet only; no filter chain on the per-packet
  path).

Which targets a node sends new flows of a target group to is `nodes.forwarding_set`
(the relays pick from it too).

A listener whose target group has proxy protocol v2 on is DNATed to the node's own
relay (`nodes.relay_port`, listening on the node's address) instead of the targets;
the relay picks the target. PrivateLink flows to a relay carry their link's mark
(``meta mark set ct mark``), which the accepted socket inherits (`tcp_fwmark_accept`):
it routes the relay's replies back over the link and tells the relay which endpoint the
connection came through.

TLS listeners are not realized (vpclab terminates no TLS).

`observe`: once a pass applied the nodes of a `provisioning` NLB, it becomes `active`.
"""
from __future__ import annotations

import logging

from ...kernel import naming
from ...kernel.nft import NftChain, NftSet, NftTable
from ...model.elbv2 import LoadBalancer, SubnetMapping
from ...model.observed import mark_load_balancer_active
from ..planner import PlanBuilder
from ..world import Reporter, World
from .internet import gateway_link
from .network import router_address
from .nodes import (
    COUNT_TABLE,
    ENDPOINT_ALL,
    ENDPOINT_NEW,
    ENI_FORWARDING,
    LINK_SNAT,
    LISTENER_ALL,
    LISTENER_NEW,
    forwarding_set,
    listener_counters,
    listener_keys,
    node_chain,
    node_namespace,
    node_public_ip,
    nodes,
    realized,
    relay_port,
    served,
    transit_pattern,
)

log = logging.getLogger("vpclab.dataplane.nlb")

BUCKETS = 256
HASH_SEED = "0x7670636c"  # fixed, so a re-applied table hashes flows the same way
#: In a router that holds nodes: answer ARP only for addresses of the interface asked
#: (a node's address is on its subnet's bridge, never on an endpoint link), and let relay
#: sockets inherit their SYN's mark (`proxy_v2`). The router forwards and has no reverse
#: path filter already (`network.ROUTER_SYSCTLS`).
NODE_SYSCTLS = {
    "net.ipv4.conf.all.arp_ignore": "1",
    "net.ipv4.conf.all.arp_announce": "2",
    "net.ipv4.tcp_fwmark_accept": "1",
}


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


# The table of a router's nodes --------------------------------------------------------------

def node_rules(world: World, lb: LoadBalancer, mapping: SubnetMapping) -> tuple[NftChain, list[NftSet]]:
    """The chain of one node (one rule per listener and protocol) and the maps it uses."""
    sets: list[NftSet] = []
    rules: list[str] = []
    node_ip = mapping.private_ip
    tag = mapping.network_interface_id.removeprefix("eni-")
    for listener, arns, protos in served(world, lb.id):
        relay = relay_port(world, lb.id, arns[0]) if len(arns) == 1 else None
        targets: set[tuple[str, int]] = set()
        for arn in arns:  # a weighted forward: the union (weights are not emulated)
            targets.update(forwarding_set(world, lb, mapping, world.target_groups[arn]))
        for proto in protos:
            match = f"{proto} dport {listener.port}"
            if relay is not None and proto == "tcp":
                rules.append(f"{match} meta mark set ct mark dnat ip to {node_ip}:{relay}")
                continue
            ordered = sorted(targets)
            size = bucket_count(len(ordered))
            name = f"be_{tag}_{proto}_{listener.port}"
            sets.append(NftSet.map(name, "mark", "ipv4_addr . inet_service", buckets(ordered, size)))
            rules.append(f"{match} meta mark set jhash ip saddr . {proto} sport . ip daddr . {proto} dport "
                         f"mod {size} seed {HASH_SEED} dnat ip to meta mark map @{name}")
    return NftChain(node_chain(mapping), tuple(rules)), sets


#: Verdict map of the nlb table: an internet-facing node's public address -> its chain,
#: for flows that come from the internet (`internet.gateway_link`) only: a flow from the
#: VPC to that address goes out through the gateway and comes back, as on AWS.
PUBLIC_NODES = "public_nodes"


def nodes_table(world: World, prefix: str, members: list[tuple[LoadBalancer, SubnetMapping]]) -> NftTable:
    """The nlb table of one router, for the nodes `members` it holds (module doc)."""
    transit = transit_pattern(prefix)
    sets: list[NftSet] = [NftSet.map(ENI_FORWARDING, "ifname . ipv4_addr", "verdict", {}),
                          NftSet.map(LINK_SNAT, "ifname", "ipv4_addr", {})]
    chains: list[NftChain] = []
    by_address: dict[str, str] = {}
    by_public: dict[str, str] = {}
    snat: list[str] = []
    vpc_id = ""
    for lb, m in sorted(members, key=lambda x: x[1].network_interface_id):
        chain, maps = node_rules(world, lb, m)
        chains.append(chain)
        sets.extend(maps)
        by_address[m.private_ip] = f"jump {chain.name}"
        snat.append(f"ct status dnat ct original ip daddr {m.private_ip} snat ip to {m.private_ip}")
        vpc_id = lb.vpc_id
        public = node_public_ip(world, m)
        if public is not None:
            by_public[public] = f"jump {chain.name}"
            snat.append(f"ct status dnat ct original ip daddr {public} snat ip to {m.private_ip}")
    sets.append(NftSet.map("nodes", "ipv4_addr", "verdict", by_address))
    sets.append(NftSet.map(PUBLIC_NODES, "ipv4_addr", "verdict", by_public))
    pre = (f"iifname . ip daddr vmap @{ENI_FORWARDING}",
           f'iifname "{transit}" drop',
           f'iifname "{gateway_link(prefix, vpc_id)}" ip daddr vmap @{PUBLIC_NODES}',
           f'iifname "{gateway_link(prefix, vpc_id)}" ip daddr @{PUBLIC_NODES} drop',
           "ip daddr vmap @nodes",
           "ip daddr @nodes drop")
    post = (f'iifname "{transit}" ct status dnat snat ip to iifname map @{LINK_SNAT}',
            *snat,
            f'oifname "{transit}" drop')
    chains.append(NftChain("prerouting", pre, "nat", "prerouting", "dstnat", "accept"))
    chains.append(NftChain("postrouting", post, "nat", "postrouting", "srcnat", "accept"))
    return NftTable("ip", naming.table_name(prefix, "nlb"), tuple(sets), tuple(chains))


# The count table of a router's nodes -------------------------------------------------------

#: ``ct mark . original destination . protocol . port`` of a packet's flow: a listener's key.
FLOW_KEY = "ct mark . ct original ip daddr . ct protocol . ct original proto-dst"
LISTENER_KEY_TYPE = "mark . ipv4_addr . inet_proto . inet_service"
#: The nft protocols listeners take (`nodes.PROTOCOLS`).
COUNTED = ("tcp", "udp")
#: After conntrack and the link area's ct mark (mangle), before NAT.
COUNT_PRIORITY = "mangle + 10"


def count_table(world: World, prefix: str, members: list[tuple[LoadBalancer, SubnetMapping]]) -> NftTable:
    """The count table of one router: its listeners' counters and the keys of the flows
    to its nodes' addresses (the endpoint area adds its links: `endpoints.contribute`).

    Its structure is fixed (four maps, two chains): listeners and endpoints coming and
    going change map elements and counter objects only, so `nft.render_update` never
    replaces it and no counter restarts from zero while the table lives. New flows are
    counted in prerouting (``ct state new``), every packet of a flow in prerouting and,
    for the relays' own replies, output: each packet once, whichever direction.
    """
    counters: list[str] = []
    new: dict[str, str] = {}
    every: dict[str, str] = {}
    for lb, m in members:
        for listener, _arns, protos in served(world, lb.id):
            names = listener_counters(listener.id)
            counters.extend(names)
            for key in listener_keys(0, m.private_ip, listener, protos):
                new[key], every[key] = (f'"{n}"' for n in names)
    # One rule per protocol: ``ct original proto-dst`` needs the protocol known.
    new_flows = tuple(f"meta l4proto {p} ct state new counter name {FLOW_KEY} map @{LISTENER_NEW}" for p in COUNTED)
    flows = tuple(f"meta l4proto {p} counter name {FLOW_KEY} map @{LISTENER_ALL}" for p in COUNTED)
    return NftTable("ip", naming.table_name(prefix, COUNT_TABLE), (
        NftSet.map(ENDPOINT_NEW, "mark", "counter", {}),
        NftSet.map(ENDPOINT_ALL, "mark", "counter", {}),
        NftSet.map(LISTENER_NEW, LISTENER_KEY_TYPE, "counter", new),
        NftSet.map(LISTENER_ALL, LISTENER_KEY_TYPE, "counter", every),
    ), (
        NftChain("prerouting", (f"ct state new counter name ct mark map @{ENDPOINT_NEW}",
                                f"counter name ct mark map @{ENDPOINT_ALL}", *new_flows, *flows),
                 "filter", "prerouting", COUNT_PRIORITY, "accept"),
        NftChain("output", (f"counter name ct mark map @{ENDPOINT_ALL}", *flows),
                 "filter", "output", COUNT_PRIORITY, "accept"),
    ), tuple(sorted(set(counters))))


def node_address(builder: PlanBuilder, world: World, prefix: str, mapping: SubnetMapping) -> None:
    """The node's private IP as an address of its router on its subnet (`network.router_address`)."""
    ns = node_namespace(world, prefix, mapping)
    if ns is None:
        return  # its subnet is unknown: no bridge to hold the address (`nodes` leaves such out)
    router_address(builder, ns, mapping.subnet_id, mapping.private_ip)


def contribute(world: World, builder: PlanBuilder) -> None:
    prefix = builder.prefix
    per_router: dict[str, list[tuple[LoadBalancer, SubnetMapping]]] = {}
    for lb in world.load_balancers.values():
        if not realized(lb):
            continue
        for m in nodes(world, lb):
            ns = node_namespace(world, prefix, m)
            if ns is None or not builder.has(ns):
                continue
            node_address(builder, world, prefix, m)
            per_router.setdefault(ns, []).append((lb, m))
    for ns, members in per_router.items():
        draft = builder.namespace(ns)
        draft.sysctls.update(NODE_SYSCTLS)
        for table in (nodes_table(world, prefix, members), count_table(world, prefix, members)):
            draft.nft[table.name] = table


def observe(world: World, dp: Reporter, now: float) -> None:
    """`provisioning` -> `active` for NLBs whose nodes the pass just applied."""
    ready = [lb.id for lb in world.load_balancers.values()
             if lb.state == "provisioning" and realized(lb) and lb.mappings
             and len(nodes(world, lb)) == len(lb.mappings)]
    if not ready:
        return
    with dp.store.write() as tx:
        for arn in ready:
            mark_load_balancer_active(tx, arn)
