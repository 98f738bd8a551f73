"""Deploy-time checks: a workflow file that cannot run is refused with its line and the reason."""

from __future__ import annotations

import textwrap

import pytest

from qcl.workflows.definition import compile_workflow
from qcl.workflows.errors import WorkflowSyntaxError

CALLS = {"qcl.ask", "http.get"}


def refuse(source: str) -> WorkflowSyntaxError:
    with pytest.raises(WorkflowSyntaxError) as caught:
        compile_workflow(textwrap.dedent(source).lstrip("\n"), calls=CALLS)
    return caught.value


def test_a_valid_file_compiles_with_its_steps() -> None:
    workflow = compile_workflow("main:\n  steps:\n    - a:\n        assign:\n          - x: 1\n", calls=CALLS)
    assert [s.name for s in workflow.main.steps] == ["a"]
    assert workflow.main.steps[0].line == 3


def test_json_files_are_read_too_with_lines() -> None:
    error = refuse('{\n  "main": {\n    "steps": [\n      {"a": {"call": "nope"}}\n    ]\n  }\n}\n')
    assert error.line == 4 and "unknown connector or subworkflow 'nope'" in error.reason


@pytest.mark.parametrize(
    ("source", "line", "reason"),
    [
        ("main:\n  steps:\n    - a:\n      assign: [\n", 5, "not valid YAML"),
        ("other:\n  steps: []\n", 1, "map of subworkflows with `main`"),
        ("main:\n  steps:\n    - a:\n        assign:\n          - x: ${1 +}\n", 5, "invalid expression"),
        ("main:\n  steps:\n    - a:\n        call: qcl.nope\n", 3, "unknown connector or subworkflow 'qcl.nope'"),
        ("main:\n  steps:\n    - a:\n        return: 1\n    - a:\n        return: 2\n", 5, "used twice"),
        ("main:\n  steps:\n    - a:\n        assign:\n          - x: 1\n        call: qcl.ask\n", 3, "one action"),
        ("main:\n  steps:\n    - a:\n        bogus: 1\n", 3, "no action"),
        ("main:\n  steps:\n    - a:\n        next: nowhere\n", 3, "next names no step"),
        ("main:\n  steps:\n    - a:\n        next: break\n", 3, "only allowed in a for loop"),
        ("main:\n  steps:\n    - a:\n        for:\n          value: v\n          steps: []\n", 4, "exactly one of"),
        ("main:\n  steps:\n    - a:\n        try:\n          call: qcl.ask\n", 4, "try needs retry or except"),
        (
            "main:\n  steps:\n    - a:\n        call: sub\n        args:\n          z: 1\nsub:\n  params: [y]\n"
            "  steps:\n    - r:\n        return: ${y}\n",
            3,
            "has no param 'z'",
        ),
        ("main:\n  steps:\n    - a:\n        assign:\n          - 1 + x: 2\n", 5, "is not a variable"),
        (
            "main:\n  steps:\n    - a:\n        assign:\n          - x: 1\n    - a2:\n        assign:\n"
            "          - x: 1\n        next: a\n",
            3,
            "loop without end",
        ),
    ],
)
def test_invalid_file_is_refused_with_line_and_reason(source: str, line: int, reason: str) -> None:
    error = refuse(source)
    assert error.line == line, str(error)
    assert reason in error.reason
    assert str(error).startswith(f"line {line}: ")


def test_a_jump_loop_with_a_way_out_is_accepted() -> None:
    source = textwrap.dedent(
        """
        main:
          steps:
            - poll:
                assign:
                  - n: ${default(map.get(sys.get_env("X"), "n"), 0)}
            - check:
                switch:
                  - condition: ${n > 3}
                    next: end
                next: poll
        """
    )
    assert compile_workflow(source, calls=CALLS).main.steps[1].kind == "switch"


def test_a_bare_list_of_steps_is_main() -> None:
    workflow = compile_workflow("- a:\n    return: 1\n", calls=CALLS)
    assert workflow.main.steps[0].name == "a"
