"""Serialize operation outputs and errors to the XML that `query` and `ec2` clients parse.

Walks the botocore output shape, so element names, list wrappers and scalar formats are
exactly what botocore's response parser expects. The whole document is built as one
bytes object: a response written in two TCP segments costs a client 40 ms through
delayed ACK.

Every piece of text goes through `xml_text`, so whatever a store holds (a tag value with
a control character stored before input was validated, a message echoing a malformed
parameter) the document stays well-formed XML 1.0 that every SDK can parse.
"""
from __future__ import annotations

import base64
import datetime as dt
import re

from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from .errors import AwsError

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

#: What XML 1.0 cannot carry at all, not even as a character reference (its `Char`
#: production): C0 controls other than tab, LF and CR, surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: What must be escaped: markup, and CR, which a parser would otherwise read back as LF.
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_SPECIAL = re.compile("[&<>\r]")
#: Either of the above: most text has neither, and one search is all it then costs.
_ANY = re.compile("[^\t\n\x20-\x25\x27-\x3b\x3d\x3f-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """`value` as element content: escaped, and each character XML 1.0 forbids replaced
    by U+FFFD (the Unicode replacement character), as a parser replaces undecodable bytes."""
    if _ANY.search(value) is None:
        return value
    value = _NOT_XML.sub("\ufffd", value)
    return _SPECIAL.sub(lambda m: _ESCAPES[m.group()], value)


def forbidden_in_xml(value: str) -> str | None:
    """The first character of `value` that no XML 1.0 document can carry, or None."""
    found = _NOT_XML.search(value)
    return found.group() if found else None


class QuerySerializer:
    """Output dict -> XML for the `query` protocol (ELBv2, STS)."""

    def __init__(self, xml_namespace: str):
        self.xml_namespace = xml_namespace

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> bytes:
        name = operation.name
        parts = [XML_DECL, f'<{name}Response xmlns="{self.xml_namespace}">']
        shape = operation.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
            parts.append(f"<{wrapper}>")
            self._members(parts, shape, output)
            parts.append(f"</{wrapper}>")
        parts.append(
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{name}Response>"
        )
        return "".join(parts).encode()

    def serialize_error(self, err: AwsError, request_id: str) -> bytes:
        kind = "Sender" if err.sender_fault else "Receiver"
        return (
            f'{XML_DECL}<ErrorResponse xmlns="{self.xml_namespace}"><Error><Type>{kind}</Type>'
            f"<Code>{xml_text(err.code)}</Code><Message>{xml_text(err.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()

    # Walk ----------------------------------------------------------------------------
    def _members(self, parts: list[str], shape: StructureShape, value: dict[str, Any]) -> None:
        for name, member in shape.members.items():
            if name not in value or value[name] is None:
                continue
            tag = member.serialization.get("name", name)
            self._node(parts, member, value[name], tag)

    def _node(self, parts: list[str], shape: Shape, value: Any, tag: str) -> None:
        # botocore makes each "structure", "list" and "map" shape an instance of its class
        if isinstance(shape, StructureShape):
            parts.append(f"<{tag}>")
            self._members(parts, shape, value)
            parts.append(f"</{tag}>")
        elif isinstance(shape, ListShape):
            item_tag = shape.member.serialization.get("name", "member")
            if shape.serialization.get("flattened"):
                for item in value:
                    self._node(parts, shape.member, item, tag)
                return
            parts.append(f"<{tag}>")
            for item in value:
                self._node(parts, shape.member, item, item_tag)
            parts.append(f"</{tag}>")
        elif isinstance(shape, MapShape):
            key_tag = shape.key.serialization.get("name", "key")
            value_tag = shape.value.serialization.get("name", "value")
            flat = shape.serialization.get("flattened")
            if not flat:
                parts.append(f"<{tag}>")
            for k, v in value.items():
                parts.append(f"<{tag if flat else 'entry'}>")
                self._node(parts, shape.key, k, key_tag)
                self._node(parts, shape.value, v, value_tag)
                parts.append(f"</{tag if flat else 'entry'}>")
            if not flat:
                parts.append(f"</{tag}>")
        else:
            parts.append(f"<{tag}>{_scalar(shape, value)}</{tag}>")


class Ec2Serializer(QuerySerializer):
    """The `ec2` dialect: no result wrapper, `requestId` first, `<Response><Errors>` errors."""

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> bytes:
        name = operation.name
        parts = [
            XML_DECL,
            f'<{name}Response xmlns="{self.xml_namespace}/"><requestId>{request_id}</requestId>',
        ]
        shape = operation.output_shape
        if shape is None:
            parts.append("<return>true</return>")
        else:
            self._members(parts, shape, output)
        parts.append(f"</{name}Response>")
        return "".join(parts).encode()

    def serialize_error(self, err: AwsError, request_id: str) -> bytes:
        return (
            f"{XML_DECL}<Response><Errors><Error><Code>{xml_text(err.code)}</Code>"
            f"<Message>{xml_text(err.message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()


def serializer_for(protocol: str, xml_namespace: str) -> QuerySerializer:
    if protocol == "ec2":
        return Ec2Serializer(xml_namespace.rstrip("/"))
    return QuerySerializer(xml_namespace)


def _scalar(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return xml_text(format_timestamp(value))
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else value
        return base64.b64encode(raw).decode()
    if kind in ("integer", "long"):
        return str(int(value))
    if kind in ("float", "double"):
        return repr(float(value))
    return xml_text(str(value))


def format_timestamp(value: str | float | dt.datetime) -> str:
    """AWS's ISO 8601 form with milliseconds and `Z`, from a datetime, epoch or string."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        value = dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    value = value.astimezone(dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
