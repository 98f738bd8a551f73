"""Data-plane frames: header fields, tensor bytes in fp32/fp16/int8, sizes per token, and malformed input."""

from __future__ import annotations

import struct
import uuid

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from qcl.shard.errors import WireError
from qcl.shard.wire import (
    FLAG_REPLAY,
    HEADER,
    as_replay,
    decode,
    encode,
    hidden_frame,
    ids_frame,
    resolve_wire,
    span_frame,
    to_tensor,
)

SESSION = uuid.UUID(int=7).bytes


def _hidden(seq: int = 3, width: int = 576, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, seq, width, generator=torch.Generator().manual_seed(seed)) * 4  # (1, seq, hidden)


def test_header_fields_survive_the_round_trip() -> None:
    frame = decode(encode(hidden_frame(SESSION, step=5, position=41, hidden=_hidden(), wire="fp16")))
    assert (frame.kind, frame.session, frame.step, frame.position) == ("hidden", SESSION, 5, 41)
    assert (frame.dtype, frame.shape, frame.tokens, frame.replay) == ("fp16", (1, 3, 576), 3, False)


def test_fp32_hidden_states_travel_bit_exact() -> None:
    hidden = _hidden()
    assert torch.equal(to_tensor(decode(encode(hidden_frame(SESSION, 0, 0, hidden, "fp32")))), hidden)


def test_fp16_hidden_states_keep_three_significant_digits() -> None:
    hidden = _hidden()
    back = to_tensor(decode(encode(hidden_frame(SESSION, 0, 0, hidden, "fp16"))))
    assert back.dtype == torch.float32
    torch.testing.assert_close(back, hidden, rtol=1e-3, atol=1e-3)


def test_int8_hidden_states_err_by_at_most_half_a_step_of_each_tokens_scale() -> None:
    hidden = _hidden()
    back = to_tensor(decode(encode(hidden_frame(SESSION, 0, 0, hidden, "int8"))))
    step = hidden.abs().amax(dim=-1, keepdim=True) / 127  # (1, seq, 1): one scale per token
    assert bool(((back - hidden).abs() <= step / 2 + 1e-6).all())


def test_an_all_zero_row_survives_int8() -> None:
    hidden = torch.zeros(1, 2, 8)
    assert torch.equal(to_tensor(decode(encode(hidden_frame(SESSION, 0, 0, hidden, "int8")))), hidden)


@pytest.mark.parametrize(("wire", "payload"), [("fp32", 2304), ("fp16", 1152), ("int8", 580)])
def test_bytes_per_token_for_smollm2s_576_hidden_units(wire: str, payload: int) -> None:
    # distributed-inference.md §4.2: 2,304 B fp32, 1,152 B fp16, 580 B int8 + one fp32 scale per token.
    raw = encode(hidden_frame(SESSION, 9, 100, _hidden(seq=1), wire))  # type: ignore[arg-type]
    assert len(raw) == HEADER.size + 3 * 4 + payload


def test_token_ids_travel_as_int64() -> None:
    ids = torch.tensor([[1, 49151, 7]])
    frame = decode(encode(ids_frame("tokens", SESSION, 0, 0, ids)))
    assert frame.dtype == "int64" and torch.equal(to_tensor(frame), ids)


def test_replay_flag_marks_a_frame_without_changing_it_otherwise() -> None:
    raw = encode(ids_frame("tokens", SESSION, 3, 10, torch.tensor([[5]])))
    replayed = decode(as_replay(raw))
    assert replayed.replay and replayed.flags == FLAG_REPLAY
    assert (replayed.step, replayed.position, replayed.payload) == (3, 10, decode(raw).payload)


@given(
    seq=st.integers(min_value=1, max_value=16),
    width=st.integers(min_value=1, max_value=64),
    step=st.integers(min_value=0, max_value=2**32 - 1),
    wire=st.sampled_from(["fp32", "fp16", "int8"]),
)
def test_any_hidden_frame_decodes_to_its_shape(seq: int, width: int, step: int, wire: str) -> None:
    frame = decode(encode(hidden_frame(SESSION, step, 0, torch.ones(1, seq, width), wire)))  # type: ignore[arg-type]
    assert frame.shape == (1, seq, width) and frame.step == step
    assert to_tensor(frame).shape == (1, seq, width)


