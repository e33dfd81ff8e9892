"""NLB nodes as every part of the data plane sees them: where a node is, what it forwards.

The NLB area renders a node's table, the endpoint area links endpoint ENIs to it, the
security group area guards it, the health checks probe from it and the proxy protocol
relays listen on it; they all ask here, so they agree on the node's namespace, the
names in the nlb table they share, the targets a node sends a new flow to (the
*forwarding set*, which the kernel path and the relays follow alike) and the port a
relay listens on.
"""
from __future__ import annotations

import hashlib

from ...kernel import naming
from ...model import targets
from ...model.elbv2 import (
    Listener,
    LoadBalancer,
    SubnetMapping,
    TargetGroup,
    cross_zone,
    forwarded_target_groups,
    proxy_protocol_v2,
)
from ..world import World
from .network import vpc_namespace

#: Verdict map of the nlb table: ``link ifname . ENI ip`` -> ``jump`` the chain of the
#: link's node: the PrivateLink traffic the listeners take (elements: the endpoint area's,
#: while the endpoint forwards).
ENI_FORWARDING = "eni_forwarding"
#: Map of the nlb table: link ifname -> its node's address, the SNAT source of the link's
#: flows (elements: the endpoint area's, one per link it plans).
LINK_SNAT = "link_snat"

#: Table ``<p>-count`` of a router holding nodes: named counters of the traffic its
#: listeners and endpoint links carry (the NLB area declares it, the endpoint area adds
#: its links). Maps of counter names: by ``ct mark`` (an endpoint link's mark) and by
#: ``ct mark . original destination . protocol . port`` (a listener: mark 0 for traffic
#: from the VPC to a node's address, a link's mark for PrivateLink traffic to its ENI).
COUNT_TABLE = "count"
ENDPOINT_NEW = "endpoint_new"
ENDPOINT_ALL = "endpoint_all"
LISTENER_NEW = "listener_new"
LISTENER_ALL = "listener_all"

#: nft protocols a listener's rules match, by listener protocol (TLS is not realized).
PROTOCOLS = {"TCP": ("tcp",), "UDP": ("udp",), "TCP_UDP": ("tcp", "udp")}

#: Relay ports: a hash of the target group ARN in [BASE, BASE + SPAN), above Linux's
#: default ephemeral range (32768-60999).
RELAY_PORT_BASE = 61000
RELAY_PORT_SPAN = 4000
#: Target group protocols a relay serves (it speaks TCP).
RELAY_PROTOCOLS = ("TCP", "TLS", "TCP_UDP")


def transit_pattern(prefix: str) -> str:
    """nft interface wildcard matching every endpoint link end (both sides) of `prefix`."""
    return f"{prefix}{naming.TAG_TRANSIT}*"


def realized(lb: LoadBalancer) -> bool:
    """NLBs that have nodes: network type, not failed."""
    return lb.type == "network" and lb.state in ("provisioning", "active")


def nodes(world: World, lb: LoadBalancer) -> list[SubnetMapping]:
    """The mappings of `lb` that can be realized (their subnet and VPC are known)."""
    out = []
    for m in lb.mappings:
        subnet = world.subnets.get(m.subnet_id)
        if subnet is None or subnet.vpc_id not in world.vpcs:
            continue
        if not m.network_interface_id or not m.private_ip:
            continue
        out.append(m)
    return out


def node_namespace(world: World, prefix: str, mapping: SubnetMapping) -> str | None:
    """The namespace a node lives in: its VPC's router (None while its subnet is unknown)."""
    subnet = world.subnets.get(mapping.subnet_id)
    return vpc_namespace(prefix, subnet.vpc_id) if subnet is not None else None


def node_public_ip(world: World, mapping: SubnetMapping) -> str | None:
    """The public address of an internet-facing node (its ENI's), None if it has none."""
    eni = world.enis.get(mapping.network_interface_id)
    return eni.association.public_ip if eni is not None and eni.association is not None else None


def node_chain(mapping: SubnetMapping) -> str:
    """The nlb table's chain of one node (named by its ENI: unique in the VPC)."""
    return "node_" + mapping.network_interface_id.removeprefix("eni-")


