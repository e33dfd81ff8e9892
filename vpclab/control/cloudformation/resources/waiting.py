"""Where CloudFormation waits for a resource to stabilize: polls of a Describe call.

Without a data plane the server's lifecycle timer moves states on in about half a second;
with one, the reconcilers do once the thing is real (an instance booted, an NLB's nodes up).
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from .provider import ResourceFailed

T = TypeVar("T")

#: Seconds between two polls.
POLL = 0.1

#: How long a create or delete waits before the resource is reported as not stabilized.
TIMEOUT = 300.0


def until(check: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
    """The first value `check` returns that is not None. `check` raises `ResourceFailed`
    (or an `ApiError`) for a state the resource will not leave."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise ResourceFailed(f'Resource handler returned message: "Exceeded attempts to wait" '
                                 f"(RequestToken: {uuid.uuid4()}, HandlerErrorCode: NotStabilized)")
        time.sleep(POLL)
