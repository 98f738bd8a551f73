"""The interpreter: runs a compiled workflow step by step, recording each finished step so a crash can resume.

    run = Run(workflow, connectors, journal, limits=Limits(), env={...}, log=print)
    result = run.execute(argument)      # the value `main` returns; WorkflowRaised, LimitExceeded, ExecutionCancelled

Durability by replay: every finished step is recorded in the journal under a path that names where it ran
(`main/loop.0#3/narrate.0`: step, visit, loop iteration, try attempt, subworkflow), with the variables after it.
Resuming re-walks the workflow from the top; a step found in the journal is not run again: its variables are
restored and its recorded jump (or error, or return) taken. The first step not in the journal is where the crashed
run stopped, and it runs from its start (a step interrupted mid-call runs again: connectors see at-least-once).
Paths are deterministic because control flow depends only on the variables, which the journal restores.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections import ChainMap
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from qcl.workflows import stdlib
from qcl.workflows.definition import MISSING, Step, Subworkflow, Workflow, compiled
from qcl.workflows.errors import ExecutionCancelled, LimitExceeded, WorkflowRaised, raised
from qcl.workflows.expr import Node, Scope, dotted, evaluate, expression_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    max_steps: int = 10_000  # steps per execution, every visit and iteration counted
    max_iterations: int = 10_000  # iterations of one for loop
    max_payload_bytes: int = 512 * 1024  # an execution's variables as JSON (Cloud Workflows: 512 KB)
    max_depth: int = 20  # nested subworkflow calls
    max_parallel: int = 20  # branches or iterations running at once


class Connectors(Protocol):
    """Calls that leave the workflow: qcl.* (our services) and http.*; see connectors.py."""

    names: frozenset[str]

    def call(self, name: str, args: dict[str, Any], *, context: Mapping[str, Any] | None = None) -> Any: ...


class Journal(Protocol):
    """Where finished steps go, and where a resumed run finds them."""

    def recorded(self, path: str) -> dict[str, Any] | None: ...

    def has_prefix(self, prefix: str) -> bool: ...

    def record(self, entry: dict[str, Any]) -> None: ...

    def cancelled(self) -> bool: ...


class MemoryJournal:
    """A journal in a dict (tests, and runs that need no durability)."""

    def __init__(self, entries: list[dict[str, Any]] | None = None) -> None:
        self.entries = list(entries or [])
        self._by_path = {e["path"]: e for e in self.entries}
        self.cancel = threading.Event()

    def recorded(self, path: str) -> dict[str, Any] | None:
        return self._by_path.get(path)

    def has_prefix(self, prefix: str) -> bool:
        return any(path.startswith(prefix) for path in self._by_path)

    def record(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        self._by_path[entry["path"]] = entry

    def cancelled(self) -> bool:
        return self.cancel.is_set()


class _BranchAborted(Exception):
    """A sibling parallel branch failed (and the policy is not continueAll): this branch stops before its next step."""


class _Returned(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


@dataclass
class Frame:
    """Variables of one scope. A loop body or parallel branch is a child; `fence` marks a parallel branch, which may
    only write the parent's variables named in `shared`."""

    vars: dict[str, Any] = field(default_factory=dict)
    parent: Frame | None = None
    fence: bool = False
    shared: frozenset[str] = frozenset()
    depth: int = 0  # subworkflow call depth (root frames)

    @property
    def call_depth(self) -> int:
        return self.chain()[0].depth

    def chain(self) -> list[Frame]:
        frames: list[Frame] = []
        frame: Frame | None = self
        while frame is not None:
            frames.append(frame)
            frame = frame.parent
        return frames[::-1]  # root first

    def view(self) -> Mapping[str, Any]:
        return ChainMap(*[f.vars for f in reversed(self.chain())])

    def owner(self, name: str) -> Frame:
        """The frame that an assignment to `name` writes."""
        frame: Frame | None = self
        crossing = False
        while frame is not None:
            if name in frame.vars and (not crossing or name in self._shared_path(frame)):
                return frame
            crossing = crossing or frame.fence
            frame = frame.parent
        return self

    def _shared_path(self, target: Frame) -> frozenset[str]:
        names: set[str] = set()
        frame: Frame | None = self
        while frame is not None and frame is not target:
            names |= frame.shared
            frame = frame.parent
        return frozenset(names)


