"""Botocore as the oracle of the wire protocols: hypothesis strategies built by walking
botocore shapes, a canonical form to compare both ends' values, and botocore's own
serializer and parser. Shared by the round-trip and the protocol-error tests.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlencode

import botocore.parsers
import botocore.serialize
from botocore.model import OperationModel, Shape
from hypothesis import strategies as st

UTC = dt.timezone.utc


# Strategies built by walking botocore shapes ------------------------------------------
# Strings: printable text only. XML 1.0 cannot carry most control characters and turns
# "\r" into "\n", so neither AWS nor vpclab can round-trip them; everything else (markup
# characters, form-encoding metacharacters, non-ASCII) is fair game.
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")),
    max_size=12,
) | st.sampled_from(["", "a&b=c", "<x>&amp;</x>", "x+y %20", "ünïcødé", "tag:Name", "10.0.0.0/16"])


def _timestamps():
    # Millisecond precision: AWS (and vpclab) write timestamps with milliseconds.
    return st.datetimes(
        min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


def _int_range(shape: Shape, lo: int, hi: int):
    meta = shape.metadata
    return st.integers(int(meta.get("min", lo)), int(meta.get("max", hi)))


class ShapeStrategies:
    """Hypothesis strategies for botocore shapes, cached per (shape, depth)."""

    MAX_DEPTH = 6

    def __init__(self):
        self._cache: dict[tuple, st.SearchStrategy] = {}

    def for_shape(self, shape: Shape, depth: int = 0, top: bool = False,
                  required: bool = False) -> st.SearchStrategy:
        # Shape names are per service (ec2's Tag is not elbv2's Tag): key by the model too.
        key = (id(getattr(shape, "_shape_resolver", None)), shape.name, depth, top, required)
        if key not in self._cache:
            self._cache[key] = st.deferred(lambda: self._build(shape, depth, top, required))
        return self._cache[key]

    def _build(self, shape: Shape, depth: int, top: bool, required: bool) -> st.SearchStrategy:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape, depth, top)
        if kind == "list":
            # A required list is never empty: EC2 bodies cannot carry an empty list, so
            # an empty required one is (rightly) a missing parameter.
            low = 1 if required else 0
            size = low if depth >= self.MAX_DEPTH else 3
            return st.lists(self.for_shape(shape.member, depth + 1), min_size=low, max_size=size)
        if kind == "map":
            size = 1 if depth >= self.MAX_DEPTH else 3
            return st.dictionaries(
                self.for_shape(shape.key, depth + 1),
                self.for_shape(shape.value, depth + 1),
                min_size=1,  # an empty map is not on the wire at all
                max_size=size,
            )
        if kind == "string":
            if shape.enum:
                return st.sampled_from(list(shape.enum))
            return _TEXT
        if kind == "integer":
            return _int_range(shape, -(2**31), 2**31 - 1)
        if kind == "long":
            return _int_range(shape, -(2**63), 2**63 - 1)
        if kind == "boolean":
            return st.booleans()
        if kind in ("float", "double"):
            return st.floats(allow_nan=False, allow_infinity=False)
        if kind == "timestamp":
            return _timestamps()
        if kind == "blob":
            return st.binary(max_size=16)
        raise NotImplementedError(f"no strategy for {kind} shape {shape.name}")

    def _structure(self, shape, depth: int, top: bool) -> st.SearchStrategy:
        required = set(shape.required_members)
        members = shape.members
        req = {n: self.for_shape(members[n], depth + 1, required=True)
               for n in members if n in required}
        optional = [n for n in members if n not in required]
        if depth >= self.MAX_DEPTH:
            optional = []

        def build(names):
            return st.fixed_dictionaries(
                {**req, **{n: self.for_shape(members[n], depth + 1) for n in names}}
            )

        limit = 6 if depth == 0 else 3
        subset = st.lists(st.sampled_from(optional), unique=True, max_size=limit) if optional \
            else st.just([])
        strategy = subset.flatmap(build)
        if top and optional:
            # Now and then every member at once, so that wide shapes get covered too.
            strategy = strategy | build(optional)
        if not req and members and depth > 0:
            # An empty nested structure has no form keys: it cannot be told from an
            # absent one on the wire, so do not generate it (by the strictest, ec2, rules).
            strategy = strategy.filter(
                lambda d: normalise(d, shape, "ec2", wire=True, nested=True) is not ABSENT)
        return strategy


STRATEGIES = ShapeStrategies()


# Normalisation ------------------------------------------------------------------------
def normalise(value, shape: Shape | None, protocol: str, wire: bool = False, nested: bool = False):
    """The canonical form of a value of `shape`, for comparing what both ends made of it.

    Timestamps compare as aware UTC datetimes, blobs as bytes, floats as floats. With
    `wire=True` (request direction) values the form encoding cannot carry are dropped:
    a nested structure with no members has no keys at all, an EC2 body has no empty
    lists (botocore's ec2 serializer drops them), and a query-protocol list whose items
    all vanished is absent (while a list that was empty to begin with is `Name=`).
    """
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                v = normalise(value[name], member, protocol, wire, True)
                if v is not ABSENT:
                    out[name] = v
        if wire and nested and not out:
            return ABSENT
        return out
    if kind == "list":
        items = [normalise(v, shape.member, protocol, wire, True) for v in value]
        items = [v for v in items if v is not ABSENT]
        if wire and not items and (protocol == "ec2" or value):
            return ABSENT
        return items
    if kind == "map":
        return {normalise(k, shape.key, protocol, wire, True):
                normalise(v, shape.value, protocol, wire, True) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, (int, float)):
            value = dt.datetime.fromtimestamp(value, tz=UTC)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if kind == "blob":
        return value.encode() if isinstance(value, str) else bytes(value)
    if kind in ("float", "double"):
        return float(value)
    return value


class _Absent:
    def __repr__(self):
        return "<absent>"


ABSENT = _Absent()


# Oracles ------------------------------------------------------------------------------
def botocore_request_body(protocol: str, op: OperationModel, params: dict) -> dict:
    request = botocore.serialize.create_serializer(protocol, include_validation=False) \
        .serialize_to_request(params, op)
    return request["body"]


def form_encoded(body: dict) -> dict:
    """What the gateway sees after the client form-encodes the body."""
    encoded = urlencode({k: v for k, v in body.items()}, doseq=True)
    return dict(parse_qsl(encoded, keep_blank_values=True))


def botocore_response(protocol: str, op: OperationModel | None, body: bytes, status: int = 200):
    parser = botocore.parsers.create_parser(protocol)
    parsed = parser.parse(
        {"body": body, "headers": {}, "status_code": status},
        op.output_shape if op is not None else None,
    )
    parsed.pop("ResponseMetadata", None)
    return parsed
