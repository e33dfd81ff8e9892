"""The Conditions section: each condition's truth, from parameters, pseudo parameters and mappings.

A condition is `Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not` or `Condition` (another
condition by name); the arguments of `Fn::Equals` are resolved like any value (`Ref`
to a parameter, `Fn::FindInMap`, `Fn::Join`, ...).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from .context import Context
from .errors import format_error, template_error
from .intrinsics import function_of, resolve
from .scalars import is_scalar, text
from .structure import Template


def evaluate_conditions(tpl: Template, ctx: Context) -> dict[str, bool]:
    values: dict[str, bool] = {}
    evaluating: list[str] = []
    scope = replace(ctx, conditions=values)

    def condition(name: str) -> bool:
        if name in values:
            return values[name]
        if name not in tpl.conditions:
            raise template_error(f"unresolved condition dependency {name} in Fn::Condition")
        if name in evaluating:
            cycle = evaluating[evaluating.index(name):]
            raise format_error(f"Circular dependency between conditions: [{', '.join(cycle)}]")
        evaluating.append(name)
        values[name] = evaluate(tpl.conditions[name])
        evaluating.pop()
        return values[name]

    def boolean(value: Any, function: str) -> bool:
        if isinstance(value, bool):
            return value
        if function_of(value) in ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not") or (
                isinstance(value, dict) and set(value) == {"Condition"}):
            return evaluate(value)
        raise template_error(f"every {function} object requires a list of boolean parameters")

    def evaluate(value: Any) -> bool:
        if isinstance(value, dict) and set(value) == {"Condition"} and isinstance(value["Condition"], str):
            return condition(value["Condition"])
        name = function_of(value)
        arg = value[name] if name else None
        if name == "Fn::Equals":
            if not (isinstance(arg, list) and len(arg) == 2):
                raise template_error("every Fn::Equals object requires a list of 2 string parameters.")
            left, right = (resolve(item, scope) for item in arg)
            if not (is_scalar(left) and is_scalar(right)):
                raise template_error("every Fn::Equals object requires a list of 2 string parameters.")
            return text(left) == text(right)
        if name in ("Fn::And", "Fn::Or"):
            if not (isinstance(arg, list) and 2 <= len(arg) <= 10):
                raise template_error(
                    f"every {name} object requires a list of at least 2 and at most 10 boolean parameters.")
            results = (boolean(item, name) for item in arg)
            return all(results) if name == "Fn::And" else any(results)
        if name == "Fn::Not":
            if not (isinstance(arg, list) and len(arg) == 1):
                raise template_error("every Fn::Not object requires one boolean parameter")
            return not boolean(arg[0], name)
        raise format_error("Conditions can only be boolean operations on parameters and other conditions")

    for name in tpl.conditions:
        condition(name)
    return values
