"""The coordinator's side of the wire: shared channels, one streaming link per (session, range), control calls.

    channels = Channels(tls)                                            # tls: TlsMaterial (mTLS) or None (plaintext)
    metadata = session_metadata(session_id, range(0, 11), sampling, "fp16")
    link = StageLink(channels.get(address, node_id), node_id, metadata)  # with TLS: only node_id's certificate
    link.send(encode(frame)); reply = link.receive(timeout_s=5.0)      # LinkFailure on any error or a missed deadline
    record = fetch_record(channels.get(address, node_id), timeout_s=0.5)

Every call has a deadline: the stream one for a whole session (`stream_timeout_s`), each reply its own
(`receive(timeout_s)`), and every unary call its own. A reader thread per link turns the stream into a queue so a
reply can be awaited with a timeout; a stalled stage (stopped, swapping, deadlocked) is then a LinkFailure like a
dead one, instead of a hang.

With TLS every channel presents the coordinator's certificate, and a channel to a node known by id accepts only
that node's certificate (`pin_options`): a stage at the address answering with another node's certificate fails
the handshake. A channel for an address alone (a seed whose id is not known yet) checks the address's SAN.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from qcl.obs.logging import current_request
from qcl.shard.registry import NodeRecord
from qcl.shard.sessions import Sampling
from qcl.shard.tls import TlsMaterial, pin_options
from qcl.shard.wire import SERVICE

CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # A restarted node at the same address is reachable again within a second, not after grpc's default backoff.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.max_send_message_length", 256 * 1024 * 1024),
    ("grpc.enable_retries", 0),  # retries are the coordinator's decision (replay elsewhere), not the channel's
]
# Errors that mean the caller (the coordinator) sent something wrong: a bug to surface, not a node to fail over.
CALLER_ERRORS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)


class LinkFailure(Exception):
    """A call to a node failed, timed out or ended early."""

    def __init__(self, node_id: str, code: grpc.StatusCode | None, detail: str) -> None:
        super().__init__(f"{node_id}: {code.name if code else 'TIMEOUT'}: {detail}")
        self.node_id = node_id
        self.code = code
        self.detail = detail

    @property
    def caller_error(self) -> bool:
        return self.code in CALLER_ERRORS

    @property
    def full(self) -> bool:
        return self.code == grpc.StatusCode.RESOURCE_EXHAUSTED


class Channels:
    """One channel per (address, node id), shared by every session (HTTP/2 multiplexes their streams)."""

    def __init__(self, tls: TlsMaterial | None = None) -> None:
        self.tls = tls
        self._lock = threading.Lock()
        self._channels: dict[tuple[str, str | None], grpc.Channel] = {}

    def get(self, address: str, node_id: str | None = None) -> grpc.Channel:
        """The channel to `address`; with TLS and `node_id`, one that accepts only that node's certificate."""
        key = (address, node_id if self.tls is not None else None)
        with self._lock:
            channel = self._channels.get(key)
            if channel is None:
                if self.tls is None:
                    channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
                else:
                    pinned = pin_options(node_id) if node_id is not None else []
                    channel = grpc.secure_channel(
                        address, self.tls.channel_credentials(), options=CHANNEL_OPTIONS + pinned
                    )
                self._channels[key] = channel
            return channel

    def drop(self, address: str) -> None:
        """Forget the channels to an address (its node failed); the next call dials afresh."""
        with self._lock:
            dropped = [self._channels.pop(key) for key in list(self._channels) if key[0] == address]
        for channel in dropped:
            channel.close()

    def close(self) -> None:
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()


@dataclass(frozen=True)
class _End:
    error: grpc.RpcError | None


def session_metadata(session_id: bytes, layers: range, sampling: Sampling, wire: str) -> tuple[tuple[str, str], ...]:
    """The call metadata that opens a session on a node: session id, layer range, wire dtype, sampling, and the
    request this thread serves (bound by the coordinator), so the stage's log lines carry the same request id."""
    request_id = current_request().get("request_id")
    return (
        ("qcl-session", session_id.hex()),
        ("qcl-layers", f"{layers.start}:{layers.stop}"),
        ("qcl-wire", wire),
        ("qcl-sampling", json.dumps(sampling.to_json())),
    ) + ((("qcl-request-id", request_id),) if request_id else ())


class StageLink:
    """One session's bidirectional stream to one node for one layer range (`session_metadata` names them)."""

    def __init__(
        self,
        channel: grpc.Channel,
        node_id: str,
        metadata: tuple[tuple[str, str], ...],
        *,
        stream_timeout_s: float = 3600.0,
    ) -> None:
        self.node_id = node_id
        self.bytes_sent = 0
        self.bytes_received = 0
        self._requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._replies: queue.SimpleQueue[bytes | _End] = queue.SimpleQueue()
        method = channel.stream_stream(f"/{SERVICE}/Session")
        self._call = method(iter(self._requests.get, None), metadata=metadata, timeout=stream_timeout_s)
        self._reader = threading.Thread(target=self._read, name=f"qcl-link-{node_id}", daemon=True)
        self._reader.start()

    def send(self, raw: bytes) -> None:
        self.bytes_sent += len(raw)
        self._requests.put(raw)

    def receive(self, timeout_s: float) -> bytes:
        try:
            item = self._replies.get(timeout=timeout_s)
        except queue.Empty:
            self.cancel()
            raise LinkFailure(self.node_id, None, f"no reply within {timeout_s:.2f} s") from None
        if isinstance(item, _End):
            self._replies.put(item)  # every later receive sees the end too
            if item.error is None:
                raise LinkFailure(self.node_id, grpc.StatusCode.UNKNOWN, "the stream ended before the reply")
            raise LinkFailure(self.node_id, item.error.code(), item.error.details() or "")
        self.bytes_received += len(item)
        return item

    def close(self) -> None:
        """End the session normally: half-close the stream; the node closes the session's cache."""
        self._requests.put(None)

    def cancel(self) -> None:
        self._requests.put(None)
        self._call.cancel()

    def _read(self) -> None:
        try:
            for reply in self._call:
                self._replies.put(reply)
            self._replies.put(_End(None))
        except grpc.RpcError as exc:
            self._replies.put(_End(exc))


def call_json(channel: grpc.Channel, method: str, body: dict[str, Any], *, node_id: str, timeout_s: float) -> Any:
    """A unary control call (Info, Close, Load) with a deadline; LinkFailure on any error."""
    stub = channel.unary_unary(f"/{SERVICE}/{method}")
    try:
        return json.loads(stub(json.dumps(body).encode(), timeout=timeout_s))
    except grpc.RpcError as exc:
        raise LinkFailure(node_id, exc.code(), exc.details() or "") from None


def fetch_record(channel: grpc.Channel, *, node_id: str = "?", timeout_s: float = 0.5) -> NodeRecord:
    return NodeRecord.model_validate(call_json(channel, "Info", {}, node_id=node_id, timeout_s=timeout_s))


def check_health(channel: grpc.Channel, *, timeout_s: float = 0.5) -> bool:
    """The standard grpc.health.v1 check: True when the node answers SERVING in time."""
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
