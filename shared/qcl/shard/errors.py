"""Errors of the shard pool; each message says what was expected and what was found.

The shard server maps the caller's mistakes to gRPC status codes at one boundary (server.py): a malformed frame is
INVALID_ARGUMENT, an unknown or expired session NOT_FOUND, a step out of order FAILED_PRECONDITION, a full shard
RESOURCE_EXHAUSTED. The coordinator turns a node's failure (UNAVAILABLE, a missed deadline, a lost session) into a
failover; only what the pool cannot absorb reaches its caller, as ShardPoolUnavailableError.
"""

from __future__ import annotations

import grpc

from qcl.errors import QclError
from qcl.model.errors import ModelBusyError, ModelUnavailableError


class ShardError(QclError):
    """Base class of the shard pool's errors."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class WireError(ShardError, ValueError):
    """A frame that does not parse, or whose dtype or shape is not what the stage takes."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class UnknownSessionError(ShardError, KeyError):
    """A frame or close for a session this shard does not hold (never opened, closed, or expired)."""

    code = grpc.StatusCode.NOT_FOUND

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class StepOrderError(ShardError):
    """A frame whose step or position is not the next one of its session."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class SessionOwnerError(ShardError):
    """A call about a session another coordinator opened: session ids are bound to the peer that opened them."""

    code = grpc.StatusCode.PERMISSION_DENIED


class ShardFullError(ShardError):
    """The shard holds as many sessions as its capacity allows; it refuses new ones and never evicts."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class PartitionError(ShardError, ValueError):
    """Layers cannot be split over the given nodes (too few layers, or a range that fits no node's memory)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class ShardPoolUnavailableError(ModelUnavailableError):
    """The pool could not absorb a failure: no live node serves a layer range and none could load it in time."""

    def __init__(self, model_id: str, reason: str) -> None:
        super().__init__(model_id, f"the shard pool cannot serve it: {reason}")


class ShardPoolBusyError(ModelBusyError):
    """Every live node of a layer range holds as many sessions as it may; the caller should retry later."""

    def __init__(self, model_id: str, layers: range, full_nodes: list[str]) -> None:
        super().__init__(retry_after_s=1.0, queue_size=0)
        self.args = (
            f"model {model_id!r} busy: every node serving layers {layers.start}:{layers.stop} is full "
            f"({', '.join(full_nodes)}); retry after 1 s",
        )
        self.full_nodes = full_nodes
