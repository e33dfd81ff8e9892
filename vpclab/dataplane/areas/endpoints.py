"""Interface endpoints: each ENI a veth from its subnet's bridge into the router of the
provider NLB's node in the same zone id (docs/DATAPLANE.md, "Interface endpoints").

What this area adds per link (numbered by `transit`): both ends (`consumer_link_name`,
`node_link_name`), the provider end's link-local `LINK_ADDRESS` and ARP answer for the
ENI address (a proxy neighbour with the MAC `link_mac`), its sysctls (`link_sysctls`,
and `bridge_sysctls` where a router holds both ends of links), its routing table and ip
rule; per provider router, once, the ARP lookup table and the rule that skips the link
rules for unmarked packets (`_add_router_routing`), table ``ip <p>-links`` (zone and ct
mark per link: `links_table`) and ``arp <p>-linkarp`` (`link_arp_table`); and elements
of the NLB area's nlb table: ``eni_forwarding`` (``link . ENI ip`` -> the node's chain,
only while the endpoint forwards: `FORWARD_STATES`) and ``link_snat`` (every link).

Links exist in `LINK_STATES` (from `pendingAcceptance` on, so accepting is one element
update). The service's NLBs are searched in order for a node in the ENI's zone id
(`serving_node`); an ENI whose zone has no node gets no link.

`observe` (after a good pass): allocates indexes for ENIs that want a link and have none
(the link appears in the next pass), frees the indexes of links the pass removed, moves
`pending` -> `available` once every link of the endpoint was applied, and `deleting` ->
`deleted` (`model.observed`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from ...kernel import naming
from ...kernel.nft import Count, NftChain, NftSet, NftTable, with_elements
from ...kernel.topology import Interface, ProxyNeighbour, Route, Rule, VethPair
from ...model.dataplane import TransitLink
from ...model.ec2 import NetworkInterface
from ...model.elbv2 import LoadBalancer, SubnetMapping
from ...model.observed import mark_endpoint_available, mark_endpoint_deleted
from ...model.privatelink import CONNECTED_STATES, Endpoint
from ..planner import PlanBuilder
from ..world import Reporter, World, gateway_of
from . import transit
from .network import GSO_MAX_SIZE, vpc_namespace
from .nodes import (
    COUNT_TABLE,
    ENDPOINT_ALL,
    ENDPOINT_NEW,
    ENI_FORWARDING,
    LINK_SNAT,
    LISTENER_ALL,
    LISTENER_NEW,
    listener_counters,
    listener_keys,
    node_chain,
    node_namespace,
    nodes,
    realized,
    served,
    transit_pattern,
)

log = logging.getLogger("vpclab.dataplane.endpoints")

#: Endpoint states in which an ENI has a link: every connected state (the link is made
#: before acceptance, so that accepting is one element update on a link that is already up).
LINK_STATES = CONNECTED_STATES
#: Endpoint states in which an ENI forwards (its pair is in the NLB table's `eni_forwarding`).
FORWARD_STATES = ("pending", "available")
#: ARP retransmit time on the provider end of a link (the kernel's default is 1 s).
ARP_RETRANS_MS = "100"
#: The provider end's own address (link-local: the source of its ARP requests into the
#: consumer subnet; the same on every link, an address may sit on many links).
LINK_ADDRESS = "169.254.0.1"


def link_mac(eni_ip: str) -> str:
    """The MAC the ENI address answers ARP with: the provider end of its link, named by
    the address (``02:ee:`` + its four bytes), as an ENI keeps its MAC on AWS. Consumers
    cache it: an endpoint made again with an address an earlier one had (a new link)
    must answer with the MAC they still hold, or their packets go to a MAC that is gone
    until their neighbour entry times out (seconds; benchmarks/dataplane.py saw a first
    request wait over 10 s). Unique in the consumer subnet, as the address is; two links
    in one router may share it (each is its own segment)."""
    return naming.address_mac(0xEE, eni_ip)


def link_sysctls(link: str) -> dict[str, str]:
    """Per link end in the provider's router (a namespace has no neigh/default of its own): ARP retried
    after 100 ms, not 1 s; proxy answers sent at once, not after up to 0.8 s; no IPv6 (no
    router solicitations into the consumer subnet).

    And ``accept_local``: what arrives on a link comes from the consumer VPC, whose
    addresses may be this router's own. Above all the consumer's gateway: a client in
    another subnet reaches the ENI through its VPC router, which asks for the ENI address
    from its gateway address on the ENI's subnet (``172.31.0.1`` in a default VPC), and
    the provider's router has that very address on its own subnet bridge when the two
    VPCs overlap. Without the switch the kernel drops such an ARP request (and IP packet)
    as a martian (a local source on a foreign interface), and nothing outside the ENI's
    own subnet could reach the ENI. (A consumer *instance* whose own address is one of
    this router's still gets no answer: its replies meet the local table, rule 0, before
    the link's rule.)"""
    return {
        f"net.ipv4.neigh.{link}.retrans_time_ms": ARP_RETRANS_MS,
        f"net.ipv4.neigh.{link}.proxy_delay": "0",
        f"net.ipv4.conf.{link}.accept_local": "1",
        f"net.ipv6.conf.{link}.disable_ipv6": "1",
    }


def bridge_sysctls(bridge: str) -> dict[str, str]:
    """Per subnet bridge carrying a consumer link end, in a router where links also end
    (the provider's own endpoint, or a consumer VPC that provides a service too):
    ``accept_local``, because the link ends there ask for the consumer's gateway from
    `LINK_ADDRESS`, which that router has on its own link ends. The return path of a
    client in another subnet goes via that gateway, and once the neighbour entry learned
    from the gateway's own request expires the link end must ask again."""
    return {f"net.ipv4.conf.{bridge}.accept_local": "1"}


@dataclass(frozen=True)
class EndpointEni:
    endpoint: Endpoint
    eni: NetworkInterface
    lb: LoadBalancer | None  # the provider NLB serving the ENI's zone, if any
    mapping: SubnetMapping | None  # its node in that zone
    link: TransitLink | None  # the persisted index, if allocated

    @property
    def wants_link(self) -> bool:
        return self.endpoint.state in LINK_STATES and self.mapping is not None

    @property
    def linked(self) -> bool:
        """True when the plan carries this ENI's link."""
        return self.wants_link and self.link is not None

    @property
    def forwarding(self) -> bool:
        """True when the plan carries this ENI's forwarding pair (and its link)."""
        return self.linked and self.endpoint.state in FORWARD_STATES


def serving_node(world: World, ep: Endpoint, eni: NetworkInterface) -> tuple[LoadBalancer, SubnetMapping] | None:
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
            if m.zone_id == subnet.availability_zone_id:
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
    """``<prefix>t<6 hex index>c``: named by the link's index, not a hash of the ENI id, so
    that thousands of links meeting in one router can never collide (a 7-hex hash did, at
    1,000 endpoints). Still matches the transit wildcard ``<prefix>t*``."""
    return f"{naming.check_prefix(prefix)}{naming.TAG_TRANSIT}{index:06x}c"


def node_link_name(prefix: str, index: int) -> str:
    return f"{naming.check_prefix(prefix)}{naming.TAG_TRANSIT}{index:06x}n"


def link_endpoints(world: World) -> dict[int, str]:
    """{link index: endpoint id} of the links that forward (for the proxy v2 relay)."""
    return {e.link.index: e.endpoint.id for e in endpoint_enis(world) if e.forwarding and e.link is not None}


@dataclass
class _RouterLinks:
    """What the links ending in one provider router add to its nft tables."""

    zones: dict[str, str] = field(default_factory=dict)
    marks: dict[str, str] = field(default_factory=dict)
    forwarding: dict[str, str] = field(default_factory=dict)
    snat: dict[str, str] = field(default_factory=dict)
    # The count table's part (`count_elements`): counters, and map elements by map name.
    counters: set[str] = field(default_factory=set)
    counted: dict[str, dict[str, str]] = field(default_factory=dict)


def endpoint_counters(endpoint_id: str) -> tuple[str, str]:
    """Names of an endpoint's counters in the count table: (new flows, every packet)."""
    tag = endpoint_id.removeprefix("vpce-")
    return f"endpoint_{tag}_new", f"endpoint_{tag}"


def count_elements(world: World, e: EndpointEni, links: _RouterLinks) -> None:
    """What a forwarding link adds to its router's count table: its mark counts for its
    endpoint, and its flows to the ENI address for each listener of the node's NLB
    (named counters are shared by all of an endpoint's links in one router)."""
    if e.link is None or e.lb is None:
        return
    mark = transit.mark(e.link.index)
    new, every = endpoint_counters(e.endpoint.id)
    links.counters.update((new, every))
    links.counted.setdefault(ENDPOINT_NEW, {})[hex(mark)] = f'"{new}"'
    links.counted.setdefault(ENDPOINT_ALL, {})[hex(mark)] = f'"{every}"'
    for listener, _arns, protos in served(world, e.lb.id):
        names = listener_counters(listener.id)
        links.counters.update(names)
        for key in listener_keys(mark, e.eni.private_ip, listener, protos):
            links.counted.setdefault(LISTENER_NEW, {})[key] = f'"{names[0]}"'
            links.counted.setdefault(LISTENER_ALL, {})[key] = f'"{names[1]}"'


def links_table(prefix: str, links: _RouterLinks) -> NftTable:
    pattern = transit_pattern(prefix)
    return NftTable(
        "ip", naming.table_name(prefix, "links"),
        sets=(
            NftSet.map("link_zone", "typeof iifname", "ct zone", links.zones),
            NftSet.map("link_mark", "ifname", "mark", links.marks),
        ),
        chains=(
            # Before conntrack: the flow is looked up and made in the link's zone.
            NftChain("raw", (f'iifname "{pattern}" ct original zone set iifname map @link_zone',),
                     "filter", "prerouting", "raw", "accept"),
            # After conntrack, before NAT and routing: a new flow keeps its link's mark;
            # a reply carries it, for the link's ip rule.
            NftChain("mangle", (f'iifname "{pattern}" ct state new ct mark set iifname map @link_mark',
                                "ct direction reply meta mark set ct mark"),
                     "filter", "prerouting", "mangle", "accept"),
        ),
    )


def link_arp_table(prefix: str) -> NftTable:
    """ARP from links carries `transit.ARP_MARK` into the kernel's route check (module doc)."""
    return NftTable("arp", naming.table_name(prefix, "linkarp"), (), (
        NftChain("input", (f'iifname "{transit_pattern(prefix)}" meta mark set {hex(transit.ARP_MARK)}',),
                 "filter", "input", "filter", "accept"),
    ))


def _add_link(builder: PlanBuilder, world: World, e: EndpointEni, router_ns: str) -> str | None:
    """The link of `e` in the plan (both ends, the router's routing for it); its provider-end name."""
    prefix = builder.prefix
    subnet = world.subnets.get(e.eni.subnet_id)
    vpc_ns = vpc_namespace(prefix, e.endpoint.vpc_id)
    if subnet is None or not builder.has(vpc_ns) or e.link is None:
        return None
    index = e.link.index
    if index >= transit.CAPACITY:
        log.warning("endpoint link %d of %s is beyond the %d vpclab can route; not made",
                    index, e.eni.id, transit.CAPACITY)
        return None
    name, peer = consumer_link_name(prefix, index), node_link_name(prefix, index)
    builder.namespace(vpc_ns).veths[name] = VethPair(
        local=Interface(name, master=naming.bridge_name(prefix, subnet.id), gso_max_size=GSO_MAX_SIZE),
        peer_namespace=router_ns,
        peer=Interface(peer, addresses=(f"{LINK_ADDRESS}/32",), gso_max_size=GSO_MAX_SIZE,
                       mac=link_mac(e.eni.private_ip)),
    )
    router = builder.namespace(router_ns)
    router.sysctls.update(link_sysctls(peer))
    router.proxy_neighbours[(e.eni.private_ip, peer)] = ProxyNeighbour(e.eni.private_ip, peer)
    table_id = transit.table(index)
    # The subnet first: the gateway must be reachable in the table when the default is added.
    router.routes.append(Route(subnet.cidr_block, dev=peer, table=table_id))
    router.routes.append(Route("default", via=gateway_of(subnet.cidr_block), dev=peer, table=table_id))
    router.rules[transit.rule_priority(index)] = Rule(transit.rule_priority(index), fwmark=transit.mark(index),
                                                       table=table_id)
    return peer


def _add_router_routing(builder: PlanBuilder, router_ns: str) -> None:
    """What every router with links has once: the ARP lookup table and the rule skipping
    the per-link rules for unmarked packets."""
    router = builder.namespace(router_ns)
    router.routes.append(Route("default", dev="lo", table=transit.ARP_TABLE))
    router.rules[transit.ARP_RULE] = Rule(transit.ARP_RULE, fwmark=transit.ARP_MARK, mask=transit.ARP_MARK,
                                          table=transit.ARP_TABLE)
    router.rules[transit.SKIP_RULE] = Rule(transit.SKIP_RULE, fwmark=transit.MARK_BIT, mask=transit.MARK_BIT,
                                           invert=True, goto=transit.MAIN_RULE)


def contribute(world: World, builder: PlanBuilder) -> None:
    prefix = builder.prefix
    per_router: dict[str, _RouterLinks] = {}
    consumer_bridges: set[tuple[str, str]] = set()  # (VPC router, subnet bridge) with a consumer end
    for e in endpoint_enis(world):
        if not e.linked or e.mapping is None or e.link is None:  # (`linked` means both are set)
            continue
        router_ns = node_namespace(world, prefix, e.mapping)
        if router_ns is None or not builder.has(router_ns):
            continue
        peer = _add_link(builder, world, e, router_ns)
        if peer is None:
            continue
        consumer_bridges.add((vpc_namespace(prefix, e.endpoint.vpc_id),
                              naming.bridge_name(prefix, e.eni.subnet_id)))
        links = per_router.setdefault(router_ns, _RouterLinks())
        links.zones[f'"{peer}"'] = str(transit.zone(e.link.index))
        links.marks[f'"{peer}"'] = hex(transit.mark(e.link.index))
        links.snat[f'"{peer}"'] = e.mapping.private_ip
        if e.forwarding:  # pendingAcceptance: the link exists, nothing is forwarded from it
            links.forwarding[f'"{peer}" . {e.eni.private_ip}'] = f"jump {node_chain(e.mapping)}"
            count_elements(world, e, links)
    for vpc_ns, bridge in consumer_bridges:
        if vpc_ns in per_router:
            builder.namespace(vpc_ns).sysctls.update(bridge_sysctls(bridge))
    for router_ns, links in per_router.items():
        _add_router_routing(builder, router_ns)
        draft = builder.namespace(router_ns)
        for table in (links_table(prefix, links), link_arp_table(prefix)):
            draft.nft[table.name] = table
        nlb = draft.nft.get(naming.table_name(prefix, "nlb"))
        if nlb is not None:
            nlb = with_elements(nlb, ENI_FORWARDING, links.forwarding)
            draft.nft[nlb.name] = with_elements(nlb, LINK_SNAT, links.snat)
        count = draft.nft.get(naming.table_name(prefix, COUNT_TABLE))
        if count is not None:
            for name, elements in links.counted.items():
                count = with_elements(count, name, {**count.set(name).elements, **elements})
            draft.nft[count.name] = count.with_counters(links.counters)


def observe(world: World, dp: Reporter, now: float) -> None:
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


# Reading the count tables --------------------------------------------------------------------

@dataclass(frozen=True)
class Traffic:
    """What an endpoint or an NLB listener carried since its counters were made: new
    flows (`connections`), and the packets and bytes of its flows, both directions."""

    connections: int = 0
    packets: int = 0
    bytes: int = 0


def count_namespaces(world: World, prefix: str) -> list[str]:
    """The routers holding NLB nodes: where count tables are (`load_balancers.count_table`)."""
    found = {node_namespace(world, prefix, m) for lb in world.load_balancers.values() if realized(lb)
             for m in nodes(world, lb)}
    return sorted(ns for ns in found if ns is not None)


def traffic(world: World, prefix: str, read: Callable[[str], Mapping[str, Count]]) -> dict[str, Traffic]:
    """{endpoint id or listener ARN: Traffic}, summed over the count tables `read(namespace)`
    lists (an endpoint's links may end in several routers); every endpoint and listener
    of `world`, zero where nothing was counted."""
    names: dict[str, tuple[str, bool]] = {}  # counter name -> (owner, counts new flows)
    for ep in world.endpoints.values():
        new, every = endpoint_counters(ep.id)
        names[new], names[every] = (ep.id, True), (ep.id, False)
    for listener in world.listeners.values():
        new, every = listener_counters(listener.id)
        names[new], names[every] = (listener.id, True), (listener.id, False)
    totals = {owner: [0, 0, 0] for owner, _new in names.values()}
    for ns in count_namespaces(world, prefix):
        for name, count in read(ns).items():
            owner = names.get(name)
            if owner is None:
                continue
            total = totals[owner[0]]
            if owner[1]:
                total[0] += count.packets
            else:
                total[1] += count.packets
                total[2] += count.bytes
    return {owner: Traffic(*t) for owner, t in totals.items()}
