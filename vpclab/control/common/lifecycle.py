"""Transitional states that settle with time when no data plane observes them.

AWS moves resources through states (an NLB is `provisioning`, then `active`; an accepted
endpoint is `pending`, then `available`). With the data plane on, the reconcilers move
them once the thing is real. With it off, the server calls `settle` on a short timer so
that clients and waiters still see AWS's sequence. Each area writes its own step; the
list of steps is `vpclab.control.LIFECYCLE_STEPS`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ...store import Store, Transaction

#: Steps: fn(tx, now, dataplane) makes the due transitions of one area; `dataplane` says
#: whether the server runs a data plane, which then makes the transitions it observes.
Step = Callable[[Transaction, float, bool], None]

#: How long a transitional state lasts without a data plane, seconds.
SETTLE_DELAY = 0.5


def settle(store: Store, now: float, steps: Sequence[Step], dataplane: bool = False) -> None:
    """One pass of the areas' transitions (`steps`, in order), each in its own transaction."""
    for fn in steps:
        with store.write() as tx:
            fn(tx, now, dataplane)
