"""The generation service's priority classes on the tiny model: order of the waiting line, preemption of a running
background batch by an interactive request, cancellation of a queued or running request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from qcl.config import load_settings
from qcl.model.errors import ModelBusyError
from qcl.model.loading import LoadedModel, load_model
from qcl.model.service import GenerationParams, GenerationResult, GenerationService

# One worker runs this module (pytest-xdist --dist loadgroup), so its module-scoped model loads once.
pytestmark = pytest.mark.xdist_group("generation_priority")

# Ends only when cancelled or at its token limit: long enough to still run while the test acts (tiny context 2048).
ENDLESS = GenerationParams(max_new_tokens=1900, ban_eos=True, priority="background")
SHORT = GenerationParams(max_new_tokens=6, ban_eos=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    cache = tmp_path_factory.mktemp("models")
    return load_model("tiny-random-llama", load_settings(model_cache_dir=cache), progress=None)


@pytest.fixture()
def service(tiny: LoadedModel) -> Iterator[GenerationService]:
    with GenerationService(tiny, max_batch=1, batch_window_ms=0, result_cache=0, queue_size=8) as running:
        yield running


@pytest.fixture()
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=6) as executor:
        yield executor


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "condition not reached within 30 s"
        time.sleep(0.005)


def _endless(cancel: threading.Event, priority: str = "background") -> GenerationParams:
    return GenerationParams(max_new_tokens=1900, ban_eos=True, priority=priority, cancel=cancel)  # type: ignore[arg-type]


def test_an_interactive_request_preempts_a_running_background_batch(
    service: GenerationService, pool: ThreadPoolExecutor
) -> None:
    stop = threading.Event()
    background = pool.submit(service.generate, "Narrate the epoch", _endless(stop))
    _wait_until(lambda: service.status()["busy"])
    interactive = service.generate(
        "Is the network healthy?", GenerationParams(max_new_tokens=6, priority="interactive")
    )
    assert interactive.tokens > 0
    assert not background.done(), "the interactive answer came while the background batch was only paused"
    assert service.status()["preemptions"] >= 1
    stop.set()
    finished = background.result(timeout=30)
    assert finished.finish_reason == "cancelled" and finished.tokens > 0


def test_a_waiting_interactive_request_is_taken_before_queued_background_ones(
    service: GenerationService, pool: ThreadPoolExecutor
) -> None:
    blocker_stop = threading.Event()
    blocker = pool.submit(service.generate, "Hold the model", _endless(blocker_stop, "interactive"))
    _wait_until(lambda: service.status()["busy"])
    finished_at: dict[str, float] = {}

    def ask(name: str, priority: str) -> GenerationResult:
        params = GenerationParams(max_new_tokens=6, ban_eos=True, priority=priority)  # type: ignore[arg-type]
        result = service.generate(name, params)
        finished_at[name] = time.monotonic()
        return result

    queued = [pool.submit(ask, f"background {n}", "background") for n in range(2)]
    _wait_until(lambda: service.status()["queue_depth"] == 2)
    question = pool.submit(ask, "question", "interactive")
    _wait_until(lambda: service.status()["queue_depth"] == 3)
    assert service.status()["queue_by_priority"] == {"interactive": 1, "background": 2}
    blocker_stop.set()
    for future in [blocker, question, *queued]:
        future.result(timeout=30)
    assert finished_at["question"] < min(finished_at["background 0"], finished_at["background 1"])


def test_cancelling_a_running_request_ends_it_with_the_text_so_far(
    service: GenerationService, pool: ThreadPoolExecutor
) -> None:
    stop = threading.Event()
    running: Future[GenerationResult] = pool.submit(service.generate, "Go on", _endless(stop, "standard"))
    _wait_until(lambda: service.status()["busy"])
    time.sleep(0.05)
    stop.set()
    result = running.result(timeout=30)
    assert result.finish_reason == "cancelled"
    assert 0 < result.tokens < ENDLESS.max_new_tokens


def test_a_request_cancelled_while_queued_never_runs(service: GenerationService, pool: ThreadPoolExecutor) -> None:
    stop = threading.Event()
    blocker = pool.submit(service.generate, "Hold the model", _endless(stop, "interactive"))
    _wait_until(lambda: service.status()["busy"])
    cancel = threading.Event()
    params = GenerationParams(max_new_tokens=6, ban_eos=True, cancel=cancel)
    queued = pool.submit(service.generate, "Never mind", params)
    _wait_until(lambda: service.status()["queue_depth"] == 1)
    cancel.set()
    stop.set()
    result = queued.result(timeout=30)
    blocker.result(timeout=30)
    assert (result.finish_reason, result.tokens, result.text) == ("cancelled", 0, "")


def test_a_full_line_refuses_an_interactive_request_too(tiny: LoadedModel, pool: ThreadPoolExecutor) -> None:
    with GenerationService(tiny, queue_size=1, max_batch=1, batch_window_ms=0) as small:
        stop = threading.Event()
        running = pool.submit(small.generate, "Hold", _endless(stop))
        _wait_until(lambda: small.status()["busy"])
        # Background too, so that it waits in the line (a more urgent class would preempt the running one).
        waiting = pool.submit(small.generate, "Wait", GenerationParams(max_new_tokens=6, priority="background"))
        _wait_until(lambda: small.status()["queue_depth"] == 1)
        with pytest.raises(ModelBusyError):
            small.generate("Urgent", GenerationParams(max_new_tokens=4, priority="interactive"))
        stop.set()
        running.result(timeout=30)
        waiting.result(timeout=30)


def test_a_cancelled_result_is_not_cached(tiny: LoadedModel) -> None:
    with GenerationService(tiny, max_batch=1, batch_window_ms=0) as cached:
        cancel = threading.Event()
        cancel.set()
        first = cached.generate("Same prompt", GenerationParams(max_new_tokens=6, ban_eos=True, cancel=cancel))
        second = cached.generate("Same prompt", GenerationParams(max_new_tokens=6, ban_eos=True))
        assert first.finish_reason == "cancelled"
        assert (second.cached, second.tokens) == (False, 6)
