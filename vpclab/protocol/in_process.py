"""Calls of AWS operations in-process, as boto3 would make them: through the protocol layer.

The caller gives an operation name and its input in botocore's member names (what a boto3
user passes); botocore's own serializer turns that into the query-protocol form a client
sends, and the Gateway runs it in-process as the given account: the same parser,
handlers and errors as any HTTP request. The answer is written by
`boto_output.BotoOutputSerializer`: the dict botocore's parser would make of the API's
XML, as JSON (a test holds it to exactly that, for every operation). The console and
CloudFormation's resource handlers are clients of the API through this, never a second
implementation of it.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
import botocore.model
import botocore.serialize
import botocore.session
import botocore.validate

from . import models
from .boto_output import BotoOutputSerializer, to_json
from .gateway import Gateway

__all__ = ["CallResult", "InProcessClient", "to_json"]


@dataclass
class CallResult:
    status: int
    error: dict[str, str] | None  # {"Code", "Message"} as boto3's ClientError carries it
    output_json: bytes = b"{}"  # what boto3 returns, on success, as JSON

    @property
    def output(self) -> dict[str, Any] | None:
        """What boto3 returns, on success (parsed from `output_json` when asked for)."""
        if self.error is not None:
            return None
        value: dict[str, Any] = json.loads(self.output_json)
        return value


@functools.cache
def _service_models() -> dict[str, botocore.model.ServiceModel]:
    """botocore's models of the services vpclab serves, read once per process (parsing
    their JSON takes about 0.1 s a server otherwise; a process may run several)."""
    session = botocore.session.get_session()
    return {name: session.get_service_model(name) for name in models.SERVICES.values()}


class InProcessClient:
    """Every service vpclab serves (`models.SERVICES`), called as one account in one region."""

    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self._session = botocore.session.get_session()
        self._models = _service_models()
        self._serializers = {name: botocore.serialize.create_serializer(m.protocol) for name, m in self._models.items()}
        self._output = BotoOutputSerializer()
        self._events = self._session.get_component("event_emitter")

    def call(self, account: str, region: str, service: str, operation: str, params: dict[str, Any]) -> CallResult:
        model = self._models[service]  # the caller checked `service` is one vpclab serves
        op = model.operation_model(operation)  # raises botocore's OperationNotFoundError
        # botocore's own input handlers, as a boto3 client runs them before it validates:
        # RunInstances' UserData is base64-encoded once, idempotency tokens are filled in.
        self._events.emit(f"before-parameter-build.{model.service_id.hyphenize()}.{operation}",
                          params=params, model=op, context={})
        try:
            if op.input_shape is not None:
                botocore.validate.validate_parameters(params, op.input_shape)
        except botocore.exceptions.ParamValidationError as err:  # what boto3 refuses before sending
            return CallResult(400, {"Code": "ParamValidation", "Message": str(err)})
        request = self._serializers[service].serialize_to_request(params, op)
        response = self.gateway.call(service, {k: str(v) for k, v in request["body"].items()}, account, region,
                                     self._output)
        if response.status >= 300:
            error = json.loads(response.body).get("Error") or {}
            return CallResult(response.status, {"Code": str(error.get("Code", "")),
                                                "Message": str(error.get("Message", ""))})
        return CallResult(response.status, None, response.body)
