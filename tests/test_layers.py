"""The layer rules of vpclab/kernel/README.md and vpclab/dataplane/README.md, read from the
source: every import (top level and inside functions) parsed with `ast`.

- the kernel layer imports nothing of AWS: of vpclab, only vpclab.kernel;
- the data plane imports no control-plane module: of vpclab, only itself, the kernel,
  the model, the store, aws_names and the guest programs; its areas import no agent;
- the guest programs (they run inside instances, copied there alone) import nothing of
  vpclab but their package's paths;
- the model (which both planes import) imports only itself and the store;
- no import cycle among vpclab modules.
"""
from __future__ import annotations

import ast
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1] / "vpclab"

def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


MODULES = _modules()


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement names (a `from m import n` names m.n when that is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix for a in node.names]


def _imports() -> dict[str, set[str]]:
    """{vpclab module: the vpclab modules it imports anywhere in its file}."""
    graph = {}
    for module, (path, is_package) in MODULES.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.update(t for t in _targets(module, is_package, node)
                             if t == "vpclab" or t.startswith("vpclab."))
        graph[module] = found
    return graph


IMPORTS = _imports()


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _violations(layer: str, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    return {m: sorted(t for t in targets if not _within(t, allowed))
            for m, targets in IMPORTS.items()
            if _within(m, (layer,)) and any(not _within(t, allowed) for t in targets)}


def test_the_import_reader_sees_function_level_imports():
    """The rules below would be empty if the reader missed imports inside functions."""
    assert "vpclab.kernel.linux" in IMPORTS["vpclab.kernel.backend"]  # imported in Backend.linux
    assert "vpclab.model.observed" in IMPORTS["vpclab.dataplane.agents.instances"]


def test_kernel_imports_nothing_of_aws():
    assert _violations("vpclab.kernel", ("vpclab.kernel",)) == {}


def test_dataplane_imports_no_control_plane_module():
    assert not any(_within(t, ("vpclab.control",))
                   for m, targets in IMPORTS.items() if _within(m, ("vpclab.dataplane",)) for t in targets)
    allowed = ("vpclab.dataplane", "vpclab.kernel", "vpclab.model", "vpclab.store", "vpclab.aws_names",
               "vpclab.guest")
    assert _violations("vpclab.dataplane", allowed) == {}


def test_guest_programs_import_nothing_of_vpclab():
    assert _violations("vpclab.guest", ()) == {}


def test_areas_import_no_agent():
    assert _violations("vpclab.dataplane.areas", ("vpclab.dataplane.areas", "vpclab.dataplane.world",
                                                  "vpclab.dataplane.planner", "vpclab.kernel", "vpclab.model",
                                                  "vpclab.store", "vpclab.aws_names")) == {}


def test_model_imports_only_the_store():
    assert _violations("vpclab.model", ("vpclab.model", "vpclab.store")) == {}


def test_store_imports_nothing_of_vpclab():
    assert _violations("vpclab.store", ("vpclab.store",)) == {}


def test_protocol_imports_only_the_store():
    """The wire layer knows no AWS area: handlers register with it, it imports none."""
    assert _violations("vpclab.protocol", ("vpclab.protocol", "vpclab.store")) == {}


def test_console_is_a_client_of_the_operations():
    """The console calls operations through the Gateway; it imports no handler module."""
    assert _violations("vpclab.console", ("vpclab.console", "vpclab.protocol", "vpclab.store", "vpclab.model",
                                          "vpclab.lab")) == {}


def test_lab_is_a_client_of_the_apis():
    """The lab drives vpclab through boto3 like a user; it may start the embedded server,
    and it opens public addresses where the user's machine reaches them (model.internet's
    documented mapping, a pure module)."""
    assert _violations("vpclab.lab", ("vpclab.lab", "vpclab.server", "vpclab.state_lock",
                                      "vpclab.model.internet")) == {}


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(t for t in targets if t in graph and t != m) for m, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = set()
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.add(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.add(frozenset(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset("abc")}
    assert _cycles({"a": {"b"}, "b": set()}) == set()


def test_no_import_cycles_among_vpclab_modules():
    assert _cycles(IMPORTS) == set()
