"""One AWS request in, one AWS response out: the whole protocol layer behind HTTP.

Kept free of the HTTP library so that it can be driven directly by tests and by the
embedded server alike.
"""
from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from ..store import Store
from . import models
from .dispatch import RequestContext, handler_for
from .errors import AwsError, DryRunOperation, InternalError, InvalidAction, MissingAction
from .identity import caller_from
from .parser import parser_for
from .serializer import serializer_for

log = logging.getLogger("vpclab.protocol")


@dataclass
class Response:
    status: int
    body: bytes
    request_id: str
    content_type: str = "text/xml;charset=UTF-8"


class Gateway:
    def __init__(self, store: Store, dataplane: bool = False, extras: dict | None = None,
                 regions: Collection[str] | None = None):
        self.store = store
        self.dataplane = dataplane
        # The regions served; a request signed for another gets AWS's error for a scope it
        # cannot serve. None accepts any (for tests of the protocol layer alone).
        self.regions = regions
        # Server-wide facts handlers may read (e.g. "state_dir"), shared by every request.
        self.extras = extras or {}

    def handle(self, headers: Mapping[str, str], query: str, body: bytes) -> Response:
        params = dict(parse_qsl(query, keep_blank_values=True))
        if body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        caller = caller_from(headers, params)
        ctx = RequestContext(caller.account, caller.region, self.store, dataplane=self.dataplane,
                             extras=self.extras)
        action = params.get("Action", "")
        service = models.service_for_signing_name(caller.signing_name)
        if service is None:
            service = models.service_for_action(action) or models.service("ec2")
        ctx.service = service.name
        ctx.action = action
        serializer = serializer_for(service.protocol, service.xml_namespace)
        try:
            if not action:
                raise MissingAction("The request must contain the parameter Action")
            operation = service.operation(action)
            handler = handler_for(service.name, action)
            if operation is None:
                raise InvalidAction(f"The action {action} is not valid for this web service.")
            if handler is None:
                raise InvalidAction(f"The action {action} is not implemented by vpclab yet.")
            if self.regions is not None and caller.region not in self.regions:
                raise AwsError(
                    f"Credential should be scoped to a valid region, not '{caller.region}'. "
                    f"vpclab serves: {', '.join(sorted(self.regions))}.",
                    code="AuthFailure" if service.name == "ec2" else "SignatureDoesNotMatch",
                    status=401 if service.name == "ec2" else 403,
                )
            request = parser_for(service.protocol).parse(params, operation.input_shape)
            ctx.dry_run = bool(request.pop("DryRun", False)) if service.name == "ec2" else False
            output = handler(ctx, request) or {}
            if ctx.dry_run:
                raise DryRunOperation()
            return Response(200, serializer.serialize(operation, output, ctx.request_id), ctx.request_id)
        except AwsError as err:
            return Response(err.status, serializer.serialize_error(err, ctx.request_id), ctx.request_id)
        except Exception:
            log.exception("unhandled error in %s:%s", service.name, action)
            err = InternalError("An internal error has occurred")
            return Response(err.status, serializer.serialize_error(err, ctx.request_id), ctx.request_id)
