"""The internet edge: each internet gateway as one-to-one NAT at its VPC's router, and one
namespace that plays the internet between them (DESIGN.md, "The internet edge").

- The internet is namespace ``<p>-internet``. It holds the user's machine
  (`model.internet.HOST_ADDRESS`, on a port-less bridge: the host relay's sockets bind
  to it; it is always there while the data plane runs, so the relay's thread in it
  never holds up a namespace being deleted) and one link per VPC with an attached
  internet gateway. It routes each public
  address (a /32) to the link of the VPC holding it, forwards only between public
  addresses, and has no other route: nothing gets past it, and it has no link to the
  host.
- A VPC's link: the router end (`gateway_link`) is 169.254.0.1/30, the internet end
  169.254.0.2/30 (the same pair on every link: each lives on its own interface). While
  the gateway is attached the router's default route points at the internet end.
- Table ``ip <p>-igw`` of the router (`gateway_table`):
  - prerouting, nat (a flow's first packet): a flow from the internet to an instance's
    public address is DNATed to its private address (map ``inbound``); a flow to an NLB
    node's public address is left to the NLB table (`load_balancers`), which sends it
    to the targets. Security groups see the real source (the instance's own table, the
    NLB's nodes table).
  - postrouting, nat: a flow from an address with a public one, to the internet, is
    SNATed to it (map ``outbound``).
  - postrouting, filter, after NAT (every packet): a packet leaves for the internet
    only from a public address, and only where the route table of the subnet that
    address lives in sends its destination to the internet gateway (verdict map
    ``routes``: public address -> the chain of its route table), and only in a flow the
    gateway translated (an instance that forges another public source, with a raw
    socket, sends nothing out: EC2's source check). This is how the route
    tables are followed: an instance in a subnet without a route to the gateway never
    answers the internet (its reply has no route, as on AWS), and sends nothing to it.
  - forward and input, filter: from the internet, only flows to a public address
    (DNATed) and replies pass.
- A subnet's route table and its routes to the internet are `model.internet`'s rules
  (`table_of_subnet`, `internet_destinations`), as the API shows them.

`exposed_ports` says which TCP ports of a public address the host relay
(`agents/host_relay.py`) carries.
"""
from __future__ import annotations

import ipaddress

from ...kernel import naming
from ...kernel.nft import NftChain, NftSet, NftTable
from ...kernel.topology import Bridge, Interface, Route, VethPair
from ...model import internet
from ...model.ec2 import NetworkInterface
from ..planner import PlanBuilder
from ..world import World
from .network import vpc_namespace

#: The two ends of every VPC's link to the internet.
ROUTER_END = "169.254.0.1"
INTERNET_END = "169.254.0.2"
LINK_PREFIX = 30

#: The internet namespace forwards between VPC links; it sends no redirects (a hairpin
#: flow leaves on the link it came in on) and checks no reverse path (every link has the
#: same address).
INTERNET_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.send_redirects": "0",
}

#: After the security groups' check of NLB nodes (dstnat - 10), before the NLB's own
#: DNAT (dstnat): the first NAT a flow meets is the one it gets.
INBOUND_PRIORITY = "dstnat - 5"
#: After every SNAT: the route check sees the public source a packet leaves with.
ROUTE_CHECK_PRIORITY = "srcnat + 10"

#: TCP ports the host relay carries for every public address, whatever the rules say,
#: so that a port a rule no longer allows times out (as on AWS) instead of being refused.
WELL_KNOWN_PORTS = (22, 80, 443)
#: A rule's port range wider than this contributes only the well-known ports it holds
#: (one listening socket per port).
WIDEST_RANGE = 64
COMMON_PORTS = (22, 80, 443, 3000, 3389, 5000, 8000, 8080, 8443)
#: Listener protocols carried over TCP.
TCP_LISTENERS = ("TCP", "TLS", "TCP_UDP")


def internet_namespace(prefix: str) -> str:
    return naming.namespace_name(prefix, "internet")


def gateway_link(prefix: str, vpc_id: str) -> str:
    """The router end of a VPC's link to the internet."""
    return naming.link_name(prefix, naming.TAG_GATEWAY, vpc_id)


