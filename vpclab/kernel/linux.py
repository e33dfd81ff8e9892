"""The real kernel: namespaces under /run/netns, rtnetlink via pyroute2, nft via libnftables.

Work in a namespace runs on a `NamespaceThread` there, which holds an rtnetlink socket and
a libnftables context, so repeated calls pay no fork and no socket setup. At most
`MAX_THREADS` such threads are kept, the most recently used ones: a thread costs five
descriptors (pyroute2's socket, its event loop's epoll and wake-up pair, libnftables'
socket), and a server with hundreds of instances must not hold one per instance
namespace. A namespace whose thread was closed gets a new one when next used (~1.5 ms):
the few namespaces most changes touch (VPC routers) keep theirs between passes, and what
vpclab last applied to each nft table is kept here, not in the context, so a new context
still sends element updates. Threads are keyed by the namespace's inode: if a namespace was deleted and
recreated behind our back (``ip netns del`` by hand), its old thread (which would still
sit in the old namespace) is dropped and a new one is made.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from vpclab.kernel import links, lowfd, naming, netns
from vpclab.kernel import links as _links_mod
from vpclab.kernel.links import LinkError, LinkState
from vpclab.kernel.nft import AppliedTables, NftContext
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
from vpclab.kernel.topology import U32_MAX, ProxyNeighbour, Route, Rule

log = logging.getLogger(__name__)

FR_ACT_TO_TBL = 1  # fib_rule_hdr.action: lookup a table
FR_ACT_GOTO = 2  # fib_rule_hdr.action: go on at another priority


MAX_THREADS = 64
"""Namespace threads kept (least recently used ones beyond this are closed when idle)."""


class LinuxKernel:
    """`Kernel` on this Linux machine, for everything owned by `prefix`."""

    def __init__(self, prefix: str, delete_timeout: float = 5.0, max_threads: int | None = None):
        self.prefix = naming.check_prefix(prefix)
        self.delete_timeout = delete_timeout
        self.max_threads = MAX_THREADS if max_threads is None else max_threads
        self._threads: OrderedDict[str, netns.NamespaceThread] = OrderedDict()  # least recent first
        self._busy: dict[netns.NamespaceThread, int] = {}  # calls in flight: not closed while > 0
        self._retired: list[netns.NamespaceThread] = []  # out of the pool, to close once idle
        self._tables: dict[str, tuple[int, AppliedTables]] = {}
        """Per namespace: (inode, what its nft contexts applied), outliving the threads."""
        self._nsids: dict[tuple[str, int | None, str, int | None], int] = {}
        self._lock = threading.Lock()
        lowfd.reserve()  # low descriptors for libnftables, taken while few are open

    # -- per-namespace threads -----------------------------------------------------

    @property
    def threads(self) -> int:
        """Namespace threads open now (at most `max_threads` once idle)."""
        return len(self._threads)

    @contextmanager
    def _using(self, ns: str) -> Iterator[netns.NamespaceThread]:
        """The thread living in namespace `ns` now (replaced if `ns` was recreated), kept
        open while in use; afterwards the least recently used idle threads beyond
        `max_threads` are closed."""
        if not naming.owns_namespace(self.prefix, ns):
            raise ValueError(f"{ns} is not owned by {self.prefix}")
        with self._lock:
            t = self._threads.get(ns)
            ino = netns.inode_of(ns)
            if t is not None and (not t.alive or t.inode != ino):
                self._forget(ns)
                t = None
            if t is None:
                t = self._threads[ns] = netns.NamespaceThread(ns)
            self._threads.move_to_end(ns)
            self._busy[t] = self._busy.get(t, 0) + 1
            done = self._take_closable()
        self._close_all(done)
        try:
            yield t
        finally:
            with self._lock:
                self._busy[t] -= 1
                if not self._busy[t]:
                    del self._busy[t]
                done = self._take_closable()
            self._close_all(done)

    def _forget(self, ns: str) -> None:
        """Drop `ns`'s thread from the pool (closed once no call uses it). Under the lock."""
        t = self._threads.pop(ns, None)
        if t is not None:
            self._retired.append(t)

    def _take_closable(self) -> list[netns.NamespaceThread]:
        """Idle threads to close now: retired ones and the least recently used beyond
        `max_threads`. Under the lock."""
        excess = len(self._threads) - self.max_threads
        for name in [n for n, t in self._threads.items() if t not in self._busy][: max(0, excess)]:
            self._forget(name)
        done = [t for t in self._retired if t not in self._busy]
        self._retired = [t for t in self._retired if t in self._busy]
        return done

    @staticmethod
    def _close_all(threads: list[netns.NamespaceThread]) -> None:
        for t in threads:
            t.close()

    def _drop(self, ns: str) -> None:
        """Close `ns`'s thread now (its namespace is about to be deleted)."""
        with self._lock:
            t = self._threads.pop(ns, None)
            self._tables.pop(ns, None)
        if t is not None:
            t.close()

    def _call(self, ns: str, fn, *args):  # type: ignore[no-untyped-def]
        with self._using(ns) as t:

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
        return self._call(ns, lambda t, *a: fn(self._nft_ctx(t), *a), *args)

    def _nft_ctx(self, t: netns.NamespaceThread) -> NftContext:
        """The thread's libnftables context (made on first use, on the thread), sharing
        what was applied in this namespace with the contexts of its earlier threads."""
        ctx = t.local.get("nft")
        if ctx is None:
            with self._lock:
                inode, memory = self._tables.get(t.name, (None, AppliedTables()))
                if inode != t.inode:
                    memory = AppliedTables()
                    self._tables[t.name] = (t.inode, memory)
            ctx = t.local["nft"] = NftContext(t.name, memory)
        return ctx

    # -- Kernel protocol --------------------------------------------------------------

    def namespaces(self) -> set[str]:
        return set(netns.list_namespaces(self.prefix))

    def identities(self) -> dict[str, int]:
        out = {}
        for name in netns.list_namespaces(self.prefix):
            ino = netns.inode_of(name)
            if ino is not None:
                out[name] = ino
        return out

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
        keys = list(sysctl_keys)
        names = None if links is None else sorted(set(links))

        def look(t: netns.NamespaceThread) -> NamespaceState:
            ipr = t.local["rtnl"]
            if names is None:
                seen = _links_mod.read_links(ipr)
            elif names:
                seen = _read_named_links(ipr, names, addresses)
            else:
                seen = {}
            found_tables: dict[tuple[str, str], Any] = {}
            if tables:
                found_tables = self._nft_ctx(t).owned_tables(lambda name: naming.owns_table(self.prefix, name),
                                                             verify=verify_tables)
            found_routes: set[Route] = set()
            found_rules: set[Rule] = set()
            found_proxies: set[ProxyNeighbour] = set()
            if routes:
                ifnames: dict[int, str | None] = {}  # shared: one RTM_GETLINK per device
                found_routes = _read_routes(ipr, ifnames)
                found_rules = _read_rules(ipr)
                found_proxies = _read_proxy_neighbours(ipr, ifnames)
            return NamespaceState(
                links=seen,
                routes=frozenset(found_routes),
                rules=frozenset(found_rules),
                proxy_neighbours=frozenset(found_proxies),
                sysctls={k: _links_mod.read_sysctl(k) for k in keys},
                tables=found_tables,
            )

        return self._call(ns, look)

    def nsid(self, ns: str, other: str) -> int | None:
        """The id `ns` uses for namespace `other` (cached while both keep their inode;
        an unassigned id is not cached: creating a veth between them assigns one)."""
        key = (ns, netns.inode_of(ns), other, netns.inode_of(other))
        found = self._nsids.get(key)
        if found is None:
            found = self.rtnl_call(ns, _links_mod.nsid_of, other)
            if found is not None:
                self._nsids[key] = found
        return found

    def veth_connects(self, ns: str, link: LinkState, peer_ns: str, peer_link: LinkState) -> bool:
        if link.kind != "veth" or peer_link.kind != "veth" or ns == peer_ns:
            return False
        if link.peer_index != peer_link.index or peer_link.peer_index != link.index:
            return False
        if link.peer_nsid is None or peer_link.peer_nsid is None:
            return False
        return link.peer_nsid == self.nsid(ns, peer_ns) and peer_link.peer_nsid == self.nsid(peer_ns, ns)

    def execute(self, action: Action) -> None:
        ns = action.ns
        match action:
            case CreateNamespace():
                netns.create(ns)
            case DeleteNamespace():
                if netns.exists(ns):
                    self.rtnl_call(ns, links.delete_veths)
                self._drop(ns)
                self._nsids = {k: v for k, v in self._nsids.items() if ns not in (k[0], k[2])}
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
            case SetGsoMaxSize(name=name, size=size):
                self.rtnl_call(ns, links.set_gso_max_size, name, size)
            case SetMac(name=name, mac=mac):
                self.rtnl_call(ns, links.set_mac, name, mac)
            case AddAddress(name=name, cidr=cidr):
                self.rtnl_call(ns, links.add_address, name, cidr)
            case DeleteAddress(name=name, cidr=cidr):
                self.rtnl_call(ns, links.delete_address, name, cidr)
            case AddRoute(route=r):
                self.rtnl_call(ns, links.add_route, r.dst, r.via, r.dev, r.metric, r.table)
            case DeleteRoute(route=r):
                self.rtnl_call(ns, links.delete_route, r.dst, r.via, r.dev, r.metric, r.table)
            case AddRule(rule=r):
                self.rtnl_call(ns, links.add_rule, r.priority, r.table, r.fwmark, r.mask, r.invert, r.goto)
            case DeleteRule(rule=r):
                self.rtnl_call(ns, links.delete_rule, r.priority, r.table, r.fwmark, r.mask, r.invert, r.goto)
            case AddProxyNeighbour(neighbour=p):
                self.rtnl_call(ns, links.add_proxy_neighbour, p.address, p.dev)
            case DeleteProxyNeighbour(neighbour=p):
                self.rtnl_call(ns, links.delete_proxy_neighbour, p.address, p.dev)
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
            threads = list(self._threads.values()) + self._retired
            self._threads.clear()
            self._retired = []
            self._tables.clear()
        self._close_all(threads)


