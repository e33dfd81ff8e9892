"""Resource types as the CloudFormation resource provider schemas describe them.

The schemas are the ones cfn-lint ships in its package data (`cfnlint/data/schemas/`:
`providers/<region>.json` names each type's file in `resources/`), read through cfn-lint's
own schema manager, which applies cfn-lint's corrections and knows which names `Fn::GetAtt`
takes (the read-only properties, and every property of the older types whose GetAtt has
always allowed that, such as `AWS::EC2::VPC`'s `CidrBlock`). cfn-lint is imported on the
first look-up: it takes about a second, which a server that never sees a stack never pays.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

#: The region whose schemas answer when a caller names none (they differ only in which
#: types a region has).
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Schema:
    """One resource type. Paths are JSON pointers below `/properties`, as in the schema:
    `("CidrBlock",)`, `("DnsOptions", "PrivateDnsPreference")`."""

    type_name: str
    properties: dict[str, Any]
    create_only: frozenset[tuple[str, ...]]
    read_only: frozenset[tuple[str, ...]]
    primary_identifier: tuple[tuple[str, ...], ...]
    #: The names `Fn::GetAtt` takes ("DnsEntries", "PrivateDnsNameConfiguration.State").
    attributes: frozenset[str]
    taggable: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def is_create_only(self, name: str) -> bool:
        """Whether changing the top-level property `name` (or a part of it) replaces the resource."""
        return any(path[0] == name for path in self.create_only)


def _paths(pointers: list[str] | None) -> frozenset[tuple[str, ...]]:
    out = set()
    for pointer in pointers or ():
        parts = pointer.split("/")
        if parts[:2] == ["", "properties"] and len(parts) > 2:
            out.add(tuple(parts[2:]))
    return frozenset(out)


@functools.cache
def schema(type_name: str, region: str = DEFAULT_REGION) -> Schema | None:
    """The type's schema; None for a type CloudFormation does not have in `region`."""
    from cfnlint.schema import (
        PROVIDER_SCHEMA_MANAGER,  # the second this import takes: see above
    )
    from cfnlint.schema.manager import ResourceNotFoundError

    try:
        found = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, type_name)
    except ResourceNotFoundError:
        return None
    raw: dict[str, Any] = found.schema
    return Schema(
        type_name=type_name,
        properties=dict(raw.get("properties") or {}),
        create_only=_paths(raw.get("createOnlyProperties")),
        read_only=_paths(raw.get("readOnlyProperties")),
        primary_identifier=tuple(sorted(_paths(raw.get("primaryIdentifier")),
                                        key=lambda p: raw["primaryIdentifier"].index("/properties/" + "/".join(p)))),
        attributes=frozenset(found.get_atts),
        taggable=bool((raw.get("tagging") or {}).get("taggable", "Tags" in (raw.get("properties") or {}))),
        raw=raw,
    )


def typed(found: Schema, props: dict[str, Any]) -> dict[str, Any]:
    """`props` with scalars given as strings turned into the schema's integers, numbers and
    booleans, as CloudFormation reads `"80"` for a port or `"true"` for a flag."""
    return {k: _typed(found.raw, found.properties.get(k) or {}, v) for k, v in props.items()}


def _typed(raw: dict[str, Any], spec: dict[str, Any], value: Any) -> Any:
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        spec = (raw.get("definitions") or {}).get(ref.rsplit("/", 1)[1]) or {}
    kinds = spec.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    if isinstance(value, list) and "array" in kinds:
        return [_typed(raw, spec.get("items") or {}, v) for v in value]
    if isinstance(value, dict) and isinstance(spec.get("properties"), dict):
        return {k: _typed(raw, spec["properties"].get(k) or {}, v) for k, v in value.items()}
    if isinstance(value, str) and "string" not in kinds:
        if "boolean" in kinds and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if "integer" in kinds:
            try:
                return int(value)
            except ValueError:
                return value
        if "number" in kinds:
            try:
                return float(value) if "." in value else int(value)
            except ValueError:
                return value
    return value
