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

from vpclab.dataplane import naming
from vpclab.dataplane.nft import NftTable

KIND_BRIDGE = "bridge"
KIND_VETH = "veth"

SYSCTL_ALLOWED = ("net.ipv4.", "net.ipv6.", "net.bridge.")
"""Only per-namespace sysctls: kernel.*, vm.* and most of net.core are global to the host."""


def canonical_address(cidr: str) -> str:
    """``"172.31.0.10/20"`` in one spelling (so observed and desired compare equal)."""
    return ipaddress.ip_interface(cidr).with_prefixlen


def canonical_network(dst: str) -> str:
    if dst == "default":
        return "0.0.0.0/0"
    return ipaddress.ip_network(dst, strict=True).with_prefixlen


@dataclass(frozen=True)
class Interface:
    """How one end of a link is configured inside its namespace."""

    name: str
    addresses: tuple[str, ...] = ()
    master: str | None = None  # a bridge in the same namespace
    mtu: int | None = None  # None: leave the kernel's default
    gso_max_size: int | None = None  # bytes per GSO/GRO packet, IPv4 and IPv6 (None: leave)
    up: bool = True

    def __post_init__(self) -> None:
        if not 0 < len(self.name) <= naming.IFNAMSIZ or "/" in self.name or " " in self.name:
            raise ValueError(f"invalid interface name {self.name!r}")
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
    """A route in the namespace's main table. `dst` is a network or ``"default"``."""

    dst: str
    via: str | None = None
    dev: str | None = None
    metric: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dst", canonical_network(self.dst))
        if self.via is not None:
            object.__setattr__(self, "via", str(ipaddress.ip_address(self.via)))
        if self.via is None and self.dev is None:
            raise ValueError(f"route to {self.dst} needs via or dev")


@dataclass(frozen=True)
class Namespace:
    """One network namespace and everything vpclab wants inside it."""

    name: str
    bridges: tuple[Bridge, ...] = ()
    veths: tuple[VethPair, ...] = ()
    routes: tuple[Route, ...] = ()
    sysctls: Mapping[str, str] = field(default_factory=dict)
    nft: tuple[NftTable, ...] = ()


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
        for ns, by_name in links.items():
            for link in by_name.values():
                m = link.config.master
                if m is not None and (m not in by_name or by_name[m].kind != KIND_BRIDGE):
                    raise PlanError(f"{link.config.name} in {ns}: master {m!r} is not a bridge there")
            for r in self.namespace(ns).routes:
                if r.dev is not None and r.dev not in by_name and r.dev != "lo":
                    raise PlanError(f"route {r} in {ns}: no interface {r.dev!r}")


class PlanError(ValueError):
    """The plan cannot be realized (dangling reference, foreign name, duplicate)."""