class Run:
    def __init__(
        self,
        workflow: Workflow,
        connectors: Connectors,
        journal: Journal,
        *,
        limits: Limits = Limits(),
        env: Mapping[str, str] | None = None,
        log_line: Callable[[str, Any], None] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.context = dict(context or {})  # workflow, execution_id, revision: what connectors may stamp
        self.workflow, self.connectors, self.journal, self.limits = workflow, connectors, journal, limits
        self.env = dict(env or {})
        self.log_line = log_line or (lambda severity, data: log.info("workflow log %s: %s", severity, data))
        self.steps_done = 0
        self._expression_calls = 0
        self._branch = threading.local()  # .abort: the Event of the parallel step this thread runs a branch of
        self._lock = threading.RLock()

    # -- entry -----------------------------------------------------------------------------------------------------

    def execute(self, argument: Any = None) -> Any:
        main = self.workflow.main
        args = {main.params[0][0]: argument} if main.params else {}
        return self.call_subworkflow(main, args, "main", depth=0)

    def call_subworkflow(self, sub: Subworkflow, args: dict[str, Any], path: str, *, depth: int) -> Any:
        if depth > self.limits.max_depth:
            raise LimitExceeded(f"subworkflow calls nest deeper than {self.limits.max_depth} (calling {sub.name})")
        frame = Frame({}, depth=depth)
        for name, default in sub.params:
            if name in args:
                frame.vars[name] = copy.deepcopy(args[name])
            elif default is not MISSING:
                frame.vars[name] = default
            else:
                raise raised("TypeError", f"{sub.name}: missing argument {name!r}")
        try:
            target = self.block(sub.steps, frame, path)
        except _Returned as returned:
            return returned.value
        if target not in (None, "end"):
            raise raised("ValueError", f"{sub.name}: next: {target} leaves the subworkflow")
        return None

    # -- blocks and steps --------------------------------------------------------------------------------------------

    def block(self, steps: list[Step], frame: Frame, path: str) -> str | None:
        """Run a list of steps; returns None at its end, or a jump it cannot resolve (end, break, continue, outer)."""
        where = {step.name: i for i, step in enumerate(steps)}
        visits: dict[str, int] = {}
        i = 0
        while i < len(steps):
            step = steps[i]
            visit = visits.get(step.name, 0)
            visits[step.name] = visit + 1
            target = self.step(step, frame, f"{path}/{step.name}.{visit}")
            if target is None:
                i += 1
            elif target in where:
                i = where[target]
            else:
                return target
        return None

    def step(self, step: Step, frame: Frame, path: str) -> str | None:
        entry = self.journal.recorded(path)
        if entry is not None:  # finished before a crash: take its outcome, do not run it again
            self._restore(frame, entry["frames"])
            if "error" in entry:
                raise WorkflowRaised(entry["error"])
            if "return" in entry:
                raise _Returned(entry["return"])
            target: str | None = entry.get("next")
            return target
        if self.journal.cancelled():
            raise ExecutionCancelled("the execution was cancelled")
        abort = getattr(self._branch, "abort", None)
        if abort is not None and abort.is_set():
            raise _BranchAborted()
        with self._lock:
            self.steps_done += 1
            if self.steps_done > self.limits.max_steps:
                raise LimitExceeded(
                    f"the execution ran more than {self.limits.max_steps} steps (at step {step.name!r}); "
                    "a loop without end?"
                )
        started = time.time()
        record: dict[str, Any] = {"path": path, "step": step.name, "kind": step.kind, "started_at": started}
        try:
            outcome = getattr(self, f"_{step.kind.replace('for', 'for_')}")(step, frame, path, record)
        except _Returned as returned:
            self._record(record, frame, **{"return": returned.value})
            raise
        except WorkflowRaised as exc:
            self._record(record, frame, error=exc.value)
            raise
        target = outcome if outcome is not None else step.next
        self._record(record, frame, next=target)
        return target

    def _record(self, record: dict[str, Any], frame: Frame, **outcome: Any) -> None:
        frames = [f.vars for f in frame.chain()]
        try:
            with self._lock:  # parallel branches may be writing shared variables of an outer frame
                text = json.dumps({"frames": frames, **outcome, "result": record.get("result")}, default=str)
        except (TypeError, ValueError) as exc:
            raise LimitExceeded(f"the variables cannot be stored: {exc}") from None
        if len(text.encode()) > self.limits.max_payload_bytes:
            raise LimitExceeded(
                f"step {record['step']!r}: the execution's variables take {len(text.encode())} bytes; "
                f"the limit is {self.limits.max_payload_bytes}"
            )
        self.journal.record({**record, **json.loads(text), "ended_at": time.time()})

    def _restore(self, frame: Frame, saved: list[dict[str, Any]]) -> None:
        chain = frame.chain()
        fenced = False
        for live, values in zip(reversed(chain), reversed(saved), strict=False):
            if fenced:  # above a parallel branch: only the shared variables are this branch's to restore
                for name in frame._shared_path(live) & set(values):
                    live.vars[name] = values[name]
            else:
                live.vars.clear()
                live.vars.update(values)
            fenced = fenced or live.fence

    # -- expressions ---------------------------------------------------------------------------------------------------

    def value(self, raw: Any, frame: Frame) -> Any:
        """`raw` with every `${...}` in it evaluated (maps and lists are walked)."""
        text = expression_text(raw)
        if text is not None:
            return evaluate(compiled(text), self.scope(frame))
        if isinstance(raw, dict):
            return {key: self.value(item, frame) for key, item in raw.items()}
        if isinstance(raw, list):
            return [self.value(item, frame) for item in raw]
        return raw

    def scope(self, frame: Frame) -> Scope:
        depth = frame.call_depth

        def function(name: str) -> Callable[..., Any] | None:
            if name in stdlib.FUNCTIONS:
                return stdlib.FUNCTIONS[name]
            if name == "sys.get_env":
                return lambda key, default=None: self.env.get(str(key), default)
            if name == "sys.log":
                return lambda text=None, severity="INFO": self.log_line(str(severity), text)
            sub = self.workflow.subworkflows.get(name)
            if sub is None:
                return None

            def call(*args: Any) -> Any:
                with self._lock:
                    self._expression_calls += 1
                    where = f"expr:{name}.{self._expression_calls}"
                params = dict(zip([p for p, _ in sub.params], args, strict=False))
                return self.call_subworkflow(sub, params, where, depth=depth + 1)

            return call

        return Scope(frame.view(), function, stdlib.RETRY_CONSTANTS)

    def assign(self, target: str, value: Any, frame: Frame) -> None:
        node = compiled(target)
        value = copy.deepcopy(value)
        if node[0] == "var":
            owner = frame.owner(node[1])
            with self._lock:
                owner.vars[node[1]] = value
            return
        root = node
        while root[0] != "var":
            root = root[1]
        owner = frame.owner(root[1])
        with self._lock:
            self._set(node, value, frame, owner)

    def _set(self, node: Node, value: Any, frame: Frame, owner: Frame) -> None:
        if node[0] == "var":
            owner.vars[node[1]] = value
            return
        container = self._container(node[1], frame, owner)
        key = node[2] if node[0] == "attr" else evaluate(node[2], self.scope(frame))
        in_map = isinstance(container, dict) and isinstance(key, str)
        if in_map or (isinstance(container, list) and isinstance(key, int) and -len(container) <= key < len(container)):
            container[key] = value
        else:
            raise raised("KeyError", f"cannot assign {dotted(node) or 'an element'}: no such key or index {key!r}")

    def _container(self, node: Node, frame: Frame, owner: Frame) -> Any:
        """The map or list that `node` names, creating missing maps on the way (a.b.c: 1 makes a.b)."""
        if node[0] == "var":
            if node[1] not in owner.vars:
                owner.vars[node[1]] = {}
            return owner.vars[node[1]]
        parent = self._container(node[1], frame, owner)
        key = node[2] if node[0] == "attr" else evaluate(node[2], self.scope(frame))
        if isinstance(parent, dict) and isinstance(key, str):
            return parent.setdefault(key, {})
        if isinstance(parent, list) and isinstance(key, int) and -len(parent) <= key < len(parent):
            return parent[key]
        raise raised("KeyError", f"cannot assign into {key!r}")

    # -- the actions ---------------------------------------------------------------------------------------------------

    def _next(self, step: Step, frame: Frame, path: str, record: dict[str, Any]) -> str | None:
        return None

    def _assign(self, step: Step, frame: Frame, path: str, record: dict[str, Any]) -> str | None:
        for item in step.body["assign"]:
            target, raw = next(iter(item.items()))
            self.assign(target, self.value(raw, frame), frame)
        return None

    def _steps(self, step: Step, frame: Frame, path: str, record: dict[str, Any]) -> str | None:
        return self.block(step.blocks["steps"], frame, path)

    def _raise(self, step: Step, frame: Frame, path: str, record: dict[str, Any]) -> str | None:
        raise WorkflowRaised(self.value(step.body["raise"], frame))

    def _return(self, step: Step, frame: Frame, path: str, record: dict[str, Any]) -> str | None:
        raise _Returned(self.value(step.body["return"], frame))

    def _call(self, step: Step, frame: Frame, path: str, record: dict[str, Any]) -> str | None:
        name = step.body["call"]
        args = self.value(step.body.get("args") or {}, frame)
        result = self.invoke(name, args, frame, path)
        record["result"] = result
        if "result" in step.body:
            self.assign(step.body["result"], result, frame)
        return None

    def invoke(self, name: str, args: dict[str, Any], frame: Frame, path: str) -> Any:
        if name == "sys.sleep":
            seconds = args.get("seconds")
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise raised("TypeError", f"sys.sleep: seconds must be a number >= 0, got {seconds!r}")
            self.sleep(float(seconds))
            return None
        if name == "sys.log":
            self.log_line(str(args.get("severity", "INFO")), args.get("data", args.get("text")))
            return None
        sub = self.workflow.subworkflows.get(name)
        if sub is not None:
            return self.call_subworkflow(sub, args, f"{path}/{name}", depth=frame.call_depth + 1)
        try:
            return self.connectors.call(name, args, context=self.context)
        except (WorkflowRaised, LimitExceeded, ExecutionCancelled):
            raise
        except Exception as exc:  # a connector's bug must not end the executor: it is this step's error
            log.exception("workflow connector %s failed", name)
            raise raised("ConnectorError", f"{name} failed: {type(exc).__name__}: {exc}") from None

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.journal.cancelled():
                raise ExecutionCancelled("the execution was cancelled")
            time.sleep(min(left, 0.2))

    def _switch(self, step: Step, frame: Frame, path: str, record: dict[str, Any]) -> str | None:
        for i, case in enumerate(step.body["switch"]):
            matched = self.value(case["condition"], frame)
            if not isinstance(matched, bool):
                raise raised("TypeError", f"step {step.name!r}: a condition must be a boolean, got {matched!r}")
            if not matched:
                continue
            record["matched"] = i
            for item in case.get("assign", []):
                target, raw = next(iter(item.items()))
                self.assign(target, self.value(raw, frame), frame)
            if "steps" in case:
                target = self.block(step.blocks[f"case:{i}"], frame, f"{path}?{i}")
                if target is not None:
                    return target
            if "return" in case:
                raise _Returned(self.value(case["return"], frame))
            if "raise" in case:
                raise WorkflowRaised(self.value(case["raise"], frame))
            return case.get("next")
        return None

    def _iterations(self, step: Step, spec: dict[str, Any], frame: Frame) -> list[Any]:
        if "range" in spec:
            bounds = self.value(spec["range"], frame)
            if not (isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, int | float) for b in bounds)):
                raise raised("TypeError", f"step {step.name!r}: range must be [first, last] numbers, got {bounds!r}")
            first, last = bounds
            count = int(last - first) + 1 if last >= first else 0
            items: list[Any] = [first + i for i in range(min(count, self.limits.max_iterations + 1))]
        else:
            items = self.value(spec["in"], frame)
            if not isinstance(items, list):
                raise raised("TypeError", f"step {step.name!r}: for in needs a list, got {type(items).__name__}")
        if len(items) > self.limits.max_iterations:
            raise LimitExceeded(f"step {step.name!r}: the loop has more than {self.limits.max_iterations} iterations")
        return items

    def _iteration_frame(self, spec: dict[str, Any], frame: Frame, i: int, item: Any) -> Frame:
        local = {spec["value"]: item}
        if "index" in spec:
            local[spec["index"]] = i
        return Frame(local, frame)

    def _for_(self, step: Step, frame: Frame, path: str, record: dict[str, Any]) -> str | None:
        spec = step.body["for"]
        for i, item in enumerate(self._iterations(step, spec, frame)):
            target = self.block(step.blocks["steps"], self._iteration_frame(spec, frame, i, item), f"{path}#{i}")
            if target == "break":
                break
            if target not in (None, "continue"):
                return target
        return None

    def _parallel(self, step: Step, frame: Frame, path: str, record: dict[str, Any]) -> str | None:
        spec = step.body["parallel"]
        shared = frozenset(spec.get("shared", []))
        for name in shared:
            if name not in frame.view():
                raise raised("KeyError", f"step {step.name!r}: shared variable {name!r} must be assigned before")
        jobs: list[tuple[str, list[Step], Frame]] = []
        if "for" in spec:
            loop = spec["for"]
            for i, item in enumerate(self._iterations(step, loop, frame)):
                child = self._iteration_frame(loop, frame, i, item)
                child.fence, child.shared = True, shared
                jobs.append((f"{path}#{i}", step.blocks["steps"], child))
        else:
            for key, block in step.blocks.items():
                jobs.append((f"{path}|{key.removeprefix('branch:')}", block, Frame({}, frame, True, shared)))
        limit = min(int(spec.get("concurrency_limit", self.limits.max_parallel)), self.limits.max_parallel)
        errors: list[Any] = []
        # Cloud Workflows' default: the first unhandled error stops the other branches; continueAll lets them finish.
        abort = threading.Event() if spec.get("exception_policy") != "continueAll" else None

        def branch(job: tuple[str, list[Step], Frame]) -> None:
            where, block, child = job
            self._branch.abort = abort
            try:
                target = self.block(block, child, where)
            except _BranchAborted:
                return
            except _Returned:
                raise raised("ValueError", f"step {step.name!r}: a parallel branch cannot return") from None
            except BaseException:
                if abort is not None:
                    abort.set()
                raise
            finally:
                self._branch.abort = None
            if target not in (None, "end"):
                raise raised("ValueError", f"step {step.name!r}: next: {target} cannot leave a parallel branch")

        with ThreadPoolExecutor(max_workers=max(1, limit), thread_name_prefix="wf-branch") as pool:
            futures = [pool.submit(branch, job) for job in jobs]
            for future in futures:
                exc = future.exception()
                if isinstance(exc, LimitExceeded | ExecutionCancelled):
                    raise exc
                if isinstance(exc, WorkflowRaised):
                    errors.append(exc.value)
                elif exc is not None:
                    raise exc
        if errors:
            if len(errors) == 1:
                raise WorkflowRaised(errors[0])
            raise raised("ParallelError", f"{len(errors)} branches failed", branches=errors)
        return None

    def _try(self, step: Step, frame: Frame, path: str, record: dict[str, Any]) -> str | None:
        attempt = 0
        while True:
            try:
                return self.block(step.blocks["try"], frame, f"{path}@{attempt}")
            except WorkflowRaised as exc:
                error = exc.value
                policy = self._retry_policy(step, frame)
                where = f"{path}@{attempt}:retry"
                if policy is not None and attempt < policy[1] and self._should_retry(policy[0], error, frame, where):
                    initial, maximum, multiplier = policy[2]
                    if not self.journal.has_prefix(f"{path}@{attempt + 1}/"):  # not when replaying past it
                        self.sleep(min(initial * multiplier**attempt, maximum))
                    attempt += 1
                    continue
                if "except" not in step.blocks:
                    raise
                handler = step.body["except"]
                if "as" in handler:
                    self.assign(handler["as"], error, frame)
                return self.block(step.blocks["except"], frame, f"{path}!")

    def _retry_policy(self, step: Step, frame: Frame) -> tuple[Any, int, tuple[float, float, float]] | None:
        raw = step.body.get("retry")
        if raw is None:
            return None
        text = expression_text(raw)
        if text is not None and text.strip() in self.workflow.subworkflows:
            raise raised("TypeError", f"step {step.name!r}: retry names a predicate; use retry: {{predicate: ...}}")
        policy = self.value(raw, frame) if text is not None else dict(raw)
        predicate = policy.get("predicate")
        predicate_text = expression_text(predicate)
        if predicate_text is not None and predicate_text.strip() in self.workflow.subworkflows:
            predicate = self.workflow.subworkflows[predicate_text.strip()]
        elif predicate_text is not None:
            predicate = self.value(predicate, frame)
        backoff = self.value(policy.get("backoff") or stdlib.RETRY_CONSTANTS["retry.default_backoff"], frame)
        retries = self.value(policy.get("max_retries", 0), frame)
        numbers = (
            float(backoff.get("initial_delay", 1.0)),
            float(backoff.get("max_delay", 60.0)),
            float(backoff.get("multiplier", 1.25)),
        )
        return predicate, int(retries), numbers

    def _should_retry(self, predicate: Any, error: Any, frame: Frame, where: str) -> bool:
        if isinstance(predicate, stdlib.Predicate):
            return predicate.fn(error)
        if isinstance(predicate, Subworkflow):
            name = predicate.params[0][0] if predicate.params else "e"
            answer = self.call_subworkflow(predicate, {name: error}, where, depth=frame.call_depth + 1)
            return answer is True
        raise raised("TypeError", f"a retry predicate must be a policy or a subworkflow, got {predicate!r}")