# -- targeted reads (a namespace with a thousand links costs per link asked, not per link) --


def _get_link(ipr: Any, **key: Any) -> Any | None:
    """One RTM_GETLINK (by ifname or index), or None if there is no such link."""
    try:
        found = ipr.link("get", **key)
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return None
        raise LinkError(exc.code, f"get link {key}: {os.strerror(exc.code)}") from exc
    return found[0] if found else None


def _name_of_index(ipr: Any, index: int, cache: dict[int, str | None]) -> str | None:
    if index not in cache:
        m = _get_link(ipr, index=index)
        cache[index] = m.get_attr("IFLA_IFNAME") if m is not None else None
    return cache[index]


def _read_named_links(ipr: Any, names: Iterable[str], addresses: bool) -> dict[str, LinkState]:
    """Like `links.read_links`, for the named links only (missing ones left out): one
    RTM_GETLINK each, plus one address dump if addresses are wanted and a link exists."""
    raw = {}
    for name in names:
        m = _get_link(ipr, ifname=name)
        if m is not None:
            raw[name] = m
    addrs: dict[int, set[str]] = {}
    if addresses and raw:
        wanted = {m["index"] for m in raw.values()}
        for a in ipr.get_addr():
            cidr = links.address_of(a) if a["index"] in wanted else None
            if cidr is not None:
                addrs.setdefault(a["index"], set()).add(cidr)
    names_by_index: dict[int, str | None] = {m["index"]: n for n, m in raw.items()}
    out = {}
    for name, m in raw.items():
        master_idx = m.get_attr("IFLA_MASTER")
        master = _name_of_index(ipr, master_idx, names_by_index) if master_idx else None
        out[name] = links.link_state(m, name, master, addrs.get(m["index"], ()))
    return out


