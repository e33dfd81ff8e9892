"""Evaluating intrinsic functions: a template value with `Ref` and `Fn::*` to a plain value.

`resolve` walks a value; a one-key mapping whose key is a function name is that function,
anything else is data (so an IAM statement's `{"Condition": {...}}` stays data). The
condition functions (`Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not`, `Condition`) are
evaluated by `conditions`, through `resolve` for their arguments.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from .cidr import cidr
from .context import NO_VALUE, PSEUDO_PARAMETERS, Context, pseudo_parameter
from .errors import format_error, template_error
from .scalars import is_scalar, text
from .sub import substitute


class _NoValue:
    """What `Ref: AWS::NoValue` resolves to: removed from the mapping or list holding it."""

    def __repr__(self) -> str:
        return "NoValue"


REMOVED = _NoValue()

CONDITION_FUNCTIONS = ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition")


def function_of(value: Any) -> str | None:
    """The function a value calls (`Ref`, `Fn::Join`, ...), or None for data."""
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
            return key
    return None


def resolve(value: Any, ctx: Context) -> Any:
    """`value` with every intrinsic function evaluated; `AWS::NoValue` removes its key or item
    (a `value` that is itself NoValue resolves to None)."""
    result = _resolve(value, ctx)
    return None if result is REMOVED else result


def _resolve(value: Any, ctx: Context) -> Any:
    name = function_of(value)
    if name is not None:
        function = _FUNCTIONS.get(name)
        if function is None:
            if name in CONDITION_FUNCTIONS:
                raise template_error(f"{name} can only be used in the Conditions section or in Fn::If")
            raise format_error(f"Unrecognized function: {name}" if name.startswith("Fn::") else name)
        return function(value[name], ctx)
    if isinstance(value, dict):
        resolved = {key: _resolve(item, ctx) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not REMOVED}
    if isinstance(value, list):
        return [item for item in (_resolve(item, ctx) for item in value) if item is not REMOVED]
    return value


def _string(value: Any, function: str) -> str:
    if not is_scalar(value):
        raise template_error(f"every {function} object requires a string parameter")
    return text(value)


def _ref(arg: Any, ctx: Context) -> Any:
    if not isinstance(arg, str):
        raise template_error("every Ref object requires a single string parameter")
    if arg == NO_VALUE:
        return REMOVED
    if arg in PSEUDO_PARAMETERS:
        return pseudo_parameter(arg, ctx)
    if arg in ctx.parameters:
        return ctx.parameters[arg]
    return ctx.ref(arg)


def _get_att(arg: Any, ctx: Context) -> Any:
    if isinstance(arg, str) and "." in arg:
        arg = arg.split(".", 1)
    if not (isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str)):
        raise template_error("every Fn::GetAtt object requires two non-empty parameters")
    attribute = _resolve(arg[1], ctx)
    if not isinstance(attribute, str) or not attribute:
        raise template_error("every Fn::GetAtt object requires two non-empty parameters")
    return ctx.get_att(arg[0], attribute)


def _sub(arg: Any, ctx: Context) -> str:
    variables: dict[str, Any] = {}
    if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
        template, variables = arg
    elif isinstance(arg, str):
        template = arg
    else:
        raise template_error(
            "One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a "
            "string as first argument, and an optional second argument to specify a mapping of "
            "values to replace in the string")
    def value(name: str) -> str:
        if name in variables:
            result = _resolve(variables[name], ctx)
        elif "." in name and name not in ctx.parameters:
            resource, attribute = name.split(".", 1)
            result = ctx.get_att(resource, attribute)
        else:
            result = _ref(name, ctx)
        if not is_scalar(result):
            raise template_error(f"variable {name} in Fn::Sub expression does not resolve to a string")
        return text(result)
    return substitute(template, value)


_JOIN_USAGE = ("every Fn::Join object requires two parameters, (1) a string delimiter and (2) a "
               "list of strings to be joined or a function that returns a list of strings (such "
               "as Fn::GetAZs) to be joined.")


def _join(arg: Any, ctx: Context) -> str:
    if not (isinstance(arg, list) and len(arg) == 2):
        raise template_error(_JOIN_USAGE)
    delimiter, items = _resolve(arg[0], ctx), _resolve(arg[1], ctx)
    if not isinstance(delimiter, str) or not isinstance(items, list) or not all(is_scalar(i) for i in items):
        raise template_error(_JOIN_USAGE)
    return delimiter.join(text(i) for i in items)


def _select(arg: Any, ctx: Context) -> Any:
    if not (isinstance(arg, list) and len(arg) == 2):
        raise template_error("Fn::Select requires a list argument with two elements: an integer index and a list")
    index, items = _resolve(arg[0], ctx), _resolve(arg[1], ctx)
    try:
        position = int(text(index)) if is_scalar(index) and not isinstance(index, bool) else None
    except ValueError:
        position = None
    if position is None or not isinstance(items, list):
        raise template_error("Fn::Select requires a list argument with two elements: an integer index and a list")
    if not 0 <= position < len(items):
        raise template_error(f"Fn::Select cannot select nonexistent value at index {position}")
    return items[position]


_SPLIT_USAGE = ("every Fn::Split object requires two parameters, (1) a string delimiter and (2) a "
                "string to be split or a function that returns a string to be split.")


def _split(arg: Any, ctx: Context) -> list[str]:
    if not (isinstance(arg, list) and len(arg) == 2):
        raise template_error(_SPLIT_USAGE)
    delimiter, source = _resolve(arg[0], ctx), _resolve(arg[1], ctx)
    if not isinstance(delimiter, str) or not delimiter or not is_scalar(source):
        raise template_error(_SPLIT_USAGE)
    return text(source).split(delimiter)


def _get_azs(arg: Any, ctx: Context) -> list[str]:
    region = _resolve(arg, ctx)
    if not isinstance(region, str):
        raise template_error("Fn::GetAZs requires a region name, or an empty string for the stack's region")
    return list(ctx.azs(region or ctx.region))


def _if(arg: Any, ctx: Context) -> Any:
    if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
        raise template_error("Fn::If requires a list argument with three elements")
    if arg[0] not in ctx.conditions:
        raise template_error(f"unresolved condition dependency {arg[0]} in Fn::If")
    return _resolve(arg[1] if ctx.conditions[arg[0]] else arg[2], ctx)


_FIND_IN_MAP_USAGE = ("every Fn::FindInMap object requires three parameters, the map name, map key "
                      "and the attribute for return value")


def _find_in_map(arg: Any, ctx: Context) -> Any:
    default: Any = REMOVED
    if (ctx.language_extensions and isinstance(arg, list) and len(arg) == 4
            and isinstance(arg[3], dict) and set(arg[3]) == {"DefaultValue"}):
        default, arg = arg[3]["DefaultValue"], arg[:3]
    if not (isinstance(arg, list) and len(arg) == 3):
        raise template_error(_FIND_IN_MAP_USAGE)
    keys = [_resolve(key, ctx) for key in arg]
    if not all(is_scalar(key) for key in keys):
        raise template_error(_FIND_IN_MAP_USAGE)
    name, top, second = (text(key) for key in keys)
    mapping = ctx.mappings.get(name)
    if mapping is None and default is REMOVED:
        raise template_error(f"Mapping named '{name}' is not present in the 'Mappings' section of template.")
    found = ((mapping or {}).get(top) or {}).get(second, REMOVED)
    if found is REMOVED:
        if default is REMOVED:
            raise template_error(f"Unable to get mapping for {name}::{top}::{second}")
        return _resolve(default, ctx)
    return found


def _import_value(arg: Any, ctx: Context) -> Any:
    name = _resolve(arg, ctx)
    if not isinstance(name, str):
        raise template_error("every Fn::ImportValue object requires a string parameter")
    return ctx.import_value(name)


def _base64(arg: Any, ctx: Context) -> str:
    value = _string(_resolve(arg, ctx), "Fn::Base64")
    return base64.b64encode(value.encode()).decode()


_CIDR_USAGE = ("every Fn::Cidr object requires three parameters, (1) an address block in CIDR "
               "notation, (2) the number of CIDRs to generate and (3) the number of host bits of each")


def _cidr(arg: Any, ctx: Context) -> list[str]:
    if not (isinstance(arg, list) and len(arg) == 3):
        raise template_error(_CIDR_USAGE)
    block, count, bits = (_resolve(item, ctx) for item in arg)
    try:
        return cidr(text(block), int(text(count)), int(text(bits)))
    except ValueError:
        raise template_error(_CIDR_USAGE) from None


def _transform(arg: Any, ctx: Context) -> Any:
    raise template_error("Fn::Transform: vpclab runs no macros (AWS::Include and macros are not supported)")


def _length(arg: Any, ctx: Context) -> int:
    if not ctx.language_extensions:
        raise format_error("Unrecognized function: Fn::Length")
    items = _resolve(arg, ctx)
    if not isinstance(items, list):
        raise template_error("Fn::Length requires a list")
    return len(items)


def _to_json_string(arg: Any, ctx: Context) -> str:
    if not ctx.language_extensions:
        raise format_error("Unrecognized function: Fn::ToJsonString")
    return json.dumps(_resolve(arg, ctx), separators=(",", ":"))


_FUNCTIONS: dict[str, Callable[[Any, Context], Any]] = {
    "Ref": _ref, "Fn::GetAtt": _get_att, "Fn::Sub": _sub, "Fn::Join": _join,
    "Fn::Select": _select, "Fn::Split": _split, "Fn::GetAZs": _get_azs, "Fn::If": _if,
    "Fn::FindInMap": _find_in_map, "Fn::ImportValue": _import_value, "Fn::Base64": _base64,
    "Fn::Cidr": _cidr, "Fn::Transform": _transform, "Fn::Length": _length,
    "Fn::ToJsonString": _to_json_string,
}

#: Every function `resolve` evaluates, and the condition functions.
FUNCTIONS = tuple(_FUNCTIONS) + CONDITION_FUNCTIONS
