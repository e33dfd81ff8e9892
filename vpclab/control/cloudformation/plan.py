"""What a new template (and parameters) would change in a stack: DescribeChangeSet's
`Changes`, and UpdateStack's "No updates are to be performed."

Properties are resolved against the stack's resources as they are; a Ref or GetAtt of a
resource the update adds or replaces is not known yet, so it resolves to a placeholder
and the property counts as changed (Evaluation Dynamic), its replacement `Conditional`
when the property is create-only, as CloudFormation reports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...model.cloudformation import Stack, StackParameter, StackResource
from ...store import Store
from . import engine, resources, template

_UNKNOWN = "{{vpclab-unknown:"


def _placeholder(logical_id: str, attribute: str = "") -> str:
    return f"{_UNKNOWN}{logical_id}.{attribute}}}}}"


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return _UNKNOWN in value
    if isinstance(value, list):
        return any(_has_placeholder(v) for v in value)
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    return False


class _Pending(dict):
    """Attributes of a resource not made yet: each one a placeholder."""

    def __init__(self, logical_id: str):
        super().__init__()
        self.logical_id = logical_id

    def get(self, key: Any, default: Any = None) -> Any:
        return _placeholder(self.logical_id, str(key))


@dataclass
class Plan:
    changes: list[dict]

    @property
    def empty(self) -> bool:
        return not self.changes


def plan(store: Store, api: resources.Api, stack: Stack, tpl: template.Template,
         params: list[StackParameter]) -> Plan:
    """The changes of `tpl` with `params` against `stack`'s resources (all Add for a new stack).
    Raises TemplateError or engine.StackFailure (an import of no export)."""
    current = engine.live_records(stack)
    view: dict[str, StackResource] = dict(current)
    ev = engine.evaluate(store, api, stack, tpl, {p.key: p.resolved for p in params}, view)
    changes: list[dict] = []
    for wave in ev.waves():
        for lid in wave:
            spec = tpl.resources[lid]
            old = current.get(lid)
            if old is None:
                changes.append(_change("Add", lid, spec.type))
                view[lid] = _pending(lid, spec.type)
                continue
            try:
                props = template.resolve(spec.properties or {}, ev.ctx) or {}
            except template.TemplateError:
                props = {"": _placeholder(lid)}  # depends on values not known yet
            if old.type != spec.type:
                changes.append(_change("Modify", lid, spec.type, old.physical_id, "True"))
                view[lid] = _pending(lid, spec.type)
                continue
            if props == old.properties:
                continue
            details, replacement = _details(spec.type, old.properties, props)
            changes.append(_change("Modify", lid, spec.type, old.physical_id, replacement, details))
            if replacement != "False":
                view[lid] = _pending(lid, spec.type)
    for lid, old in current.items():
        if lid not in ev.wanted:
            changes.append(_change("Remove", lid, old.type, old.physical_id))
    return Plan(changes)


def _pending(logical_id: str, type_name: str) -> StackResource:
    return StackResource(logical_id, type_name, _placeholder(logical_id), attributes=_Pending(logical_id))


def _details(type_name: str, old: dict, new: dict) -> tuple[list[dict], str]:
    """Per top-level property changed: its ResourceChangeDetail; and the Replacement."""
    schema = resources.schema(type_name)
    provider = resources.provider(type_name)
    details = []
    replacement = "False"
    for name in sorted(set(old) | set(new)):
        if old.get(name) == new.get(name):
            continue
        dynamic = _has_placeholder(new.get(name))
        recreate = schema is not None and schema.is_create_only(name)
        requires = ("Conditionally" if dynamic else "Always") if recreate else "Never"
        details.append({"Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": requires},
                        "Evaluation": "Dynamic" if dynamic else "Static",
                        "ChangeSource": "ResourceReference" if dynamic else "DirectModification"})
        if requires == "Always":
            replacement = "True"
        elif requires == "Conditionally" and replacement == "False":
            replacement = "Conditional"
    if replacement == "False" and provider is not None and not any(
            _has_placeholder(v) for v in new.values()) and provider.replaces(old, new):
        replacement = "True"
    return details, replacement


def _change(action: str, logical_id: str, type_name: str, physical_id: str | None = None,
            replacement: str | None = None, details: list[dict] | None = None) -> dict:
    change: dict[str, Any] = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": type_name}
    if physical_id:
        change["PhysicalResourceId"] = physical_id
    if action == "Modify":
        change["Replacement"] = replacement
        change["Scope"] = ["Properties"]
        change["Details"] = details or []
    else:
        change["Scope"] = []
        change["Details"] = []
    return {"Type": "Resource", "ResourceChange": change}
