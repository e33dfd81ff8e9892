"""The template's sections as dataclasses, and the checks of their shape.

`check_structure` holds every rule about the document's shape that needs nothing but the
document (sections, names, each resource's and output's members); `load` runs it before
building a `Template`, so a `Template` is always well-formed. Rules that need to know
which resource types exist, or the graph of references, are in `validation`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import format_error
from .scalars import is_scalar, text

FORMAT_VERSION = "2010-09-09"

SECTIONS = ("AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules",
            "Mappings", "Conditions", "Transform", "Resources", "Outputs", "Hooks")

RESOURCE_ATTRIBUTES = ("Type", "Properties", "DependsOn", "Condition", "DeletionPolicy",
                       "UpdateReplacePolicy", "Metadata", "CreationPolicy", "UpdatePolicy",
                       "Version", "Description")

DELETION_POLICIES = ("Delete", "Retain", "RetainExceptOnCreate", "Snapshot")

OUTPUT_MEMBERS = ("Value", "Description", "Export", "Condition")

PARAMETER_MEMBERS = ("Type", "Default", "AllowedValues", "AllowedPattern", "MinLength",
                     "MaxLength", "MinValue", "MaxValue", "NoEcho", "Description",
                     "ConstraintDescription")

#: CloudFormation's quotas for one template.
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_RESOURCES = 500
MAX_MAPPINGS = 200
MAX_DESCRIPTION = 1024

_ALPHANUMERIC = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    type: str
    default: str | None = None
    allowed_values: list[str] | None = None
    allowed_pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    no_echo: bool = False
    description: str | None = None
    constraint_description: str | None = None


@dataclass(frozen=True)
class ResourceSpec:
    logical_id: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    condition: str | None = None
    deletion_policy: str = "Delete"
    update_replace_policy: str = "Delete"
    metadata: Any = None


@dataclass(frozen=True)
class OutputSpec:
    logical_id: str
    value: Any
    description: str | None = None
    export_name: Any = None
    condition: str | None = None


@dataclass(frozen=True)
class Template:
    format_version: str | None
    description: str | None
    parameters: dict[str, ParameterSpec]
    mappings: dict[str, Any]
    conditions: dict[str, Any]
    resources: dict[str, ResourceSpec]
    outputs: dict[str, OutputSpec]
    transform: Any
    raw: dict[str, Any]


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise format_error(f"Every {name} member must be an object")
    return value


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not _ALPHANUMERIC.fullmatch(name) or len(name) > 255:
        raise format_error(f"{kind} name {name} is non alphanumeric.")


def check_structure(raw: dict[str, Any]) -> None:
    """Raise CloudFormation's format error for the first thing wrong with the document's shape."""
    unknown = [key for key in raw if key not in SECTIONS]
    if unknown:
        raise format_error(f"Invalid template property or properties [{', '.join(map(str, unknown))}]")
    version = raw.get("AWSTemplateFormatVersion")
    if version is not None and text(version) != FORMAT_VERSION:
        raise format_error(f"'{text(version)}' is not a supported version.")
    description = raw.get("Description")
    if description is not None:
        if not isinstance(description, str):
            raise format_error("Every Description member must be a string.")
        if len(description) > MAX_DESCRIPTION:
            raise format_error(f"Template description must be no longer than {MAX_DESCRIPTION} characters.")
    _check_parameters(_section(raw, "Parameters"))
    _check_mappings(_section(raw, "Mappings"))
    _section(raw, "Conditions")
    _check_resources(raw)
    _check_outputs(_section(raw, "Outputs"))


def _check_parameters(parameters: dict[str, Any]) -> None:
    if len(parameters) > MAX_PARAMETERS:
        raise format_error(f"Number of parameters exceeds the limit of {MAX_PARAMETERS}")
    for name, spec in parameters.items():
        _check_name("Parameter", name)
        if not isinstance(spec, dict):
            raise format_error(f"Invalid parameter {name}: must be an object")
        if "Type" not in spec:
            raise format_error("Every Parameters object must contain a Type member.")
        unknown = [key for key in spec if key not in PARAMETER_MEMBERS]
        if unknown:
            raise format_error(f"Invalid template parameter property '{unknown[0]}'")
        if "Default" in spec and not (is_scalar(spec["Default"]) or isinstance(spec["Default"], list)):
            raise format_error("Every Default member must be a string.")
        allowed = spec.get("AllowedValues")
        if allowed is not None and not isinstance(allowed, list):
            raise format_error("Every AllowedValues member must be a list.")
        for key in ("MinLength", "MaxLength", "MinValue", "MaxValue"):
            if key in spec and not _is_number(spec[key]):
                raise format_error(f"Every {key} must be a number")


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _check_mappings(mappings: dict[str, Any]) -> None:
    if len(mappings) > MAX_MAPPINGS:
        raise format_error(f"Number of mappings exceeds the limit of {MAX_MAPPINGS}")
    for name, mapping in mappings.items():
        if not isinstance(mapping, dict) or not all(isinstance(v, dict) for v in mapping.values()):
            raise format_error(f"Every Mappings member {name} must be a map")
        if not mapping:
            raise format_error(f"Mappings attribute name '{name}' must contain at least one map")


def _check_resources(raw: dict[str, Any]) -> None:
    resources = _section(raw, "Resources")
    if not resources:
        raise format_error("At least one Resources member must be defined.")
    if len(resources) > MAX_RESOURCES:
        raise format_error(f"Number of resources, {len(resources)}, is greater than maximum allowed, {MAX_RESOURCES}")
    for logical_id, spec in resources.items():
        _check_name("Resource", logical_id)
        if not isinstance(spec, dict) or not isinstance(spec.get("Type"), str):
            raise format_error(f"[/Resources/{logical_id}] Every Resources object must contain a Type member.")
        for key in spec:
            if key not in RESOURCE_ATTRIBUTES:
                raise format_error(f"Invalid template resource property '{key}'")
        if "Properties" in spec and spec["Properties"] is None:
            raise format_error(f"[/Resources/{logical_id}/Properties] 'null' values are not allowed in templates")
        if "Properties" in spec and not isinstance(spec["Properties"], dict):
            raise format_error(f"[/Resources/{logical_id}/Properties] Every Properties member must be an object")
        depends_on = spec.get("DependsOn")
        if depends_on is not None and not (isinstance(depends_on, str) or (
                isinstance(depends_on, list) and all(isinstance(d, str) for d in depends_on))):
            raise format_error(f"[/Resources/{logical_id}/DependsOn] DependsOn must be a string or a list of strings")
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if policy in spec and spec[policy] not in DELETION_POLICIES:
                raise format_error(f"Unrecognized {policy} {spec[policy]} for resource {logical_id}")
        if "Condition" in spec and not isinstance(spec["Condition"], str):
            raise format_error(f"[/Resources/{logical_id}/Condition] Condition must be a string")


def _check_outputs(outputs: dict[str, Any]) -> None:
    if len(outputs) > MAX_OUTPUTS:
        raise format_error(f"The template has {len(outputs)} outputs; the limit is {MAX_OUTPUTS}")
    for logical_id, spec in outputs.items():
        _check_name("Output", logical_id)
        if not isinstance(spec, dict) or "Value" not in spec:
            raise format_error("Every Outputs member must contain a Value object")
        for key in spec:
            if key not in OUTPUT_MEMBERS:
                raise format_error(f"Invalid outputs property : [{key}]")
        export = spec.get("Export")
        if export is not None and (not isinstance(export, dict) or "Name" not in export):
            raise format_error(
                f"Output {logical_id} is malformed. The Name field of every Export member "
                "must be specified and consist only of alphanumeric characters, colons, or hyphens.")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _integer(value: Any) -> int | None:
    return None if value is None else int(float(value))


def _default(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(text(v) for v in value)
    return text(value)


def build(raw: dict[str, Any]) -> Template:
    """The `Template` of a document `check_structure` accepted."""
    parameters = {
        name: ParameterSpec(
            name=name, type=str(spec["Type"]), default=_default(spec.get("Default")),
            allowed_values=None if spec.get("AllowedValues") is None else [text(v) for v in spec["AllowedValues"]],
            allowed_pattern=None if spec.get("AllowedPattern") is None else str(spec["AllowedPattern"]),
            min_length=_integer(spec.get("MinLength")), max_length=_integer(spec.get("MaxLength")),
            min_value=_number(spec.get("MinValue")), max_value=_number(spec.get("MaxValue")),
            no_echo=text(spec.get("NoEcho", False)).lower() == "true",
            description=spec.get("Description"),
            constraint_description=spec.get("ConstraintDescription"))
        for name, spec in _section(raw, "Parameters").items()
    }
    resources = {}
    for logical_id, spec in _section(raw, "Resources").items():
        depends_on = spec.get("DependsOn") or []
        resources[logical_id] = ResourceSpec(
            logical_id=logical_id, type=spec["Type"], properties=dict(spec.get("Properties") or {}),
            depends_on=[depends_on] if isinstance(depends_on, str) else list(depends_on),
            condition=spec.get("Condition"),
            deletion_policy=spec.get("DeletionPolicy", "Delete"),
            update_replace_policy=spec.get("UpdateReplacePolicy", "Delete"),
            metadata=spec.get("Metadata"))
    outputs = {
        logical_id: OutputSpec(
            logical_id=logical_id, value=spec["Value"], description=spec.get("Description"),
            export_name=(spec.get("Export") or {}).get("Name"), condition=spec.get("Condition"))
        for logical_id, spec in _section(raw, "Outputs").items()
    }
    version = raw.get("AWSTemplateFormatVersion")
    return Template(
        format_version=None if version is None else text(version),
        description=raw.get("Description"),
        parameters=parameters, mappings=_section(raw, "Mappings"),
        conditions=_section(raw, "Conditions"), resources=resources, outputs=outputs,
        transform=raw.get("Transform"), raw=raw)
