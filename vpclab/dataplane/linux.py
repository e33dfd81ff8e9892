"""The real kernel: namespaces under /run/netns, rtnetlink via pyroute2, nft via libnftables.

Each owned namespace gets one long-lived `NamespaceThread` holding an rtnetlink socket
and a libnftables context, so repeated applies pay no fork and no socket setup. Threads
are keyed by the namespace's inode: if a namespace was deleted and recreated behind our
back (``ip netns del`` by hand), its old thread (which would still sit in the old
namespace) is dropped and a new one is made.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from vpclab.dataplane import links, naming, netns
from vpclab.dataplane.kernel import (
    Action,
    AddAddress,
    AddBridge,
    AddRoute,
    AddVeth,
    ApplyTable,
    CreateNamespace,
    DeleteAddress,
    DeleteLink,
    DeleteNamespace,
    DeleteRoute,
    DeleteTable,
    NamespaceState,
    SetMaster,
    SetMtu,
    SetSysctl,
    SetUp,
)
from vpclab.dataplane.nft import NftContext
from vpclab.dataplane.topology import Route


class LinuxKernel:
    """`Kernel` on this Linux machine, for everything owned by `prefix`."""

    def __init__(self, prefix: str, delete_timeout: float = 5.0):
        self.prefix = naming.check_prefix(prefix)
        self.delete_timeout = delete_timeout
        self._threads: dict[str, netns.NamespaceThread] = {}
        self._lock = threading.Lock()

    # -- per-namespace threads -----------------------------------------------------

    def thread(self, ns: str) -> netns.NamespaceThread:
        """The thread living in namespace `ns` now (replaced if `ns` was recreated)."""
        if not naming.owns_namespace(self.prefix, ns):
            raise ValueError(f"{ns} is not owned by {self.prefix}")
        with self._lock:
            t = self._threads.get(ns)
            ino = netns.inode_of(ns)
            if t is not None and (not t.alive or t.inode != ino):
                t.close()
                t = None
            if t is None:
                t = netns.NamespaceThread(ns)
                self._threads[ns] = t
            return t

    def _drop(self, ns: str) -> None:
        with self._lock:
            t = self._threads.pop(ns, None)
        if t is not None:
            t.close()

    def _call(self, ns: str, fn, *args):  # type: ignore[no-untyped-def]
        t = self.thread(ns)

        def in_ns():  # type: ignore[no-untyped-def]
            if "rtnl" not in t.local:
                t.local["rtnl"] = links.open_rtnl()
            return fn(t, *args)

        return t.call(in_ns)

    def rtnl_call(self, ns: str, fn, *args):  # type: ignore[no-untyped-def]
        """Run ``fn(ipr, *args)`` in `ns` with its rtnetlink socket."""
        return self._call(ns, lambda t, *a: fn(t.local["rtnl"], *a), *args)

    def nft_call(self, ns: str, fn, *args):  # type: ignore[no-untyped-def]
        """Run ``fn(nft_context, *args)`` in `ns` (e.g. `NftContext.update_elements`)."""
        return self._call(ns, lambda t, *a: fn(_nft_ctx(t), *a), *args)

    # -- Kernel protocol --------------------------------------------------------------

    def namespaces(self) -> set[str]:
        return set(netns.list_namespaces(self.prefix))

    def observe(self, ns: str, sysctl_keys: Iterable[str] = ()) -> NamespaceState:
        keys = list(sysctl_keys)

        def look(t: netns.NamespaceThread) -> NamespaceState:
            ipr = t.local["rtnl"]
            ctx = _nft_ctx(t)
            routes = frozenset(
                Route(r.dst, r.via, r.dev, r.metric) for r in links.read_routes(ipr)
            )
            tables = {
                key: ctx.known(*key)
                for key in ctx.tables()
                if naming.owns_table(self.prefix, key[1])
            }
            return NamespaceState(
                links=links.read_links(ipr),
                routes=routes,
                sysctls={k: links.read_sysctl(k) for k in keys},
                tables=tables,
            )

        return self._call(ns, look)

    def veth_connects(self, ns: str, name: str, peer_ns: str, peer_name: str) -> bool:
        def here(t: netns.NamespaceThread, other: str, n: str) -> tuple[int, int | None, int | None, int | None] | None:
            ipr = t.local["rtnl"]
            link = links.read_links(ipr).get(n)
            if link is None or link.kind != "veth":
                return None
            return link.index, link.peer_index, link.peer_nsid, links.nsid_of(ipr, other)

        a = self._call(ns, here, peer_ns, name)
        b = self._call(peer_ns, here, ns, peer_name)
        if a is None or b is None:
            return False
        a_idx, a_peer, a_nsid, a_sees_b = a
        b_idx, b_peer, b_nsid, b_sees_a = b
        return (
            a_peer == b_idx
            and b_peer == a_idx
            and a_nsid is not None
            and a_nsid == a_sees_b
            and b_nsid is not None
            and b_nsid == b_sees_a
        )

    def execute(self, action: Action) -> None:
        ns = action.ns
        match action:
            case CreateNamespace():
                netns.create(ns)
            case DeleteNamespace():
                if netns.exists(ns):
                    self.rtnl_call(ns, links.delete_veths)
                self._drop(ns)
                netns.delete(ns, self.delete_timeout)
            case AddBridge(name=name):
                self.rtnl_call(ns, links.add_bridge, name)
            case AddVeth(name=name, peer_ns=peer_ns, peer_name=peer_name):
                self.rtnl_call(ns, links.add_veth, name, peer_ns, peer_name)
            case DeleteLink(name=name):
                self.rtnl_call(ns, links.delete_link, name)
            case SetUp(name=name, up=up):
                self.rtnl_call(ns, links.set_up, name, up)
            case SetMaster(name=name, master=master):
                self.rtnl_call(ns, links.set_master, name, master)
            case SetMtu(name=name, mtu=mtu):
                self.rtnl_call(ns, links.set_mtu, name, mtu)
            case AddAddress(name=name, cidr=cidr):
                self.rtnl_call(ns, links.add_address, name, cidr)
            case DeleteAddress(name=name, cidr=cidr):
                self.rtnl_call(ns, links.delete_address, name, cidr)
            case AddRoute(route=r):
                self.rtnl_call(ns, links.add_route, r.dst, r.via, r.dev, r.metric)
            case DeleteRoute(route=r):
                self.rtnl_call(ns, links.delete_route, r.dst, r.via, r.dev, r.metric)
            case SetSysctl(key=key, value=value):
                self._call(ns, lambda t: links.set_sysctl(key, value))
            case ApplyTable(table=table, current=current):
                self.nft_call(ns, lambda ctx: ctx.apply(table, current, full=current is None))
            case DeleteTable(family=family, name=name):
                self.nft_call(ns, lambda ctx: ctx.delete(family, name))
            case _:
                raise TypeError(f"unknown action {action!r}")

    def close(self) -> None:
        with self._lock:
            threads = list(self._threads.values())
            self._threads.clear()
        for t in threads:
            t.close()


def _nft_ctx(t: netns.NamespaceThread) -> NftContext:
    ctx = t.local.get("nft")
    if ctx is None:
        ctx = t.local["nft"] = NftContext(t.name)
    return ctx
