"""Operation registry and the request context handlers receive.

A handler is a plain function registered by service and operation name. It gets the
parsed input dict (member names as in the botocore model, the same dict boto3 users
write) and returns the output dict; it raises `AwsError`s. It never sees XML or HTTP.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..store import Store, Transaction
from .errors import DryRunOperation

Handler = Callable[["RequestContext", dict], dict | None]

_HANDLERS: dict[tuple[str, str], Handler] = {}


def operation(service: str, name: str) -> Callable[[Handler], Handler]:
    """Register `fn` as the handler of `service`'s operation `name` (botocore names)."""

    def register(fn: Handler) -> Handler:
        key = (service, name)
        if key in _HANDLERS:
            raise ValueError(f"{service}:{name} registered twice")
        _HANDLERS[key] = fn
        return fn

    return register


def handler_for(service: str, name: str) -> Handler | None:
    return _HANDLERS.get((service, name))


def implemented(service: str) -> list[str]:
    return sorted(name for svc, name in _HANDLERS if svc == service)


@dataclass
class RequestContext:
    account: str
    region: str
    store: Store
    service: str = "ec2"
    action: str = ""
    dry_run: bool = False
    # True when a data plane makes resources real and reports their states; False means
    # states settle by the lifecycle timer (see control/lifecycle.py).
    dataplane: bool = False
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    extras: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """A store transaction that a DryRun request validates but never commits."""
        with self.store.write() as tx:
            yield tx
            if self.dry_run:
                raise DryRunOperation()

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        with self.store.read() as tx:
            yield tx

    def as_account(self, account: str) -> "RequestContext":
        return RequestContext(account, self.region, self.store, self.service, self.action,
                              self.dry_run, self.dataplane, self.request_id, self.now, self.extras)
