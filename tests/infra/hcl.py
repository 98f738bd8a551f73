"""Read the Terraform under infra/ with python-hcl2, as plain dicts: `{"resource": [{type: {name: body}}], ...}`.

Blocks are lists of dicts; values that are expressions stay strings like "${var.x}". Used by tests/infra only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    body: dict[str, Any]
    file: Path


@cache
def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return dict(hcl2.load(handle, serialization_options=_OPTIONS))


def tf_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*.tf") if ".terraform" not in p.parts)


def resources(kind: str | None = None) -> list[Resource]:
    """Every `resource` block under infra/, optionally of one type."""
    found = []
    for path in tf_files():
        for block in load(path).get("resource", []):
            for type_, named in block.items():
                for name, body in named.items():
                    if kind is None or type_ == kind:
                        found.append(Resource(type_, name, body, path))
    return found


def one(kind: str) -> Resource:
    matches = resources(kind)
    assert len(matches) == 1, f"expected one {kind}, found {[m.name for m in matches]}"
    return matches[0]


def blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A nested block as a list, whether written literally or as `dynamic "name" { content { ... } }`."""
    literal = body.get(name, [])
    literal = literal if isinstance(literal, list) else [literal]
    dynamic = [d[name]["content"][0] for d in body.get("dynamic", []) if name in d]
    return [*literal, *dynamic]


def module_calls(path: Path) -> dict[str, dict[str, Any]]:
    return {name: body for block in load(path).get("module", []) for name, body in block.items()}


def variables() -> list[tuple[Path, str, dict[str, Any]]]:
    return [
        (path, name, body)
        for path in tf_files()
        for block in load(path).get("variable", [])
        for name, body in block.items()
    ]


def locals_of(path: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in load(path).get("locals", []):
        merged.update(block)
    return merged
