"""Parse `query` and `ec2` protocol requests into an operation's input shape.

The parser walks the botocore input shape and reads each member from the flat form
parameters under the name botocore's own serializer would have used, so whatever a client
built from the same model comes back as the same dict. The EC2 dialect differs from the
query one only in how names are spelled and how lists are prefixed, and that is all its
subclass overrides.
"""
from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from .errors import InvalidParameterValue, MissingParameter, ValidationError, UnknownParameter


_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Infinity|NaN")

#: Flat form parameters. Off the wire every value is a string; a caller in-process may
#: pass botocore's serialized body dict, whose scalars can be ints or bools.
Params = Mapping[str, object]


class QueryParser:
    """Form parameters -> input dict, for the `query` protocol (ELBv2, STS)."""

    #: Top-level parameters every request may carry besides its input members.
    ENVELOPE = frozenset({
        "Action", "Version", "AWSAccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
        "Timestamp", "Expires", "SecurityToken",
    })
    #: Whether a parameter the input shape does not name is an error (EC2) or ignored.
    strict = False

    def parse(self, params: Params, shape: StructureShape | None) -> dict[str, Any]:
        if self.strict:
            self._refuse_unknown(params, shape)
        if shape is None:
            return {}
        keys = _KeyIndex(params)
        parsed = self._structure(params, keys, shape, "")
        return parsed or {}

    def _refuse_unknown(self, params: Params, shape: StructureShape | None) -> None:
        known = set(self.ENVELOPE)
        if shape is not None:
            known.update(self.member_name(m, n) for n, m in shape.members.items())
        for key in params:
            head = key.split(".", 1)[0]
            if head not in known and not head.startswith("X-Amz-"):
                raise UnknownParameter(f"The parameter {head} is not recognized")

    # Names ---------------------------------------------------------------------------
    def member_name(self, shape: Shape, default: str) -> str:
        return shape.serialization.get("name", default)

    def list_prefix(self, shape: ListShape, prefix: str) -> str:
        if shape.serialization.get("flattened"):
            name = shape.member.serialization.get("name")
            if name:
                return ".".join(prefix.split(".")[:-1] + [self.member_name(shape.member, "")])
            return prefix
        return f"{prefix}.{shape.member.serialization.get('name', 'member')}"

    # Walk ----------------------------------------------------------------------------
    def _value(self, params: Params, keys: _KeyIndex, shape: Shape, prefix: str) -> object:
        # botocore makes each "structure", "list" and "map" shape an instance of its class
        if isinstance(shape, StructureShape):
            return self._structure(params, keys, shape, prefix)
        if isinstance(shape, ListShape):
            return self._list(params, keys, shape, prefix)
        if isinstance(shape, MapShape):
            return self._map(params, keys, shape, prefix)
        if prefix not in params:
            return None
        return self._scalar(params[prefix], shape, prefix)

    def _structure(self, params: Params, keys: _KeyIndex, shape: StructureShape,
                   prefix: str) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = self.member_name(member, name)
            full = f"{prefix}.{key}" if prefix else key
            if not keys.has_prefix(full):
                continue
            value = self._value(params, keys, member, full)
            if value is not None:
                out[name] = value
        if prefix and not out:
            return None
        for name in shape.required_members:
            if name not in out:
                raise self.missing(shape, name, prefix)
        return out

    def missing(self, shape: StructureShape, name: str, prefix: str) -> Exception:
        """The error for a required member the request left out.

        The query services (ELBv2, STS) answer AWS's generic validation error naming the
        member in lowerCamel case; EC2 answers `MissingParameter` (see `Ec2Parser`).
        """
        wire = self._wire_name(shape, name, prefix)
        path = ".".join(part[:1].lower() + part[1:] for part in wire.split("."))
        return ValidationError(
            f"1 validation error detected: Value null at '{path}' failed to satisfy "
            "constraint: Member must not be null"
        )

    def _wire_name(self, shape: StructureShape, name: str, prefix: str) -> str:
        key = self.member_name(shape.members[name], name)
        return f"{prefix}.{key}" if prefix else key

    def _list(self, params: Params, keys: _KeyIndex, shape: ListShape, prefix: str) -> list[object] | None:
        if params.get(prefix) == "":
            return []
        list_prefix = self.list_prefix(shape, prefix)
        indices = keys.indices(list_prefix)
        if not indices:
            return None
        out = []
        for index in indices:
            value = self._value(params, keys, shape.member, f"{list_prefix}.{index}")
            if value is not None:
                out.append(value)
        return out

    def _map(self, params: Params, keys: _KeyIndex, shape: MapShape, prefix: str) -> dict[object, object] | None:
        full = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = self.member_name(shape.key, "key")
        value_name = self.member_name(shape.value, "value")
        out: dict[object, object] = {}
        for index in keys.indices(full):
            key = self._value(params, keys, shape.key, f"{full}.{index}.{key_name}")
            value = self._value(params, keys, shape.value, f"{full}.{index}.{value_name}")
            if key is not None:
                out[key] = value
        return out or None

    def _scalar(self, raw: object, shape: Shape, name: str) -> object:
        kind = shape.type_name
        if not isinstance(raw, str):  # a params dict built in-process (botocore's body dict)
            raw = str(raw)
        try:
            if kind in ("integer", "long"):
                # int() would also take " 12 ", "1_000" and non-ASCII digits ("١٢").
                if not _INTEGER.fullmatch(raw):
                    raise ValueError(raw)
                return int(raw)
            if kind in ("float", "double"):
                if not _FLOAT.fullmatch(raw):
                    raise ValueError(raw)
                return float(raw)
            if kind == "boolean":
                lowered = raw.lower()
                if lowered not in ("true", "false"):
                    raise ValueError(raw)
                return lowered == "true"
            if kind == "timestamp":
                return _parse_timestamp(raw)
            if kind == "blob":
                return base64.b64decode(raw)
        except (ValueError, TypeError, OverflowError):
            raise InvalidParameterValue(
                f"Value ({raw}) for parameter {name} is invalid. Expected a {kind}."
            ) from None
        return raw


