"""The interpreter: each step type, retry and except, limits, and resuming from a journal without re-running steps."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from qcl.workflows.definition import compile_workflow
from qcl.workflows.errors import ExecutionCancelled, LimitExceeded, WorkflowRaised
from qcl.workflows.executor import Limits, MemoryJournal, Run


class Recorder:
    """A connector `test.call` that records its calls and fails as told (a list of errors to raise first)."""

    names = frozenset({"test.call"})

    def __init__(self, failures: list[dict[str, Any]] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failures = list(failures or [])
        self.lock = threading.Lock()

    def call(self, name: str, args: dict[str, Any], *, context: Mapping[str, Any] | None = None) -> Any:
        with self.lock:
            self.calls.append(args)
            if self.failures:
                raise WorkflowRaised(self.failures.pop(0))
        return {"echo": args}


def execute(source: str, argument: Any = None, **options: Any) -> tuple[Any, Recorder, MemoryJournal]:
    connectors = options.pop("connectors", Recorder())
    journal = options.pop("journal", MemoryJournal())
    workflow = compile_workflow(textwrap.dedent(source), calls=connectors.names)
    result = Run(workflow, connectors, journal, **options).execute(argument)
    return result, connectors, journal


def test_assign_call_and_return() -> None:
    result, connectors, _ = execute(
        """
        main:
          params: [args]
          steps:
            - init:
                assign:
                  - who: ${args.name}
                  - m: {}
                  - m.deep.key: ${who + "!"}
            - go:
                call: test.call
                args:
                  to: ${who}
                result: answer
            - done:
                return: ${[answer.echo.to, m.deep.key]}
        """,
        {"name": "qubic"},
    )
    assert result == ["qubic", "qubic!"]
    assert connectors.calls == [{"to": "qubic"}]


def test_switch_takes_the_first_true_condition_and_next_jumps() -> None:
    source = """
    main:
      params: [n]
      steps:
        - pick:
            switch:
              - condition: ${n > 10}
                next: big
              - condition: ${n > 5}
                return: medium
            next: small
        - big:
            return: big
        - small:
            return: small
    """
    assert [execute(source, n)[0] for n in (11, 7, 1)] == ["big", "medium", "small"]


def test_for_in_range_break_and_continue() -> None:
    result, _, _ = execute(
        """
        main:
          steps:
            - init:
                assign:
                  - seen: []
            - loop:
                for:
                  value: v
                  index: i
                  range: [1, 10]
                  steps:
                    - skip_odd:
                        switch:
                          - condition: ${v % 2 == 1}
                            next: continue
                          - condition: ${v > 6}
                            next: break
                    - keep:
                        assign:
                          - seen: ${list.concat(seen, [i, v])}
            - done:
                return: ${seen}
        """
    )
    assert result == [[1, 2], [3, 4], [5, 6]]


def test_parallel_branches_write_shared_variables_only() -> None:
    source = """
    main:
      steps:
        - init:
            assign:
              - total: 0
              - results: {}
        - fan:
            parallel:
              shared: [results]
              for:
                value: x
                in: [1, 2, 3, 4]
                steps:
                  - sq:
                      assign:
                        - results[string(x)]: ${x * x}
                        - total: ${x}
        - done:
            return: ${[results, total]}
    """
    result, _, _ = execute(source)
    assert result == [{"1": 1, "2": 4, "3": 9, "4": 16}, 0]  # `total` was not shared: branch-local


def test_parallel_branches_run_each_branch() -> None:
    result, connectors, _ = execute(
        """
        main:
          steps:
            - init:
                assign:
                  - out: []
            - both:
                parallel:
                  shared: [out]
                  branches:
                    - left:
                        steps:
                          - l:
                              call: test.call
                              args: {side: left}
                    - right:
                        steps:
                          - r:
                              call: test.call
                              args: {side: right}
            - done:
                return: ok
        """
    )
    assert result == "ok"
    assert sorted(c["side"] for c in connectors.calls) == ["left", "right"]


def test_subworkflow_call_with_defaults() -> None:
    result, _, _ = execute(
        """
        main:
          steps:
            - c:
                call: greet
                args:
                  who: qubic
                result: text
            - done:
                return: ${text}
        greet:
          params: [who, greeting: hello]
          steps:
            - r:
                return: ${greeting + " " + who}
        """
    )
    assert result == "hello qubic"


RETRY = """
main:
  steps:
    - attempt:
        try:
          call: test.call
          args: {x: 1}
          result: r
        retry:
          predicate: ${http.default_retry_predicate}
          max_retries: 2
          backoff:
            initial_delay: 0.01
            max_delay: 0.02
            multiplier: 2
        except:
          as: e
          steps:
            - handled:
                return: ${"handled " + string(e.code)}
    - done:
        return: ok
