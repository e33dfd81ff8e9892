"""The one narrow seam between convergence logic and the machine (httpx-transport style).

`Backend` (backend.py) decides *what* to change by comparing a `Plan` with what a
`Kernel` reports, and asks the kernel to `execute` small `Action`s. Two kernels implement
the same four methods: `LinuxKernel` (linux.py: namespaces, rtnetlink, libnftables) and
`FakeKernel` (fake.py: an in-memory model for tests without root). Everything the real
one does is therefore observable as a list of actions in the fake.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from vpclab.kernel.links import LinkState
from vpclab.kernel.nft import NftTable
from vpclab.kernel.topology import ProxyNeighbour, Route, Rule


@dataclass(frozen=True)
class NamespaceState:
    """What a kernel reports for one namespace, in the terms the backend compares."""

    links: dict[str, LinkState] = field(default_factory=dict)
    routes: frozenset[Route] = frozenset()  # only vpclab's own (proto 118), every table
    rules: frozenset[Rule] = frozenset()  # only vpclab's own (proto 118), IPv4
    proxy_neighbours: frozenset[ProxyNeighbour] = frozenset()  # only vpclab's (proto 118), IPv4
    sysctls: dict[str, str | None] = field(default_factory=dict)  # only the keys asked for
    tables: dict[tuple[str, str], NftTable | None] = field(default_factory=dict)
    """Owned nft tables present: the content vpclab applied, or None if unknown (or, when
    observed with ``verify_tables``, if the kernel no longer holds exactly that)."""


# -- actions (each one small, so a test can assert exactly what apply would do) ---------


@dataclass(frozen=True)
class Action:
    ns: str


@dataclass(frozen=True)
class CreateNamespace(Action):
    pass


@dataclass(frozen=True)
class DeleteNamespace(Action):
    pass


@dataclass(frozen=True)
class AddBridge(Action):
    name: str


@dataclass(frozen=True)
class AddVeth(Action):
    name: str
    peer_ns: str
    peer_name: str


@dataclass(frozen=True)
class DeleteLink(Action):
    name: str


@dataclass(frozen=True)
class SetUp(Action):
    name: str
    up: bool


@dataclass(frozen=True)
class SetMaster(Action):
    name: str
    master: str | None


@dataclass(frozen=True)
class SetMtu(Action):
    name: str
    mtu: int


@dataclass(frozen=True)
class SetGsoMaxSize(Action):
    name: str
    size: int


@dataclass(frozen=True)
class SetMac(Action):
    name: str
    mac: str


@dataclass(frozen=True)
class AddAddress(Action):
    name: str
    cidr: str


@dataclass(frozen=True)
class DeleteAddress(Action):
    name: str
    cidr: str


@dataclass(frozen=True)
class AddRoute(Action):
    route: Route


@dataclass(frozen=True)
class DeleteRoute(Action):
    route: Route


@dataclass(frozen=True)
class AddRule(Action):
    rule: Rule


@dataclass(frozen=True)
class DeleteRule(Action):
    rule: Rule


@dataclass(frozen=True)
class AddProxyNeighbour(Action):
    neighbour: ProxyNeighbour


@dataclass(frozen=True)
class DeleteProxyNeighbour(Action):
    neighbour: ProxyNeighbour


@dataclass(frozen=True)
class SetSysctl(Action):
    key: str
    value: str


@dataclass(frozen=True)
class ApplyTable(Action):
    table: NftTable
    current: NftTable | None  # None: unknown or absent, replace whole


@dataclass(frozen=True)
class DeleteTable(Action):
    family: str
    name: str


class Kernel(Protocol):
    """Where the data plane meets the machine. All names are already prefixed."""

    prefix: str

    def namespaces(self) -> set[str]:
        """Owned namespaces that exist now."""
        ...

    def identities(self) -> dict[str, int]:
        """Owned namespaces that exist now, each with an identity (its inode) that changes
        when the namespace is deleted and made again."""
        ...

    def observe(
        self,
        ns: str,
        sysctl_keys: Iterable[str] = (),
        links: Collection[str] | None = None,
        *,
        routes: bool = True,
        tables: bool = True,
        addresses: bool = True,
        verify_tables: bool = False,
    ) -> NamespaceState:
        """Current state of namespace `ns` (which must exist).

        `links`: None reads every link (one dump); a collection reads only those names
        (absent ones are simply missing from the result), so a change to one link of a
        namespace with a thousand costs one link. ``routes`` is the namespace's routing
        part: vpclab's routes of every table, its ip rules and the proxy neighbours, read
        together. ``routes=False`` / ``tables=False`` leave those parts empty (not read);
        ``addresses=False`` may leave addresses empty (for links the caller knows have
        none, e.g. just created). Tables are reported as what this process applied
        (trusted, cheap); ``verify_tables`` reads each owned table from the kernel and
        reports one edited by hand (flushed, a rule, chain or element deleted or added) as
        None, so the backend replaces it whole (full passes do)."""
        ...

    def veth_connects(self, ns: str, link: LinkState, peer_ns: str, peer_link: LinkState) -> bool:
        """True if veth `link` in `ns` is paired with `peer_link` in `peer_ns` (not a stale
        peer), judged from the two `LinkState`s as observed (ifindex, peer ifindex, peer
        netns id) plus each side's id for the other namespace."""
        ...

    def execute(self, action: Action) -> None:
        """Carry out one action, or raise. Deleting a route, rule or proxy neighbour that
        is already gone (the kernel drops a link's routes and proxy entries with the
        link) is not an error."""
        ...

    def close(self) -> None:
        """Release per-namespace threads and sockets (they pin namespaces)."""
        ...
