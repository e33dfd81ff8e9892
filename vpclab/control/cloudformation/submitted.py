"""What a CreateStack, UpdateStack or CreateChangeSet request submits: its template
(decoded and validated against the types vpclab makes) and its parameters (resolved).

Everything here is checked before anything is written, so a bad template or a missing
parameter is the request's ValidationError, as on AWS, never a stack.
"""
from __future__ import annotations

import re

from ...model.cloudformation import StackParameter
from ...protocol.errors import ValidationError
from . import resources, template

_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]*")


def check_name(name: str, member: str = "stackName") -> None:
    if not name or len(name) > 128 or not _NAME.fullmatch(name):
        raise ValidationError(
            f"1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*")


def _known_type(type_name: str) -> bool:
    return resources.provider(type_name) is not None


def _attributes(type_name: str) -> set[str] | None:
    schema = resources.schema(type_name)
    return set(schema.attributes) if schema is not None else None


def body_of(req: dict, previous: str | None = None) -> str:
    """The template body of a request (UsePreviousTemplate takes `previous`)."""
    if req.get("UsePreviousTemplate"):
        if previous is None:
            raise ValidationError("UsePreviousTemplate can only be used for an existing stack.")
        return previous
    body = req.get("TemplateBody")
    if body is None:
        if req.get("TemplateURL"):
            raise ValidationError("TemplateURL must be an Amazon S3 URL; vpclab has no S3: give TemplateBody.")
        raise ValidationError("Either Template URL or Template Body must be specified.")
    return str(body)


def parse(body: str) -> template.Template:
    """The template, checked: its format, resource types, references and cycles."""
    tpl = template.load(body)
    template.validate(tpl, _known_type, _attributes)
    return tpl


def parameters(tpl: template.Template, given: list[dict] | None,
               previous: list[StackParameter] | None = None) -> list[StackParameter]:
    """The template's parameters, resolved from the request's (UsePreviousValue reads `previous`)."""
    values: dict[str, str] = {}
    use_previous: set[str] = set()
    for item in given or []:
        key = item.get("ParameterKey", "")
        if item.get("UsePreviousValue"):
            use_previous.add(key)
        elif "ParameterValue" in item:
            values[key] = str(item.get("ParameterValue") or "")
    before = {p.key: p.value for p in previous or []}
    resolved = template.resolve_parameters(tpl, values, before if previous is not None else None, use_previous)
    masked = template.no_echo(tpl)
    return [StackParameter(key, _text(value), key in use_previous, value, key in masked)
            for key, value in resolved.items()]


def _text(value: object) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


def tags(req: dict) -> list[dict]:
    return [{"Key": t.get("Key", ""), "Value": t.get("Value", "")} for t in req.get("Tags") or []]
