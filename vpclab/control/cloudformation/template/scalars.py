"""Scalars as CloudFormation turns them into strings (a parameter's Default, a Join item).

A template's scalars decode to Python's bool, int and float; where CloudFormation needs a
string it writes booleans in lower case and numbers as written (an int without a point).
"""
from __future__ import annotations

from typing import Any


def is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def text(value: Any) -> str:
    """`value` (a scalar) as the string CloudFormation makes of it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    return str(value)
