"""Interface endpoints: ENI addresses in the consumer VPC, NAT over a transit link to an NLB node.

Per endpoint ENI (one per subnet of the endpoint):

- its private IP is a /32 on the consumer VPC router's service bridge
  (`desired_network.add_service_address`, batched): no namespace per ENI, so a thousand endpoints cost a thousand
  addresses, not a thousand namespaces;
- while the endpoint is `pendingAcceptance`, `pending` (accepted, being made ready) or
  `available`, a transit veth pair links the consumer VPC namespace to the provider NLB
  node *in the same zone id* (PrivateLink matches zones by id), numbered with a
  persisted /30 from 100.64.0.0/10 (`transit.py`): consumer side .1, node side .2. The
  link is made while the endpoint still waits for acceptance, so that accepting it only
  adds DNAT elements (one pass, on a link that has been up and ARP-ready for a while);
  it passes nothing until then (below);
- the consumer VPC's table `<p>-endpoints` DNATs ``ENI ip . proto . listener port`` to
  ``node-side transit address . port`` through one map (an endpoint more or less is an
  element update), and masquerades what leaves on a transit link, so the node sees the
  consumer-side transit address; replies return by conntrack and the connected /30;
- anything else sent to an ENI address is dropped (no DNAT element = nothing forwards):
  `pendingAcceptance` (link made, no DNAT element), `rejected`, `deleting` endpoints
  time out, as on AWS;
- nothing but DNATed flows may leave on a transit link (a consumer cannot address the
  node's transit side directly), and on the node only DNATed flows are forwarded from a
  transit link (the NLB area's table).

The NLB node then treats the node-side transit address as one of its own: the listener
DNAT (`fib daddr type local`) picks a target and SNATs to the node's private IP, so the
provider's targets see an NLB node address as the source.

The service's NLBs are searched in order for a node in the ENI's zone id; an ENI whose
zone has no node (the NLB's subnets changed after the endpoint was made) gets its address
but no link: nothing forwards through it (vpclab's choice; AWS does not let such an
endpoint be created). The endpoint still becomes `available`.

`observe` (after a good pass): allocates /30s for ENIs that want a link and have none (the
link appears in the next pass), frees the /30s of links the pass removed, moves `pending`
-> `available` once every link of the endpoint was applied (its DNAT elements are applied
in that same pass: a `pending` endpoint whose links exist already forwards, so that
`available` is never reported before traffic flows), and `deleting` -> `deleted` (its
links and DNAT elements are not in the plan any more).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..control.endpoints import mark_endpoint_available, mark_endpoint_deleted
from ..model.dataplane import TransitLink
from ..model.ec2 import NetworkInterface
from ..model.elbv2 import LoadBalancer
from ..model.privatelink import Endpoint
from . import naming, transit
from .desired_load_balancers import listener_ports, node_namespace, nodes, realized, transit_pattern
from .desired_network import GSO_MAX_SIZE, service_bridge, vpc_namespace
from .nft import NftChain, NftSet, NftTable
from .planner import PlanBuilder
from .topology import Bridge, Interface, VethPair
from .world import World

#: Endpoint states in which an ENI has a transit link (made before acceptance, so that
#: accepting is one DNAT element update on a link that is already up).
LINK_STATES = ("pendingAcceptance", "pending", "available")
#: Endpoint states in which an ENI forwards (has DNAT elements).
FORWARD_STATES = ("pending", "available")
#: ARP retransmit time on transit links (the kernel's default is 1 s).
ARP_RETRANS_MS = "100"


def neigh_sysctl(link: str) -> str:
    return f"net.ipv4.neigh.{link}.retrans_time_ms"


@dataclass(frozen=True)
class EndpointEni:
    endpoint: Endpoint
    eni: NetworkInterface
    lb: LoadBalancer | None  # the provider NLB serving the ENI's zone, if any
    mapping: dict | None  # its node in that zone
    link: TransitLink | None  # the persisted /30, if allocated

    @property
    def wants_link(self) -> bool:
        return self.endpoint.state in LINK_STATES and self.mapping is not None

    @property
    def linked(self) -> bool:
        """True when the plan carries this ENI's transit link."""
        return self.wants_link and self.link is not None

    @property
    def forwarding(self) -> bool:
        """True when the plan carries this ENI's DNAT elements (and its link)."""
        return self.linked and self.endpoint.state in FORWARD_STATES


