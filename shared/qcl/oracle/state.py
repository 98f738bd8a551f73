"""The protocol core's vocabulary: configuration, the events it takes, the effects it asks for, and its state.

The core reads no clock and does no I/O: time arrives as Timeout events, results as Executed events, messages as
Deliver events; what it wants done comes back as effects (send, execute, set a timer, persist, publish). The same
code therefore runs under the seeded simulator and the real runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qcl.events import OracleRequest, OracleResult
from qcl.oracle.evidence import Evidence
from qcl.oracle.messages import Message
from qcl.oracle.proposals import Proposal
from qcl.oracle.viewchange import PreparedCert, ViewChange


@dataclass(frozen=True)
class ProtocolConfig:
    # Base view timeout; view v waits base·2^v (PBFT: each failed view change doubles it). The timer starts once the
    # member has its own result, so it is sized to network + protocol time, not inference time.
    view_timeout_ms: float = 2000.0
    # A stable checkpoint every K decided sequences lets members forget finished jobs (PBFT's K; 100 in the paper,
    # smaller here because each sequence is a whole job, not one request of a stream).
    checkpoint_interval: int = 16
    # Sequences accepted above the stable checkpoint (PBFT's high watermark L = 2K): bounds memory and flooding.
    window: int = 32
    # Views ahead of our own for which messages are kept (more is a flood from a faulty member).
    view_window: int = 16
    # The doubling stops at 2^6 x base: later views retry at a steady pace instead of waiting for hours.
    max_doublings: int = 6
    # While undecided, a member re-sends its own messages of the current view every half view timeout (at most
    # every 2 x base): links lose messages, and PBFT's liveness assumes what is lost is sent again. Decisions
    # normally take far less than that, so normally nothing is re-sent.
    retransmit_fraction: float = 0.5
    # Finished jobs remembered after their checkpoint, so a replayed request gets the cached attestation.
    done_cache: int = 1024


# -- events in ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deliver:
    message: Message
    link: int | None = None  # the transport peer it came from, where the transport knows (not a claim in the message)


@dataclass(frozen=True)
class Submit:
    request: OracleRequest
    reply_to: str | None = None  # loopback clients: where to send the attestation
    relay: bool = True  # a request taken off the bus is relayed to the other members


@dataclass(frozen=True)
class Executed:
    seq: int
    job_id: str
    result: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Timeout:
    seq: int
    view: int
    generation: int
    retransmit: bool = False  # the periodic re-send of this view's own messages, not the view timer


Event = Deliver | Submit | Executed | Timeout


# -- effects out --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    message: Message
    to: int | None = None  # None: every other member


@dataclass(frozen=True)
class Execute:
    request: OracleRequest


@dataclass(frozen=True)
class SetTimer:
    seq: int
    view: int
    generation: int
    delay_ms: float
    retransmit: bool = False

    def timeout(self) -> Timeout:
        return Timeout(self.seq, self.view, self.generation, self.retransmit)


@dataclass(frozen=True)
class Decide:
    attestation: OracleResult
    reply_to: str | None = None


@dataclass(frozen=True)
class Found:
    evidence: Evidence


@dataclass(frozen=True)
class Persist:
    """Write the durable state before releasing any message signed in this step (write-ahead, as tmkms does)."""

    durable: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """A message that failed its checks; blamed on the transport peer, never on the member it names."""

    reason: str
    link: int | None
    claimed_sender: int


Effect = Send | Execute | SetTimer | Decide | Found | Persist | Rejected


# -- state --------------------------------------------------------------------------------------------------------


@dataclass
class Durable:
    """What survives a crash: every signed slot, accepted requests, decisions, the stable checkpoint."""

    signed: dict[str, Message] = field(default_factory=dict)  # "TYPE/view/seq" -> the message signed for it
    locks: dict[int, str] = field(default_factory=dict)  # seq -> outcome digest this member has COMMITted
    requests: dict[int, OracleRequest] = field(default_factory=dict)
    decided: dict[int, OracleResult] = field(default_factory=dict)
    stable: int = -1

    def to_json(self) -> dict[str, Any]:
        return {
            "signed": {k: m.model_dump(mode="json") for k, m in self.signed.items()},
            "locks": {str(k): v for k, v in self.locks.items()},
            "requests": {str(k): r.model_dump(mode="json") for k, r in self.requests.items()},
            "decided": {str(k): a.model_dump(mode="json") for k, a in self.decided.items()},
            "stable": self.stable,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Durable:
        return cls(
            signed={k: Message.model_validate(m) for k, m in body.get("signed", {}).items()},
            locks={int(k): v for k, v in body.get("locks", {}).items()},
            requests={int(k): OracleRequest.model_validate(r) for k, r in body.get("requests", {}).items()},
            decided={int(k): OracleResult.model_validate(a) for k, a in body.get("decided", {}).items()},
            stable=int(body.get("stable", -1)),
        )


@dataclass
class Instance:
    """One job's single-shot agreement at this member."""

    seq: int
    request: OracleRequest | None = None
    reply_to: str | None = None
    result: Any = None  # our own result (revealed in the attestation)
    result_bytes: bytes | None = None  # its canonical bytes (exact jobs)
    value: float | None = None  # numeric jobs
    executed: bool = False
    own_observation: Message | None = None
    view: int = 0
    changing: bool = False  # sent VIEW-CHANGE for `view`, waiting for its NEW-VIEW
    timer_generation: int = 0
    observations: dict[int, Message] = field(default_factory=dict)
    pre_prepares: dict[int, tuple[Message, Proposal]] = field(default_factory=dict)
    pending_pre_prepares: dict[int, Message] = field(default_factory=dict)
    agreed: set[int] = field(default_factory=set)  # views whose proposal we proposed or prepared
    prepares: dict[int, dict[int, Message]] = field(default_factory=dict)
    commits: dict[int, dict[int, Message]] = field(default_factory=dict)
    prepared: PreparedCert | None = None  # our highest prepared certificate
    known_proposals: dict[str, Proposal] = field(default_factory=dict)  # by outcome digest
    view_changes: dict[int, dict[int, ViewChange]] = field(default_factory=dict)
    new_view_sent: set[int] = field(default_factory=set)
    open_views: set[int] = field(default_factory=lambda: {0})  # views entered without a required outcome
    decision: OracleResult | None = None
    awaiting_reveal: str | None = None  # committed outcome digest whose result we do not hold
    received: set[tuple[Any, ...]] = field(default_factory=set)  # uids, to recognise re-sent messages
    replied: set[tuple[int, str, int]] = field(default_factory=set)  # DECISIONs sent: (peer, type, view)
    early: list[tuple[Message, int | None]] = field(default_factory=list)  # before the request arrived
