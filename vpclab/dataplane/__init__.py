"""Data plane: makes a desired network (plain dataclasses) real on Linux.

Public entry points: `Plan` and friends (topology), `Backend.linux(prefix)` /
`FakeBackend(prefix)` (backend), `naming` for prefixes and names, `netns` to enter
namespaces and spawn processes in them, `nft` for rulesets. See README.md.
"""

from vpclab.dataplane.backend import Backend, FakeBackend
from vpclab.dataplane.nft import NftChain, NftSet, NftTable
from vpclab.dataplane.topology import Bridge, Interface, Namespace, Plan, PlanError, Route, VethPair

__all__ = [
    "Backend",
    "Bridge",
    "FakeBackend",
    "Interface",
    "Namespace",
    "NftChain",
    "NftSet",
    "NftTable",
    "Plan",
    "PlanError",
    "Route",
    "VethPair",
]
