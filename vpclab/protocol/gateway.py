"""One AWS request in, one AWS response out: the whole protocol layer behind HTTP.

Kept free of the HTTP library so that it can be driven directly by tests and by the
embedded server alike.
"""
from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from botocore.model import OperationModel

from ..store import Store
from . import content_coding, models
from .dispatch import RequestContext, handler_for
from .errors import AccessDenied, AwsError, DryRunOperation, InternalError, InvalidAction, MissingAction
from .identity import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    Caller,
    EndpointArrival,
    IssuedAccount,
    account_for_key,
    caller_from,
    caller_through,
)
from .parser import parser_for
from .request_guard import FORM_MEDIA_TYPE, HttpRequest, RequestGuard
from .serializer import serializer_for

log = logging.getLogger("vpclab.protocol")


class OutputSerializer(Protocol):
    """What `_run` writes a response with: the wire's XML (`QuerySerializer`), or the
    console's JSON of boto3's output (`boto_output.BotoOutputSerializer`)."""

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> bytes: ...

    def serialize_error(self, err: AwsError, request_id: str) -> bytes: ...


@dataclass
class Response:
    status: int
    body: bytes
    request_id: str
    content_type: str = "text/xml;charset=UTF-8"


class Gateway:
    def __init__(self, store: Store, dataplane: bool = False, extras: dict | None = None,
                 regions: Collection[str] | None = None, guard: RequestGuard | None = None,
                 issued: IssuedAccount | None = None, max_body: int = 16 * 1024 * 1024):
        self.store = store
        # What refuses requests no AWS SDK sends (request_guard.py); None lets every request
        # through, for tests of the protocol layer alone.
        self.guard = guard
        # The account of a key vpclab issued (vpclab accounts create).
        self.issued = issued
        self.dataplane = dataplane
        # The regions served; a request signed for another gets AWS's error for a scope it
        # cannot serve. None accepts any (for tests of the protocol layer alone).
        self.regions = regions
        # Server-wide facts handlers may read (e.g. "state_dir"), shared by every request.
        self.extras = extras or {}
        # The largest body a request may have once its Content-Encoding is undone.
        self.max_body = max_body

    def handle(self, request: HttpRequest, arrival: EndpointArrival | None = None) -> Response:
        """One request from a client: over loopback (`arrival` None), or through an
        interface endpoint in a VPC (`arrival`), which serves its one service to its own
        names and acts as its owner (`identity.caller_through`)."""
        query = dict(parse_qsl(request.raw_query, keep_blank_values=True))
        params = dict(query)
        encoded = bool(request.header("content-encoding").strip())
        if request.body and _is_form(request) and not encoded:
            params.update(_form(request.body))
        # Who and which service, as far as the request tells before the guard and before
        # an encoded body is decoded: enough to answer in the right envelope.
        caller = caller_from({"Authorization": request.header("authorization")}, params, self.issued)
        service = models.service(arrival.service) if arrival is not None else _service(caller.signing_name, params)
        if arrival is not None:
            caller = caller_through(caller.access_key, caller.region, caller.signing_name, arrival, None)
        ctx = RequestContext(caller.account, caller.region, self.store, dataplane=self.dataplane,
                             extras=self.extras)
        serializer = serializer_for(service.protocol, service.xml_namespace)
        try:
            if arrival is not None:
                if self.guard is None:
                    raise AccessDenied("Requests through an endpoint need the request guard")
                sig = self.guard.check(request, query, service.name, hosts=arrival.host_names)
                _check_scope(sig.service, sig.region, service.name, arrival)
                verified = account_for_key(sig.access_key, self.issued) if self.guard.strict else None
                caller = caller_through(sig.access_key, sig.region, sig.service, arrival, verified)
            elif self.guard is not None:
                # The caller is the one whose signature the guard read (and in strict mode
                # verified), never a second reading of the request.
                sig = self.guard.check(request, query, service.name)
                caller = Caller(sig.access_key, account_for_key(sig.access_key, self.issued), sig.region,
                                sig.service)
            if request.body and _is_form(request) and encoded:
                params.update(_form(content_coding.decode(request.body, request.header("content-encoding"),
                                                          self.max_body)))
                if caller.signing_name is None:  # unsigned: the body's Action decides
                    service = _service(None, params)
                    serializer = serializer_for(service.protocol, service.xml_namespace)
            return self._run(service, params, caller, ctx, serializer)
        except AwsError as err:
            return Response(err.status, serializer.serialize_error(err, ctx.request_id), ctx.request_id)
        except Exception:
            return _internal(serializer, ctx, f"reading a {service.name} request")

    def call(self, service_name: str, params: dict[str, str], account: str, region: str,
             serializer: OutputSerializer | None = None) -> Response:
        """An operation for vpclab's own console, as the account signed in there.

        The console's request was checked by its own guard (its token, Host and Origin), so
        there is no SigV4 to read; everything after that is an HTTP request's path: the
        same parser, handler and errors. The output is the wire's XML, or what `serializer`
        writes (the console's `boto_output.BotoOutputSerializer`)."""
        service = models.service(service_name)
        caller = Caller(account, account, region, service_name)
        ctx = RequestContext(account, region, self.store, dataplane=self.dataplane, extras=self.extras)
        return self._run(service, params, caller, ctx, serializer or serializer_for(service.protocol,
                                                                                    service.xml_namespace))

    def _run(self, service: models.Service, params: dict[str, str], caller: Caller, ctx: RequestContext,
             serializer: OutputSerializer) -> Response:
        """Parse, handle and serialize one operation of an identified caller."""
        action = params.get("Action", "")
        try:
            ctx.account, ctx.region = caller.account, caller.region
            ctx.service = service.name
            ctx.action = action
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
            arguments = parser_for(service.protocol).parse(params, operation.input_shape)
            ctx.dry_run = bool(arguments.pop("DryRun", False)) if service.name == "ec2" else False
            output = handler(ctx, arguments) or {}
            if ctx.dry_run:
                raise DryRunOperation()
            return Response(200, serializer.serialize(operation, output, ctx.request_id), ctx.request_id)
        except AwsError as err:
            return Response(err.status, serializer.serialize_error(err, ctx.request_id), ctx.request_id)
        except Exception:
            return _internal(serializer, ctx, f"{service.name}:{action}")

    def refuse(self, raw_query: str, authorization: str, err: AwsError) -> Response:
        """`err` in the envelope of the service a request is for, when the request could
        not even be read (a URL or body too large)."""
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        service = _service(caller_from({"Authorization": authorization}, query).signing_name, query)
        ctx = RequestContext(DEFAULT_ACCOUNT, DEFAULT_REGION, self.store)
        serializer = serializer_for(service.protocol, service.xml_namespace)
        return Response(err.status, serializer.serialize_error(err, ctx.request_id), ctx.request_id)