"""


def test_retry_repeats_a_transient_error_then_succeeds() -> None:
    recorder = Recorder([{"message": "busy", "tags": ["HttpError"], "code": 503}] * 2)
    result, connectors, _ = execute(RETRY, connectors=recorder)
    assert result == "ok" and len(connectors.calls) == 3


def test_retries_exhausted_go_to_except() -> None:
    recorder = Recorder([{"message": "busy", "tags": ["HttpError"], "code": 503}] * 3)
    result, connectors, _ = execute(RETRY, connectors=recorder)
    assert result == "handled 503" and len(connectors.calls) == 3


def test_an_error_the_predicate_rejects_is_not_retried() -> None:
    recorder = Recorder([{"message": "bad", "tags": ["HttpError"], "code": 400}])
    result, connectors, _ = execute(RETRY, connectors=recorder)
    assert result == "handled 400" and len(connectors.calls) == 1


def test_a_subworkflow_can_be_the_retry_predicate() -> None:
    source = """
    main:
      steps:
        - t:
            try:
              call: test.call
            retry:
              predicate: ${only_flaky}
              max_retries: 3
              backoff: {initial_delay: 0.01, max_delay: 0.01, multiplier: 1}
    only_flaky:
      params: [e]
      steps:
        - r:
            return: ${"Flaky" in e.tags}
    """
    recorder = Recorder([{"message": "x", "tags": ["Flaky"]}, {"message": "y", "tags": ["Fatal"]}])
    with pytest.raises(WorkflowRaised) as caught:
        execute(source, connectors=recorder)
    assert caught.value.tags == ["Fatal"] and len(recorder.calls) == 2


def test_raise_without_except_fails_the_execution_with_the_value() -> None:
    with pytest.raises(WorkflowRaised) as caught:
        execute("main:\n  steps:\n    - r:\n        raise:\n          message: nope\n          code: 7\n")
    assert caught.value.value == {"message": "nope", "code": 7}


def test_a_jump_loop_that_never_leaves_at_run_time_hits_the_step_limit() -> None:
    source = """
    main:
      steps:
        - again:
            switch:
              - condition: ${1 > 2}
                next: end
            next: again
    """
    with pytest.raises(LimitExceeded, match="more than 50 steps"):
        execute(source, limits=Limits(max_steps=50))


def test_a_loop_over_too_many_items_is_refused_before_it_starts() -> None:
    source = (
        "main:\n  steps:\n    - l:\n        for:\n          value: v\n          range: [1, 1000000000]\n"
        "          steps:\n            - s:\n                call: test.call\n"
    )
    with pytest.raises(LimitExceeded, match="more than 100 iterations"):
        execute(source, limits=Limits(max_iterations=100))


def test_variables_over_the_payload_limit_stop_the_execution() -> None:
    source = (
        "main:\n  steps:\n    - big:\n        assign:\n          - x: ${text.replace_all(json.encode_to_string(["
        + ", ".join(["1"] * 20)
        + ']), "1", "aaaaaaaaaaaaaaaaaaaa")}\n'
    )
    with pytest.raises(LimitExceeded, match="the limit is 200"):
        execute(source, limits=Limits(max_payload_bytes=200))


def test_unbounded_recursion_stops_at_the_depth_limit() -> None:
    source = "main:\n  steps:\n    - c:\n        call: rec\nrec:\n  steps:\n    - c:\n        call: rec\n"
    with pytest.raises(LimitExceeded, match="nest deeper than 5"):
        execute(source, limits=Limits(max_depth=5))


def test_limits_are_not_caught_by_except() -> None:
    source = """
    main:
      steps:
        - t:
            try:
              steps:
                - loop:
                    for:
                      value: v
                      range: [1, 100]
                      steps:
                        - s:
                            assign:
                              - x: ${v}
            except:
              as: e
              steps:
                - r:
                    return: caught
    """
    with pytest.raises(LimitExceeded):
        execute(source, limits=Limits(max_steps=20))


JOURNALED = """
main:
  steps:
    - one:
        call: test.call
        args: {n: 1}
        result: a
    - loop:
        for:
          value: v
          in: [2, 3]
          steps:
            - each:
                call: test.call
                args:
                  n: ${v}
    - last:
        call: test.call
        args: {n: 4}
        result: b
    - done:
        return: ${[a.echo.n, b.echo.n]}
"""


def test_a_resumed_run_skips_finished_steps_and_keeps_their_variables() -> None:
    _, first, journal = execute(JOURNALED)
    assert [c["n"] for c in first.calls] == [1, 2, 3, 4]
    crashed_after = [e for e in journal.entries if e["path"] in ("main/one.0", "main/loop.0#0/each.0")]
    result, second, _ = execute(JOURNALED, journal=MemoryJournal(crashed_after))
    assert [c["n"] for c in second.calls] == [3, 4]  # iteration 0 and step one were not run again
    assert result == [1, 4]


def test_a_cancelled_run_stops_before_its_next_step() -> None:
    journal = MemoryJournal()
    journal.cancel.set()
    with pytest.raises(ExecutionCancelled):
        execute(JOURNALED, journal=journal)


BRANCH_FAILS = """
main:
  steps:
    - both:
        parallel:
          %s
          branches:
            - failing:
                steps:
                  - boom:
                      raise:
                        message: left failed
            - slow:
                steps:
                  - wait:
                      call: sys.sleep
                      args:
                        seconds: 0.3
                  - late:
                      call: test.call
"""


def test_a_failing_branch_stops_the_others_by_default() -> None:
    recorder = Recorder()
    with pytest.raises(WorkflowRaised) as caught:
        execute(BRANCH_FAILS % "", connectors=recorder)
    assert caught.value.value == {"message": "left failed"}
    assert recorder.calls == []  # the slow branch stopped before its next step


def test_continue_all_lets_the_other_branches_finish_then_raises() -> None:
    recorder = Recorder()
    with pytest.raises(WorkflowRaised) as caught:
        execute(BRANCH_FAILS % "exception_policy: continueAll", connectors=recorder)
    assert caught.value.value == {"message": "left failed"}
    assert len(recorder.calls) == 1