def _read_routes(ipr: Any, names: dict[int, str | None]) -> set[Route]:
    """vpclab's routes (`links.RTPROT_VPCLAB`) in every table, IPv4 and IPv6; devices are
    named by one RTM_GETLINK per distinct oif (not a dump of every link)."""
    out = set()
    for family in (socket.AF_INET, socket.AF_INET6):
        for r in ipr.get_routes(family=family):  # no table: the kernel dumps them all
            if r["proto"] != _links_mod.RTPROT_VPCLAB:
                continue
            dst = r.get_attr("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET else "::")
            oif = r.get_attr("RTA_OIF")
            out.add(
                Route(
                    ipaddress.ip_network(f"{dst}/{r['dst_len']}").with_prefixlen,
                    r.get_attr("RTA_GATEWAY"),
                    _name_of_index(ipr, oif, names) if oif else None,
                    r.get_attr("RTA_PRIORITY"),
                    r.get_attr("RTA_TABLE") or r["table"],  # the header holds only 8 bits
                )
            )
    return out


def _read_rules(ipr: Any) -> set[Rule]:
    """vpclab's IPv4 rules (FRA_PROTOCOL 118); the kernel's own (0, 32766, 32767: proto
    kernel) and anyone else's are not reported, so they are never deleted. A proto-118
    rule a `Rule` cannot express (another selector or action) is left out and logged."""
    out = set()
    for r in ipr.get_rules(family=socket.AF_INET):
        if r.get_attr("FRA_PROTOCOL") != _links_mod.RTPROT_VPCLAB:
            continue
        action = r["action"]
        fwmark, mask = r.get_attr("FRA_FWMARK"), r.get_attr("FRA_FWMASK")
        if fwmark is None and mask is not None:  # `fwmark 0/MASK`: the kernel omits a zero mark
            fwmark = 0
        other = r["src_len"] or r["dst_len"] or r["tos"] or r.get_attr("FRA_IIFNAME") or r.get_attr("FRA_OIFNAME")
        try:
            if other or action not in (FR_ACT_TO_TBL, FR_ACT_GOTO):
                raise ValueError(f"selector or action beyond a Rule: action {action}")
            out.add(
                Rule(
                    priority=r.get_attr("FRA_PRIORITY") or 0,
                    table=(r.get_attr("FRA_TABLE") or r["table"]) if action == FR_ACT_TO_TBL else None,
                    fwmark=fwmark,
                    mask=U32_MAX if mask is None else mask,
                    invert=bool(r["flags"] & _links_mod.FIB_RULE_INVERT),
                    goto=r.get_attr("FRA_GOTO") if action == FR_ACT_GOTO else None,
                )
            )
        except ValueError as exc:
            log.warning("ip rule %s with proto %d left alone: %s", r.get_attr("FRA_PRIORITY"), _links_mod.RTPROT_VPCLAB, exc)
    return out


def _read_proxy_neighbours(ipr: Any, names: dict[int, str | None]) -> set[ProxyNeighbour]:
    """vpclab's IPv4 proxy entries (NDA_PROTOCOL 118): one dump of the proxy table."""
    out = set()
    for n in _links_mod.dump_proxy_neighbours(ipr):
        if not n["flags"] & _links_mod.NTF_PROXY or n.get_attr("NDA_PROTOCOL") != _links_mod.RTPROT_VPCLAB:
            continue
        dev = _name_of_index(ipr, n["ifindex"], names) if n["ifindex"] else None
        if dev is not None:
            out.add(ProxyNeighbour(n.get_attr("NDA_DST"), dev))
    return out