class Ec2Parser(QueryParser):
    """The `ec2` dialect: queryName or capitalised locationName, lists always flat.

    EC2 refuses parameters it does not know (`UnknownParameter`), so a typo in a
    hand-written request fails as it would on AWS instead of being ignored.
    """

    strict = True

    def member_name(self, shape: Shape, default: str) -> str:
        if "queryName" in shape.serialization:
            return shape.serialization["queryName"]
        name = shape.serialization.get("name")
        if name:
            return name[0].upper() + name[1:]
        return default

    def list_prefix(self, shape: ListShape, prefix: str) -> str:
        return prefix

    def missing(self, shape: StructureShape, name: str, prefix: str) -> Exception:
        return MissingParameter(
            f"The request must contain the parameter {self._wire_name(shape, name, prefix)}"
        )

    def _list(self, params: Params, keys: _KeyIndex, shape: ListShape, prefix: str) -> list[object] | None:
        indices = keys.indices(prefix)
        if not indices:
            return None
        return [
            v
            for v in (self._value(params, keys, shape.member, f"{prefix}.{i}") for i in indices)
            if v is not None
        ]


def parser_for(protocol: str) -> QueryParser:
    if protocol == "ec2":
        return Ec2Parser()
    if protocol == "query":
        return QueryParser()
    raise ValidationError(f"Unsupported protocol {protocol}")


class _KeyIndex:
    """Answers 'is anything under this prefix?' and 'which list indices exist?' quickly.

    A request has tens of keys, so a sorted scan is cheap; the index exists so that a
    walk over a large input shape does not rescan every key for every member.
    """

    def __init__(self, params: Params):
        self._prefixes: set[str] = set()
        self._children: dict[str, set[int]] = {}
        for key in params:
            parts = key.split(".")
            for i in range(1, len(parts) + 1):
                head = ".".join(parts[:i])
                self._prefixes.add(head)
                if i < len(parts) and parts[i].isascii() and parts[i].isdigit():
                    self._children.setdefault(head, set()).add(int(parts[i]))

    def has_prefix(self, prefix: str) -> bool:
        return prefix in self._prefixes

    def indices(self, prefix: str) -> list[int]:
        return sorted(self._children.get(prefix, ()))


def _parse_timestamp(raw: str) -> dt.datetime:
    if _FLOAT.fullmatch(raw):
        # Epoch seconds; out of range (e.g. 1e300) raises OverflowError -> 400, not 500.
        return dt.datetime.fromtimestamp(float(raw), tz=dt.timezone.utc)
    text = raw.replace("Z", "+00:00")
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value
