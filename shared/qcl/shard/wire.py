"""Frames of the shard data plane: a 32-byte header, the tensor's shape, then its raw little-endian bytes.

    frame = hidden_frame(session, step=3, position=41, hidden=h, wire="fp16")   # h: (1, seq, hidden) fp32
    raw = encode(frame)            # 32 + 4 * ndim + payload bytes; what travels in one gRPC message
    same = decode(raw)             # WireError names the field when the bytes are not a valid frame
    h16 = to_tensor(same)          # back to fp32 (batch, seq, hidden)

Layout (all little-endian):
    magic "QF" | version u8 | kind u8 | dtype u8 | flags u8 | ndim u8 | pad u8 | session 16 bytes | step u32 |
    position u32 | shape ndim x u32 | payload
`step` numbers a session's frames from 0 (the prompt); `position` is the first token position the frame carries
(the tokens its stage has already cached). Activations travel in fp16 by default: 1,152 bytes per token for SmolLM2's
576 hidden units against 2,304 in fp32 (distributed-inference.md §4.2); int8 keeps one fp32 scale per token
(row-wise absmax), 580 bytes. Raw frames over gRPC's generic handlers rather than protobuf: the layout is this
module, nothing is generated, and the tensor bytes are not wrapped again.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from math import prod
from typing import Any, Literal

import numpy as np
import torch

from qcl.shard.errors import WireError

WireDtype = Literal["fp32", "fp16", "int8"]
WIRE_DTYPES: tuple[WireDtype, ...] = ("fp32", "fp16", "int8")

# The gRPC service the frames travel on (server.py); raw bytes through generic handlers, no generated code.
SERVICE = "qcl.shard.v1.Shard"
MAGIC = b"QF"
VERSION = 1
HEADER = struct.Struct("<2sBBBBBx16sII")
MAX_NDIM = 4
FLAG_REPLAY = 1  # replayed to rebuild a cache: the stage answers nothing
FLAG_SPAN = 2  # a replayed span of one-token decode steps, one step per token (replay of long sessions)

Kind = Literal["tokens", "hidden", "token"]
KINDS: dict[Kind, int] = {"tokens": 1, "hidden": 2, "token": 3}
DTYPES: dict[str, int] = {"int64": 1, "fp32": 2, "fp16": 3, "int8": 4}
_KIND_NAMES = {code: name for name, code in KINDS.items()}
_DTYPE_NAMES = {code: name for name, code in DTYPES.items()}
_NUMPY: dict[str, np.dtype[Any]] = {
    "int64": np.dtype("<i8"),
    "fp32": np.dtype("<f4"),
    "fp16": np.dtype("<f2"),
    "int8": np.dtype("i1"),
}
_ALLOWED = {"tokens": ("int64",), "token": ("int64",), "hidden": WIRE_DTYPES}


@dataclass(frozen=True)
class Frame:
    kind: Kind
    session: bytes  # 16 bytes (a UUID)
    step: int
    position: int
    dtype: str
    shape: tuple[int, ...]
    payload: bytes
    flags: int = 0

    @property
    def replay(self) -> bool:
        return bool(self.flags & FLAG_REPLAY)

    @property
    def span(self) -> bool:
        return bool(self.flags & FLAG_SPAN)

    @property
    def steps(self) -> int:
        """Session steps the frame advances: one, or one per token for a replayed span."""
        return self.tokens if self.span else 1

    @property
    def tokens(self) -> int:
        """Token positions the frame carries (its sequence length)."""
        return self.shape[1] if len(self.shape) >= 2 else 1


def resolve_wire(choice: str, quantization: str) -> WireDtype:
    """The activation dtype for QCL_SHARD_WIRE: "auto" is fp16, or fp32 for a model served int8-dynamic."""
    if choice == "auto":
        return "fp32" if quantization == "int8-dynamic" else "fp16"
    if choice not in WIRE_DTYPES:
        raise WireError(f"wire: expected auto or one of {', '.join(WIRE_DTYPES)}, got {choice!r}")
    return choice


def encode(frame: Frame) -> bytes:
    header = HEADER.pack(
        MAGIC,
        VERSION,
        KINDS[frame.kind],
        DTYPES[frame.dtype],
        frame.flags,
        len(frame.shape),
        frame.session,
        frame.step,
        frame.position,
    )
    return header + struct.pack(f"<{len(frame.shape)}I", *frame.shape) + frame.payload


def decode(raw: bytes) -> Frame:
    """Parse one frame; WireError says which field is wrong."""
    if len(raw) < HEADER.size:
        raise WireError(f"frame: expected at least {HEADER.size} header bytes, got {len(raw)}")
    magic, version, kind_code, dtype_code, flags, ndim, session, step, position = HEADER.unpack_from(raw)
    if magic != MAGIC:
        raise WireError(f"frame: expected magic {MAGIC!r}, got {magic!r}")
    if version != VERSION:
        raise WireError(f"frame: expected version {VERSION}, got {version}")
    kind = _KIND_NAMES.get(kind_code)
    if kind is None:
        raise WireError(f"frame.kind: expected one of {sorted(KINDS.values())}, got {kind_code}")
    dtype = _DTYPE_NAMES.get(dtype_code)
    if dtype is None or dtype not in _ALLOWED[kind]:
        allowed = ", ".join(_ALLOWED[kind])
        raise WireError(f"frame.dtype: a {kind} frame carries {allowed}, got {dtype or dtype_code}")
    if not 1 <= ndim <= MAX_NDIM:
        raise WireError(f"frame.shape: expected 1..{MAX_NDIM} dimensions, got {ndim}")
    end = HEADER.size + 4 * ndim
    if len(raw) < end:
        raise WireError(f"frame.shape: expected {ndim} dimensions, the frame ends after {len(raw)} bytes")
    shape = struct.unpack_from(f"<{ndim}I", raw, HEADER.size)
    payload = raw[end:]
    expected = payload_size(dtype, shape)
    if len(payload) != expected:
        raise WireError(f"frame payload: shape {list(shape)} in {dtype} takes {expected} bytes, got {len(payload)}")
    return Frame(kind, session, step, position, dtype, tuple(shape), payload, flags)


def as_replay(raw: bytes) -> bytes:
    """An encoded frame with its replay flag set (the flags byte sits at offset 5 of the header)."""
    return raw[:5] + bytes([raw[5] | FLAG_REPLAY]) + raw[6:]


def span_frame(frames: list[Frame]) -> Frame:
    """Consecutive one-token frames of a session merged into one replayed span (a replay of many decode steps)."""
    first = frames[0]
    for before, after in itertools.pairwise(frames):
        if after.step != before.step + before.steps or after.position != before.position + before.tokens:
            raise WireError(f"span: frame step {after.step} does not follow step {before.step}")
    hidden = torch.cat([to_tensor(frame) for frame in frames], dim=1)  # (1, tokens, hidden) or (1, tokens)
    if first.kind == "tokens":
        merged = ids_frame("tokens", first.session, first.step, first.position, hidden)
    else:
        merged = hidden_frame(first.session, first.step, first.position, hidden, first.dtype)  # type: ignore[arg-type]
    return Frame(
        merged.kind,
        merged.session,
        merged.step,
        merged.position,
        merged.dtype,
        merged.shape,
        merged.payload,
        FLAG_REPLAY | FLAG_SPAN,
    )


def payload_size(dtype: str, shape: tuple[int, ...]) -> int:
    count = prod(shape)
    if dtype == "int8":  # the values, then one fp32 scale per row (every dimension but the last)
        rows = prod(shape[:-1])
        return count + 4 * rows
    return count * _NUMPY[dtype].itemsize


def ids_frame(kind: Kind, session: bytes, step: int, position: int, ids: torch.Tensor, flags: int = 0) -> Frame:
    """Token ids (batch, seq) into stage 0, or the sampled id (batch,) out of the last stage."""
    array = ids.detach().to(torch.int64).contiguous().numpy().astype("<i8", copy=False)
    return Frame(kind, session, step, position, "int64", tuple(array.shape), array.tobytes(), flags)


def hidden_frame(session: bytes, step: int, position: int, hidden: torch.Tensor, wire: WireDtype) -> Frame:
    """Hidden states (batch, seq, hidden) in the wire dtype."""
    array = hidden.detach().float().contiguous().numpy()
    if wire == "fp32":
        payload = array.astype("<f4", copy=False).tobytes()
    elif wire == "fp16":
        payload = array.astype("<f2").tobytes()
    else:
        scales = np.abs(array).max(axis=-1, keepdims=True) / 127.0  # (batch, seq, 1)
        scales = np.where(scales == 0, 1.0, scales).astype("<f4")
        values = np.clip(np.rint(array / scales), -127, 127).astype("i1")
        payload = values.tobytes() + scales.tobytes()
    return Frame("hidden", session, step, position, wire, tuple(array.shape), payload)


def to_tensor(frame: Frame) -> torch.Tensor:
    """The frame's tensor: int64 ids, or fp32 hidden states (fp16 and int8 are widened)."""
    if frame.dtype == "int8":
        count = prod(frame.shape)
        values = np.frombuffer(frame.payload, dtype="i1", count=count).reshape(frame.shape)
        scales = np.frombuffer(frame.payload, dtype="<f4", offset=count).reshape(*frame.shape[:-1], 1)
        return torch.from_numpy(values.astype(np.float32) * scales)
    array = np.frombuffer(frame.payload, dtype=_NUMPY[frame.dtype]).reshape(frame.shape)
    if frame.dtype == "fp16":
        return torch.from_numpy(array.astype(np.float32))
    return torch.from_numpy(array.copy())  # frombuffer views read-only bytes; torch wants memory it may write
