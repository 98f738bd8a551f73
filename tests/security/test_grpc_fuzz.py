"""Fuzzing a real shard stage's gRPC server (tiny-random-qwen2, embedding + layer 0) with frames and metadata.

Random bytes, valid frames with bytes of their header overwritten, truncated or padded, frames announcing huge
shapes, and random call metadata: each call ends with a caller's-mistake status (never INTERNAL or UNKNOWN, which
would mean a handler crashed on input) or, for a mutation that happens to be a valid frame, an answer; and the
server answers its health check afterwards. Plaintext (the mTLS refusals have their own suite, test_shard_tls).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator

import grpc
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcl.config import load_settings
from qcl.shard.client import check_health
from qcl.shard.server import ServerOptions, ShardServer, build_server
from qcl.shard.wire import HEADER, SERVICE, encode, ids_frame

pytestmark = pytest.mark.xdist_group("security_grpc")

MODEL = "tiny-random-qwen2"
CALLERS_MISTAKES = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
FUZZ = settings(
    max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[grpc.Channel]:
    config = load_settings(model_cache_dir=tmp_path_factory.mktemp("models"), shard_tls=False)
    server: ShardServer = build_server(config, MODEL, [range(0, 1)], ServerOptions(port=0, node_id="fuzzed")).start()
    opened = grpc.insecure_channel(server.address)
    yield opened
    opened.close()
    server.stop(0)


def valid_frame(session: bytes) -> bytes:
    return encode(ids_frame("tokens", session, 0, 0, torch.tensor([[5, 9, 40]])))


def session_call(channel: grpc.Channel, frame: bytes, session: bytes, **metadata: str) -> grpc.StatusCode:
    """Send one frame on a new session; the call's status (OK when it answered)."""
    sent = {"qcl-session": session.hex(), "qcl-layers": "0:1", "qcl-wire": "fp16", "qcl-sampling": "{}", **metadata}
    call = channel.stream_stream(f"/{SERVICE}/Session")
    try:
        for _ in call(iter([frame]), metadata=tuple(sent.items()), timeout=30):
            pass
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def assert_refused_or_answered(code: grpc.StatusCode) -> None:
    assert code in CALLERS_MISTAKES | {grpc.StatusCode.OK}, code


@FUZZ
@given(raw=st.binary(max_size=512))
def test_random_bytes_as_a_frame_are_refused(channel: grpc.Channel, raw: bytes) -> None:
    code = session_call(channel, raw, uuid.uuid4().bytes)
    assert code in CALLERS_MISTAKES, code


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, HEADER.size + 7), st.integers(0, 255)), min_size=1, max_size=6))
def test_a_frame_with_its_header_bytes_overwritten_is_refused_or_answered(
    channel: grpc.Channel, edits: list[tuple[int, int]]
) -> None:
    session = uuid.uuid4().bytes
    frame = bytearray(valid_frame(session))
    for at, value in edits:
        frame[at] = value
    assert_refused_or_answered(session_call(channel, bytes(frame), session))


@FUZZ
@given(cut=st.integers(0, 80), tail=st.binary(max_size=64))
def test_a_truncated_or_padded_frame_is_refused(channel: grpc.Channel, cut: int, tail: bytes) -> None:
    session = uuid.uuid4().bytes
    frame = valid_frame(session)
    mangled = frame[: len(frame) - 1 - cut] + tail if tail else frame[: len(frame) - 1 - cut]
    assert session_call(channel, mangled, session) in CALLERS_MISTAKES


def test_a_frame_announcing_a_huge_shape_is_refused_without_allocating_it(channel: grpc.Channel) -> None:
    session = uuid.uuid4().bytes
    frame = bytearray(valid_frame(session))
    frame[6] = 4  # ndim
    huge = struct.pack("<4I", 2**32 - 1, 2**32 - 1, 2**32 - 1, 2**32 - 1)
    mangled = bytes(frame[: HEADER.size]) + huge + b"\0" * 64
    assert session_call(channel, mangled, session) == grpc.StatusCode.INVALID_ARGUMENT


def test_an_oversized_message_of_real_tokens_is_refused(channel: grpc.Channel) -> None:
    """Four megabytes of token ids: past the model's context, refused by length, not run."""
    session = uuid.uuid4().bytes
    frame = encode(ids_frame("tokens", session, 0, 0, torch.ones((1, 500_000), dtype=torch.int64)))
    assert session_call(channel, frame, session) == grpc.StatusCode.INVALID_ARGUMENT


@FUZZ
@given(
    name=st.sampled_from(["qcl-session", "qcl-layers", "qcl-wire", "qcl-sampling"]),
    value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
)
def test_random_call_metadata_is_refused_or_answered(channel: grpc.Channel, name: str, value: str) -> None:
    session = uuid.uuid4().bytes
    assert_refused_or_answered(session_call(channel, valid_frame(session), session, **{name: value}))


@FUZZ
@given(method=st.sampled_from(["Close", "Load"]), raw=st.binary(max_size=256))
def test_random_bytes_to_the_unary_methods_are_refused(channel: grpc.Channel, method: str, raw: bytes) -> None:
    with pytest.raises(grpc.RpcError) as failure:
        channel.unary_unary(f"/{SERVICE}/{method}")(raw, timeout=30)
    assert failure.value.code() in CALLERS_MISTAKES


def test_the_stage_still_serves_after_the_fuzzing(channel: grpc.Channel) -> None:
    assert check_health(channel)
    session = uuid.uuid4().bytes
    assert session_call(channel, valid_frame(session), session) == grpc.StatusCode.OK
