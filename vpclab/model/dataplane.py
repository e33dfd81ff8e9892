"""Data-plane-owned bookkeeping: facts the data plane must remember across restarts.

Only the data plane writes these; the control plane never reads them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..store import Resource, resource


@resource("transit-link")
@dataclass
class TransitLink(Resource):
    """The /30 of one endpoint ENI's transit link (consumer VPC <-> provider NLB node).

    id is the endpoint ENI's id. `index` numbers the /30 inside 100.64.0.0/10: network
    100.64.0.0 + 4 * index, consumer side .1, node side .2 (see `dataplane/transit.py`).
    A record lives exactly as long as the link may exist: it is made before the link is
    planned and deleted only after a pass applied a plan without the link, so a live link
    is never renumbered and an index is reused only once its link is gone.
    """

    index: int = 0
    endpoint_id: str = ""
    created: float = 0.0
