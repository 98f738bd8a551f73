"""No import circles inside qcl: every `import` counts, at module level, inside functions and under TYPE_CHECKING.

.venv/bin/pytest tests/unit/test_import_graph.py

A circle makes the import order matter and hides which module is the lower layer (api/app.py <-> routes_*.py,
shard/pool.py <-> shard/pipeline.py and the oracle replica <-> its step modules were opened this way). The circles
still open are listed in KNOWN and may only go away.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.hcl import ROOT

LIBRARY = ROOT / "shared" / "qcl"
# Circles not yet opened (each one's modules, sorted). Remove an entry when its circle goes; never add one.
KNOWN = {
    ("qcl.compute.queue", "qcl.compute.quotas"),
    ("qcl.narrate.binding", "qcl.narrate.grounding"),
    ("qcl.narrate.phrasing", "qcl.narrate.service"),
    ("qcl.workflows.service", "qcl.workflows.triggers"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in LIBRARY.rglob("*.py"):
        parts = list(path.relative_to(LIBRARY.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the qcl modules it imports anywhere in its text. `from package import submodule` counts as the
    submodule, not the package."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
                targets.update(submodules)
                if len(submodules) < len(node.names):
                    targets.add(base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_library_has_no_import_circle_beyond_the_known_ones() -> None:
    found = circles(import_graph())
    assert found - KNOWN == set(), f"new import circles: {sorted(found - KNOWN)}"
    assert KNOWN - found == set(), f"opened, remove from KNOWN: {sorted(KNOWN - found)}"


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("qcl.api.context", "qcl.api.app"),
        ("qcl.shard.pipeline", "qcl.shard.pool"),
        ("qcl.oracle.replica_core", "qcl.oracle.replica"),
        ("qcl.oracle.replica_normal", "qcl.oracle.replica_views"),
        ("qcl.oracle.sim.invariants", "qcl.oracle.sim.network"),
    ],
)
def test_lower_layer_never_reaches_the_upper_one(lower: str, upper: str) -> None:
    graph = import_graph()
    seen, todo = set(), [lower]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    assert upper not in seen


@pytest.mark.parametrize(
    "module",
    [
        "qcl.api.routes_ai",
        "qcl.api.context",
        "qcl.shard.pipeline",
        "qcl.oracle.replica_views",
        "qcl.oracle.replica_normal",
        "qcl.oracle.replica_checkpoints",
        "qcl.oracle.sim.invariants",
    ],
)
def test_a_lower_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def test_circles_are_the_modules_that_reach_each_other() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == {("a", "b", "c")}


def test_the_graph_counts_imports_inside_functions_and_under_type_checking() -> None:
    graph = import_graph()
    assert "qcl.shard.pipeline" in graph["qcl.shard.pool"]  # imported inside open_session
    assert "qcl.api.context" in graph["qcl.api.routes_ai"]  # imported under TYPE_CHECKING
