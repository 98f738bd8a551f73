"""The shard server over real gRPC (in this process): what it loads, what it serves, and every bad input.

Two servers split tiny-random-qwen2 (2 layers): `first` holds the embedding and layer 0, `last` layer 1 with the
final norm and LM head. Each caller mistake must end its call with a status code and a message saying what was
expected; the servers keep serving.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc

from qcl.config import Settings, load_settings
from qcl.model.loading import load_model
from qcl.shard.client import LinkFailure, StageLink, call_json, check_health, fetch_record
from qcl.shard.coordinator import open_pool
from qcl.shard.errors import ShardPoolBusyError
from qcl.shard.loading import NotHeld, load_stage
from qcl.shard.pool import PoolOptions
from qcl.shard.server import ServerOptions, ShardServer, build_server
from qcl.shard.sessions import Sampling
from qcl.shard.wire import FLAG_SPAN, SERVICE, as_replay, decode, encode, hidden_frame, ids_frame, span_frame, to_tensor
from qcl.store.memory import MemoryStore

# One worker runs this module (pytest-xdist --dist loadgroup), so its module-scoped servers start once.
pytestmark = pytest.mark.xdist_group("shard_server")

MODEL = "tiny-random-qwen2"
PROMPT = [5, 9, 40, 41, 42]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(model_cache_dir=tmp_path_factory.mktemp("models"), shard_tls=False)  # plaintext servers


def _serve(settings: Settings, layers: range, **options: object) -> ShardServer:
    return build_server(settings, MODEL, [layers], ServerOptions(port=0, **options)).start()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def first(settings: Settings) -> Iterator[ShardServer]:
    server = _serve(settings, range(0, 1), max_sessions=2, node_id="first")
    yield server
    server.stop(0)


@pytest.fixture(scope="module")
def last(settings: Settings) -> Iterator[ShardServer]:
    server = _serve(settings, range(1, 2), node_id="last")
    yield server
    server.stop(0)


@pytest.fixture(scope="module")
def channels(first: ShardServer, last: ShardServer) -> Iterator[dict[str, grpc.Channel]]:
    opened = {name: grpc.insecure_channel(server.address) for name, server in (("first", first), ("last", last))}
    yield opened
    for channel in opened.values():
        channel.close()


def _link(channel: grpc.Channel, layers: str, session: bytes, *, wire: str = "fp16", sampling: str = "{}") -> StageLink:
    metadata = (("qcl-session", session.hex()), ("qcl-layers", layers), ("qcl-wire", wire), ("qcl-sampling", sampling))
    return StageLink(channel, "node", metadata, stream_timeout_s=30)


def _tokens(session: bytes, step: int = 0, position: int = 0, ids: list[int] | None = None) -> bytes:
    return encode(ids_frame("tokens", session, step, position, torch.tensor([ids or PROMPT])))


def _hidden(session: bytes, step: int = 0, position: int = 0, width: int = 64, wire: str = "fp16") -> bytes:
    return encode(hidden_frame(session, step, position, torch.ones(1, len(PROMPT), width), wire))  # type: ignore[arg-type]


def _failure(link: StageLink, *frames: bytes) -> LinkFailure:
    for frame in frames[:-1]:
        link.send(frame)
        link.receive(10)
    link.send(frames[-1])
    with pytest.raises(LinkFailure) as failure:
        link.receive(10)
    return failure.value


def _sid() -> bytes:
    return uuid.uuid4().bytes


# --- what a shard holds and serves ---------------------------------------------------------------------------------


def test_a_stage_holds_only_its_layers(settings: Settings) -> None:
    stage = load_stage(MODEL, settings, range(1, 2))
    decoder = stage.model.model
    assert isinstance(decoder.layers[0], NotHeld) and not isinstance(decoder.layers[1], NotHeld)
    assert isinstance(decoder.embed_tokens, NotHeld)
    assert not isinstance(stage.model.lm_head, NotHeld)
    full = load_model(MODEL, settings, progress=None).model
    layer0 = sum(p.numel() for p in full.model.layers[0].parameters())
    embedding = full.model.embed_tokens.weight.numel()
    assert stage.parameters_held() == sum(p.numel() for p in full.parameters()) - layer0 - embedding


def test_a_module_held_elsewhere_refuses_to_run(settings: Settings) -> None:
    stage = load_stage(MODEL, settings, range(1, 2))
    with pytest.raises(RuntimeError, match="the embedding is held by another stage"):
        stage.model.model.embed_tokens(torch.tensor([[1]]))


def test_the_health_service_answers_serving(channels: dict[str, grpc.Channel]) -> None:
    stub = health_pb2_grpc.HealthStub(channels["first"])
    reply = stub.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert check_health(channels["last"])


def test_info_reports_the_nodes_record(channels: dict[str, grpc.Channel], settings: Settings) -> None:
    record = fetch_record(channels["last"], timeout_s=5)
    assert (record.node_id, record.model, record.ranges) == ("last", MODEL, [(1, 2)])
    assert record.weights_sha256 == load_model(MODEL, settings, progress=None).weights_sha256


def test_two_stages_reproduce_the_whole_models_next_token(
    channels: dict[str, grpc.Channel], settings: Settings
) -> None:
    session = _sid()
    head = _link(channels["first"], "0:1", session, wire="fp32")
    tail = _link(channels["last"], "1:2", session, wire="fp32")
    head.send(_tokens(session))
    tail.send(head.receive(10))
    token = int(to_tensor(decode(tail.receive(10)))[0])
    whole = load_model(MODEL, settings, progress=None).model
    with torch.inference_mode():
        expected = int(whole(torch.tensor([PROMPT])).logits[0, -1].argmax())
    head.close()
    tail.close()
    assert token == expected


def test_replayed_frames_get_no_reply_but_advance_the_session(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    link = _link(channels["first"], "0:1", session)
    link.send(as_replay(_tokens(session)))
    link.send(_tokens(session, step=1, position=len(PROMPT), ids=[7]))
    reply = decode(link.receive(10))
    link.close()
    assert (reply.step, reply.position, reply.shape) == (1, len(PROMPT), (1, 1, 64))


def test_a_replayed_span_advances_one_step_per_token(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    link = _link(channels["first"], "0:1", session)
    decodes = [ids_frame("tokens", session, step, len(PROMPT) + step - 1, torch.tensor([[step]])) for step in (1, 2, 3)]
    link.send(as_replay(_tokens(session)))
    link.send(encode(span_frame(decodes)))
    link.send(_tokens(session, step=4, position=len(PROMPT) + 3, ids=[9]))
    reply = decode(link.receive(10))
    link.close()
    assert (reply.step, reply.position) == (4, len(PROMPT) + 3)


def test_a_span_that_is_not_a_replay_is_refused(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    decodes = [ids_frame("tokens", session, step, len(PROMPT) + step - 1, torch.tensor([[step]])) for step in (1, 2)]
    raw = bytearray(encode(span_frame(decodes)))
    raw[5] = FLAG_SPAN  # the replay bit cleared
    failure = _failure(_link(channels["first"], "0:1", session), _tokens(session), bytes(raw))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "a span of decode steps is only ever replayed" in failure.detail


def test_a_session_closes_when_its_stream_ends(channels: dict[str, grpc.Channel], first: ShardServer) -> None:
    session = _sid()
    link = _link(channels["first"], "0:1", session)
    link.send(_tokens(session))
    link.receive(10)
    link.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(s.session_id == session for s in first.stages[0].sessions.sessions()):
        time.sleep(0.02)
    assert all(s.session_id != session for s in first.stages[0].sessions.sessions())


# --- the caller's mistakes ------------------------------------------------------------------------------------------


def test_a_session_that_does_not_start_at_step_0_is_unknown(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    failure = _failure(_link(channels["first"], "0:1", session), _tokens(session, step=3, position=5))
    assert failure.code == grpc.StatusCode.NOT_FOUND
    assert "is not open on this stream: a session opens with its step 0 frame, got step 3" in failure.detail


def test_a_step_out_of_order_is_refused(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    link = _link(channels["first"], "0:1", session)
    failure = _failure(link, _tokens(session), _tokens(session, step=2, position=len(PROMPT), ids=[1]))
    assert failure.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "expected step 1, got step 2" in failure.detail


def test_a_position_that_skips_tokens_is_refused(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    link = _link(channels["first"], "0:1", session)
    failure = _failure(link, _tokens(session), _tokens(session, step=1, position=99, ids=[1]))
    assert failure.code == grpc.StatusCode.FAILED_PRECONDITION
    assert f"expected position {len(PROMPT)}, got position 99" in failure.detail


def test_hidden_states_of_the_wrong_width_are_refused(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    failure = _failure(_link(channels["last"], "1:2", session), _hidden(session, width=32))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "expected a hidden frame of shape [1, seq, 64], got a hidden frame of shape [1, 5, 32]" in failure.detail


def test_hidden_states_in_another_dtype_than_the_sessions_wire_are_refused(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    failure = _failure(_link(channels["last"], "1:2", session, wire="fp16"), _hidden(session, wire="fp32"))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "uses fp16, got fp32" in failure.detail


def test_token_ids_sent_to_a_middle_or_last_stage_are_refused(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    failure = _failure(_link(channels["last"], "1:2", session), _tokens(session))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "takes hidden states" in failure.detail


def test_hidden_states_sent_to_the_embedding_stage_are_refused(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    failure = _failure(_link(channels["first"], "0:1", session), _hidden(session))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "holds the embedding and takes token ids" in failure.detail


def test_token_ids_outside_the_vocabulary_are_refused(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    failure = _failure(_link(channels["first"], "0:1", session), _tokens(session, ids=[1, 10**6]))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "token ids must lie in 0..260, got 1..1000000" in failure.detail


def test_a_prompt_longer_than_the_context_is_refused(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    failure = _failure(_link(channels["first"], "0:1", session), _tokens(session, ids=[1] * 2049))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "exceed the context length of tiny-random-qwen2 (2048)" in failure.detail


def test_bytes_that_are_no_frame_are_refused(channels: dict[str, grpc.Channel]) -> None:
    failure = _failure(_link(channels["first"], "0:1", _sid()), b"not a frame at all, just bytes here..")
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "expected magic b'QF'" in failure.detail


def test_a_frame_of_another_session_is_refused(channels: dict[str, grpc.Channel]) -> None:
    failure = _failure(_link(channels["first"], "0:1", _sid()), _tokens(_sid()))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "frame.session: the call opened session" in failure.detail


def test_a_range_this_node_does_not_serve_is_not_found(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    failure = _failure(_link(channels["first"], "0:5", session), _tokens(session))
    assert failure.code == grpc.StatusCode.NOT_FOUND
    assert "this node serves layers 0:1, not '0:5'" in failure.detail


def test_invalid_sampling_parameters_are_refused(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    link = _link(channels["last"], "1:2", session, sampling=json.dumps({"temperature": -1}))
    failure = _failure(link, _hidden(session))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "qcl-sampling" in failure.detail and "temperature" in failure.detail


def test_a_full_shard_refuses_a_new_session_and_keeps_the_open_ones(channels: dict[str, grpc.Channel]) -> None:
    sessions = [_sid(), _sid()]
    links = [_link(channels["first"], "0:1", s) for s in sessions]
    for link, session in zip(links, sessions, strict=True):
        link.send(_tokens(session))
        link.receive(10)
    extra = _sid()
    failure = _failure(_link(channels["first"], "0:1", extra), _tokens(extra))
    assert failure.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "shard is full: 2 of 2 sessions open" in failure.detail
    links[0].send(_tokens(sessions[0], step=1, position=len(PROMPT), ids=[3]))
    assert decode(links[0].receive(10)).step == 1  # the open sessions go on
    for link in links:
        link.close()


def test_closing_a_session_explicitly_ends_its_stream(channels: dict[str, grpc.Channel]) -> None:
    session = _sid()
    link = _link(channels["first"], "0:1", session)
    link.send(_tokens(session))
    link.receive(10)
    reply = call_json(channels["first"], "Close", {"session": session.hex(), "layers": "0:1"}, node_id="n", timeout_s=5)
    assert reply == {"closed": True}
    failure = _failure(link, _tokens(session, step=1, position=len(PROMPT), ids=[3]))
    assert failure.code == grpc.StatusCode.NOT_FOUND and "closed" in failure.detail


def test_closing_an_unknown_session_is_not_found(channels: dict[str, grpc.Channel]) -> None:
    with pytest.raises(LinkFailure) as failure:
        call_json(channels["first"], "Close", {"session": _sid().hex(), "layers": "0:1"}, node_id="n", timeout_s=5)
    assert failure.value.code == grpc.StatusCode.NOT_FOUND


def test_a_session_idle_past_its_ttl_is_expired(settings: Settings) -> None:
    server = _serve(settings, range(0, 1), session_ttl_s=0.3)
    channel = grpc.insecure_channel(server.address)
    try:
        session = _sid()
        link = _link(channel, "0:1", session)
        link.send(_tokens(session))
        link.receive(10)
        time.sleep(1.5)  # the server's janitor runs every second
        failure = _failure(link, _tokens(session, step=1, position=len(PROMPT), ids=[3]))
        assert failure.code == grpc.StatusCode.NOT_FOUND
        assert "expired after 0.3 s idle" in failure.detail
    finally:
        channel.close()
        server.stop(0)


def test_a_node_loads_another_range_on_request(settings: Settings) -> None:
    server = _serve(settings, range(0, 1))
    channel = grpc.insecure_channel(server.address)
    try:
        body = call_json(channel, "Load", {"layers": "1:2"}, node_id="n", timeout_s=60)
        assert body["ranges"] == [[0, 1], [1, 2]]
        with pytest.raises(LinkFailure) as failure:
            call_json(channel, "Load", {"layers": "5:9"}, node_id="n", timeout_s=60)
        assert failure.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "0 <= A < B <= 2" in failure.value.detail
    finally:
        channel.close()
        server.stop(0)


def test_the_servers_keep_serving_after_every_bad_input(channels: dict[str, grpc.Channel]) -> None:
    assert check_health(channels["first"]) and check_health(channels["last"])


def test_a_stage_reports_the_memory_it_has_free(first: ShardServer) -> None:
    assert first.record().memory_free_bytes > 0


def test_serving_needs_at_least_one_range(settings: Settings, tmp_path: Path) -> None:
    from qcl.shard.errors import PartitionError

    with pytest.raises(PartitionError, match="at least one range"):
        build_server(settings, MODEL, [], ServerOptions())


def test_a_coordinator_finding_every_node_of_a_range_full_answers_busy(
    settings: Settings, first: ShardServer, last: ShardServer
) -> None:
    # adopt=False: otherwise a node with room loads the full range and takes the session (more capacity).
    options = PoolOptions(adopt=False)
    pool, _ = open_pool(
        settings, store=MemoryStore(), seeds=[first.address, last.address], model_id=MODEL, options=options
    )
    sessions = []
    try:
        assert pool.wait_ready(30)
        for _ in range(2):  # `first` holds two sessions at most
            sessions.append(pool.open_session(Sampling()))
            sessions[-1].prefill(PROMPT)
        with pytest.raises(ShardPoolBusyError, match="every node serving layers 0:1 is full") as busy:
            pool.open_session(Sampling()).prefill(PROMPT)
        assert busy.value.retry_after_s >= 1
    finally:
        for session in sessions:
            session.close()
        pool.close()
