"""The control plane's layering rule (vpclab/control/README.md), read off the source.

Every import of every module under vpclab/control, at the top or inside a function, is
resolved to an absolute module name with `ast` and checked against the rule: `common`
imports no area; `ec2` imports `common`; `elbv2` `common` and `ec2`; `privatelink`
`common`, `ec2` and `elbv2`; `sts` only `common` and the protocol layer; nothing in
control imports the data plane, the kernel driver, the CLI's commands, the lab, the
server or the CLI: outside control only the protocol layer, the store, the model and
`aws_names`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

CONTROL = Path(__file__).resolve().parent.parent / "vpclab" / "control"

#: Area -> the control areas its modules may import (itself included).
MAY_IMPORT: dict[str, set[str]] = {
    "common": {"common"},
    "ec2": {"common", "ec2"},
    "elbv2": {"common", "ec2", "elbv2"},
    "privatelink": {"common", "ec2", "elbv2", "privatelink"},
    "sts": {"common", "sts"},
    # its resources go through the in-process API, not another area's modules
    "cloudformation": {"common", "cloudformation"},
}

#: The vpclab modules outside control that control may import: never the data plane, the
#: kernel driver, the CLI's commands, the lab, the server or the CLI.
OUTSIDE_MAY_IMPORT = ("vpclab.protocol", "vpclab.store", "vpclab.model", "vpclab.aws_names")

#: The only vpclab modules outside control that `sts` may import.
STS_MAY_IMPORT = ("vpclab.protocol",)


def module_name(path: Path) -> str:
    rel = path.relative_to(CONTROL.parent.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(module: str, source: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in `source`, in functions too.

    `from X import a` counts as importing `X.a` as well, since `a` may be a module (it is
    checked by its prefix, so a name that is not a module does no harm)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names if alias.name != "*"]
    return found


def area_of(module: str) -> str | None:
    """`ec2` for vpclab.control.ec2.vpcs; None for vpclab.control itself."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["vpclab", "control"] else None


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    area = area_of(module)
    out: list[str] = []
    for line, target in imports(module, source, is_package):
        where = f"{module}:{line} imports {target}"
        outside = target.startswith("vpclab.") and not target.startswith("vpclab.control")
        if outside and not any(target == m or target.startswith(m + ".") for m in OUTSIDE_MAY_IMPORT):
            out.append(f"{where}: control imports no {target.split('.')[1]}")
            continue
        if area is None:
            continue  # vpclab.control lists the areas it serves
        other = area_of(target)
        if other is not None and other not in MAY_IMPORT[area]:
            out.append(f"{where}: {area} may import only {sorted(MAY_IMPORT[area])}")
        if (area == "sts" and target.startswith("vpclab.") and other is None
                and not any(target == s or target.startswith(s + ".") for s in STS_MAY_IMPORT)):
            out.append(f"{where}: sts imports only control.common and {', '.join(STS_MAY_IMPORT)}")
    return out


def control_modules() -> list[Path]:
    return sorted(CONTROL.rglob("*.py"))


def test_every_area_has_a_rule():
    folders = {p.name for p in CONTROL.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(MAY_IMPORT), "a new control folder needs its line in MAY_IMPORT and the README"


def test_control_keeps_its_layers():
    found = []
    for path in control_modules():
        found += violations(module_name(path), path.read_text(), path.name == "__init__.py")
    assert control_modules(), "no control modules found"
    assert found == []


@pytest.mark.parametrize("module, source, expected", [
    # an area importing one above it, at the top of the module
    ("vpclab.control.ec2.vpcs", "from ..elbv2.common import err\n",
     ["vpclab.control.ec2.vpcs:1 imports vpclab.control.elbv2.common: ec2 may import only ['common', 'ec2']",
      "vpclab.control.ec2.vpcs:1 imports vpclab.control.elbv2.common.err: ec2 may import only ['common', 'ec2']"]),
    # the same hidden inside a function
    ("vpclab.control.common.tags", "def f():\n    from vpclab.control.ec2 import vpcs\n",
     ["vpclab.control.common.tags:2 imports vpclab.control.ec2: common may import only ['common']",
      "vpclab.control.common.tags:2 imports vpclab.control.ec2.vpcs: common may import only ['common']"]),
    # the data plane, from the control package itself; the server, from an area
    ("vpclab.control", "import vpclab.dataplane.runtime\n",
     ["vpclab.control:1 imports vpclab.dataplane.runtime: control imports no dataplane"]),
    ("vpclab.control.ec2.regions", "from ...server import main\n",
     ["vpclab.control.ec2.regions:1 imports vpclab.server: control imports no server",
      "vpclab.control.ec2.regions:1 imports vpclab.server.main: control imports no server"]),
    # sts reaching the store
    ("vpclab.control.sts.caller_identity", "from ...store import Transaction\n",
     ["vpclab.control.sts.caller_identity:1 imports vpclab.store: sts imports only control.common and vpclab.protocol",
      "vpclab.control.sts.caller_identity:1 imports vpclab.store.Transaction: "
      "sts imports only control.common and vpclab.protocol"]),
    # what the rule allows
    ("vpclab.control.privatelink.endpoints", "from ..elbv2 import common\nfrom ..ec2.vpcs import render\n", []),
    ("vpclab.control.sts.caller_identity", "from ...protocol.dispatch import operation\n", []),
])
def test_the_check_catches_a_violation(module, source, expected):
    assert violations(module, source) == expected


def test_every_lifecycle_step_is_in_the_one_list():
    """A settle step is a module-level `fn(tx, now, dataplane)` of an area; each one the
    areas define is in `vpclab.control.LIFECYCLE_STEPS`, so none is forgotten."""
    import inspect

    import vpclab.control

    defined = set()
    for module in vpclab.control.AREAS:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and list(inspect.signature(fn).parameters) == ["tx", "now", "dataplane"]:
                defined.add(fn)
    assert defined and defined == set(vpclab.control.LIFECYCLE_STEPS)
