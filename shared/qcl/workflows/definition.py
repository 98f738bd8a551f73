"""A workflow file checked and compiled: subworkflows of named steps, every expression parsed, every jump resolved.

    workflow = compile_workflow(text, calls=connectors.names)   # WorkflowSyntaxError(line, reason) when invalid
    workflow.subworkflows["main"].steps[0].kind                 # "assign"

The subset of the Cloud Workflows syntax we accept (anything else is refused here, with its line):
- a map of subworkflows, `main` first (or a bare list of steps, which is `main`); each has `steps` and may have
  `params` (names, or `{name: default}`);
- a step is `- name: {...}` with one of: assign, call (+ args, result), switch (conditions with next / steps /
  return / raise / assign), for (value, index, in | range, steps), parallel (branches | for, shared,
  concurrency_limit, exception_policy), try (+ retry, except: {as, steps}), raise, return, steps; and `next`
  (a step name, end, break or continue);
- `call` names a connector (qcl.*, http.*), sys.sleep, sys.log, or a subworkflow; anything else is refused;
- a run of steps that can never reach an end (a jump loop without a switch that leaves it) is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from qcl.workflows.errors import ExpressionSyntaxError, WorkflowSyntaxError
from qcl.workflows.expr import Node, expression_text, parse
from qcl.workflows.source import Lines, Path, line_of, load_source

ACTIONS = ("assign", "call", "switch", "for", "parallel", "try", "raise", "return", "steps")
_ALLOWED = {
    "assign": {"next"},
    "call": {"args", "result", "next"},
    "switch": {"next"},
    "for": set(),
    "parallel": set(),
    "try": {"retry", "except", "next"},
    "raise": set(),
    "return": set(),
    "steps": {"next"},
    "next": set(),
}
BUILTIN_CALLS = frozenset({"sys.sleep", "sys.log"})
JUMP_WORDS = ("end", "break", "continue")
_MISSING = object()


@lru_cache(maxsize=8192)
def compiled(text: str) -> Node:
    return parse(text)


@dataclass
class Step:
    name: str
    kind: str  # one of ACTIONS, or "next" for a step that only jumps
    body: dict[str, Any]
    line: int
    next: str | None = None
    blocks: dict[str, list[Step]] = field(default_factory=dict)  # nested step lists by role


@dataclass
class Subworkflow:
    name: str
    params: list[tuple[str, Any]]  # (name, default or MISSING)
    steps: list[Step]
    line: int

    def required(self) -> set[str]:
        return {name for name, default in self.params if default is _MISSING}


@dataclass
class Workflow:
    subworkflows: dict[str, Subworkflow]
    source: str
    digest: str  # sha256 of the source: a revision's identity

    @property
    def main(self) -> Subworkflow:
        return self.subworkflows["main"]


MISSING = _MISSING


def compile_workflow(text: str, *, calls: Collection[str]) -> Workflow:
    doc, lines = load_source(text)
    return _Compiler(lines, calls).workflow(doc, text)


class _Compiler:
    def __init__(self, lines: Lines, calls: Collection[str]) -> None:
        self.lines, self.calls = lines, set(calls) | BUILTIN_CALLS
        self.names: set[str] = set()  # step names of the subworkflow being compiled

    def fail(self, reason: str, path: Path) -> WorkflowSyntaxError:
        return WorkflowSyntaxError(reason, line_of(self.lines, path))

    def workflow(self, doc: Any, text: str) -> Workflow:
        if isinstance(doc, list):
            doc, self.lines = {"main": {"steps": doc}}, {("main", "steps", *k): v for k, v in self.lines.items()}
        if not isinstance(doc, dict) or "main" not in doc:
            raise self.fail("a workflow is a map of subworkflows with `main` (or a list of steps)", ())
        subs = {name: self.header(name, body) for name, body in doc.items()}
        self.calls |= set(subs)
        for name, body in doc.items():
            self.names = set()
            subs[name].steps = self.steps(body["steps"], (name, "steps"), loop=False)
            self.check_targets(subs[name].steps, self.names)
        for name in doc:
            self.check_calls(subs, subs[name].steps, (name, "steps"))
        return Workflow(subs, text, hashlib.sha256(text.encode()).hexdigest())

    def header(self, name: str, body: Any) -> Subworkflow:
        path = (name,)
        if not isinstance(body, dict) or not isinstance(body.get("steps"), list):
            raise self.fail(f"subworkflow {name!r} needs `steps`, a list of steps", path)
        extra = set(body) - {"params", "steps"}
        if extra:
            raise self.fail(f"subworkflow {name!r}: unknown key {sorted(extra)[0]!r}; allowed: params, steps", path)
        params: list[tuple[str, Any]] = []
        for i, param in enumerate(body.get("params") or []):
            if isinstance(param, str):
                params.append((param, _MISSING))
            elif isinstance(param, dict) and len(param) == 1:
                params.append(next(iter(param.items())))
            else:
                raise self.fail(f"subworkflow {name!r}: a param is a name or {{name: default}}", (*path, "params", i))
        if name == "main" and len(params) > 1:
            raise self.fail("main takes at most one param (the execution's argument)", (*path, "params"))
        return Subworkflow(name, params, [], line_of(self.lines, path))

    def steps(self, items: Any, path: Path, *, loop: bool) -> list[Step]:
        if not isinstance(items, list) or not items:
            raise self.fail("`steps` must be a non-empty list of steps", path)
        out = [self.step(item, (*path, i), loop=loop) for i, item in enumerate(items)]
        self.check_jumps(out, path, loop)
        return out

    def step(self, item: Any, path: Path, *, loop: bool) -> Step:
        if not isinstance(item, dict) or len(item) != 1:
            raise self.fail("a step is a map with one key, its name: `- name: {...}`", path)
        name, body = next(iter(item.items()))
        path = (*path, name)
        if name in self.names:
            raise self.fail(f"step name {name!r} is used twice in this subworkflow", path)
        self.names.add(name)
        if not isinstance(body, dict):
            raise self.fail(f"step {name!r}: its body must be a map", path)
        kinds = [k for k in ACTIONS if k in body]
        if len(kinds) > 1:
            raise self.fail(f"step {name!r}: one action per step, found {' and '.join(kinds)}", path)
        kind = kinds[0] if kinds else "next"
        if kind == "next" and "next" not in body:
            raise self.fail(f"step {name!r}: no action; use one of {', '.join(ACTIONS)} or next", path)
        unknown = set(body) - {kind} - _ALLOWED[kind]
        if unknown:
            allowed = ", ".join(sorted(_ALLOWED[kind])) or "nothing else"
            raise self.fail(f"step {name!r}: {sorted(unknown)[0]!r} is not allowed with {kind} ({allowed})", path)
        step = Step(name, kind, body, line_of(self.lines, path), body.get("next"))
        if step.next is not None and not isinstance(step.next, str):
            raise self.fail(f"step {name!r}: next must be a step name or end", (*path, "next"))
        getattr(self, f"check_{kind}")(step, body, path, loop)
        return step

    # -- per action --------------------------------------------------------------------------------------------------

    def expressions(self, value: Any, path: Path) -> None:
        """Parse every `${...}` inside `value`, so a typo fails at deploy, not mid-execution."""
        text = expression_text(value)
        if text is not None:
            try:
                compiled(text)
            except ExpressionSyntaxError as exc:
                raise self.fail(f"invalid expression: {exc}", path) from None
        elif isinstance(value, dict):
            for key, item in value.items():
                self.expressions(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.expressions(item, (*path, i))

    def check_next(self, step: Step, body: dict[str, Any], path: Path, loop: bool) -> None:
        pass

    def check_assign(self, step: Step, body: dict[str, Any], path: Path, loop: bool) -> None:
        items = body["assign"]
        if not isinstance(items, list) or not items:
            raise self.fail(f"step {step.name!r}: assign is a list of `- name: value`", (*path, "assign"))
        for i, item in enumerate(items):
            where = (*path, "assign", i)
            if not isinstance(item, dict) or len(item) != 1:
                raise self.fail(f"step {step.name!r}: each assignment is one `name: value`", where)
            target, value = next(iter(item.items()))
            try:
                node = compiled(target)
            except ExpressionSyntaxError as exc:
                raise self.fail(f"step {step.name!r}: invalid assignment target: {exc}", where) from None
            if not _is_target(node):
                raise self.fail(f"step {step.name!r}: {target!r} is not a variable, a.key or a[index]", where)
            self.expressions(value, (*where, target))

    def check_call(self, step: Step, body: dict[str, Any], path: Path, loop: bool) -> None:
        if not isinstance(body["call"], str):
            raise self.fail(f"step {step.name!r}: call names a connector or subworkflow", (*path, "call"))
        if "args" in body and not isinstance(body["args"], dict):
            raise self.fail(f"step {step.name!r}: args must be a map", (*path, "args"))
        if "result" in body and not (isinstance(body["result"], str) and body["result"].isidentifier()):
            raise self.fail(f"step {step.name!r}: result must be a variable name", (*path, "result"))
        self.expressions(body.get("args"), (*path, "args"))

    def check_switch(self, step: Step, body: dict[str, Any], path: Path, loop: bool) -> None:
        cases = body["switch"]
        if not isinstance(cases, list) or not cases:
            raise self.fail(f"step {step.name!r}: switch is a list of conditions", (*path, "switch"))
        for i, case in enumerate(cases):
            where = (*path, "switch", i)
            if not isinstance(case, dict) or "condition" not in case:
                raise self.fail(f"step {step.name!r}: each switch entry needs a condition", where)
            unknown = set(case) - {"condition", "next", "steps", "return", "raise", "assign"}
            if unknown:
                raise self.fail(f"step {step.name!r}: {sorted(unknown)[0]!r} is not allowed in a condition", where)
            self.expressions(case["condition"], (*where, "condition"))
            self.expressions({k: v for k, v in case.items() if k in ("return", "raise")}, where)
            if "assign" in case:
                self.check_assign(step, {"assign": case["assign"]}, where, loop)
            if "steps" in case:
                step.blocks[f"case:{i}"] = self.steps(case["steps"], (*where, "steps"), loop=loop)

    def check_for(self, step: Step, body: dict[str, Any], path: Path, loop: bool) -> None:
        spec, where = body["for"], (*path, "for")
        if not isinstance(spec, dict) or not isinstance(spec.get("value"), str):
            raise self.fail(f"step {step.name!r}: for needs `value`, the loop variable's name", where)
        unknown = set(spec) - {"value", "index", "in", "range", "steps"}
        if unknown:
            raise self.fail(f"step {step.name!r}: {sorted(unknown)[0]!r} is not allowed in for", where)
        if ("in" in spec) == ("range" in spec):
            raise self.fail(f"step {step.name!r}: for needs exactly one of `in` and `range`", where)
        if "range" in spec and expression_text(spec["range"]) is None:
            bounds = spec["range"]
            if not (isinstance(bounds, list) and len(bounds) == 2):
                raise self.fail(f"step {step.name!r}: range is [first, last]", (*where, "range"))
        self.expressions({k: spec.get(k) for k in ("in", "range")}, where)
        step.blocks["steps"] = self.steps(spec.get("steps"), (*where, "steps"), loop=True)

    def check_parallel(self, step: Step, body: dict[str, Any], path: Path, loop: bool) -> None:
        spec, where = body["parallel"], (*path, "parallel")
        if not isinstance(spec, dict) or ("branches" in spec) == ("for" in spec):
            raise self.fail(f"step {step.name!r}: parallel needs exactly one of `branches` and `for`", where)
        unknown = set(spec) - {"shared", "branches", "for", "concurrency_limit", "exception_policy"}
        if unknown:
            raise self.fail(f"step {step.name!r}: {sorted(unknown)[0]!r} is not allowed in parallel", where)
        shared = spec.get("shared", [])
        if not (isinstance(shared, list) and all(isinstance(s, str) for s in shared)):
            raise self.fail(f"step {step.name!r}: shared is a list of variable names", (*where, "shared"))
        if spec.get("exception_policy", "continueAll") != "continueAll":
            raise self.fail(f"step {step.name!r}: exception_policy may only be continueAll", where)
        if "for" in spec:
            self.check_for(step, {"for": spec["for"]}, where, loop)
            return
        branches = spec["branches"]
        if not isinstance(branches, list) or len(branches) < 1:
            raise self.fail(f"step {step.name!r}: branches is a list of `- name: {{steps: [...]}}`", where)
        for i, branch in enumerate(branches):
            bwhere = (*where, "branches", i)
            if not (isinstance(branch, dict) and len(branch) == 1):
                raise self.fail(f"step {step.name!r}: a branch is `- name: {{steps: [...]}}`", bwhere)
            bname, bbody = next(iter(branch.items()))
            if not isinstance(bbody, dict) or "steps" not in bbody:
                raise self.fail(f"step {step.name!r}: branch {bname!r} needs steps", (*bwhere, bname))
            step.blocks[f"branch:{bname}"] = self.steps(bbody["steps"], (*bwhere, bname, "steps"), loop=False)

    def check_try(self, step: Step, body: dict[str, Any], path: Path, loop: bool) -> None:
        inner, where = body["try"], (*path, "try")
        if isinstance(inner, dict) and set(inner) == {"steps"}:
            step.blocks["try"] = self.steps(inner["steps"], (*where, "steps"), loop=loop)
        elif isinstance(inner, dict):  # a single action: try: {call: ..., args: ..., result: ...}
            step.blocks["try"] = [self.step({f"{step.name}_try": inner}, (*where[:-1], "try"), loop=loop)]
        else:
            raise self.fail(f"step {step.name!r}: try holds steps or one action", where)
        if "retry" in body:
            retry = body["retry"]
            if expression_text(retry) is None:
                if not isinstance(retry, dict) or "predicate" not in retry:
                    raise self.fail(f"step {step.name!r}: retry needs a predicate", (*path, "retry"))
                unknown = set(retry) - {"predicate", "max_retries", "backoff"}
                if unknown:
                    raise self.fail(f"step {step.name!r}: {sorted(unknown)[0]!r} is not allowed in retry", path)
                backoff = retry.get("backoff", {})
                if not isinstance(backoff, dict) or set(backoff) - {"initial_delay", "max_delay", "multiplier"}:
                    raise self.fail(f"step {step.name!r}: backoff has initial_delay, max_delay, multiplier", path)
            self.expressions(retry, (*path, "retry"))
        if "except" in body:
            handler = body["except"]
            if not isinstance(handler, dict) or "steps" not in handler or set(handler) - {"as", "steps"}:
                raise self.fail(f"step {step.name!r}: except is {{as: name, steps: [...]}}", (*path, "except"))
            step.blocks["except"] = self.steps(handler["steps"], (*path, "except", "steps"), loop=loop)
        if "retry" not in body and "except" not in body:
            raise self.fail(f"step {step.name!r}: try needs retry or except", where)

    def check_raise(self, step: Step, body: dict[str, Any], path: Path, loop: bool) -> None:
        self.expressions(body["raise"], (*path, "raise"))

    def check_return(self, step: Step, body: dict[str, Any], path: Path, loop: bool) -> None:
        self.expressions(body["return"], (*path, "return"))

    def check_steps(self, step: Step, body: dict[str, Any], path: Path, loop: bool) -> None:
        step.blocks["steps"] = self.steps(body["steps"], (*path, "steps"), loop=loop)

    # -- whole lists ---------------------------------------------------------------------------------------------------

    def check_jumps(self, steps: list[Step], path: Path, loop: bool) -> None:
        """break/continue only in a loop; no run of steps that jumps around forever (targets: check_targets)."""
        for step in steps:
            for target in _targets(step):
                if target in ("break", "continue") and not loop:
                    reason = f"step {step.name!r}: next: {target} is only allowed in a for loop"
                    raise WorkflowSyntaxError(reason, step.line)
        local = {s.name: i for i, s in enumerate(steps)}
        for i, step in enumerate(steps):
            if not self.can_finish(steps, local, i):
                raise WorkflowSyntaxError(
                    f"loop without end: from step {step.name!r} no path reaches an end, a return, a raise "
                    "or a switch that leaves the loop",
                    step.line,
                )

    def check_targets(self, steps: list[Step], names: set[str]) -> None:
        for step in steps:
            for target in _targets(step):
                if target not in names and target not in JUMP_WORDS:
                    reason = f"step {step.name!r}: next names no step of this subworkflow: {target!r}"
                    raise WorkflowSyntaxError(reason, step.line)
            for block in step.blocks.values():
                self.check_targets(block, names)

    def can_finish(self, steps: list[Step], local: dict[str, int], start: int) -> bool:
        seen: set[int] = set()
        todo = [start]
        while todo:
            i = todo.pop()
            if i in seen:
                continue
            seen.add(i)
            if i >= len(steps):
                return True
            step = steps[i]
            if step.kind in ("return", "raise"):
                return True
            exits = [step.next] if step.next is not None else [None]
            if step.kind == "switch":
                exits += [case.get("next") for case in step.body["switch"]]
                if any(k in case for case in step.body["switch"] for k in ("return", "raise")):
                    return True
            for target in exits:
                if target is None:
                    todo.append(i + 1)
                elif target in local:
                    todo.append(local[target])
                else:
                    return True  # end, break, continue, or a jump out of this list
        return False

    def check_calls(self, subs: dict[str, Subworkflow], steps: list[Step], path: Path) -> None:
        for step in steps:
            if step.kind == "call":
                self.check_call_target(subs, step)
            for block in step.blocks.values():
                self.check_calls(subs, block, path)

    def check_call_target(self, subs: dict[str, Subworkflow], step: Step) -> None:
        target = step.body["call"]
        if target not in self.calls:
            known = ", ".join(sorted(self.calls))
            raise WorkflowSyntaxError(
                f"step {step.name!r}: unknown connector or subworkflow {target!r}; known: {known}", step.line
            )
        sub = subs.get(target)
        if sub is None:
            return
        given = set(step.body.get("args") or {})
        unknown = given - {name for name, _ in sub.params}
        if unknown:
            raise WorkflowSyntaxError(f"step {step.name!r}: {target} has no param {sorted(unknown)[0]!r}", step.line)
        missing = sub.required() - given
        if missing:
            raise WorkflowSyntaxError(f"step {step.name!r}: {target} needs param {sorted(missing)[0]!r}", step.line)


def _targets(step: Step) -> list[str]:
    found = [step.next] if step.next is not None else []
    if step.kind == "switch":
        found += [case["next"] for case in step.body["switch"] if isinstance(case.get("next"), str)]
    return found


def _is_target(node: Node) -> bool:
    if node[0] == "var":
        return True
    if node[0] in ("attr", "index"):
        return _is_target(node[1])
    return False
