"""Tag keys that begin with `aws:` are AWS's own.

A caller's call that sets one is refused ("Tag keys starting with 'aws:' are reserved for
internal use"); a service acting for the caller sets its own, as CloudFormation puts
`aws:cloudformation:stack-name` on what a stack makes. That service's calls run inside
`set_by_service(prefix)` (in-process, on the same thread), which lets keys of its prefix
through and no others.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_SERVICE_PREFIX: ContextVar[str | None] = ContextVar("vpclab_service_tag_prefix", default=None)


def is_reserved(key: str) -> bool:
    """True when `key` is AWS's and this call may not set it."""
    if not key.lower().startswith("aws:"):
        return False
    prefix = _SERVICE_PREFIX.get()
    return prefix is None or not key.startswith(prefix)


@contextmanager
def set_by_service(prefix: str) -> Iterator[None]:
    """Calls made inside may set tags whose keys begin with `prefix`."""
    token = _SERVICE_PREFIX.set(prefix)
    try:
        yield
    finally:
        _SERVICE_PREFIX.reset(token)
