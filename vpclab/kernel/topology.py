"""The desired network, as plain data: what `Backend.apply` makes real.

A reconciler builds a `Plan` from the store (VPC -> namespace with one bridge per subnet,
instance -> namespace with eth0 on a veth to its subnet's bridge, ...) and hands it to a
backend. Nothing here touches the kernel: the description of a topology is kept apart
from its realization (Mininet's lesson), so a plan can be built, compared and checked
without root.

Only namespaces owned by the plan's prefix may appear, so a plan can never reach the
host's own namespace.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from vpclab.kernel import naming
from vpclab.kernel.nft import NftTable

KIND_BRIDGE = "bridge"
KIND_VETH = "veth"

SYSCTL_ALLOWED = ("net.ipv4.", "net.ipv6.", "net.bridge.")
"""Only per-namespace sysctls: kernel.*, vm.* and most of net.core are global to the host."""

MAIN_TABLE = 254
U32_MAX = 0xFFFFFFFF
RULE_PRIORITY_MAIN = 32766
"""The kernel's own ``from all lookup main`` rule; vpclab's rules sit strictly before it
(rules 0, 32766 and 32767 are the kernel's and are never touched)."""


def canonical_address(cidr: str) -> str:
    """``"172.31.0.10/20"`` in one spelling (so observed and desired compare equal)."""
    return ipaddress.ip_interface(cidr).with_prefixlen


def canonical_network(dst: str) -> str:
    if dst == "default":
        return "0.0.0.0/0"
    return ipaddress.ip_network(dst, strict=True).with_prefixlen


def _check_name(name: str) -> None:
    if not 0 < len(name) <= naming.IFNAMSIZ or "/" in name or " " in name:
        raise ValueError(f"invalid interface name {name!r}")


def _check_u32(what: str, value: int, low: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= U32_MAX:
        raise ValueError(f"{what} {value!r} is not an integer in [{low}, {U32_MAX:#x}]")


@dataclass(frozen=True)
class Interface:
    """How one end of a link is configured inside its namespace."""

    name: str
    addresses: tuple[str, ...] = ()
    master: str | None = None  # a bridge in the same namespace
    mtu: int | None = None  # None: leave the kernel's default
    gso_max_size: int | None = None  # bytes per GSO/GRO packet, IPv4 and IPv6 (None: leave)
    up: bool = True
    mac: str | None = None  # "02:..." lower case (None: the kernel's random one)

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(
            self, "addresses", tuple(sorted({canonical_address(a) for a in self.addresses}))
        )


@dataclass(frozen=True)
class Bridge(Interface):
    """A Linux bridge: one per subnet, inside the VPC's namespace (the subnet's L2)."""


@dataclass(frozen=True)
class VethPair:
    """A veth pair: `local` lives in the namespace that declares the pair, `peer` in
    `peer_namespace`. Both ends are created directly in their namespaces."""

    local: Interface
    peer_namespace: str
    peer: Interface


@dataclass(frozen=True)
class Route:
    """A route in routing table `table` (main unless said). `dst` is a network or
    ``"default"``. Routes in any table are vpclab's when they carry its protocol (118)."""

    dst: str
    via: str | None = None
    dev: str | None = None
    metric: int | None = None
    table: int = MAIN_TABLE

    def __post_init__(self) -> None:
        object.__setattr__(self, "dst", canonical_network(self.dst))
        if self.via is not None:
            object.__setattr__(self, "via", str(ipaddress.ip_address(self.via)))
        if self.via is None and self.dev is None:
            raise ValueError(f"route to {self.dst} needs via or dev")
        _check_u32("route table", self.table, 1)  # 0 is RT_TABLE_UNSPEC, not a table


@dataclass(frozen=True)
class Rule:
    """`ip rule add pref PRIORITY [not] fwmark FWMARK/MASK (lookup TABLE | goto GOTO) proto 118`.

    IPv4 only. The fields are exactly what the kernel reports back, so an observed rule
    compares equal to the desired one: without `fwmark` the mask is meaningless and is
    kept at its default."""

    priority: int
    table: int | None = None
    fwmark: int | None = None  # None: no fwmark selector (matches every packet)
    mask: int = U32_MAX
    invert: bool = False  # "not": the rule applies to packets the selector does NOT match
    goto: int | None = None  # jump to the rule with this priority instead of a table lookup

    def __post_init__(self) -> None:
        p = self.priority
        if isinstance(p, bool) or not isinstance(p, int) or not 0 < p < RULE_PRIORITY_MAIN:
            raise ValueError(f"rule priority {self.priority!r} is not in (0, {RULE_PRIORITY_MAIN})")
        if (self.table is None) == (self.goto is None):
            raise ValueError(f"rule {self.priority}: exactly one of table and goto")
        if self.table is not None:
            _check_u32(f"rule {self.priority}: table", self.table, 1)
        if self.goto is not None:
            _check_u32(f"rule {self.priority}: goto", self.goto)
            if self.goto <= self.priority:  # the kernel refuses a backward goto
                raise ValueError(f"rule {self.priority}: goto {self.goto} is not after it")
        if self.fwmark is None:
            object.__setattr__(self, "mask", U32_MAX)
        else:
            _check_u32(f"rule {self.priority}: fwmark", self.fwmark)
            # a zero mask matches every packet and the kernel reports no selector back
            _check_u32(f"rule {self.priority}: fwmark mask", self.mask, 1)
        if not isinstance(self.invert, bool):
            raise ValueError(f"rule {self.priority}: invert must be a bool")


@dataclass(frozen=True)
class ProxyNeighbour:
    """`ip neigh add proxy ADDRESS dev DEV` (IPv4): the namespace answers ARP for ADDRESS on DEV."""

    address: str
    dev: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", str(ipaddress.IPv4Address(self.address)))
        _check_name(self.dev)


@dataclass(frozen=True)
class Namespace:
    """One network namespace and everything vpclab wants inside it."""

    name: str
    bridges: tuple[Bridge, ...] = ()
    veths: tuple[VethPair, ...] = ()
    routes: tuple[Route, ...] = ()
    sysctls: Mapping[str, str] = field(default_factory=dict)
    nft: tuple[NftTable, ...] = ()
    rules: tuple[Rule, ...] = ()
    proxy_neighbours: tuple[ProxyNeighbour, ...] = ()


@dataclass(frozen=True)
class DesiredLink:
    """A link as the backend sees it: which kind, and how its end here is configured."""

    kind: str
    config: Interface
    veth: VethPair | None = None  # set on the end that declares the pair
    declared_in: str = ""


@dataclass(frozen=True)
class Plan:
    """Everything owned by `prefix` that should exist. What is owned and absent is removed."""

    prefix: str
    namespaces: tuple[Namespace, ...] = ()

    def __iter__(self) -> Iterator[Namespace]:
        return iter(self.namespaces)

    def namespace(self, name: str) -> Namespace:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        raise KeyError(name)

    def links(self) -> dict[str, dict[str, DesiredLink]]:
        """``{namespace: {ifname: DesiredLink}}``, veth peers placed in their namespace."""
        out: dict[str, dict[str, DesiredLink]] = {ns.name: {} for ns in self.namespaces}

        def put(ns: str, link: DesiredLink) -> None:
            if ns not in out:
                raise PlanError(f"veth peer namespace {ns!r} is not in the plan")
            name = link.config.name
            if name in out[ns] or name == "lo":
                raise PlanError(f"interface {name!r} declared twice in {ns}")
            out[ns][name] = link

        for ns in self.namespaces:
            for br in ns.bridges:
                put(ns.name, DesiredLink(KIND_BRIDGE, br, declared_in=ns.name))
            for v in ns.veths:
                put(ns.name, DesiredLink(KIND_VETH, v.local, v, ns.name))
                put(v.peer_namespace, DesiredLink(KIND_VETH, v.peer, None, ns.name))
        return out

    def validate(self) -> None:
        """Raise PlanError unless the plan is realizable and stays inside what it owns."""
        naming.check_prefix(self.prefix)
        seen: set[str] = set()
        for ns in self.namespaces:
            naming.check_namespace_name(ns.name)
            if not naming.owns_namespace(self.prefix, ns.name):
                raise PlanError(f"namespace {ns.name!r} does not carry prefix {self.prefix}")
            if ns.name in seen:
                raise PlanError(f"namespace {ns.name!r} declared twice")
            seen.add(ns.name)
            for key in ns.sysctls:
                if not key.startswith(SYSCTL_ALLOWED) or ".." in key or "/" in key:
                    raise PlanError(f"sysctl {key!r} is not a per-namespace network sysctl")
            for t in ns.nft:
                if not naming.owns_table(self.prefix, t.name):
                    raise PlanError(f"nft table {t.name!r} does not carry prefix {self.prefix}")
        links = self.links()
        for ns_name, by_name in links.items():
            for link in by_name.values():
                m = link.config.master
                if m is not None and (m not in by_name or by_name[m].kind != KIND_BRIDGE):
                    raise PlanError(f"{link.config.name} in {ns_name}: master {m!r} is not a bridge there")
            spec = self.namespace(ns_name)
            for r in spec.routes:
                if r.dev is not None and r.dev not in by_name and r.dev != "lo":
                    raise PlanError(f"route {r} in {ns_name}: no interface {r.dev!r}")
            for p in spec.proxy_neighbours:
                if p.dev not in by_name and p.dev != "lo":
                    raise PlanError(f"proxy neighbour {p} in {ns_name}: no interface {p.dev!r}")
            priorities: set[int] = set()
            for rule in spec.rules:
                if rule.priority in priorities:
                    raise PlanError(f"two rules with priority {rule.priority} in {ns_name}")
                priorities.add(rule.priority)


class PlanError(ValueError):
    """The plan cannot be realized (dangling reference, foreign name, duplicate)."""
