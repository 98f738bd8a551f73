"""The shard server: one process serving one (or, after adopting an orphaned range, more) layer ranges over gRPC.

    qcl shard serve --model smollm2-135m-instruct --layers 0:11 --port 50051

Service `qcl.shard.v1.Shard` (gRPC generic handlers, raw bytes; frames in wire.py, JSON for the control calls):
  Session  stream-stream  one session through one range: frames in, replies out. Call metadata names the session
                          (qcl-session, 32 hex digits), the range (qcl-layers, "A:B"), the activation dtype
                          (qcl-wire) and the sampling (qcl-sampling, JSON); the session lives as long as the stream.
  Info     unary          this node's NodeRecord as JSON (what heartbeats carry)
  Close    unary          {"session": hex, "layers": "A:B"}: close a session explicitly
  Load     unary          {"layers": "A:B"}: load another range (a live node adopting a dead node's layers)
and the standard grpc.health.v1 service on the same port (SERVING once the layers are loaded). With TLS material
(ServerOptions.tls, qcl.shard.tls) the port is mTLS: no client certificate of the project CA, no handshake; a
caller whose certificate's role may not call a method gets PERMISSION_DENIED naming it, and a session belongs to
the peer that opened it; a separate plaintext port (`health_port`) can serve the health service alone, for
checkers that present no certificate (GCP health checks, kubelet gRPC probes). The caller's
mistakes end the call with INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION or RESOURCE_EXHAUSTED and a message
saying what was expected; nothing a caller sends can crash the process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
import torch
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from qcl.config import Settings, cpu_threads
from qcl.model.errors import InvalidGenerationRequestError
from qcl.model.loading import QuantizationChoice
from qcl.model.params import GenerationParams
from qcl.obs.logging import bind_request, unbind_request
from qcl.shard.errors import PartitionError, ShardError, UnknownSessionError, WireError
from qcl.shard.loading import load_stage, move_to
from qcl.shard.partition import parse_layers
from qcl.shard.registry import NodeRecord, ShardRegistry
from qcl.shard.sessions import Sampling, Session
from qcl.shard.stage import Stage
from qcl.shard.tls import TlsMaterial, authorize, warn_if_plaintext
from qcl.shard.wire import SERVICE, Frame, decode, encode

log = logging.getLogger(__name__)

# HTTP/2 pings keep idle streams open through NAT and detect a peer that vanished without a FIN.
SERVER_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.max_send_message_length", 256 * 1024 * 1024),
    ("grpc.so_reuseport", 0),
]


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 0  # 0 picks a free port
    advertise: str | None = None  # host:port others reach this node at; default host:bound port
    node_id: str | None = None
    max_sessions: int = 16
    session_ttl_s: float = 300.0
    threads: int = 1
    device: str = "cpu"
    compute: float = 1.0
    tls: TlsMaterial | None = None  # a shard certificate: serve mTLS with its node id; None: plaintext
    health_port: int | None = None  # also serve grpc.health.v1 alone, plaintext, on this port (0: a free one)


def memory_free_bytes(device: str) -> int:
    """Free memory where the weights live: the GPU's, else MemAvailable from /proc/meminfo (Linux)."""
    if device.startswith("cuda"):
        return int(torch.cuda.mem_get_info()[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class ShardServer:
    def __init__(self, settings: Settings, model_id: str, stages: list[Stage], options: ServerOptions) -> None:
        self.settings = settings
        self.model_id = model_id
        self.options = options
        self.incarnation = uuid.uuid4().hex
        self.node_id = _node_id(options) or f"shard-{self.incarnation[:8]}"
        self.started_at = time.time()
        self._stages: dict[str, Stage] = {stage.name: stage for stage in stages}
        self._load_lock = threading.Lock()
        self._stopping = threading.Event()
        self.health = health.HealthServicer(experimental_non_blocking=True)
        self.port = 0
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4 * options.max_sessions + 8, thread_name_prefix="qcl-shard"),
            options=SERVER_OPTIONS,
        )
        handlers = {
            "Session": grpc.stream_stream_rpc_method_handler(self._session),
            "Info": grpc.unary_unary_rpc_method_handler(self._info),
            "Close": grpc.unary_unary_rpc_method_handler(self._close),
            "Load": grpc.unary_unary_rpc_method_handler(self._load),
        }
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self._health_server: grpc.Server | None = None
        self.health_port: int | None = None
        if options.health_port is not None:
            self._health_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="qcl-hc"))
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self._health_server)
        self._janitor = threading.Thread(target=self._expire_sessions, name="qcl-shard-ttl", daemon=True)

    @property
    def address(self) -> str:
        return self.options.advertise or f"{self.options.host}:{self.port}"

    @property
    def stages(self) -> list[Stage]:
        return list(self._stages.values())

    def start(self) -> ShardServer:
        bind, tls = f"{self.options.host}:{self.options.port}", self.options.tls
        if tls is None:
            warn_if_plaintext(bind)
            self.port = self._server.add_insecure_port(bind)
        else:
            self.port = self._server.add_secure_port(bind, tls.server_credentials())
        if self.port == 0:
            raise OSError(f"could not bind {self.options.host}:{self.options.port}")
        if self._health_server is not None:
            self.health_port = self._health_server.add_insecure_port(f"{self.options.host}:{self.options.health_port}")
            if self.health_port == 0:
                raise OSError(f"could not bind {self.options.host}:{self.options.health_port}")
            self._health_server.start()
        self._server.start()
        self._janitor.start()
        for name in ("", SERVICE):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("shard %s serving %s on %s", self.node_id, ", ".join(self._stages), self.address)
        return self

    def stop(self, grace_s: float = 2.0) -> None:
        self._stopping.set()
        self.health.enter_graceful_shutdown()
        self._server.stop(grace_s).wait()
        if self._health_server is not None:
            self._health_server.stop(0).wait()

    def wait(self) -> None:
        self._server.wait_for_termination()

    def record(self) -> NodeRecord:
        stages = self.stages
        decode_frames = sum(stage.stats.decode_frames for stage in stages)
        decode_s = sum(stage.stats.decode_compute_s for stage in stages)
        return NodeRecord(
            node_id=self.node_id,
            incarnation=self.incarnation,
            address=self.address,
            model=self.model_id,
            weights_sha256=stages[0].held.weights_sha256,
            ranges=[(stage.layers.start, stage.layers.stop) for stage in stages],
            max_sessions=self.options.max_sessions,
            sessions=sum(len(stage.sessions) for stage in stages),
            memory_free_bytes=memory_free_bytes(self.options.device),
            compute=self.options.compute,
            device=self.options.device,
            threads=self.options.threads,
            started_at=self.started_at,
            decode_ms_per_frame=round(1000 * decode_s / decode_frames, 3) if decode_frames else None,
            decode_frames=decode_frames,
            decode_compute_s=round(decode_s, 6),
        )

    def load(self, layers: range) -> Stage:
        """Serve another range (idempotent): what a live node does when the range's last holder died."""
        with self._load_lock:
            name = f"{layers.start}:{layers.stop}"
            if name not in self._stages:
                held = load_stage(self.model_id, self.settings, layers, quantization=self._quantization())
                if self.options.device != "cpu":
                    move_to(held.model, self.options.device)
                self._stages[name] = Stage(
                    held,
                    capacity=self.options.max_sessions,
                    ttl_s=self.options.session_ttl_s,
                    device=self.options.device,
                )
                log.info("shard %s adopted layers %s", self.node_id, name)
            return self._stages[name]

    def _quantization(self) -> Any:
        return self.stages[0].held.quantization

    # --- handlers ------------------------------------------------------------------------------------------------

    def _session(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        metadata = {key: value for key, value in context.invocation_metadata() if isinstance(value, str)}
        peer = authorize(context, "Session", tls=self.options.tls is not None)
        session: Session | None = None
        stage: Stage | None = None
        # grpc runs one call's handler on one thread: the request id tags this call's lines, then is unbound.
        bound = bind_request(metadata["qcl-request-id"][:64]) if metadata.get("qcl-request-id") else None
        try:
            stage = self._stage(metadata.get("qcl-layers", ""))
            session_id = _session_id(metadata.get("qcl-session", ""))
            sampling = _sampling(metadata.get("qcl-sampling", "{}"), stage)
            wire = metadata.get("qcl-wire", "fp16")
            for raw in requests:
                frame = decode(raw)
                if session is None:
                    session = self._open(stage, session_id, frame, sampling, wire, peer)
                    log.info("shard %s: session %s opened on layers %s", self.node_id, session_id.hex(), stage.name)
                reply = stage.step(session, frame)
                if reply is not None:
                    yield encode(reply)
        except ShardError as exc:
            context.abort(exc.code, str(exc))
        except Exception as exc:  # a failed forward pass leaves the session's cache unusable: the session ends
            if context.is_active():
                log.exception("shard %s: session failed", self.node_id)
                context.abort(grpc.StatusCode.INTERNAL, f"stage failed: {type(exc).__name__}: {exc}")
        finally:
            if session is not None and stage is not None:
                stage.sessions.close(session.session_id, owner=session)
            if bound is not None:
                unbind_request(bound)

    def _open(self, stage: Stage, session_id: bytes, frame: Frame, sampling: Sampling, wire: str, peer: str) -> Session:
        """A stream's first frame opens its session: it must be step 0 of the session the call metadata names."""
        if frame.session != session_id:
            raise WireError(
                f"frame.session: the call opened session {session_id.hex()}, got a frame of {frame.session.hex()}"
            )
        if frame.step != 0:
            raise UnknownSessionError(
                f"session {session_id.hex()} is not open on this stream: a session opens with its step 0 frame, "
                f"got step {frame.step}"
            )
        return stage.open(session_id, sampling, wire, peer)

    def _info(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        authorize(context, "Info", tls=self.options.tls is not None)
        return self.record().model_dump_json().encode()

    def _close(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        peer = authorize(context, "Close", tls=self.options.tls is not None)
        try:
            body = _json_object(request)
            stage = self._stage(str(body.get("layers", "")))
            session_id = _session_id(str(body.get("session", "")))
            session = stage.sessions.get(session_id, peer=peer)  # raises with the reason it is not open, or not ours
            stage.sessions.close(session_id, owner=session)
        except ShardError as exc:
            context.abort(exc.code, str(exc))
        return json.dumps({"closed": True}).encode()

    def _load(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        authorize(context, "Load", tls=self.options.tls is not None)
        try:
            layers = parse_layers(str(_json_object(request).get("layers", "")))
            self.load(layers)
        except ShardError as exc:
            context.abort(exc.code, str(exc))
        except Exception as exc:
            log.exception("shard %s: loading layers failed", self.node_id)
            context.abort(grpc.StatusCode.UNAVAILABLE, f"could not load the layers: {type(exc).__name__}: {exc}")
        return self.record().model_dump_json().encode()

    def _stage(self, layers: str) -> Stage:
        try:
            return self._stages[layers]
        except KeyError:
            held = ", ".join(self._stages)
            raise UnknownSessionError(f"this node serves layers {held}, not {layers or '(none given)'!r}") from None

    def _expire_sessions(self) -> None:
        while not self._stopping.wait(1.0):
            for stage in self.stages:
                for session_id in stage.sessions.expire():
                    log.info("shard %s: session %s expired (idle)", self.node_id, session_id.hex())


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"request: expected a JSON object, got {exc}") from None
    if not isinstance(body, dict):
        raise WireError(f"request: expected a JSON object, got {type(body).__name__}")
    return body


def _session_id(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise WireError(f"qcl-session: expected 32 hex digits, got {text!r}")
    return raw


def _sampling(text: str, stage: Stage) -> Sampling:
    body = _json_object(text.encode())
    try:
        params = GenerationParams(
            temperature=body.get("temperature", 0.0),
            top_p=body.get("top_p", 1.0),
            top_k=body.get("top_k", 0),
            seed=body.get("seed", 0),
        )
    except InvalidGenerationRequestError as exc:
        raise WireError(f"qcl-sampling: {exc}") from None
    banned = body.get("banned", [])
    vocab = stage.held.vocab_size
    if not isinstance(banned, list) or not all(isinstance(t, int) and 0 <= t < vocab for t in banned):
        raise WireError(f"qcl-sampling.banned: expected token ids in 0..{vocab - 1}, got {banned!r}")
    return Sampling(params.temperature, params.top_p, params.top_k, params.seed or 0, tuple(banned))


def _node_id(options: ServerOptions) -> str | None:
    """The node id: the one its certificate pins when it serves TLS (a different --node-id is a mistake)."""
    if options.tls is None:
        return options.node_id
    pinned = options.tls.identity.node_id
    if options.node_id is not None and options.node_id != pinned:
        raise ShardError(f"node id: the certificate pins {pinned!r}, got --node-id {options.node_id!r}")
    return pinned


def configure_threads(threads: int) -> int:
    """Intra-op threads for this process (0: config.cpu_threads); one inter-op thread (stages are sequential)."""
    count = cpu_threads(threads)
    torch.set_num_threads(count)
    with contextlib.suppress(RuntimeError):  # already set, or inter-op work already ran in this process
        torch.set_num_interop_threads(1)
    return count


def resolve_device(choice: str) -> str:
    """ "auto" -> "cuda" when torch sees a GPU, else "cpu"."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def build_server(settings: Settings, model_id: str, layers: list[range], options: ServerOptions) -> ShardServer:
    """Load the ranges and build (not start) the server."""
    if not layers:
        raise PartitionError("layers: expected at least one range")
    # Dynamic int8 quantization runs on CPUs only; a GPU stage serves the fp32 weights.
    quantization: QuantizationChoice | None = None if options.device == "cpu" else "none"
    stages = []
    for layer_range in layers:
        held = load_stage(model_id, settings, layer_range, quantization=quantization)
        if options.device != "cpu":
            move_to(held.model, options.device)
        stages.append(Stage(held, capacity=options.max_sessions, ttl_s=options.session_ttl_s, device=options.device))
    return ShardServer(settings, model_id, stages, options)


class SelfHeartbeat:
    """A node's own heartbeat into a shared store (Redis): its record every period, until stopped."""

    def __init__(self, server: ShardServer, registry: ShardRegistry) -> None:
        self.server = server
        self.registry = registry
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qcl-shard-heartbeat", daemon=True)

    def start(self) -> SelfHeartbeat:
        self._thread.start()
        return self

    def stop(self, *, leave: bool = True) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if leave:
            try:
                self.registry.leave(self.server.node_id)
            except Exception:
                log.exception("shard %s: could not leave the registry", self.server.node_id)

    def _run(self) -> None:
        while True:
            try:
                self.registry.heartbeat(self.server.record())
            except Exception:  # the store may be briefly unreachable; the next beat tries again
                log.exception("shard %s: heartbeat failed", self.server.node_id)
            if self._stop.wait(self.registry.heartbeat_s):
                return
