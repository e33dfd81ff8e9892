"""The checks CloudFormation makes at ValidateTemplate / CreateStack time, with its messages.

`validate` needs two things from outside: which resource types exist and which
attributes each has (the resource provider schemas); everything else is the template's.
`check_active` is the check that needs the conditions' values: an active resource or
output may not name a resource whose condition is false (outside an untaken `Fn::If`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .context import NO_VALUE, PSEUDO_PARAMETERS
from .dependencies import dependencies, order, referenced_names
from .errors import format_error, template_error
from .intrinsics import CONDITION_FUNCTIONS, FUNCTIONS, function_of
from .parameters import check_types
from .scalars import is_scalar
from .structure import Template, check_structure

LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"

#: Resource members whose values may hold functions (Fn::If included).
_RESOURCE_VALUES = ("Properties", "Metadata", "CreationPolicy", "UpdatePolicy")


def transforms(tpl: Template) -> list[str]:
    transform = tpl.transform
    if transform is None:
        return []
    return [transform] if isinstance(transform, str) else [t for t in transform if isinstance(t, str)]


def validate(tpl: Template, known_type: Callable[[str], bool],
             attributes: Callable[[str], set[str] | None]) -> None:
    """Raise CloudFormation's ValidationError for the first problem found, in its order:
    structure, transforms, parameter types, resource types, conditions, references,
    functions, dependency cycles."""
    check_structure(tpl.raw)
    _check_transforms(tpl)
    check_types(tpl)
    unknown = list(dict.fromkeys(r.type for r in tpl.resources.values() if not known_type(r.type)))
    if unknown:
        raise format_error(f"Unrecognized resource types: [{', '.join(unknown)}]")
    _check_mappings(tpl)
    _check_conditions(tpl)
    for resource in tpl.resources.values():
        if resource.condition is not None and resource.condition not in tpl.conditions:
            raise format_error(f"Unresolved condition dependency {resource.condition} in Resources block")
    for output in tpl.outputs.values():
        if output.condition is not None and output.condition not in tpl.conditions:
            raise format_error(f"Unresolved condition dependency {output.condition} in Outputs block")
    _check_references(tpl, attributes)
    _check_functions(tpl)
    _check_exports(tpl)
    order(dependencies(tpl))


def _check_transforms(tpl: Template) -> None:
    for name in transforms(tpl):
        if name != LANGUAGE_EXTENSIONS:
            raise format_error(f"Transform {name} is not supported: vpclab runs no macros")


def _check_mappings(tpl: Template) -> None:
    for mapping in tpl.mappings.values():
        for values in mapping.values():
            for value in values.values():
                if not (is_scalar(value) or (isinstance(value, list) and all(is_scalar(v) for v in value))):
                    raise format_error("Every Mappings attribute must be a String or a List.")


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """(function name, argument) of every function call in `value`, outermost first."""
    name = function_of(value)
    if name is not None:
        yield name, value[name]
        yield from _walk(value[name])
    elif isinstance(value, dict):
        if set(value) == {"Condition"} and isinstance(value["Condition"], str):
            yield "Condition", value["Condition"]
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _check_conditions(tpl: Template) -> None:
    for definition in tpl.conditions.values():
        resources = [ref for function, ref in referenced_names(definition)
                     if function == "Ref" and ref in tpl.resources]
        if resources:
            raise format_error(f"Unresolved dependencies [{', '.join(dict.fromkeys(resources))}]. "
                               "Cannot reference resources in the Conditions block of the template")
        for function, arg in _walk(definition):
            if function == "Condition" and arg not in tpl.conditions:
                raise template_error(f"unresolved condition dependency {arg} in Fn::Condition")
            if function in ("Fn::GetAtt", "Fn::If", "Fn::ImportValue", "Fn::GetAZs", "Fn::Cidr"):
                raise format_error(f"{function} is not supported in the Conditions block of the template")


def _is_name(tpl: Template, name: str) -> bool:
    return name in tpl.resources or name in tpl.parameters or name in PSEUDO_PARAMETERS or name == NO_VALUE


def _check_references(tpl: Template, attributes: Callable[[str], set[str] | None]) -> None:
    for block, values in (
            ("Resources", [tpl.raw["Resources"][r].get(k) for r in tpl.resources for k in _RESOURCE_VALUES]
             + [d for r in tpl.resources.values() for d in r.depends_on]),
            ("Outputs", [tpl.raw.get("Outputs", {})[o] for o in tpl.outputs])):
        unresolved: list[str] = []
        for value in values:
            if isinstance(value, str):  # a DependsOn entry
                if value not in tpl.resources:
                    unresolved.append(value)
                continue
            for function, name in referenced_names(value):
                if function == "Fn::GetAtt":
                    continue
                if not _is_name(tpl, name):
                    unresolved.append(name)
        if unresolved:
            raise format_error(f"Unresolved resource dependencies [{', '.join(dict.fromkeys(unresolved))}] "
                               f"in the {block} block of the template")
        for value in values:
            for function, arg in _walk(value):
                if function == "Fn::GetAtt":
                    _check_get_att(tpl, arg, attributes)


def _check_get_att(tpl: Template, arg: Any, attributes: Callable[[str], set[str] | None]) -> None:
    if isinstance(arg, str):
        arg = arg.split(".", 1)
    if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
        raise template_error("every Fn::GetAtt object requires two non-empty parameters")
    resource, attribute = arg
    if resource not in tpl.resources:
        raise template_error(f"instance of Fn::GetAtt references undefined resource {resource}")
    known = attributes(tpl.resources[resource].type)
    if isinstance(attribute, str) and known is not None and attribute not in known:
        raise template_error(f"resource {resource} does not support attribute type {attribute} in Fn::GetAtt")


def _check_functions(tpl: Template) -> None:
    """Functions where CloudFormation allows them, with the arguments they need."""
    language_extensions = LANGUAGE_EXTENSIONS in transforms(tpl)
    for name, spec in tpl.raw.get("Parameters", {}).items():
        if any(True for _ in _walk(spec)):
            raise format_error(f"Parameter {name} cannot contain intrinsic functions")
    for block, values in (("Resources", [tpl.raw["Resources"][r] for r in tpl.resources]),
                          ("Outputs", [tpl.raw.get("Outputs", {})[o] for o in tpl.outputs])):
        for value in values:
            for function, arg in _walk(value):
                if function in CONDITION_FUNCTIONS and function != "Condition":
                    raise template_error(f"{function} can only be used in the Conditions section or in Fn::If")
                if function.startswith("Fn::") and function not in FUNCTIONS:
                    raise format_error(f"Unrecognized function: {function}")
                if function in ("Fn::Length", "Fn::ToJsonString", "Fn::ForEach") and not language_extensions:
                    raise format_error(f"Unrecognized function: {function} (it needs the "
                                       f"{LANGUAGE_EXTENSIONS} transform)")
                if function == "Fn::If":
                    if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
                        raise template_error("Fn::If requires a list argument with three elements")
                    if arg[0] not in tpl.conditions:
                        raise template_error(f"unresolved condition dependency {arg[0]} in Fn::If")
                if function == "Fn::FindInMap":
                    _check_find_in_map(tpl, arg, language_extensions)


def _check_find_in_map(tpl: Template, arg: Any, language_extensions: bool) -> None:
    if (language_extensions and isinstance(arg, list) and len(arg) == 4
            and isinstance(arg[3], dict) and set(arg[3]) == {"DefaultValue"}):
        return
    if not (isinstance(arg, list) and len(arg) == 3):
        raise template_error("every Fn::FindInMap object requires three parameters, the map name, "
                             "map key and the attribute for return value")
    if isinstance(arg[0], str) and arg[0] not in tpl.mappings:
        raise template_error(f"Mapping named '{arg[0]}' is not present in the 'Mappings' section of template.")


def _check_exports(tpl: Template) -> None:
    names = [o.export_name for o in tpl.outputs.values() if isinstance(o.export_name, str)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise format_error(f"Duplicate Export names found in Outputs: [{', '.join(duplicates)}]")


def _taken(value: Any, conditions: dict[str, bool]) -> Any:
    """`value` with each Fn::If replaced by its taken branch."""
    name = function_of(value)
    if name == "Fn::If" and isinstance(value[name], list) and len(value[name]) == 3:
        condition, yes, no = value[name]
        return _taken(yes if conditions.get(condition, False) else no, conditions)
    if isinstance(value, dict):
        return {key: _taken(item, conditions) for key, item in value.items()}
    if isinstance(value, list):
        return [_taken(item, conditions) for item in value]
    return value


def active(tpl: Template, conditions: dict[str, bool]) -> list[str]:
    """The logical ids of the resources the conditions let the stack have, in template order."""
    return [r.logical_id for r in tpl.resources.values()
            if r.condition is None or conditions.get(r.condition, False)]


def check_active(tpl: Template, conditions: dict[str, bool]) -> None:
    """CloudFormation's error for an active resource or output naming an inactive resource."""
    kept = active(tpl, conditions)
    present = set(kept)
    for block, values in (
            ("Resources", [(_taken({k: tpl.raw["Resources"][r].get(k) for k in _RESOURCE_VALUES}, conditions),
                            tpl.resources[r].depends_on) for r in kept]),
            ("Outputs", [(_taken(tpl.raw["Outputs"][o.logical_id], conditions), [])
                         for o in tpl.outputs.values()
                         if o.condition is None or conditions.get(o.condition, False)])):
        missing: list[str] = []
        for value, depends_on in values:
            names = [name for _, name in referenced_names(value)] + list(depends_on)
            missing += [name for name in names if name in tpl.resources and name not in present]
        if missing:
            raise format_error(f"Unresolved resource dependencies [{', '.join(dict.fromkeys(missing))}] "
                               f"in the {block} block of the template")
