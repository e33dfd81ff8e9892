"""The console's calls: an operation as boto3 would make it, through the protocol layer.

The page sends an operation name and its input in botocore's member names (what a boto3
user passes); botocore's own serializer turns that into the query-protocol form a client
sends, the Gateway runs it in-process as the signed-in account (the same parser,
handlers, errors and serializer as any HTTP request), and botocore's own parser turns
the answer back into the dict boto3 would return. So the console can never disagree with
the API: it is one more client of it.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
import botocore.parsers
import botocore.serialize
import botocore.session
import botocore.utils
import botocore.validate

from ..protocol.gateway import Gateway

#: The services the console may call, by botocore name.
SERVICES = ("ec2", "elbv2", "sts")


@dataclass
class CallResult:
    status: int
    output: dict[str, Any] | None  # what boto3 returns, on success
    error: dict[str, str] | None  # {"Code", "Message"} as boto3's ClientError carries it


class ConsoleCalls:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self._session = botocore.session.get_session()
        self._models = {name: self._session.get_service_model(name) for name in SERVICES}
        self._serializers = {name: botocore.serialize.create_serializer(m.protocol) for name, m in self._models.items()}
        factory = botocore.parsers.ResponseParserFactory()
        factory.set_parser_defaults(timestamp_parser=parse_timestamp)
        self._parsers = {name: factory.create_parser(m.protocol) for name, m in self._models.items()}
        self._events = self._session.get_component("event_emitter")

    def call(self, account: str, region: str, service: str, operation: str, params: dict[str, Any]) -> CallResult:
        model = self._models[service]  # the caller checked `service` is one of SERVICES
        op = model.operation_model(operation)  # raises botocore's OperationNotFoundError
        # botocore's own input handlers, as a boto3 client runs them before it validates:
        # RunInstances' UserData is base64-encoded once, idempotency tokens are filled in.
        self._events.emit(f"before-parameter-build.{model.service_id.hyphenize()}.{operation}",
                          params=params, model=op, context={})
        try:
            if op.input_shape is not None:
                botocore.validate.validate_parameters(params, op.input_shape)
        except botocore.exceptions.ParamValidationError as err:  # what boto3 refuses before sending
            return CallResult(400, None, {"Code": "ParamValidation", "Message": str(err)})
        request = self._serializers[service].serialize_to_request(params, op)
        response = self.gateway.call(service, {k: str(v) for k, v in request["body"].items()}, account, region)
        parsed: dict[str, Any] = self._parsers[service].parse(
            {"status_code": response.status, "headers": {}, "body": response.body},
            op.output_shape)  # type: ignore[arg-type]  # botocore's parser takes None (no output) too
        parsed.pop("ResponseMetadata", None)
        if response.status >= 300:
            error = parsed.get("Error") or {}
            return CallResult(response.status, None, {"Code": str(error.get("Code", "")),
                                                      "Message": str(error.get("Message", ""))})
        return CallResult(response.status, parsed, None)


def parse_timestamp(text: str) -> dt.datetime:
    """What botocore's default timestamp parser returns, for the ISO 8601 text vpclab's
    serializer writes, without dateutil's general parser: it was a third of the time of
    reading a thousand instances. Anything else goes to botocore's own parser."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return botocore.utils.parse_timestamp(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def to_json(value: Any) -> str:
    """boto3's output as JSON: timestamps as ISO 8601, bytes as text."""
    def default(o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return o.isoformat()
        if isinstance(o, bytes):
            return o.decode("utf-8", "replace")
        raise TypeError(f"{type(o).__name__} is not JSON")
    return json.dumps(value, default=default)
