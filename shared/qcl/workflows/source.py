"""Workflow files (YAML, or JSON, which YAML reads too) to plain values, keeping each node's line for errors.

    doc, lines = load_source(text)      # lines[("main", "steps", 0, "init")] == 4 (1-based)
    line_of(lines, ("main", "steps", 3, "loop", "for"))   # the nearest known line at or above that path

The YAML composer keeps marks on nodes; the values we hand on are plain dicts, lists and scalars.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import yaml

from qcl.workflows.errors import WorkflowSyntaxError

Path = tuple[Any, ...]
Lines = dict[Path, int]


def load_source(text: str) -> tuple[Any, Lines]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise WorkflowSyntaxError(f"not valid YAML or JSON: {exc.problem or exc.context}", line) from None
    except yaml.YAMLError as exc:
        raise WorkflowSyntaxError(f"not valid YAML or JSON: {exc}") from None
    if node is None:
        raise WorkflowSyntaxError("the file is empty", 1)
    lines: Lines = {}
    constructor = yaml.constructor.SafeConstructor()
    return _plain(node, (), lines, constructor), lines


def _plain(node: yaml.Node, path: Path, lines: Lines, constructor: Any) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise WorkflowSyntaxError(f"map keys must be strings, got {key!r}", line)
            if key in out:
                raise WorkflowSyntaxError(f"duplicate key {key!r}", line)
            lines[(*path, key)] = line
            out[key] = _plain(value_node, (*path, key), lines, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, i), lines, constructor) for i, item in enumerate(node.value)]
    value = constructor.construct_object(node)
    if isinstance(value, datetime | date):  # Workflows has no time type: keep what was written
        return str(node.value)
    if isinstance(value, bytes):
        raise WorkflowSyntaxError("binary values are not supported", node.start_mark.line + 1)
    return value


def line_of(lines: Lines, path: Path) -> int:
    """The line of `path`, or of its nearest ancestor that has one."""
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 0)