def _valid() -> bytes:
    return encode(hidden_frame(SESSION, 1, 2, torch.ones(1, 2, 4), "fp16"))


def _patched(offset: int, value: int) -> bytes:
    raw = bytearray(_valid())
    raw[offset] = value
    return bytes(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"QF\x01", "expected at least 32 header bytes, got 3"),
        (b"XX" + _valid()[2:], "expected magic b'QF', got b'XX'"),
        (_patched(2, 9), "expected version 1, got 9"),
        (_patched(3, 42), "frame.kind: expected one of"),
        (_patched(4, 77), "frame.dtype: a hidden frame carries fp32, fp16, int8, got 77"),
        (_patched(4, 1), "frame.dtype: a hidden frame carries fp32, fp16, int8, got int64"),
        (_patched(6, 0), "frame.shape: expected 1..4 dimensions, got 0"),
        (_valid()[: HEADER.size + 4], "frame.shape: expected 3 dimensions, the frame ends after 36 bytes"),
        (_valid()[:-2], "shape [1, 2, 4] in fp16 takes 16 bytes, got 14"),
        (_valid() + b"\x00", "shape [1, 2, 4] in fp16 takes 16 bytes, got 17"),
    ],
)
def test_malformed_frames_are_refused_naming_the_field(raw: bytes, message: str) -> None:
    with pytest.raises(WireError) as error:
        decode(raw)
    assert message in str(error.value)


def test_token_frames_must_be_int64() -> None:
    header = HEADER.pack(b"QF", 1, 1, 3, 0, 2, SESSION, 0, 0)  # kind tokens, dtype fp16
    raw = header + struct.pack("<2I", 1, 1) + np.zeros(1, "<f2").tobytes()
    with pytest.raises(WireError, match="a tokens frame carries int64, got fp16"):
        decode(raw)


def test_a_span_merges_consecutive_decode_frames_into_one_replayed_frame() -> None:
    frames = [hidden_frame(SESSION, step, 20 + step, _hidden(seq=1, seed=step), "fp16") for step in range(1, 4)]
    span = decode(encode(span_frame(frames)))
    assert (span.step, span.position, span.shape, span.steps) == (1, 21, (1, 3, 576), 3)
    assert span.replay and span.span
    expected = torch.cat([to_tensor(f) for f in frames], dim=1)
    assert torch.equal(to_tensor(span), expected)


def test_a_span_of_token_frames_stays_token_ids() -> None:
    frames = [ids_frame("tokens", SESSION, step, 9 + step, torch.tensor([[step]])) for step in (1, 2)]
    span = span_frame(frames)
    assert span.kind == "tokens" and torch.equal(to_tensor(span), torch.tensor([[1, 2]]))


def test_frames_that_do_not_follow_each_other_make_no_span() -> None:
    frames = [hidden_frame(SESSION, step, step, _hidden(seq=1), "fp32") for step in (1, 3)]
    with pytest.raises(WireError, match="frame step 3 does not follow step 1"):
        span_frame(frames)


@pytest.mark.parametrize(
    ("choice", "quantization", "wire"),
    [
        ("auto", "none", "fp16"),
        ("auto", "int8-dynamic", "fp32"),
        ("int8", "int8-dynamic", "int8"),
        ("fp16", "none", "fp16"),
    ],
)
def test_the_wire_setting_resolves_for_the_served_weights(choice: str, quantization: str, wire: str) -> None:
    assert resolve_wire(choice, quantization) == wire


def test_an_unknown_wire_dtype_is_refused() -> None:
    with pytest.raises(WireError, match="wire: expected auto or one of fp32, fp16, int8, got 'bf16'"):
        resolve_wire("bf16", "none")
