"""One stage: a contiguous range of decoder layers and the sessions flowing through it, transport-free.

    stage = Stage(load_stage("smollm2-135m-instruct", settings, range(0, 11)), capacity=16, ttl_s=300)
    session = stage.open(session_id, Sampling(), wire="fp16")
    reply = stage.step(session, frame)      # hidden states for the next stage, or the last stage's token

It runs the model runtime's per-step functions (embed, run_layers, final_logits, suppress, sample) on its range,
with its own cache per session: the same code path as the single node, cut in three. Every frame is checked
before it touches the model: its session, step and position must be the session's next ones, its kind, dtype and
shape what this stage takes; a mistake raises an error naming what was expected and what came.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import torch

from qcl.model.steps import embed, final_logits, new_cache, run_layers, sample, suppress
from qcl.shard.errors import StepOrderError, WireError
from qcl.shard.loading import StageModel
from qcl.shard.sessions import Sampling, Session, SessionTable, session_hex
from qcl.shard.wire import WIRE_DTYPES, Frame, hidden_frame, ids_frame, to_tensor


@dataclass
class StageStats:
    frames: int = 0
    tokens: int = 0
    compute_s: float = 0.0
    decode_frames: int = 0
    decode_compute_s: float = 0.0


class Stage:
    def __init__(self, held: StageModel, *, capacity: int, ttl_s: float, device: str = "cpu") -> None:
        self.held = held
        self.layers = held.layers
        self.device = torch.device(device)
        self.sessions = SessionTable(capacity, ttl_s)
        self.stats = StageStats()
        self._lock = threading.Lock()  # one forward pass at a time per stage; threads go to the ops inside it

    @property
    def name(self) -> str:
        return f"{self.layers.start}:{self.layers.stop}"

    def open(self, session_id: bytes, sampling: Sampling, wire: str, peer: str = "plaintext") -> Session:
        if wire not in WIRE_DTYPES:
            raise WireError(f"wire: expected one of {', '.join(WIRE_DTYPES)}, got {wire!r}")
        return self.sessions.open(
            session_id, lambda: Session(session_id, new_cache(self.held.model), sampling, wire, peer), peer=peer
        )

    def step(self, session: Session, frame: Frame) -> Frame | None:
        """Run one frame through the range; the reply (None for a replayed frame, which only rebuilds the cache)."""
        self.sessions.get(session.session_id, owner=session)
        self._check(session, frame)
        started = time.perf_counter()
        with self._lock, torch.inference_mode():
            reply = self._forward(session, frame)
        elapsed = time.perf_counter() - started
        session.next_step += frame.steps
        session.position += frame.tokens
        self.stats.frames += 1
        self.stats.tokens += frame.tokens
        self.stats.compute_s += elapsed
        if frame.step > 0 and not frame.replay:
            self.stats.decode_frames += 1
            self.stats.decode_compute_s += elapsed
        return reply

    def _forward(self, session: Session, frame: Frame) -> Frame | None:
        model = self.held.model
        seq, start = frame.tokens, frame.position
        inputs = to_tensor(frame).to(self.device)
        hidden = embed(model, inputs) if self.held.first else inputs  # (1, seq, hidden)
        positions = torch.arange(start, start + seq, device=self.device)[None, :]  # (1, seq)
        mask = torch.ones(1, start + seq, dtype=torch.long, device=self.device)  # (1, seen + seq): no padding
        hidden = run_layers(model, hidden, self.layers, session.cache, positions, mask)
        if frame.replay:
            return None  # the cache is rebuilt; a replayed frame needs no output (and the last stage no LM head)
        if not self.held.last:
            return hidden_frame(session.session_id, frame.step, start, hidden.cpu(), session.wire)  # type: ignore[arg-type]
        sampling = session.sampling
        logits = suppress(final_logits(model, hidden), sampling.banned)  # (1, vocab)
        token = sample(logits.cpu(), sampling, sampling.generator(frame.step))  # (1,)
        return ids_frame("token", session.session_id, frame.step, start, token)

    def _check(self, session: Session, frame: Frame) -> None:
        name = f"stage {self.name}"
        if frame.session != session.session_id:
            raise WireError(
                f"frame.session: this stream carries session {session_hex(session.session_id)}, "
                f"got a frame of {session_hex(frame.session)}"
            )
        if frame.span and not frame.replay:
            raise WireError("frame.flags: a span of decode steps is only ever replayed")
        if frame.step != session.next_step:
            raise StepOrderError(
                f"session {session_hex(frame.session)}: expected step {session.next_step}, got step {frame.step}"
            )
        if frame.position != session.position:
            raise StepOrderError(
                f"session {session_hex(frame.session)}: expected position {session.position}, "
                f"got position {frame.position}"
            )
        limit = self.held.spec.context_length
        if frame.position + frame.tokens > limit:
            raise WireError(
                f"frame: positions {frame.position}..{frame.position + frame.tokens - 1} exceed the context "
                f"length of {self.held.spec.id} ({limit})"
            )
        if self.held.first:
            self._check_tokens(name, frame)
        else:
            self._check_hidden(name, session, frame)

    def _check_tokens(self, name: str, frame: Frame) -> None:
        if frame.kind != "tokens" or len(frame.shape) != 2 or frame.shape[0] != 1 or frame.shape[1] < 1:
            raise WireError(
                f"{name} holds the embedding and takes token ids: expected a tokens frame of shape [1, seq], "
                f"got a {frame.kind} frame of shape {list(frame.shape)}"
            )
        ids = to_tensor(frame)
        vocab = self.held.vocab_size
        if int(ids.min()) < 0 or int(ids.max()) >= vocab:
            raise WireError(f"frame: token ids must lie in 0..{vocab - 1}, got {int(ids.min())}..{int(ids.max())}")

    def _check_hidden(self, name: str, session: Session, frame: Frame) -> None:
        hidden = self.held.hidden_size
        if frame.kind != "hidden" or len(frame.shape) != 3 or frame.shape[0] != 1 or frame.shape[2] != hidden:
            raise WireError(
                f"{name} takes hidden states: expected a hidden frame of shape [1, seq, {hidden}], "
                f"got a {frame.kind} frame of shape {list(frame.shape)}"
            )
        if frame.shape[1] < 1:
            raise WireError(f"{name}: expected at least one token position, got shape {list(frame.shape)}")
        if frame.dtype != session.wire:
            raise WireError(f"frame.dtype: session {session_hex(frame.session)} uses {session.wire}, got {frame.dtype}")
