"""Compose one `Plan` from the contributions of each area's reconciler.

Each area (VPC networking, NLB nodes, endpoints, security groups) adds what it needs to
the namespaces it cares about through a `PlanBuilder`; the builder turns the whole into
the immutable `Plan` the backend applies in one pass. Areas never apply anything
themselves: one desired state, computed whole, applied once (kube-proxy's lesson).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..kernel.nft import NftTable
from ..kernel.topology import Bridge, Namespace, Plan, ProxyNeighbour, Route, Rule, VethPair
from .world import World


@dataclass
class NamespaceDraft:
    name: str
    bridges: dict[str, Bridge] = field(default_factory=dict)
    veths: dict[str, VethPair] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    nft: dict[str, NftTable] = field(default_factory=dict)
    rules: dict[int, Rule] = field(default_factory=dict)  # by priority: one rule per priority
    proxy_neighbours: dict[tuple[str, str], ProxyNeighbour] = field(default_factory=dict)  # by (address, dev)

    def build(self) -> Namespace:
        return Namespace(
            name=self.name,
            bridges=tuple(self.bridges[k] for k in sorted(self.bridges)),
            veths=tuple(self.veths[k] for k in sorted(self.veths)),
            routes=tuple(self.routes),
            sysctls=dict(self.sysctls),
            nft=tuple(self.nft[k] for k in sorted(self.nft)),
            rules=tuple(self.rules[k] for k in sorted(self.rules)),
            proxy_neighbours=tuple(self.proxy_neighbours[k] for k in sorted(self.proxy_neighbours)),
        )


class PlanBuilder:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self._namespaces: dict[str, NamespaceDraft] = {}

    def namespace(self, name: str) -> NamespaceDraft:
        """The draft of namespace `name`, made on first use."""
        if name not in self._namespaces:
            self._namespaces[name] = NamespaceDraft(name)
        return self._namespaces[name]

    def has(self, name: str) -> bool:
        return name in self._namespaces

    def build(self) -> Plan:
        return Plan(self.prefix, tuple(self._namespaces[k].build() for k in sorted(self._namespaces)))


#: An area's reconciler: adds its part of the desired network for `world`.
Contributor = Callable[[World, PlanBuilder], None]


def build_plan(world: World, prefix: str, contributors: list[Contributor]) -> Plan:
    builder = PlanBuilder(prefix)
    for contribute in contributors:
        contribute(world, builder)
    plan = builder.build()
    plan.validate()
    return plan
