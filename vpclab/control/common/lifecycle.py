"""Transitional states that settle with time when no data plane observes them.

AWS moves resources through states (an NLB is `provisioning`, then `active`; an accepted
endpoint is `pending`, then `available`). With the data plane on, the reconcilers move
them once the thing is real. With it off, the server calls `settle` on a short timer so
that clients and waiters still see AWS's sequence. Each area registers its own step.
"""
from __future__ import annotations

from collections.abc import Callable

from ...store import Store, Transaction

#: Steps: fn(tx, now, dataplane) makes the due transitions of one area; `dataplane` says
#: whether the server runs a data plane, which then makes the transitions it observes.
Step = Callable[[Transaction, float, bool], None]
STEPS: list[Step] = []

#: How long a transitional state lasts without a data plane, seconds.
SETTLE_DELAY = 0.5


def step(fn: Step) -> Step:
    STEPS.append(fn)
    return fn


def settle(store: Store, now: float, dataplane: bool = False) -> None:
    """One pass of every area's transitions, each in its own transaction."""
    for fn in STEPS:
        with store.write() as tx:
            fn(tx, now, dataplane)