def serving_node(world: World, ep: Endpoint, eni: NetworkInterface) -> tuple[LoadBalancer, dict] | None:
    """The provider NLB node in the zone id of `eni` (first NLB of the service that has one)."""
    service = world.services.get(ep.service_id)
    subnet = world.subnets.get(eni.subnet_id)
    if service is None or subnet is None:
        return None
    for arn in service.network_load_balancer_arns:
        lb = world.load_balancers.get(arn)
        if lb is None or not realized(lb):
            continue
        for m in nodes(world, lb):
            if m.get("zone_id") == subnet.availability_zone_id:
                return lb, m
    return None


def endpoint_enis(world: World) -> Iterator[EndpointEni]:
    """Every ENI of every interface endpoint that is not `deleted`, in a stable order."""
    for ep in sorted(world.endpoints.values(), key=lambda e: e.id):
        if ep.endpoint_type != "Interface" or ep.state == "deleted" or ep.vpc_id not in world.vpcs:
            continue
        for eni_id in ep.network_interface_ids:
            eni = world.enis.get(eni_id)
            if eni is None or not eni.private_ip:
                continue
            node = serving_node(world, ep, eni)
            lb, mapping = node if node is not None else (None, None)
            yield EndpointEni(ep, eni, lb, mapping, world.transit_links.get(eni.id))


def consumer_link_name(prefix: str, index: int) -> str:
    """``<prefix>t<6 hex index>c``: named by the /30's index, not a hash of the ENI id, so
    that thousands of links meeting in one node can never collide (a 7-hex hash did, at
    1,000 endpoints). Still matches the transit wildcard ``<prefix>t*``."""
    return f"{naming.check_prefix(prefix)}{naming.TAG_TRANSIT}{index:06x}c"


def node_link_name(prefix: str, index: int) -> str:
    return f"{naming.check_prefix(prefix)}{naming.TAG_TRANSIT}{index:06x}n"


def transit_sources(world: World, prefix: str) -> dict[tuple[str, str], str]:
    """{(node namespace, consumer-side transit address): endpoint id} (for the proxy v2 relay)."""
    out = {}
    for e in endpoint_enis(world):
        if e.forwarding:
            out[(node_namespace(prefix, e.mapping), transit.consumer_address(e.link.index))] = e.endpoint.id
    return out


def _vpc_table(prefix: str, addresses: list[str], dnat: dict[str, str]) -> NftTable:
    pattern = transit_pattern(prefix)
    return NftTable(
        "ip", naming.table_name(prefix, "endpoints"),
        sets=(
            NftSet.of("eni_addrs", "ipv4_addr", sorted(addresses)),
            NftSet.map("eni_dnat", "ipv4_addr . inet_proto . inet_service", "ipv4_addr . inet_service", dnat),
        ),
        chains=(
            NftChain("prerouting", ("dnat ip to ip daddr . meta l4proto . th dport map @eni_dnat",),
                     "nat", "prerouting", "dstnat", "accept"),
            # Only DNATed flows leave on a transit link. In the nat chain (run for a flow's
            # first packet only), not a filter forward chain run for every packet: a flow
            # whose first packet is dropped never gets a conntrack entry, so its later
            # packets are first packets again (benchmarks/dataplane.py: one hook less per
            # forwarded packet).
            NftChain("postrouting", (f'oifname "{pattern}" ct status dnat masquerade', f'oifname "{pattern}" drop'),
                     "nat", "postrouting", "srcnat", "accept"),
            # Not DNATed (endpoint not forwarding, or a port no listener has): nothing answers.
            NftChain("input", ("ip daddr @eni_addrs drop",), "filter", "input", 0, "accept"),
        ),
    )


