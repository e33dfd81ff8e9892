"""The CloudFormation template language, pure: decoding, parameters, conditions, functions.

    tpl = template.load(body)                       # TemplateError if malformed
    template.validate(tpl, known_type, attributes)  # references, types, cycles
    values = template.resolve_parameters(tpl, given)
    ctx = template.Context(...); ctx.conditions = template.evaluate_conditions(tpl, ctx)
    template.check_active(tpl, ctx.conditions)      # no active resource names an inactive one
    for wave in template.order(template.dependencies(tpl)): ... template.resolve(props, ctx)

The engine keeps to `template.active(tpl, ctx.conditions)` (a dependency on a resource
left out is no dependency); `template.displayed` masks NoEcho values as DescribeStacks does.
"""
from __future__ import annotations

from .conditions import evaluate_conditions
from .context import Context
from .decode import MAX_BODY_BYTES, decode
from .dependencies import dependencies, order
from .errors import TemplateError
from .intrinsics import resolve
from .parameters import MASK, displayed, no_echo, resolve_parameters
from .structure import (
    OutputSpec,
    ParameterSpec,
    ResourceSpec,
    Template,
    build,
    check_structure,
)
from .summary import capabilities, summary, validation_result
from .validation import active, check_active, validate


def load(body: str) -> Template:
    """The template in `body` (JSON or YAML, at most 51,200 bytes)."""
    raw = decode(body)
    check_structure(raw)
    return build(raw)


__all__ = [
    "MASK", "MAX_BODY_BYTES", "Context", "OutputSpec", "ParameterSpec", "ResourceSpec", "Template",
    "TemplateError", "active", "capabilities", "check_active", "dependencies", "displayed",
    "evaluate_conditions", "load", "no_echo", "order", "resolve", "resolve_parameters", "summary",
    "validate", "validation_result",
]