def internet_link(prefix: str, vpc_id: str) -> str:
    """The internet end of a VPC's link."""
    return naming.link_name(prefix, naming.TAG_GATEWAY, vpc_id + "/internet")


def host_bridge(prefix: str) -> str:
    """The port-less bridge of the internet namespace that holds the user's machine."""
    return naming.bridge_name(prefix, "internet/host")


def public_enis(world: World) -> list[NetworkInterface]:
    """ENIs with a public address whose subnet and VPC are known, by address."""
    out = [e for e in world.enis.values()
           if e.association is not None and e.association.public_ip and e.private_ip
           and e.subnet_id in world.subnets and e.vpc_id in world.vpcs]
    return sorted(out, key=lambda e: ipaddress.IPv4Address(e.association.public_ip)  # type: ignore[union-attr]
                  if internet.is_public(e.association.public_ip) else ipaddress.IPv4Address(0))  # type: ignore[union-attr]


def is_node(eni: NetworkInterface) -> bool:
    """An NLB node's ENI: its public address is the NLB table's to serve."""
    return eni.interface_type == "network_load_balancer"


def attached_vpcs(world: World) -> set[str]:
    """VPCs with an attached internet gateway that vpclab realizes."""
    return {igw.vpc_id for igw in world.internet_gateways.values()
            if igw.vpc_id is not None and igw.vpc_id in world.vpcs}


def route_chain(table_id: str | None) -> str:
    return "rt_" + (table_id or "none").removeprefix("rtb-").replace("-", "_")


def _route_rules(destinations: list[str]) -> tuple[str, ...]:
    networks = list(ipaddress.collapse_addresses(ipaddress.IPv4Network(c) for c in destinations))
    if not networks:
        return ("drop",)
    if networks == [ipaddress.IPv4Network("0.0.0.0/0")]:
        return ("accept",)
    return (f"ip daddr {{ {', '.join(str(n) for n in networks)} }} accept", "drop")


def gateway_table(world: World, prefix: str, vpc_id: str, enis: list[NetworkInterface]) -> NftTable:
    """The igw table of one VPC's router, for the public ENIs `enis` of that VPC."""
    link = gateway_link(prefix, vpc_id)
    inbound: dict[str, str] = {}
    outbound: dict[str, str] = {}
    routes: dict[str, str] = {}
    chains: dict[str, NftChain] = {}
    for eni in enis:
        assert eni.association is not None
        public = eni.association.public_ip
        subnet = world.subnets[eni.subnet_id]
        table = internet.table_of_subnet(world.route_tables.values(), subnet.id, subnet.vpc_id)
        name = route_chain(table.id if table is not None else None)
        if name not in chains:
            chains[name] = NftChain(name, _route_rules(
                internet.internet_destinations(table, world.internet_gateways)))
        routes[public] = f"goto {name}"
        if not is_node(eni):
            inbound[public] = eni.private_ip
            outbound[eni.private_ip] = public
    return NftTable("ip", naming.table_name(prefix, "igw"), (
        NftSet.map("inbound", "ipv4_addr", "ipv4_addr", inbound),
        NftSet.map("outbound", "ipv4_addr", "ipv4_addr", outbound),
        NftSet.map("routes", "ipv4_addr", "verdict", routes),
    ), (
        *(chains[k] for k in sorted(chains)),
        NftChain("prerouting", (f'iifname "{link}" dnat ip to ip daddr map @inbound',),
                 "nat", "prerouting", INBOUND_PRIORITY, "accept"),
        NftChain("postrouting", (f'oifname "{link}" snat ip to ip saddr map @outbound',),
                 "nat", "postrouting", "srcnat", "accept"),
        NftChain("route_check", (f'oifname != "{link}" accept', "ct status & (snat | dnat) == 0 drop",
                                 "ip saddr vmap @routes", "drop"),
                 "filter", "postrouting", ROUTE_CHECK_PRIORITY, "accept"),
        NftChain("from_internet", (f'iifname != "{link}" accept', "ct state established,related accept",
                                   "ct status dnat accept", "drop"),
                 "filter", "forward", "filter", "accept"),
        NftChain("to_router", (f'iifname != "{link}" accept', "ct state established,related accept",
                               "ct status dnat accept", "drop"),
                 "filter", "input", "filter", "accept"),
    ))


