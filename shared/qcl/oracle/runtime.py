"""A member as a running service: the protocol core plus a transport, timers, an executor and a disk.

    node = NodeRuntime(committee, key, transport=..., executors=..., state_dir=Path(".qcl/oracle/n4/node-0"))
    node.start()                  # restores state.json if there is one (a restart after kill -9)
    node.submit(request)          # a job taken off the bus; relayed to the other members
    node.stop()

One worker thread applies events to the core one at a time (the core is not thread-safe and need not be); the
transport thread, the timer thread and the executor thread only queue events. Effects run in the order the core
gives them, and Persist comes first: what a step signed is on disk (written, fsynced, renamed) before any of its
messages leaves the process, so a restarted member re-sends its old votes and never signs a conflicting one.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from qcl.events import OracleRequest, OracleResult
from qcl.oracle.committee import Committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.errors import JobError
from qcl.oracle.evidence import Evidence
from qcl.oracle.jobs import Executors
from qcl.oracle.messages import Message
from qcl.oracle.replica import Replica
from qcl.oracle.state import (
    Decide,
    Deliver,
    Durable,
    Effect,
    Event,
    Execute,
    Executed,
    Found,
    Persist,
    ProtocolConfig,
    Rejected,
    Send,
    SetTimer,
    Submit,
    Timeout,
)
from qcl.oracle.transport import Transport

log = logging.getLogger(__name__)

STATE_FILE = "state.json"


def write_atomically(path: Path, data: bytes) -> None:
    """Write, fsync, rename: a crash leaves the old file or the new one, never half of either."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class Resume:
    """Queued first after a restart: the worker takes up the accepted, undecided jobs again (or, for a member that
    lost its disk, asks the others for their decisions)."""

    rejoin: bool = False


class Timers:
    """One thread for every timer of a member (threading.Timer would start a thread per view per job)."""

    def __init__(self, fire: Callable[[Timeout], None]) -> None:
        self._fire = fire
        self._heap: list[tuple[float, int, Timeout]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="oracle-timers", daemon=True)
        self._thread.start()

    def set(self, timeout: Timeout, delay_ms: float) -> None:
        with self._changed:
            heapq.heappush(self._heap, (time.monotonic() + delay_ms / 1000, next(self._order), timeout))
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while not self._stopped:
                if not self._heap:
                    self._changed.wait()
                    continue
                due, _, timeout = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._fire(timeout)

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()


class NodeRuntime:
    def __init__(
        self,
        committee: Committee,
        key: NodeKey,
        *,
        transport: Transport,
        executors: Executors,
        state_dir: Path,
        config: ProtocolConfig | None = None,
        on_decide: Callable[[OracleResult], None] = lambda attestation: None,
        on_evidence: Callable[[Evidence], None] = lambda evidence: None,
        rejoin: bool = False,
    ) -> None:
        self.committee, self.key, self.transport, self.executors = committee, key, transport, executors
        self.state_dir = state_dir
        self.config = config or ProtocolConfig()
        self.on_decide, self.on_evidence = on_decide, on_evidence
        self.rejoin = rejoin
        self.restored = False
        self._events: queue.Queue[Event | Resume | None] = queue.Queue()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"oracle-exec-{key.node_id}")
        self._timers = Timers(self._events.put)
        self._worker: threading.Thread | None = None
        self.replica = self._load()

    def _load(self) -> Replica:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / STATE_FILE
        if path.exists():
            self.restored = True
            return Replica.restore(
                self.committee, self.key, self.config, Durable.from_json(json.loads(path.read_bytes()))
            )
        # A member told its disk was lost votes on nothing in flight; it learns those results from the others.
        abstain = self.config.window if self.rejoin else -1
        return Replica(self.committee, self.key, self.config, abstain_through=abstain)

    # -- public --------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.transport.start(lambda message, link: self._events.put(Deliver(message, link)))
        self._worker = threading.Thread(target=self._work, name=f"oracle-{self.key.node_id}", daemon=True)
        self._worker.start()
        if self.restored:
            self._events.put(Resume())
        elif self.rejoin:
            self._events.put(Resume(rejoin=True))

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def submit(self, request: OracleRequest, reply_to: str | None = None, *, relay: bool = True) -> None:
        """Queue a job; with `relay`, first send it to the other members (synchronously: a request taken off the
        bus is acknowledged only once the others have it, so a member that dies right after loses nothing)."""
        if not self.running:
            raise RuntimeError(f"member {self.key.node_id} is not running")
        if relay:
            self.transport.send(self.replica.request_message(request))
        self._events.put(Submit(request, reply_to, relay=False))

    def deliver(self, message: Message, link: int | None = None) -> None:
        self._events.put(Deliver(message, link))

    def stop(self) -> None:
        self._events.put(None)
        if self._worker is not None:
            self._worker.join(timeout=10)
        self._timers.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.transport.close()

    # -- the worker ----------------------------------------------------------------------------------------------

    def _work(self) -> None:
        while (event := self._events.get()) is not None:
            try:
                if isinstance(event, Resume):
                    effects = self.replica.rejoin() if event.rejoin else self.replica.resume()
                else:
                    effects = self.replica.step(event)
                for effect in effects:
                    self._run(effect)
            except Exception:  # one bad event must not stop the member; the protocol tolerates a lost step
                log.exception("%s: step failed", self.key.node_id)

    def _run(self, effect: Effect) -> None:
        if isinstance(effect, Persist):
            write_atomically(self.state_dir / STATE_FILE, json.dumps(effect.durable).encode())
        elif isinstance(effect, Send):
            self.transport.send(effect.message, effect.to)
        elif isinstance(effect, Execute):
            self._pool.submit(self._execute, effect.request)
        elif isinstance(effect, SetTimer):
            self._timers.set(effect.timeout(), effect.delay_ms)
        elif isinstance(effect, Decide):
            self._decided(effect)
        elif isinstance(effect, Found):
            with (self.state_dir / "evidence.jsonl").open("a") as sink:
                sink.write(effect.evidence.model_dump_json() + "\n")
            log.warning(
                "%s: evidence of %s against %s", self.key.node_id, effect.evidence.kind, effect.evidence.node_id
            )
            self.on_evidence(effect.evidence)
        elif isinstance(effect, Rejected):
            log.info("%s: rejected a message from peer %s: %s", self.key.node_id, effect.link, effect.reason)

    def _execute(self, request: OracleRequest) -> None:
        try:
            result = self.executors.run(request)
            self._events.put(Executed(request.sequence, request.job_id, result))
        except JobError as exc:
            self._events.put(Executed(request.sequence, request.job_id, error=str(exc)))
        except Exception as exc:  # an executor bug: abstain from this job rather than die
            log.exception("%s: executor failed on job %d", self.key.node_id, request.sequence)
            self._events.put(Executed(request.sequence, request.job_id, error=f"{type(exc).__name__}: {exc}"))

    def _decided(self, effect: Decide) -> None:
        attestation = effect.attestation
        folder = self.state_dir / "attestations"
        folder.mkdir(exist_ok=True)
        write_atomically(folder / f"{attestation.job_id}.json", attestation.model_dump_json(indent=2).encode())
        if effect.reply_to:
            self.transport.reply(effect.reply_to, self.replica.decision_message(attestation))
        self.on_decide(attestation)
