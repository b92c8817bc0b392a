"""The import graph: no cycles between modules, and packages only import the layers below them.

The layers are those of docs/architecture.md. A package may import its own modules and any
package of a lower layer, never one of its own layer or above (so techniques stay independent of
each other and of the pipeline, and ``transform`` stays importable from everywhere). Imports
inside functions count too: a lazy import is still a dependency. ``TYPE_CHECKING`` blocks do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "edgeopt"
LAYERS = [
    {"errors", "version"},
    {"utils"},
    {"artifact", "data", "models", "analysis"},
    {"transform"},
    {"lineage"},
    {"checkpoint_v1"},
    {"checkpoint"},
    {"loading"},
    {"train"},
    {"runtime"},
    {"export"},
    {"agent"},  # measures artifacts on a device with runtime/; the pipeline and search may route to it
    {"fuse", "prune", "distill"},
    {"quantize"},
    {"devices", "report"},
    {"latency"},  # per-layer time, latency tables and the predictor: runtime + devices below, search above
    {"pipeline", "search"},  # search/ (architecture search) will be a consumer beside the pipeline
    {"optimize", "demo"},  # optimize/ uses search's Optuna storage and every technique below
    {"cli", "edgeopt"},  # the command line, and the package's own curated names
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module, self.is_package, self.found = module, is_package, set()

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" not in ast.unparse(node.test):
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.module.split(".")[: len(self.module.split(".")) - node.level + self.is_package]
            base = ".".join([*parts, base] if base else parts)
        subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
        self.found.update(subs if len(subs) == len(node.names) else [base, *subs])


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        targets = {_resolve(t) for t in visitor.found if t.startswith("edgeopt")}
        graph[name] = {t for t in targets if t and t != name}
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_package_has_a_layer():
    assert {_package(m) for m in MODULES} <= set(LAYER), "add the new package to LAYERS and docs/architecture.md"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_lower_layers(module):
    own = _package(module)
    wrong = sorted(t for t in _graph_cache()[module] if _package(t) != own and LAYER[_package(t)] >= LAYER[own])
    assert not wrong, f"{module} (layer {LAYER[own]}) imports {wrong} of the same layer or above"


def test_no_import_cycles():
    graph, cycles = _graph_cache(), []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


_CACHE: dict[str, set[str]] = {}


def _graph_cache() -> dict[str, set[str]]:
    if not _CACHE:
        _CACHE.update(_graph())
    return _CACHE


def test_test_module_names_are_unique():
    """pytest imports test files by basename (no __init__.py): two of one name stop the whole suite."""
    names = [p.name for p in Path(__file__).parent.rglob("test_*.py")]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