def internet_table(prefix: str) -> NftTable:
    """The internet namespace's own filter: public to public only; the user's machine
    takes replies, never a new flow from a VPC."""
    public = str(internet.PUBLIC_RANGE)
    return NftTable("ip", naming.table_name(prefix, "internet"), (), (
        NftChain("forward", (f"ip saddr {public} ip daddr {public} accept",),
                 "filter", "forward", "filter", "drop"),
        NftChain("input", ("ct state established,related accept", 'iifname "lo" accept'),
                 "filter", "input", "filter", "drop"),
    ))


def contribute(world: World, builder: PlanBuilder) -> None:
    prefix = builder.prefix
    attached = {v for v in attached_vpcs(world) if builder.has(vpc_namespace(prefix, v))}
    the_internet = builder.namespace(internet_namespace(prefix))
    the_internet.sysctls.update(INTERNET_SYSCTLS)
    bridge = host_bridge(prefix)
    the_internet.bridges[bridge] = Bridge(bridge, addresses=(f"{internet.HOST_ADDRESS}/32",))
    the_internet.nft[naming.table_name(prefix, "internet")] = internet_table(prefix)
    by_vpc: dict[str, list[NetworkInterface]] = {}
    for eni in public_enis(world):
        by_vpc.setdefault(eni.vpc_id, []).append(eni)
    for vpc_id in sorted(attached):
        router = builder.namespace(vpc_namespace(prefix, vpc_id))
        link = gateway_link(prefix, vpc_id)
        outer = internet_link(prefix, vpc_id)
        router.veths[link] = VethPair(
            local=Interface(link, addresses=(f"{ROUTER_END}/{LINK_PREFIX}",)),
            peer_namespace=the_internet.name,
            peer=Interface(outer, addresses=(f"{INTERNET_END}/{LINK_PREFIX}",)),
        )
        router.routes.append(Route("default", via=INTERNET_END, dev=link))
        enis = by_vpc.get(vpc_id, [])
        table = gateway_table(world, prefix, vpc_id, enis)
        router.nft[table.name] = table
        for eni in enis:
            assert eni.association is not None
            the_internet.routes.append(Route(f"{eni.association.public_ip}/32", via=ROUTER_END, dev=outer))


# What the host relay carries -------------------------------------------------------------------

def _rule_ports(from_port: int, to_port: int) -> set[int]:
    if from_port == -1 or (from_port <= 0 and to_port >= 65535):
        return set(COMMON_PORTS)
    low, high = max(from_port, 1), min(to_port, 65535)
    if high - low + 1 > WIDEST_RANGE:
        return {p for p in COMMON_PORTS if low <= p <= high}
    return set(range(low, high + 1))


def exposed_ports(world: World, eni: NetworkInterface) -> list[int]:
    """The TCP ports of `eni`'s public address that the host relay carries: the
    well-known ones; an NLB node's TCP listeners; an instance's TCP ingress rules with
    an IPv4 address peer (what the internet could be allowed). Whether a connection
    gets through is the data plane's to decide (security groups, routes), not this."""
    ports = set(WELL_KNOWN_PORTS)
    if is_node(eni):
        for listener in world.listeners.values():
            if listener.load_balancer_arn == eni.owner_id and listener.protocol in TCP_LISTENERS:
                ports.add(listener.port)
        return sorted(ports)
    groups = list(eni.security_group_ids)
    instance = world.instances.get(eni.attachment.get("instance_id", "")) if eni.attachment else None
    if not groups and instance is not None:
        groups = list(instance.security_group_ids)
    for gid in groups:
        group = world.security_groups.get(gid)
        if group is None:
            continue
        for rule in group.rules:
            if rule.egress or not rule.cidr_ipv4 or rule.protocol.lower() not in ("tcp", "6", "-1", "all"):
                continue
            ports |= _rule_ports(rule.from_port, rule.to_port)
    return sorted(ports)
