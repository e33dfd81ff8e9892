"""Data-plane-owned bookkeeping: facts the data plane must remember across restarts.

Only the data plane writes these; the control plane never reads them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..store import Resource, resource


@resource("transit-link")
@dataclass
class TransitLink(Resource):
    """The number of one endpoint ENI's link (consumer subnet <-> provider NLB node).

    id is the endpoint ENI's id. `index` numbers the link's names, conntrack zone, mark,
    routing table and rule (see `dataplane/areas/transit.py`).
    A record lives exactly as long as the link may exist: it is made before the link is
    planned and deleted only after a pass applied a plan without the link, so a live link
    is never renumbered and an index is reused only once its link is gone.
    """

    index: int = 0
    endpoint_id: str = ""
    created: float = 0.0
