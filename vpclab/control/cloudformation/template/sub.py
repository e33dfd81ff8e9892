"""Fn::Sub's string: `${Name}` and `${Resource.Attribute}` references, `${!Literal}` literals.

One parser for both evaluating a Sub (`intrinsics`) and finding what it depends on
(`dependencies`).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def references(template: str) -> Iterator[str]:
    """The names a Sub string refers to (literals `${!x}` excluded)."""
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if not name.startswith("!"):
            yield name.strip()


def substitute(template: str, value: Callable[[str], str]) -> str:
    """`template` with each `${name}` replaced by `value(name)` and `${!x}` by `${x}`."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        return value(name.strip())
    return _PLACEHOLDER.sub(replace, template)
