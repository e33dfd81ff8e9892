"""An operation's output as boto3 returns it, written as JSON, for vpclab's own console.

The console shows what an account's API answers, so it used to take the query/ec2 XML the
HTTP API sends and run botocore's parser over it: exact, but botocore's parser walks every
XML node in Python, and it was most of the time of showing a thousand instances. This
serializer writes, from the same handler output and the same botocore output shape, the
value botocore's parser would have produced from `serializer.QuerySerializer`'s XML —
members in the shape and not None, text with the characters XML cannot carry replaced,
timestamps at the millisecond the XML carries, blobs decoded (no output vpclab serves has
a flattened list, whose empty form the XML would leave out: the test below would say) — in the JSON form the console sends to its
page (`to_json`'s: timestamps ISO 8601, bytes as text). `tests/test_protocol_boto_output.py`
holds it to exactly that, against botocore, for every implemented operation.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import botocore.utils
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from .errors import AwsError
from .serializer import _NOT_XML, format_timestamp


def to_json(value: Any) -> str:
    """boto3's output as JSON: timestamps as ISO 8601, bytes as text."""
    def default(o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return o.isoformat()
        if isinstance(o, bytes):
            return o.decode("utf-8", "replace")
        raise TypeError(f"{type(o).__name__} is not JSON")
    return json.dumps(value, default=default)


class BotoOutputSerializer:
    """The serializer interface of `serializer.QuerySerializer` (for `Gateway.call`), with
    boto3's parsed output as JSON in place of the XML."""

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> bytes:
        shape = operation.output_shape
        value = {} if shape is None else _structure(shape, output)
        return to_json(value).encode()

    def serialize_error(self, err: AwsError, request_id: str) -> bytes:
        return to_json({"Error": {"Code": _text(err.code), "Message": _text(err.message)}}).encode()


Convert = Callable[[Any], Any]
#: One converter per shape, made once: the shapes are botocore's cached objects (kept here
#: beside their converter, so an id is never reused while its entry lives).
_CONVERTERS: dict[int, tuple[Shape, Convert]] = {}


def _converter(shape: Shape) -> Convert:
    entry = _CONVERTERS.get(id(shape))
    if entry is None or entry[0] is not shape:
        entry = (shape, _make(shape))
        _CONVERTERS[id(shape)] = entry
    return entry[1]


def _make(shape: Shape) -> Convert:
    if isinstance(shape, StructureShape):
        members = list(shape.members.items())
        converters: list[Convert] = []

        def structure(value: dict[str, Any]) -> dict[str, Any]:
            if not converters:  # filled on first use: shapes may refer to themselves
                converters.extend(_converter(member) for _, member in members)
            out = {}
            for (name, _), convert in zip(members, converters):
                item = value.get(name)
                if item is not None:
                    out[name] = convert(item)
            return out
        return structure
    if isinstance(shape, ListShape):
        member = shape.member
        return lambda value: [_converter(member)(item) for item in value]
    if isinstance(shape, MapShape):
        key, val = shape.key, shape.value
        return lambda value: {_converter(key)(k): _converter(val)(v) for k, v in value.items()}
    return _SCALARS.get(shape.type_name, _string)


def _structure(shape: StructureShape, value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _converter(shape)(value)
    return out


def _string(value: Any) -> str:
    return _text(str(value))


def _blob(value: Any) -> str:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return raw.decode("utf-8", "replace")


def _text(value: str) -> str:
    """What an XML parser reads back from `serializer.xml_text(value)`."""
    if value.isprintable():  # nothing XML forbids is printable; most text is
        return value
    return _NOT_XML.sub("\ufffd", value)


def _timestamp(value: Any) -> str:
    """The millisecond the XML carries, as the console's JSON writes a parsed datetime."""
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
        return value.replace(microsecond=value.microsecond // 1000 * 1000).isoformat()
    text = format_timestamp(value)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = botocore.utils.parse_timestamp(text)
    return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)).isoformat()


_SCALARS: dict[str, Convert] = {
    "boolean": bool, "integer": int, "long": int, "float": float, "double": float,
    "timestamp": _timestamp, "blob": _blob,
}
