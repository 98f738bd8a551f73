"""The store key registry (qcl.store.keys) against the library's source: every family's owner and readers are real
modules that take the key from the registry, readers do not import the writer's module, and no module spells a key.

.venv/bin/pytest tests/unit/test_store_keys.py
"""

from __future__ import annotations

import ast
import functools
import importlib.util

import pytest

from qcl.store import keys
from qcl.store.keys import FAMILIES, KeyFamily, family_of
from tests.unit.test_import_graph import LIBRARY, import_graph

STORE_METHODS = {
    "get", "put", "put_if_absent", "delete", "incr", "take_tokens", "list_push", "list_range", "window_add",
    "window_range", "window_trim", "window_items", "window_count", "window_remove", "window_incr", "window_move",
}  # fmt: skip
REGISTRY_FILE = LIBRARY / "store" / "keys.py"
NAMES = {id(value): name for name, value in vars(keys).items() if isinstance(value, KeyFamily)}
# Readers that import the writer's module for something else than the key.
USES_THE_OWNER = {
    ("qcl.oracle.cli", "qcl.oracle.service"): "`qcl oracle up` runs the committee",
    ("qcl.bench.jobs", "qcl.compute.queue"): "it measures the queue",
}
graph = functools.cache(import_graph)


def _source(module: str) -> str:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, f"{module} is not a module"
    with open(spec.origin, encoding="utf-8") as handle:
        return handle.read()


def _literal_heads(tree: ast.AST) -> list[str]:
    """Every string constant, and the literal start of every f-string."""
    heads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            heads.append(str(node.values[0].value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            heads.append(node.value)
    return heads


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.pattern)
def test_owner_and_readers_take_the_family_from_the_registry(family: KeyFamily) -> None:
    name = NAMES[id(family)]
    for module in {family.owner, *family.readers}:
        assert name in _source(module), f"{module} is listed for {family.pattern} but never names {name}"


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.pattern)
def test_readers_do_not_import_the_writers_module(family: KeyFamily) -> None:
    for reader in family.readers:
        if reader != family.owner and (reader, family.owner) not in USES_THE_OWNER:
            assert family.owner not in graph()[reader], f"{reader} imports {family.owner} (read {family.pattern})"


def test_no_module_spells_a_registered_key() -> None:
    prefixes = {family.pattern.split("{")[0]: family.pattern for family in FAMILIES}
    for path in LIBRARY.rglob("*.py"):
        if path == REGISTRY_FILE:
            continue
        for head in _literal_heads(ast.parse(path.read_text(encoding="utf-8"))):
            if any(c.isspace() for c in head):
                continue  # prose (an error message), not a key
            for prefix, pattern in prefixes.items():
                assert not head.startswith(prefix), f"{path.relative_to(LIBRARY)} spells {head!r} ({pattern})"


def test_no_store_call_takes_a_literal_key() -> None:
    for path in LIBRARY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func, args = node.func, node.args
            if isinstance(func, ast.Attribute) and func.attr == "_call" and isinstance(args[0], ast.Attribute):
                func, args = args[0], args[1:]  # self._call(self.store.get, key, ...): the breaker's wrapper
            called_on = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            if isinstance(func, ast.Attribute) and func.attr in STORE_METHODS and called_on.endswith("store") and args:
                literal = isinstance(args[0], (ast.Constant, ast.JoinedStr))
                assert not literal, f"{path.relative_to(LIBRARY)}:{node.lineno}: {ast.unparse(node)[:80]}"


def test_patterns_are_unique_and_owners_are_library_modules() -> None:
    assert len({f.pattern for f in FAMILIES}) == len(FAMILIES)
    for family in FAMILIES:
        assert family.owner.startswith("qcl.") and all(r.startswith("qcl.") for r in family.readers)


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        ("analysis:latest", "analysis:latest"),
        ("task:changes", "task:changes"),
        ("task:3f9c", "task:{task_id}"),
        ("task:3f9c:outcome", "task:{task_id}:{step}"),
        ("api:oracle:results", "api:oracle:results"),
        ("api:oracle:ab12", "api:oracle:{job_id}"),
        ("ratelimit:ip:127.0.0.1", "ratelimit:{bucket}"),
    ],
)
def test_a_key_belongs_to_the_most_specific_family(key: str, pattern: str) -> None:
    found = family_of(key)
    assert found is not None and found.pattern == pattern


def test_an_unregistered_key_belongs_to_no_family() -> None:
    assert family_of("insights:narrative:en") is None  # an unread copy, no longer written