def listeners_of(world: World, lb_arn: str) -> list[Listener]:
    return sorted((l for l in world.listeners.values() if l.load_balancer_arn == lb_arn),
                  key=lambda l: (l.port, l.protocol))


def served(world: World, lb_arn: str) -> list[tuple[Listener, list[str], tuple[str, ...]]]:
    """The listeners of NLB `lb_arn` its nodes' chains realize: each with the target
    groups it forwards to (known ones) and its nft protocols."""
    out = []
    for listener in listeners_of(world, lb_arn):
        protos = PROTOCOLS.get(listener.protocol, ())
        arns = [a for a in forwarded_target_groups(listener.default_actions) if a in world.target_groups]
        if protos and arns:
            out.append((listener, arns, protos))
    return out


def listener_counters(listener_arn: str) -> tuple[str, str]:
    """Names of a listener's counters in the count table: (new flows, every packet)."""
    tag = listener_arn.rsplit("/", 1)[-1]
    return f"listener_{tag}_new", f"listener_{tag}"


def listener_keys(mark: int, address: str, listener: Listener, protos: tuple[str, ...]) -> list[str]:
    """Keys of the count table's listener maps for flows to `address` with ct mark `mark`."""
    return [f"{hex(mark)} . {address} . {proto} . {listener.port}" for proto in protos]


def lb_target_groups(world: World, lb_arn: str) -> list[str]:
    """ARNs of the target groups the listeners of NLB `lb_arn` forward to, sorted."""
    return sorted({arn for listener in world.listeners.values() if listener.load_balancer_arn == lb_arn
                   for arn in forwarded_target_groups(listener.default_actions)})


def forwarding_set(world: World, lb: LoadBalancer, mapping: SubnetMapping, tg: TargetGroup) -> list[tuple[str, int]]:
    """Sorted (ip, port) that node `mapping` of `lb` sends new flows of `tg` to.

    The targets that receive flows (`model.targets.flow_address`); with cross-zone off
    (`model.elbv2.cross_zone`) those in the node's zone or in zone `all`, and all of them
    when none is (vpclab's choice, so a one-zone lab still works); of those the healthy
    ones (`model.targets.healthy`), or all of them when none is (fail-open, as AWS).
    """
    pool = []
    for t in tg.targets:
        ip = targets.flow_address(tg, t, world.instances.get)
        if ip is not None:
            pool.append((t, ip))
    if not cross_zone(lb, tg):
        local = [(t, ip) for t, ip in pool if t.availability_zone in (None, "all", mapping.zone)]
        pool = local or pool
    healthy = [(t, ip) for t, ip in pool if targets.healthy(world.target_health.get, tg.id, t)]
    chosen = healthy or pool
    return sorted({(ip, t.port) for t, ip in chosen})


def relay_ports(world: World, lb_arn: str) -> dict[str, int]:
    """{target group ARN: relay port} for the proxy-protocol target groups of one NLB.

    A port is a hash of the ARN in `RELAY_PORT_BASE` + `RELAY_PORT_SPAN` (stable: it does
    not move when other target groups come and go), probed upwards on the rare collision
    within the NLB (groups taken in ARN order, so every caller computes the same ports).
    """
    taken: dict[int, str] = {}
    out: dict[str, int] = {}
    for arn in lb_target_groups(world, lb_arn):
        tg = world.target_groups.get(arn)
        if tg is None or not proxy_protocol_v2(tg) or tg.protocol not in RELAY_PROTOCOLS:
            continue
        slot = int(hashlib.sha256(arn.encode()).hexdigest()[:8], 16) % RELAY_PORT_SPAN
        while RELAY_PORT_BASE + slot in taken:
            slot = (slot + 1) % RELAY_PORT_SPAN
        taken[RELAY_PORT_BASE + slot] = arn
        out[arn] = RELAY_PORT_BASE + slot
    return out


def relay_port(world: World, lb_arn: str, tg_arn: str) -> int | None:
    """Where the relay for (NLB, target group) listens at each node of the NLB:
    ``<node address>:<port>``, in the router namespace the node is an address of. None
    when the target group has proxy protocol v2 off: then the listener DNATs to the
    targets."""
    return relay_ports(world, lb_arn).get(tg_arn)
