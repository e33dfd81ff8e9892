"""The dependency graph between a template's resources, and the waves it is created in.

A resource depends on another when it names it in `Ref`, `Fn::GetAtt`, a `Fn::Sub`
string (`${Other}`, `${Other.Attr}`) or `DependsOn`, anywhere in its definition (both
branches of an `Fn::If` count, as on CloudFormation). Parameters, pseudo parameters
and a Sub's own variables are not resources and are left out.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import TemplateError
from .intrinsics import function_of
from .structure import Template
from .sub import references


def referenced_names(value: Any) -> Iterator[tuple[str, str]]:
    """(function, name) for each logical id `value` names: `Ref`, `Fn::GetAtt`, `Fn::Sub`."""
    name = function_of(value)
    if name == "Ref" and isinstance(value["Ref"], str):
        yield "Ref", value["Ref"]
        return
    if name == "Fn::GetAtt":
        arg = value[name]
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if isinstance(arg, list) and arg and isinstance(arg[0], str):
            yield "Fn::GetAtt", arg[0]
            yield from (ref for item in arg[1:] for ref in referenced_names(item))
        return
    if name == "Fn::Sub":
        arg = value[name]
        template, variables = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
        if isinstance(template, str):
            own = set(variables) if isinstance(variables, dict) else set()
            for ref in references(template):
                if ref not in own:
                    yield "Fn::Sub", ref.split(".", 1)[0] if "." in ref else ref
        if isinstance(variables, dict):
            yield from (ref for item in variables.values() for ref in referenced_names(item))
        return
    if isinstance(value, dict):
        yield from (ref for item in value.values() for ref in referenced_names(item))
    elif isinstance(value, list):
        yield from (ref for item in value for ref in referenced_names(item))


def dependencies(tpl: Template) -> dict[str, set[str]]:
    """Each resource's logical id to the resources it needs created first."""
    graph: dict[str, set[str]] = {}
    for logical_id, resource in tpl.resources.items():
        spec = tpl.raw["Resources"][logical_id]
        needs = {name for _, name in referenced_names(
            {key: item for key, item in spec.items() if key not in ("Type", "DependsOn", "Condition")})}
        needs.update(resource.depends_on)
        graph[logical_id] = {name for name in needs if name in tpl.resources}
    return graph


def order(deps: dict[str, set[str]]) -> list[list[str]]:
    """Waves of logical ids: each needs only ids of earlier waves (a wave's ids may go in
    parallel); names in a wave keep the order of `deps`. Raises CloudFormation's circular
    dependency error naming every resource that cannot be ordered."""
    done: set[str] = set()
    remaining = dict(deps)
    waves: list[list[str]] = []
    while remaining:
        wave = [name for name, needs in remaining.items() if all(n in done or n not in deps for n in needs)]
        if not wave:
            raise TemplateError(f"Circular dependency between resources: [{', '.join(remaining)}]")
        waves.append(wave)
        done.update(wave)
        for name in wave:
            del remaining[name]
    return waves
