"""Converge the machine to a `Plan`: one level-triggered, idempotent function.

`Backend.apply(plan)` observes what exists (through a `Kernel`), computes the difference
and executes it, in an order the kernel accepts:

1. delete owned namespaces the plan lacks; create the missing ones;
2. delete owned links that are not wanted (or have the wrong kind);
3. create missing bridges and veth pairs; a veth whose peer is not the wanted one (its
   old peer namespace was deleted by hand, say) is deleted and made again;
4. per namespace: sysctls, then each link's master/mtu/addresses/up, then vpclab's
   routes, then owned nft tables (one transaction per table).

Applying the same plan twice executes nothing the second time. Only names carrying the
prefix are ever deleted; links and tables declared in the plan are managed whatever their
name (an instance's ``eth0``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from vpclab.dataplane import naming
from vpclab.dataplane.fake import FakeKernel
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
    Kernel,
    NamespaceState,
    SetMaster,
    SetMtu,
    SetSysctl,
    SetUp,
)
from vpclab.dataplane.topology import KIND_BRIDGE, KIND_VETH, DesiredLink, Plan, Route

log = logging.getLogger(__name__)


def route_matches(desired: Route, seen: Route) -> bool:
    """A kernel route satisfies a desired one if every field the plan set agrees (the
    kernel fills in the device of a gateway route, so `dev` may be unset in the plan)."""
    return (
        desired.dst == seen.dst
        and (desired.via is None or desired.via == seen.via)
        and (desired.dev is None or desired.dev == seen.dev)
        and (desired.metric is None or desired.metric == seen.metric)
    )


class Backend:
    """Applies plans for one prefix through one `Kernel`. Not thread-safe: one reconciler."""

    def __init__(self, kernel: Kernel):
        self.kernel = kernel
        self.prefix = kernel.prefix
        self._seen: dict[str, NamespaceState] = {}

    def _observe(self, ns: str) -> NamespaceState:
        """Links of `ns`, cached within one apply until an action may have changed them."""
        state = self._seen.get(ns)
        if state is None:
            state = self._seen[ns] = self.kernel.observe(ns)
        return state

    @classmethod
    def linux(cls, prefix: str) -> Backend:
        """The real backend (needs root / CAP_NET_ADMIN + CAP_SYS_ADMIN)."""
        from vpclab.dataplane.linux import LinuxKernel

        return cls(LinuxKernel(prefix))

    def _do(self, done: list[Action], action: Action) -> None:
        log.debug("dataplane %s", action)
        if isinstance(action, (DeleteLink, DeleteNamespace, AddVeth)):
            self._seen.clear()  # a veth change reaches into the peer's namespace too
        else:
            self._seen.pop(action.ns, None)
        self.kernel.execute(action)
        done.append(action)

    def apply(self, plan: Plan) -> list[Action]:
        """Make the machine match `plan`; return the actions executed ([] if it did)."""
        if plan.prefix != self.prefix:
            raise ValueError(f"plan for {plan.prefix} given to backend for {self.prefix}")
        plan.validate()
        self._seen.clear()
        done: list[Action] = []
        wanted = {ns.name for ns in plan}
        present = self.kernel.namespaces()
        for name in sorted(present - wanted):
            self._do(done, DeleteNamespace(name))
        for ns in plan:
            if ns.name not in present:
                self._do(done, CreateNamespace(ns.name))

        links = plan.links()
        self._remove_unwanted_links(plan, links, done)
        self._create_links(plan, links, done)
        for ns in plan:
            state = self.kernel.observe(ns.name, ns.sysctls.keys())
            self._configure(ns.name, state, links[ns.name], done)
            for key, value in ns.sysctls.items():
                if state.sysctls.get(key) != str(value):
                    self._do(done, SetSysctl(ns.name, key, str(value)))
            self._routes(ns.name, state, ns.routes, done)
            self._tables(ns.name, state, ns.nft, done)
        return done

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
            state = self._observe(ns.name)
            want = links[ns.name]
            for name, link in sorted(state.links.items()):
                d = want.get(name)
                if d is None and naming.owns_link(self.prefix, name):
                    self._do(done, DeleteLink(ns.name, name))
                elif d is not None and d.kind != link.kind:
                    self._do(done, DeleteLink(ns.name, name))

    def _create_links(self, plan: Plan, links: dict[str, dict[str, DesiredLink]], done: list[Action]) -> None:
        for ns in plan:
            for br in ns.bridges:
                if br.name not in self._observe(ns.name).links:
                    self._do(done, AddBridge(ns.name, br.name))
        for ns in plan:
            for v in ns.veths:
                here = self._observe(ns.name).links
                there = self._observe(v.peer_namespace).links
                name, peer = v.local.name, v.peer.name
                if name in here and peer in there and self.kernel.veth_connects(
                    ns.name, name, v.peer_namespace, peer
                ):
                    continue
                if name in here:
                    self._do(done, DeleteLink(ns.name, name))
                    there = self._observe(v.peer_namespace).links
                if peer in there:
                    self._do(done, DeleteLink(v.peer_namespace, peer))
                self._do(done, AddVeth(ns.name, name, v.peer_namespace, peer))

    def _configure(self, ns: str, state: NamespaceState, want: dict[str, DesiredLink], done: list[Action]) -> None:
        lo = state.links.get("lo")
        if lo is not None and not lo.up:
            self._do(done, SetUp(ns, "lo", True))
        # bridges first, so ports are attached to a bridge that is already up
        ordered = sorted(want.values(), key=lambda d: (d.kind != KIND_BRIDGE, d.config.name))
        for d in ordered:
            cfg = d.config
            link = state.links.get(cfg.name)
            if link is None:
                raise RuntimeError(f"{ns}/{cfg.name} missing after creation")
            if link.master != cfg.master:
                self._do(done, SetMaster(ns, cfg.name, cfg.master))
            if cfg.mtu is not None and link.mtu != cfg.mtu:
                self._do(done, SetMtu(ns, cfg.name, cfg.mtu))
            for cidr in sorted(link.addresses - set(cfg.addresses)):
                self._do(done, DeleteAddress(ns, cfg.name, cidr))
            for cidr in cfg.addresses:
                if cidr not in link.addresses:
                    self._do(done, AddAddress(ns, cfg.name, cidr))
            if link.up != cfg.up:
                self._do(done, SetUp(ns, cfg.name, cfg.up))
        assert all(d.kind in (KIND_BRIDGE, KIND_VETH) for d in ordered)

    def _routes(self, ns: str, state: NamespaceState, routes: Iterable[Route], done: list[Action]) -> None:
        routes = list(routes)
        for seen in sorted(state.routes, key=str):
            if not any(route_matches(r, seen) for r in routes):
                self._do(done, DeleteRoute(ns, seen))
        for r in routes:
            if not any(route_matches(r, seen) for seen in state.routes):
                self._do(done, AddRoute(ns, r))

    def _tables(self, ns: str, state: NamespaceState, tables: Iterable, done: list[Action]) -> None:  # type: ignore[type-arg]
        tables = list(tables)
        wanted = {t.key for t in tables}
        for key in sorted(state.tables):
            if key not in wanted:
                self._do(done, DeleteTable(ns, *key))
        for t in tables:
            current = state.tables.get(t.key)
            if current != t:
                self._do(done, ApplyTable(ns, t, current))


class FakeBackend(Backend):
    """A `Backend` over a `FakeKernel`: ``.actions`` records what would be done."""

    kernel: FakeKernel

    def __init__(self, prefix: str):
        super().__init__(FakeKernel(prefix))

    @property
    def actions(self) -> list[Action]:
        return self.kernel.actions
