"""One generation through the pool: token ids in, hidden states hop stage to stage, token ids out; failover inside.

    session = pool.open_session(Sampling(banned=(2,)))
    token = session.prefill(prompt_ids)        # the first generated token
    token = session.decode(token)              # the next one, and so on
    session.close()

The coordinator streams each frame to the node holding the next range and forwards the reply, byte for byte, to
the one after: stage 0 gets token ids, the middle stages hidden states, and the last stage samples, so only a token
id comes back (never logits). Routing is sticky: a session keeps the node it was placed on for each range.

Replay log: every frame sent into a range is kept, as sent. When a node fails (an RPC error, a missed reply
deadline, a lost session), the session suspects it, opens the range on another replica (or on a live node that
loads the range), replays the logged frames there with the replay flag (no replies; the new node's cache is
rebuilt by the same frames in the same order, so it holds bit-identical keys and values), then resends the frame
in flight. The caller sees the same tokens, later. Only when no node can serve the range within the recovery
timeout does the caller get ShardPoolUnavailableError.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

import torch

from qcl.model.registry import ModelSpec
from qcl.shard.client import Channels, LinkFailure, StageLink, session_metadata
from qcl.shard.errors import ShardError, ShardPoolBusyError, ShardPoolUnavailableError
from qcl.shard.options import PoolOptions
from qcl.shard.registry import NodeRecord
from qcl.shard.sessions import Sampling
from qcl.shard.wire import as_replay, decode, encode, ids_frame, span_frame

log = logging.getLogger(__name__)

# Called before a frame goes to a stage: (stage index, step, node id). Benchmarks and fault tests kill nodes here.
SendHook = Callable[[int, int, str], None]
# Waits between attempts to find a node for an orphaned range (the registry refreshes every heartbeat).
RETRY_BACKOFF_S = (0.05, 0.1, 0.2, 0.5, 1.0)
REPLAY_SPAN = 64  # decode steps merged into one replayed frame, for sessions too long to replay frame by frame
MIN_EXACT_REPLAY = 16  # the most recent decode frames always replayed one by one


class SessionPool(Protocol):
    """What a session asks of its pool (qcl.shard.pool.ShardPool, which opens sessions: the pool imports this module,
    never the other way round)."""

    spec: ModelSpec
    options: PoolOptions
    channels: Channels
    plan: list[range] | None
    on_send: SendHook | None

    def place(self, layers: range, exclude: set[str]) -> NodeRecord | None: ...
    def adopt(self, layers: range, exclude: set[str]) -> NodeRecord | None: ...
    def release(self, node_id: str) -> None: ...
    def suspect(self, node_id: str, reason: str) -> None: ...
    def frame_timeout_s(self, tokens: int) -> float: ...
    def ms_per_frame(self, layers: range) -> float | None: ...
    def count_decode(self, wire_bytes: int) -> None: ...
    def count_spans(self, spans: int) -> None: ...
    def count_recovery(self, seconds: float) -> None: ...


class ShardProtocolError(ShardError):
    """A node rejected what the coordinator sent (a bug in the coordinator, not a node failure)."""


class PipelineSession:
    def __init__(self, pool: SessionPool, sampling: Sampling, *, on_send: SendHook | None = None) -> None:
        if pool.plan is None:
            raise ShardPoolUnavailableError(pool.spec.id, "no live nodes cover every layer range yet")
        self.pool = pool
        self.sampling = sampling
        self.session_id = uuid.uuid4().bytes
        self.plan = list(pool.plan)
        self.on_send = on_send or pool.on_send
        self.step = 0
        self.position = 0
        self.links: list[StageLink | None] = [None] * len(self.plan)
        self.logs: list[list[bytes]] = [[] for _ in self.plan]
        self.recoveries: list[float] = []  # seconds from a failure to the reply that followed it
        self.decode_bytes = 0
        self._closed_bytes = 0  # bytes of links already replaced

    def prefill(self, ids: Sequence[int]) -> int:
        return self._advance(torch.tensor([list(ids)], dtype=torch.int64))  # (1, seq)

    def decode(self, token: int) -> int:
        return self._advance(torch.tensor([[token]], dtype=torch.int64))  # (1, 1)

    def close(self) -> None:
        for index, link in enumerate(self.links):
            if link is not None:
                link.close()
                self.pool.release(link.node_id)
                self.links[index] = None

    @property
    def wire_bytes(self) -> int:
        return self._closed_bytes + sum(link.bytes_sent + link.bytes_received for link in self.links if link)

    def _advance(self, ids: torch.Tensor) -> int:
        before = self.wire_bytes
        raw = encode(ids_frame("tokens", self.session_id, self.step, self.position, ids))
        for index in range(len(self.plan)):
            self.logs[index].append(raw)
            raw = self._exchange(index, raw, tokens=ids.shape[1])
        reply = decode(raw)
        if reply.kind != "token":
            raise ShardProtocolError(f"the last stage answered a {reply.kind} frame, expected a token")
        if self.step > 0:
            self.decode_bytes += self.wire_bytes - before
            self.pool.count_decode(self.wire_bytes - before)
        self.step += 1
        self.position += ids.shape[1]
        return int.from_bytes(reply.payload[:8], "little", signed=True)

    def _exchange(self, index: int, raw: bytes, *, tokens: int) -> bytes:
        """Send one frame into range `index` and return the reply, failing over until the recovery deadline."""
        failed_at: float | None = None
        deadline = time.monotonic() + self.pool.options.recovery_timeout_s
        excluded: set[str] = set()
        while True:
            fresh = self.links[index] is None
            link = self.links[index] or self._connect(index, excluded, deadline)
            replayed = self.position if fresh else 0  # a new link first rebuilds the cache of every earlier token
            try:
                if self.on_send is not None:
                    self.on_send(index, self.step, link.node_id)
                link.send(raw)
                reply = link.receive(self.pool.frame_timeout_s(tokens + replayed))
            except LinkFailure as failure:
                if failure.caller_error:
                    raise ShardProtocolError(str(failure)) from None
                self._drop(index, link)
                if failure.full:  # a full node is healthy; it takes no more sessions, so try another
                    excluded.add(link.node_id)
                    continue
                self.pool.suspect(link.node_id, str(failure))
                if failed_at is None:
                    failed_at = time.monotonic()
                    deadline = failed_at + self.pool.options.recovery_timeout_s
                log.warning("session %s: range %d failed on %s; failing over", self.session_id.hex(), index, failure)
                continue
            if failed_at is not None:
                recovery = time.monotonic() - failed_at
                self.recoveries.append(recovery)
                self.pool.count_recovery(recovery)
            return reply

    def _connect(self, index: int, excluded: set[str], deadline: float) -> StageLink:
        """A link to a node serving range `index`, its cache rebuilt from the replay log; waits for one if needed."""
        layers = self.plan[index]
        for attempt in range(10_000):
            node = self.pool.place(layers, excluded) or self.pool.adopt(layers, excluded)
            if node is not None:
                link = StageLink(
                    self.pool.channels.get(node.address, node.node_id),
                    node.node_id,
                    session_metadata(self.session_id, layers, self.sampling, self.pool.options.wire),
                    stream_timeout_s=self.pool.options.stream_timeout_s,
                )
                for frame in self._replay(index):
                    link.send(frame)
                self.links[index] = link
                return link
            if excluded:  # every node left for the range is full: waiting would only delay the answer
                raise ShardPoolBusyError(self.pool.spec.id, layers, sorted(excluded))
            if time.monotonic() >= deadline:
                break
            time.sleep(RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)])
        raise ShardPoolUnavailableError(
            self.pool.spec.id,
            f"no live node serves layers {layers.start}:{layers.stop} and none could load them within "
            f"{self.pool.options.recovery_timeout_s:g} s",
        )

    def _replay(self, index: int) -> list[bytes]:
        """The frames that rebuild range `index`'s cache on a new node: the log, flagged as replay.

        Frame by frame, the new node computes exactly what the lost one did (bit-identical cache). A long session
        would take too long that way, so the decode frames beyond what fits in a quarter of the recovery budget
        (at the range's measured time per frame) are merged into spans of REPLAY_SPAN tokens: one pass per span,
        with prefill numerics instead of decode numerics for those older positions.
        """
        history = self.logs[index][:-1]
        if not history:
            return []
        prompt, decodes = history[0], history[1:]
        ms_per_frame = self.pool.ms_per_frame(self.plan[index])
        exact = len(decodes)
        if ms_per_frame:
            budget_ms = 250 * self.pool.options.recovery_timeout_s  # a quarter of the budget, in ms
            exact = min(exact, max(MIN_EXACT_REPLAY, int(budget_ms / ms_per_frame)))
        older, recent = decodes[: len(decodes) - exact], decodes[len(decodes) - exact :]
        spans = [
            encode(span_frame([decode(raw) for raw in older[start : start + REPLAY_SPAN]]))
            for start in range(0, len(older), REPLAY_SPAN)
        ]
        self.pool.count_spans(len(spans))
        return [as_replay(prompt), *spans, *(as_replay(raw) for raw in recent)]

    def _drop(self, index: int, link: StageLink) -> None:
        link.cancel()
        self._closed_bytes += link.bytes_sent + link.bytes_received
        self.pool.release(link.node_id)
        self.links[index] = None
