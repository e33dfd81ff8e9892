"""Converge the machine to a `Plan`: one level-triggered, idempotent function.

`Backend.apply(plan)` observes what exists (through a `Kernel`), computes the difference
and executes it, in an order the kernel accepts:

1. delete owned namespaces the plan lacks; create the missing ones;
2. delete owned links that are not wanted (or have the wrong kind);
3. create missing bridges and veth pairs; a veth whose peer is not the wanted one (its
   old peer namespace was deleted by hand, say) is deleted and made again;
4. per namespace: sysctls, then each link's master/mtu/addresses/up, then the routing
   part (unwanted ip rules go, then vpclab's routes of every table, then the missing
   rules, then proxy neighbours: a rule never points at a table vpclab has not filled
   yet, and a route's or proxy entry's device exists), then owned nft tables (one
   transaction per table).

Applying the same plan twice executes nothing the second time. Only names carrying the
prefix are ever deleted; links and tables declared in the plan are managed whatever their
name (an instance's ``eth0``).

Cost. A *full* pass (``apply(plan)``, the default) reads every owned namespace once:
each link dump once, routes/sysctls/tables once, and veth pairing is judged from those
dumps (no extra reads per veth). A *change* pass (``apply(plan, full=False)``, what the
reconciler runs after a store change) compares each namespace's desired state with what
the last good pass applied there: a namespace whose desired state and identity (inode)
are unchanged is not read at all, and in one that changed only the links whose desired
config changed (plus their veth partners) are read, one RTM_GETLINK each; tables only if
their desired part changed; sysctls only those whose desired value changed; the routing
part (routes of every table, ip rules, proxy neighbours) is changed by its difference to
what the last pass applied, unread, unless a link or an address was removed or a link
set down there in this pass (the kernel drops routes and proxy entries with them: then
it is read and compared whole). So one change costs the namespaces and links it
touches, not the size of the plan. A namespace missing or made again (new inode) is read
in full, and the veth ends paired with it elsewhere are checked, on change passes too. What a change pass does not see (a
link or table removed by hand inside an unchanged namespace) the next full pass repairs;
the reconciler runs one every few seconds. A change pass trusts what it applied to an nft
table; a full pass reads every owned table back from the kernel (``verify_tables``) and
replaces whole one edited by hand (flushed, a rule, chain or element removed or added).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from vpclab.kernel import naming
from vpclab.kernel.fake import FakeKernel
from vpclab.kernel.links import LinkState
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
    Kernel,
    NamespaceState,
    SetGsoMaxSize,
    SetMac,
    SetMaster,
    SetMtu,
    SetSysctl,
    SetUp,
)
from vpclab.kernel.topology import KIND_BRIDGE, KIND_VETH, DesiredLink, Namespace, Plan, Route, Rule

log = logging.getLogger(__name__)


def route_matches(desired: Route, seen: Route) -> bool:
    """A kernel route satisfies a desired one if every field the plan set agrees (the
    kernel fills in the device of a gateway route, so `dev` may be unset in the plan)."""
    return (
        desired.dst == seen.dst
        and desired.table == seen.table
        and (desired.via is None or desired.via == seen.via)
        and (desired.dev is None or desired.dev == seen.dev)
        and (desired.metric is None or desired.metric == seen.metric)
    )


@dataclass(frozen=True)
class _Applied:
    """What the last good pass applied in one namespace (the baseline of a change pass)."""

    identity: int
    namespace: Namespace
    links: dict[str, DesiredLink]


@dataclass
class _Scope:
    """What a pass reads and converges in one namespace."""

    links: set[str] | None  # None: every link (full read)
    routes: bool = True  # the routing part: routes of every table, rules, proxy neighbours
    sysctls: bool = True
    tables: bool = True
    before: Namespace | None = None
    """What the last good pass applied here (change passes): routing and sysctls then
    change by the difference to it, without reading what did not change."""

    def has(self, name: str) -> bool:
        return self.links is None or name in self.links


def partners(plan: Plan) -> dict[tuple[str, str], tuple[str, str]]:
    """``{(ns, ifname): (peer ns, peer ifname)}`` for both ends of every veth of `plan`."""
    out = {}
    for ns in plan:
        for v in ns.veths:
            out[(ns.name, v.local.name)] = (v.peer_namespace, v.peer.name)
            out[(v.peer_namespace, v.peer.name)] = (ns.name, v.local.name)
    return out


class Backend:
    """Applies plans for one prefix through one `Kernel`. Not thread-safe: one reconciler."""

    def __init__(self, kernel: Kernel):
        self.kernel = kernel
        self.prefix = kernel.prefix
        self._applied: dict[str, _Applied] = {}
        self._applied_partners: dict[tuple[str, str], tuple[str, str]] = {}
        # per pass
        self._links: dict[str, dict[str, LinkState]] = {}
        self._scope: dict[str, _Scope] = {}
        self._partners: dict[tuple[str, str], tuple[str, str]] = {}
        self._routes_dirty: set[str] = set()
        self.last_scope: dict[str, _Scope] = {}
        """The namespaces the last pass read, and how much of each (for tests and profiles)."""

    @classmethod
    def linux(cls, prefix: str) -> Backend:
        """The real backend (needs root / CAP_NET_ADMIN + CAP_SYS_ADMIN)."""
        from vpclab.kernel.linux import LinuxKernel

        return cls(LinuxKernel(prefix))

    def _partner(self, ns: str, name: str) -> tuple[str, str] | None:
        return self._partners.get((ns, name)) or self._applied_partners.get((ns, name))

    def _do(self, done: list[Action], action: Action) -> None:
        log.debug("dataplane %s", action)
        self.kernel.execute(action)
        done.append(action)
        ns = action.ns
        match action:
            case DeleteLink(name=name):
                link = self._links.get(ns, {}).pop(name, None)
                self._routes_dirty.add(ns)
                if link is not None and link.kind == KIND_VETH:
                    partner = self._partner(ns, name)
                    if partner is not None:
                        self._links.get(partner[0], {}).pop(partner[1], None)
                        self._routes_dirty.add(partner[0])
                    else:  # a stray veth: its peer may have been anywhere we look
                        self._routes_dirty.update(self._scope)
            case AddVeth(name=name, peer_ns=peer_ns, peer_name=peer_name):
                self._reread(ns, name)
                self._reread(peer_ns, peer_name)
            case AddBridge(name=name):
                self._reread(ns, name)
            case DeleteAddress() | SetUp(up=False):  # the kernel drops routes / proxy entries
                self._routes_dirty.add(ns)
            case _:
                pass

    def _reread(self, ns: str, name: str) -> None:
        """Read one link just made (it has no addresses yet)."""
        if ns in self._links:
            found = self.kernel.observe(ns, (), (name,), routes=False, tables=False, addresses=False).links
            if name in found:
                self._links[ns][name] = found[name]

    def apply(self, plan: Plan, full: bool = True) -> list[Action]:
        """Make the machine match `plan`; return the actions executed ([] if it did).

        ``full=False``: a change pass, which reads only the namespaces (and links) whose
        desired state differs from what the last good pass applied, or whose namespace
        is new or was made again (see the module doc)."""
        if plan.prefix != self.prefix:
            raise ValueError(f"plan for {plan.prefix} given to backend for {self.prefix}")
        plan.validate()
        self._links, self._scope, self._routes_dirty = {}, {}, set()
        self._partners = partners(plan)
        done: list[Action] = []
        try:
            self._apply(plan, full, done)
        except BaseException:
            # what was in scope may be half done: read it in full next time
            for name in self._scope:
                self._applied.pop(name, None)
            raise
        finally:
            self.last_scope = self._scope
            self._links, self._scope = {}, {}
        return done

    def _apply(self, plan: Plan, full: bool, done: list[Action]) -> None:
        wanted = {ns.name for ns in plan}
        ids = self.kernel.identities()
        for name in sorted(set(ids) - wanted):
            self._applied.pop(name, None)
            self._do(done, DeleteNamespace(name))
            del ids[name]
        created = False
        for ns in plan:
            if ns.name not in ids:
                self._applied.pop(ns.name, None)
                self._do(done, CreateNamespace(ns.name))
                created = True
        if created:
            ids = self.kernel.identities()
        for name in list(self._applied):
            if name not in wanted:
                del self._applied[name]

        links = plan.links()
        self._scope = scope = self._plan_scope(plan, links, ids, full)
        for name, read in scope.items():
            self._links[name] = dict(self.kernel.observe(name, (), read.links, routes=False, tables=False).links)
        self._remove_unwanted_links(plan, links, done)
        self._create_links(plan, links, done)
        for ns in plan:
            sc = scope.get(ns.name)
            if sc is None:
                continue
            self._configure(ns.name, self._links[ns.name], links[ns.name], sc, done)
            # A change pass changes the routing part and sysctls by the difference to what
            # the last pass applied (a thousand endpoint links in one router are thousands of
            # routes, rules, proxy entries and sysctls: reading them all for one more costs
            # a second); it reads the routing part only when the kernel may have dropped
            # some of it (a link or address removed, a link set down, in this pass).
            dropped = ns.name in self._routes_dirty
            routes = sc.routes or dropped
            by_difference = sc.before is not None and not dropped
            sysctl_keys = [k for k, v in ns.sysctls.items()
                           if sc.before is None or sc.before.sysctls.get(k) != v] if sc.sysctls else []
            read_routes = routes and not by_difference
            state = NamespaceState()
            if read_routes or sysctl_keys or sc.tables:
                # A full pass does not trust what it applied: each table is read back and
                # one edited by hand comes back as unknown, to be replaced whole.
                state = self.kernel.observe(ns.name, sysctl_keys, (), routes=read_routes, tables=sc.tables,
                                            verify_tables=full)
            for key in sysctl_keys:
                value = str(ns.sysctls[key])
                if state.sysctls.get(key) != value:
                    self._do(done, SetSysctl(ns.name, key, value))
            if read_routes:
                self._routing(ns.name, state, ns, done)
            elif routes:
                assert sc.before is not None
                self._routing(ns.name, _routing_state(sc.before), ns, done)
            if sc.tables:
                self._tables(ns.name, state, ns.nft, done)
        self._applied = {
            ns.name: _Applied(ids[ns.name], ns, links[ns.name]) for ns in plan if ns.name in ids
        }
        self._applied_partners = self._partners

    def _plan_scope(
        self, plan: Plan, links: dict[str, dict[str, DesiredLink]], ids: dict[str, int], full: bool
    ) -> dict[str, _Scope]:
        scope: dict[str, _Scope] = {}
        for ns in plan:
            before = None if full else self._applied.get(ns.name)
            if before is None or before.identity != ids.get(ns.name):
                scope[ns.name] = _Scope(None)
                continue
            want = links[ns.name]
            if before.namespace == ns and before.links == want:
                continue
            dirty = {n for n, d in want.items() if before.links.get(n) != d}
            dirty |= set(before.links) - set(want)
            old = before.namespace
            scope[ns.name] = _Scope(
                dirty,
                routes=(old.routes, old.rules, old.proxy_neighbours)
                != (ns.routes, ns.rules, ns.proxy_neighbours),
                sysctls=dict(old.sysctls) != dict(ns.sysctls),
                tables=old.nft != ns.nft,
                before=old,
            )
        # a veth end that is read needs its partner read too (pairing is judged from both)
        pulled: dict[str, set[str]] = {}
        for (ns_name, name), (peer_ns, peer_name) in list(self._partners.items()) + list(self._applied_partners.items()):
            sc = scope.get(ns_name)
            if sc is None or not sc.has(name):
                continue
            other = scope.get(peer_ns)
            if other is not None and other.has(peer_name):
                continue
            pulled.setdefault(peer_ns, set()).add(peer_name)
        for ns_name, names in pulled.items():
            if ns_name not in ids:
                continue
            sc = scope.get(ns_name)
            if sc is None:
                scope[ns_name] = _Scope(names, routes=False, sysctls=False, tables=False)
            elif sc.links is not None:
                sc.links |= names
        return scope

    def destroy(self) -> list[Action]:
        """Remove everything owned by the prefix (``vpclab down``)."""
        return self.apply(Plan(self.prefix))

    def close(self) -> None:
        self.kernel.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- steps -------------------------------------------------------------------------

    def _remove_unwanted_links(self, plan: Plan, links: dict[str, dict[str, DesiredLink]], done: list[Action]) -> None:
        for ns in plan:
            if ns.name not in self._scope:
                continue
            want = links[ns.name]
            for name, link in sorted(self._links[ns.name].items()):
                d = want.get(name)
                if d is None and naming.owns_link(self.prefix, name):
                    self._do(done, DeleteLink(ns.name, name))
                elif d is not None and d.kind != link.kind:
                    self._do(done, DeleteLink(ns.name, name))

    def _create_links(self, plan: Plan, links: dict[str, dict[str, DesiredLink]], done: list[Action]) -> None:
        scope = self._scope
        for ns in plan:
            sc = scope.get(ns.name)
            if sc is None:
                continue
            for br in ns.bridges:
                if sc.has(br.name) and br.name not in self._links[ns.name]:
                    self._do(done, AddBridge(ns.name, br.name))
        for ns in plan:
            sc = scope.get(ns.name)
            for v in ns.veths:
                name, peer = v.local.name, v.peer.name
                psc = scope.get(v.peer_namespace)
                if not ((sc is not None and sc.has(name)) or (psc is not None and psc.has(peer))):
                    continue
                here = self._links[ns.name]
                there = self._links[v.peer_namespace]
                if name in here and peer in there and self.kernel.veth_connects(
                    ns.name, here[name], v.peer_namespace, there[peer]
                ):
                    continue
                if name in here:
                    self._do(done, DeleteLink(ns.name, name))
                if peer in there:
                    self._do(done, DeleteLink(v.peer_namespace, peer))
                self._do(done, AddVeth(ns.name, name, v.peer_namespace, peer))

    def _configure(
        self, ns: str, seen: dict[str, LinkState], want: dict[str, DesiredLink], sc: _Scope, done: list[Action]
    ) -> None:
        lo = seen.get("lo")
        if lo is not None and not lo.up:
            self._do(done, SetUp(ns, "lo", True))
        # bridges first, so ports are attached to a bridge that is already up
        ordered = sorted(
            (d for d in want.values() if sc.has(d.config.name)),
            key=lambda d: (d.kind != KIND_BRIDGE, d.config.name),
        )
        for d in ordered:
            cfg = d.config
            link = seen.get(cfg.name)
            if link is None:
                raise RuntimeError(f"{ns}/{cfg.name} missing after creation")
            if link.master != cfg.master:
                self._do(done, SetMaster(ns, cfg.name, cfg.master))
            if cfg.mtu is not None and link.mtu != cfg.mtu:
                self._do(done, SetMtu(ns, cfg.name, cfg.mtu))
            if cfg.mac is not None and link.mac != cfg.mac:
                self._do(done, SetMac(ns, cfg.name, cfg.mac))
            if cfg.gso_max_size is not None and link.gso_max_size != cfg.gso_max_size and d.kind != KIND_BRIDGE:
                self._do(done, SetGsoMaxSize(ns, cfg.name, cfg.gso_max_size))
            for cidr in sorted(link.addresses - set(cfg.addresses)):
                self._do(done, DeleteAddress(ns, cfg.name, cidr))
            for cidr in cfg.addresses:
                if cidr not in link.addresses:
                    self._do(done, AddAddress(ns, cfg.name, cidr))
            if link.up != cfg.up:
                self._do(done, SetUp(ns, cfg.name, cfg.up))
        # A bridge takes GSO packets only as large as its ports do (the kernel caps it by
        # them, and refuses more while it has none): set once its ports are attached, and
        # only on a bridge that has ports.
        ports = {d.config.master for d in ordered if d.config.master is not None}
        for d in ordered:
            cfg = d.config
            if d.kind == KIND_BRIDGE and cfg.gso_max_size is not None and cfg.name in ports \
                    and seen[cfg.name].gso_max_size != cfg.gso_max_size:
                self._do(done, SetGsoMaxSize(ns, cfg.name, cfg.gso_max_size))
        assert all(d.kind in (KIND_BRIDGE, KIND_VETH) for d in ordered)

    def _routing(self, ns: str, state: NamespaceState, want: Namespace, done: list[Action]) -> None:
        """Rules that go are deleted before the routes change and missing ones added after,
        so marked traffic is never steered into a table vpclab has not filled (it would
        fall through to later rules, e.g. main, and leave by the wrong way)."""
        rules = set(want.rules)
        for rule in sorted(state.rules - rules, key=_rule_order):
            self._do(done, DeleteRule(ns, rule))
        self._routes(ns, state, want.routes, done)
        for rule in sorted(rules - state.rules, key=_rule_order):
            self._do(done, AddRule(ns, rule))
        proxies = set(want.proxy_neighbours)
        for p in sorted(state.proxy_neighbours - proxies, key=str):
            self._do(done, DeleteProxyNeighbour(ns, p))
        for p in sorted(proxies - state.proxy_neighbours, key=str):
            self._do(done, AddProxyNeighbour(ns, p))

    def _routes(self, ns: str, state: NamespaceState, routes: Iterable[Route], done: list[Action]) -> None:
        # Equal routes first (a set lookup: a table of thousands costs that many lookups,
        # not a comparison each), then route_matches among routes to the same place.
        routes = list(routes)
        exact = set(routes)
        wanted = _by_destination(routes)
        present = _by_destination(state.routes)
        gone = [seen for seen in state.routes if seen not in exact
                and not any(route_matches(r, seen) for r in wanted.get((seen.dst, seen.table), ()))]
        for seen in sorted(gone, key=str):
            self._do(done, DeleteRoute(ns, seen))
        for r in routes:
            if r not in state.routes and not any(route_matches(r, seen)
                                                 for seen in present.get((r.dst, r.table), ())):
                self._do(done, AddRoute(ns, r))

    def _tables(self, ns: str, state: NamespaceState, tables: Iterable[NftTable], done: list[Action]) -> None:
        tables = list(tables)
        wanted = {t.key for t in tables}
        for key in sorted(state.tables):
            if key not in wanted:
                self._do(done, DeleteTable(ns, *key))
        for t in tables:
            current = state.tables.get(t.key)
            if current != t:
                self._do(done, ApplyTable(ns, t, current))


def _rule_order(rule: Rule) -> tuple[int, str]:
    return rule.priority, str(rule)


def _routing_state(applied: Namespace) -> NamespaceState:
    """The routing part a change pass takes as present: what the last good pass applied."""
    return NamespaceState(routes=frozenset(applied.routes), rules=frozenset(applied.rules),
                          proxy_neighbours=frozenset(applied.proxy_neighbours))


def _by_destination(routes: Iterable[Route]) -> dict[tuple[str, int], list[Route]]:
    """Routes grouped by (destination, table): only those can match each other."""
    out: dict[tuple[str, int], list[Route]] = {}
    for r in routes:
        out.setdefault((r.dst, r.table), []).append(r)
    return out


class FakeBackend(Backend):
    """A `Backend` over a `FakeKernel`: ``.actions`` records what would be done."""

    kernel: FakeKernel

    def __init__(self, prefix: str):
        super().__init__(FakeKernel(prefix))

    @property
    def actions(self) -> list[Action]:
        return self.kernel.actions