def _internal(serializer: OutputSerializer, ctx: RequestContext, where: str) -> Response:
    """A vpclab bug, logged with its traceback and answered as AWS's InternalError."""
    log.exception("unhandled error in %s", where)
    internal = InternalError("An internal error has occurred")
    return Response(internal.status, serializer.serialize_error(internal, ctx.request_id), ctx.request_id)


def _check_scope(signed_service: str | None, signed_region: str, service: str, arrival: EndpointArrival) -> None:
    """An endpoint serves its own service in its own region, as AWS's regional endpoints
    do: a request signed for another is refused with AWS's words for a wrong scope."""
    wanted = models.signing_name(service)
    if signed_service != wanted:
        raise AwsError(f"Credential should be scoped to correct service: '{wanted}'.",
                       code="AuthFailure" if service == "ec2" else "SignatureDoesNotMatch",
                       status=401 if service == "ec2" else 403)
    if signed_region != arrival.region:
        raise AwsError(f"Credential should be scoped to a valid region, not '{signed_region}'.",
                       code="AuthFailure" if service == "ec2" else "SignatureDoesNotMatch",
                       status=401 if service == "ec2" else 403)


def _service(signing_name: str | None, params: dict[str, str]) -> models.Service:
    """The service a request is for: the one it is signed for, else the one whose model
    has its action (and version), else EC2."""
    return (models.service_for_signing_name(signing_name)
            or models.service_for_action(params.get("Action", ""), params.get("Version", ""))
            or models.service("ec2"))


def _form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _is_form(request: HttpRequest) -> bool:
    media_type = request.header("content-type").partition(";")[0].strip().lower()
    return media_type in ("", FORM_MEDIA_TYPE)
