"""Where observations come from: a capture played back, or the live RPC, behind one protocol.

    source = open_source(settings())      # QCL_SOURCE=replay (QCL_CAPTURE or the bundled sample) or rpc
    item = source.next()                  # an Observation, or an InvalidLine naming what could not be read

Pacing a replay is the caller's choice (replay.pace), so that a stateless caller can take one item per call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from qcl.config import Settings
from qcl.qubic.capture import InvalidLine
from qcl.qubic.replay import ReplaySource
from qcl.qubic.rpc import InvalidBodyError, QubicRpcClient
from qcl.qubic.types import Observation


@runtime_checkable
class ObservationSource(Protocol):
    def next(self) -> Observation | InvalidLine:
        """The next observation; raises SourceError when there is none to give (SourceExhaustedError at the
        end of a replay, a SourceError when the RPC cannot be reached)."""
        ...

    def close(self) -> None: ...


class RpcSource:
    """The live RPC as an ObservationSource: each next() is one client.observe().

    A body that the RPC returned but that does not parse becomes an InvalidLine (numbered by poll), so the
    analysis reports it as invalid data like a bad capture line; an unreachable RPC raises SourceError.
    """

    def __init__(self, client: QubicRpcClient, *, now: Callable[[], datetime] | None = None) -> None:
        self.client = client
        self._now = now or (lambda: datetime.now(UTC))
        self._polls = 0

    def next(self) -> Observation | InvalidLine:
        self._polls += 1
        try:
            return self.client.observe(self._now)
        except InvalidBodyError as exc:
            return InvalidLine(self._polls, f"poll {self._polls}: {exc}", self._now())

    def close(self) -> None:
        self.client.close()


def open_source(settings: Settings, *, position: int = 0, loop: bool = False) -> ObservationSource:
    """The source the settings choose; `position` and `loop` apply to a replay (see ReplaySource)."""
    if settings.source == "rpc":
        return RpcSource(QubicRpcClient.from_settings(settings))
    capture = settings.capture
    if capture is None:
        # Imported here: the sample generator is only needed when no capture is given.
        from qcl.qubic.synth import sample_capture_path

        capture = sample_capture_path()
    return ReplaySource(capture, position=position, loop=loop)
