"""An in-memory kernel: the fake shipped beside the real one (httpx-transport style).

It keeps a small model of namespaces, links, addresses, routes (every table), ip rules,
proxy neighbours, sysctls and nft tables, records every action executed, and refuses
what the real kernel refuses (a link name already taken, a master that is not a bridge,
a veth peer in a missing namespace, a route or proxy entry on a missing device, a
gateway it cannot reach, a rule identical to one present), so ordering mistakes in the
backend show up in tests that need no root. Like the kernel, it drops a link's routes
and proxy entries with the link (and its proxy entries when it goes down). It keeps apart
what an nft table holds and what the process applied to it, so a hand edit
(`flush_table_by_hand`, `edit_table_by_hand`) is seen only by a read that checks.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace

from vpclab.kernel import naming
from vpclab.kernel.links import LinkError, LinkState
from vpclab.kernel.nft import NftTable
from vpclab.kernel.seam import (
    Action,
    AddAddress,
    AddBridge,
    AddProxyNeighbour,
    AddRoute,
    AddRule,
    AddVeth,
    ApplyTable,
    CreateNamespace,
    DeleteAddress,
    DeleteLink,
    DeleteNamespace,
    DeleteProxyNeighbour,
    DeleteRoute,
    DeleteRule,
    DeleteTable,
    NamespaceState,
    SetGsoMaxSize,
    SetMac,
    SetMaster,
    SetMtu,
    SetSysctl,
    SetUp,
)
from vpclab.kernel.topology import MAIN_TABLE, ProxyNeighbour, Route, Rule

DEFAULT_SYSCTLS = {"net.ipv4.ip_forward": "0", "net.ipv4.conf.all.rp_filter": "0"}


@dataclass
class FakeNamespace:
    links: dict[str, LinkState] = field(default_factory=dict)
    peers: dict[str, tuple[str, str]] = field(default_factory=dict)  # veth -> (ns, name)
    routes: set[Route] = field(default_factory=set)  # vpclab's, every table
    rules: set[Rule] = field(default_factory=set)  # vpclab's (the kernel's 0/32766/32767 are not modelled)
    proxy_neighbours: set[ProxyNeighbour] = field(default_factory=set)  # vpclab's
    sysctls: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SYSCTLS))
    tables: dict[tuple[str, str], NftTable] = field(default_factory=dict)  # what the kernel holds
    applied: dict[tuple[str, str], NftTable] = field(default_factory=dict)
    """What this process applied to each table (like `NftContext.applied`): a hand edit
    changes `tables` only, so trusting this instead of reading shows the difference."""
    next_index: int = 2
    ident: int = 0  # like an inode: a namespace made again gets a new one


class FakeKernel:
    """`Kernel` over an in-memory model. `actions` lists what was executed, in order."""

    def __init__(self, prefix: str):
        self.prefix = naming.check_prefix(prefix)
        self.ns: dict[str, FakeNamespace] = {}
        self.actions: list[Action] = []
        self.observed: list[tuple[str, frozenset[str] | None]] = []  # (ns, links asked) per observe
        self.routing_reads: list[str] = []  # namespaces whose routing part an observe read
        self._idents = itertools.count(4026531000)

    # -- hand-made changes, as an operator would do them ------------------------------

    def add_foreign_namespace(self, name: str) -> None:
        """A namespace someone else made (another prefix, or none): never ours to touch."""
        self.ns[name] = self._new_ns()

    def remove_namespace_by_hand(self, name: str) -> None:
        """``ip netns del``: the namespace goes, and its veths' peers elsewhere with it."""
        self._delete_ns(name)

    def flush_table_by_hand(self, ns: str, family: str, name: str) -> None:
        """``nft flush table``: every chain loses its rules; chains, sets and elements stay."""
        t = self._get(ns).tables[(family, name)]
        self.edit_table_by_hand(ns, replace(t, chains=tuple(replace(c, rules=()) for c in t.chains)))

    def edit_table_by_hand(self, ns: str, table: NftTable) -> None:
        """Any other ``nft`` edit: the kernel now holds `table` (vpclab's memory unchanged)."""
        self._get(ns).tables[table.key] = table

    # -- Kernel protocol --------------------------------------------------------------

    def namespaces(self) -> set[str]:
        return {n for n in self.ns if naming.owns_namespace(self.prefix, n)}

    def identities(self) -> dict[str, int]:
        return {n: self.ns[n].ident for n in self.namespaces()}

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
        n = self._get(ns)
        self.observed.append((ns, None if links is None else frozenset(links)))
        if routes:
            self.routing_reads.append(ns)
        seen = dict(n.links) if links is None else {k: n.links[k] for k in links if k in n.links}
        return NamespaceState(
            links=seen,
            routes=frozenset(n.routes) if routes else frozenset(),
            rules=frozenset(n.rules) if routes else frozenset(),
            proxy_neighbours=frozenset(n.proxy_neighbours) if routes else frozenset(),
            sysctls={k: n.sysctls.get(k) for k in sysctl_keys},
            tables={k: self._table(n, k, verify_tables) for k in n.tables
                    if naming.owns_table(self.prefix, k[1])} if tables else {},
        )

    @staticmethod
    def _table(n: FakeNamespace, key: tuple[str, str], verify: bool) -> NftTable | None:
        """Like `NftContext.known` / `verified`: what was applied, trusted or checked."""
        applied = n.applied.get(key)
        return applied if not verify or n.tables[key] == applied else None

    def veth_connects(self, ns: str, link: LinkState, peer_ns: str, peer_link: LinkState) -> bool:
        return self.ns.get(ns, FakeNamespace()).peers.get(link.name) == (peer_ns, peer_link.name)

    def execute(self, action: Action) -> None:
        self.actions.append(action)
        ns = action.ns
        match action:
            case CreateNamespace():
                if ns in self.ns:
                    raise FileExistsError(ns)
                self.ns[ns] = self._new_ns()
            case DeleteNamespace():
                self._delete_ns(ns)
            case AddBridge(name=name):
                self._add_link(ns, name, "bridge")
            case AddVeth(name=name, peer_ns=peer_ns, peer_name=peer_name):
                peer = self._get(peer_ns)
                if peer_name in peer.links:
                    raise LinkError(errno.EEXIST, f"{peer_ns}/{peer_name} exists")
                self._add_link(ns, name, "veth")
                self._add_link(peer_ns, peer_name, "veth")
                self.ns[ns].peers[name] = (peer_ns, peer_name)
                peer.peers[peer_name] = (ns, name)
            case DeleteLink(name=name):
                if name in self._get(ns).links:  # like LinuxKernel: a link already gone is fine
                    self._del_link(ns, name)
            case SetUp(name=name, up=up):
                self._update(ns, name, up=up)
                if not up:  # the kernel flushes a device's proxy entries when it goes down
                    n = self._get(ns)
                    n.proxy_neighbours = {p for p in n.proxy_neighbours if p.dev != name}
            case SetMaster(name=name, master=master):
                if master is not None and self._link(ns, master).kind != "bridge":
                    raise LinkError(errno.EINVAL, f"{master} is not a bridge")
                self._update(ns, name, master=master)
            case SetMtu(name=name, mtu=mtu):
                self._update(ns, name, mtu=mtu)
            case SetGsoMaxSize(name=name, size=size):
                n = self._get(ns)
                if (self._link(ns, name).kind == "bridge" and size > 65536
                        and not any(link.master == name for link in n.links.values())):
                    raise LinkError(errno.EINVAL, f"{name}: a bridge without ports takes no GSO packet above 64 KiB")
                self._update(ns, name, gso_max_size=size)
            case SetMac(name=name, mac=mac):
                self._update(ns, name, mac=mac)
            case AddAddress(name=name, cidr=cidr):
                link = self._link(ns, name)
                if cidr in link.addresses:
                    raise LinkError(errno.EEXIST, f"{cidr} on {name}")
                self._update(ns, name, addresses=link.addresses | {cidr})
            case DeleteAddress(name=name, cidr=cidr):
                link = self._link(ns, name)
                self._update(ns, name, addresses=link.addresses - {cidr})
            case AddRoute(route=r):
                n = self._get(ns)
                if r.dev is not None:
                    self._link(ns, r.dev)
                if r.via is not None and not self._via_reachable(n, r):
                    raise LinkError(errno.ENETUNREACH, f"gateway {r.via} of {r} is not reachable")
                # replace semantics, per table
                n.routes = {x for x in n.routes if (x.dst, x.table) != (r.dst, r.table)} | {r}
            case DeleteRoute(route=r):
                self._get(ns).routes.discard(r)
            case AddRule(rule=rule):
                n = self._get(ns)
                if rule in n.rules:
                    raise LinkError(errno.EEXIST, f"rule {rule} exists")
                n.rules.add(rule)
            case DeleteRule(rule=rule):
                self._get(ns).rules.discard(rule)
            case AddProxyNeighbour(neighbour=p):
                self._link(ns, p.dev)
                self._get(ns).proxy_neighbours.add(p)  # adding one present is no error
            case DeleteProxyNeighbour(neighbour=p):
                self._get(ns).proxy_neighbours.discard(p)
            case SetSysctl(key=key, value=value):
                self._get(ns).sysctls[key] = value
            case ApplyTable(table=table):
                n = self._get(ns)
                n.tables[table.key] = n.applied[table.key] = table
            case DeleteTable(family=family, name=name):
                n = self._get(ns)
                n.tables.pop((family, name), None)
                n.applied.pop((family, name), None)
            case _:
                raise TypeError(f"unknown action {action!r}")

    def close(self) -> None:
        pass

    # -- model helpers ---------------------------------------------------------------

    def _new_ns(self) -> FakeNamespace:
        n = FakeNamespace(ident=next(self._idents))
        n.links["lo"] = LinkState("lo", 1, "loopback", False, None, 65536, frozenset(), gso_max_size=65536)
        return n

    def _get(self, ns: str) -> FakeNamespace:
        try:
            return self.ns[ns]
        except KeyError:
            raise LinkError(errno.ENOENT, f"no namespace {ns}") from None

    def _link(self, ns: str, name: str) -> LinkState:
        try:
            return self._get(ns).links[name]
        except KeyError:
            raise LinkError(errno.ENODEV, f"no interface {ns}/{name}") from None

    def _add_link(self, ns: str, name: str, kind: str) -> None:
        n = self._get(ns)
        if name in n.links:
            raise LinkError(errno.EEXIST, f"{ns}/{name} exists")
        n.links[name] = LinkState(name, n.next_index, kind, False, None, 1500, frozenset(), gso_max_size=65536)
        n.next_index += 1

    def _update(self, ns: str, name: str, **changes: object) -> None:
        self._get(ns).links[name] = replace(self._link(ns, name), **changes)  # type: ignore[arg-type]

    def _del_link(self, ns: str, name: str) -> None:
        n = self._get(ns)
        if name not in n.links:
            raise LinkError(errno.ENODEV, f"no interface {ns}/{name}")
        del n.links[name]
        n.routes = {r for r in n.routes if r.dev != name}
        n.routes = {r for r in n.routes if r.via is None or self._via_reachable(n, r)}
        n.proxy_neighbours = {p for p in n.proxy_neighbours if p.dev != name}
        for other, link in list(n.links.items()):
            if link.master == name:
                n.links[other] = replace(link, master=None)
        peer = n.peers.pop(name, None)
        if peer is not None and peer[0] in self.ns and peer[1] in self.ns[peer[0]].links:
            self.ns[peer[0]].peers.pop(peer[1], None)
            self._del_link(*peer)

    @staticmethod
    def _via_reachable(n: FakeNamespace, r: Route) -> bool:
        """Like the kernel's gateway check: a connected network (an address on a link), or
        a device route (scope link) in the route's own table or in main."""
        assert r.via is not None
        gw = ipaddress.ip_address(r.via)
        if any(gw in ipaddress.ip_interface(a).network for link in n.links.values() for a in link.addresses):
            return True
        return any(
            x.via is None and x.table in (r.table, MAIN_TABLE) and gw in ipaddress.ip_network(x.dst)
            for x in n.routes
        )

    def _delete_ns(self, ns: str) -> None:
        n = self.ns.pop(ns, None)
        if n is None:
            return
        for name, (peer_ns, peer_name) in n.peers.items():
            other = self.ns.get(peer_ns)
            if other is not None and peer_name in other.links:
                other.peers.pop(peer_name, None)
                self.ns[peer_ns] = other
                self._del_link(peer_ns, peer_name)
