"""How a coordinator's pool behaves (deadlines, wire format, adoption); shared by the pool and its sessions."""

from __future__ import annotations

from dataclasses import dataclass

from qcl.shard.wire import WireDtype


@dataclass(frozen=True)
class PoolOptions:
    wire: WireDtype = "fp16"
    # Reply deadline of a frame: a base plus a per-token share (a 2,000-token prompt on a CPU stage takes seconds).
    step_timeout_s: float = 10.0
    token_timeout_s: float = 0.02
    # How long a session may wait for its range to be served again before the caller gets an error.
    recovery_timeout_s: float = 30.0
    load_timeout_s: float = 120.0  # a live node loading an orphaned range
    stream_timeout_s: float = 3600.0  # deadline of a whole session's stream
    adopt: bool = True  # when no replica serves a range, have a live node load it
