"""Kernel driver: makes a desired network (plain dataclasses) real on Linux; knows no AWS.

Public entry points: `Plan` and friends (topology), `Backend.linux(prefix)` /
`FakeBackend(prefix)` (backend), `naming` for prefixes and names, `netns` to enter
namespaces and spawn processes in them, `nft` for rulesets. See README.md.

Names are resolved lazily: `vpclab exec` needs `naming` and `netns` only, and should not
pay for pyroute2 and libnftables at start-up.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # What the checker reads for the names below (at run time __getattr__ imports them).
    from vpclab.kernel.backend import Backend as Backend, FakeBackend as FakeBackend
    from vpclab.kernel.nft import NftChain as NftChain, NftSet as NftSet, NftTable as NftTable
    from vpclab.kernel.topology import (
        Bridge as Bridge,
        Interface as Interface,
        Namespace as Namespace,
        Plan as Plan,
        PlanError as PlanError,
        Route as Route,
        VethPair as VethPair,
    )

_EXPORTS = {
    "Backend": "backend",
    "FakeBackend": "backend",
    "NftChain": "nft",
    "NftSet": "nft",
    "NftTable": "nft",
    "Bridge": "topology",
    "Interface": "topology",
    "Namespace": "topology",
    "Plan": "topology",
    "PlanError": "topology",
    "Route": "topology",
    "VethPair": "topology",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
