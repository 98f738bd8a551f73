"""A FAKE runtime for measuring the scheduler itself: it sleeps a fixed time per token and generates no text.

    runtime = SleepingRuntime(ms_per_token=2.0, slots=4)
    runtime.generate("anything", GenerationParams(max_new_tokens=8))    # ~16 ms, text "<8 fake tokens>"

Used where the model would hide what is measured (the scheduling overhead of `qcl bench jobs`, the kill -9 test's
job that must still be running when its worker dies). It honours the parts of the generation service's contract
the scheduler relies on: `slots` requests at once (more wait), deadlines, cancellation between tokens, status().
Never used to serve real work: `qcl up` runs jobs on the model.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from qcl.compute.placement import Messages
from qcl.model.params import FinishReason, GenerationParams, GenerationResult

DEFAULT_PARAMS = GenerationParams()


class SleepingRuntime:
    def __init__(self, ms_per_token: float, *, slots: int = 4, name: str = "fake-sleeping-runtime") -> None:
        self.ms_per_token = ms_per_token
        self.slots = slots
        self.name = name
        self._slots = threading.Semaphore(slots)
        self._waiting = 0
        self._lock = threading.Lock()
        self.served = 0

    def generate(self, messages: Messages, params: GenerationParams = DEFAULT_PARAMS) -> GenerationResult:
        submitted = time.monotonic()
        with self._lock:
            self._waiting += 1
        with self._slots:
            with self._lock:
                self._waiting -= 1
            started = time.monotonic()
            tokens = 0
            finish: FinishReason = "length"
            while tokens < params.max_new_tokens:
                if params.cancelled:
                    finish = "cancelled"
                    break
                if params.deadline_s is not None and time.monotonic() - submitted >= params.deadline_s:
                    finish = "deadline"
                    break
                if self.ms_per_token > 0:
                    time.sleep(self.ms_per_token / 1000)
                tokens += 1
            now = time.monotonic()
            with self._lock:
                self.served += 1
        return GenerationResult(
            text=f"<{tokens} fake tokens>",
            raw_text=f"<{tokens} fake tokens>",
            thinking=None,
            tokens=tokens,
            finish_reason=finish,
            model=self.name,
            latency_ms=(now - submitted) * 1000,
            first_token_ms=(started - submitted) * 1000,
            cached=False,
        )

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"model": self.name, "queue_depth": self._waiting, "max_batch": self.slots, "fake": True}