def _add_service_addresses(builder: PlanBuilder, prefix: str, vpc_id: str, addrs: list[str]) -> None:
    """`add_service_address` for many at once (one Bridge built per VPC, not one per ENI:
    each rebuild re-parses every address, which made 1,000 endpoints cost 2 s of planning)."""
    draft = builder.namespace(vpc_namespace(prefix, vpc_id))
    name = service_bridge(prefix, vpc_id)
    current = draft.bridges[name]
    draft.bridges[name] = Bridge(name, addresses=current.addresses + tuple(f"{a}/32" for a in addrs))


def contribute(world: World, builder: PlanBuilder) -> None:
    prefix = builder.prefix
    addresses: dict[str, list[str]] = {}
    dnat: dict[str, dict[str, str]] = {}
    for e in endpoint_enis(world):
        vpc_id = e.endpoint.vpc_id
        addresses.setdefault(vpc_id, []).append(e.eni.private_ip)
        elements = dnat.setdefault(vpc_id, {})
        if not e.linked:
            continue
        node_ns = node_namespace(prefix, e.mapping)
        if not builder.has(node_ns):
            continue
        net = transit.network_of(e.link.index)
        here = vpc_namespace(prefix, vpc_id)
        name = consumer_link_name(prefix, e.link.index)
        peer_name = node_link_name(prefix, e.link.index)
        # ARP retried after 100 ms, not 1 s, on both ends (a network namespace has no
        # neigh/default sysctls of its own, so per link): should the first request go
        # unanswered, traffic waits 0.1 s, not 1 s.
        builder.namespace(here).sysctls[neigh_sysctl(name)] = ARP_RETRANS_MS
        builder.namespace(node_ns).sysctls[neigh_sysctl(peer_name)] = ARP_RETRANS_MS
        builder.namespace(here).veths[name] = VethPair(
            local=Interface(name, addresses=(f"{transit.consumer_address(e.link.index)}/{net.prefixlen}",),
                            gso_max_size=GSO_MAX_SIZE),
            peer_namespace=node_ns,
            peer=Interface(peer_name,
                           addresses=(f"{transit.node_address(e.link.index)}/{net.prefixlen}",),
                           gso_max_size=GSO_MAX_SIZE),
        )
        if not e.forwarding:
            continue  # pendingAcceptance: the link exists, nothing is DNATed onto it
        to = transit.node_address(e.link.index)
        for proto, port in listener_ports(world, e.lb.id):
            elements[f"{e.eni.private_ip} . {proto} . {port}"] = f"{to} . {port}"
    for vpc_id, addrs in addresses.items():
        _add_service_addresses(builder, prefix, vpc_id, addrs)
        table = _vpc_table(prefix, addrs, dnat.get(vpc_id, {}))
        builder.namespace(vpc_namespace(prefix, vpc_id)).nft[table.name] = table


def observe(world: World, dp, now: float) -> None:
    wanted: dict[str, Endpoint] = {}
    blocked: set[str] = set()  # pending endpoints with a link not applied yet
    for e in endpoint_enis(world):
        if e.wants_link:
            wanted[e.eni.id] = e.endpoint
            if e.link is None:
                blocked.add(e.endpoint.id)
    allocate = [(eni_id, ep) for eni_id, ep in wanted.items() if eni_id not in world.transit_links]
    free = [eni_id for eni_id in world.transit_links if eni_id not in wanted]
    available = [ep.id for ep in world.endpoints.values() if ep.state == "pending" and ep.id not in blocked]
    deleted = [ep.id for ep in world.endpoints.values() if ep.state == "deleting"]
    if not (allocate or free or available or deleted):
        return
    with dp.store.write() as tx:
        pool = transit.Allocator(tx)
        for eni_id in free:
            pool.free(eni_id)
        for eni_id, ep in allocate:
            pool.allocate(eni_id, ep.id, ep.account, ep.region, now)
        for endpoint_id in available:
            mark_endpoint_available(tx, endpoint_id, now)
        for endpoint_id in deleted:
            mark_endpoint_deleted(tx, endpoint_id, now)
