"""The replica's checkpoints (PBFT §4.3): every K decided jobs, 2f+1 matching CHECKPOINTs make a sequence stable and
everything at or below it is forgotten, which bounds the logs; a member behind adopts the stable point.

Checkpoint ranges are fixed ((k-1)K, kK-1], so every member hashes the same decisions for the same checkpoint.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from qcl.oracle.canonical import digest_of
from qcl.oracle.messages import Message, MsgType

if TYPE_CHECKING:
    from qcl.oracle.replica_core import ReplicaCore


def checkpoint_digest(r: ReplicaCore, upto: int) -> str | None:
    """Digest of the decisions in the checkpoint range ending at `upto` (fixed ranges: every member agrees)."""
    entries = []
    for seq in range(upto - r.config.checkpoint_interval + 1, upto + 1):
        attestation = r.durable.decided.get(seq)
        if attestation is None:
            return None
        entries.append([seq, attestation.job_id, attestation.digest])
    return digest_of(entries)


def maybe_checkpoint(r: ReplicaCore, seq: int) -> None:
    interval = r.config.checkpoint_interval
    upto = seq - seq % interval + interval - 1  # the last sequence of seq's checkpoint range
    digest = checkpoint_digest(r, upto)
    if digest is None:
        return
    checkpoint = r._sign(MsgType.CHECKPOINT, 0, upto, "", digest)
    if checkpoint is not None:
        r.checkpoint_votes.setdefault(upto, {})[r.me] = checkpoint.digest
        r._send(checkpoint)
        check_stable(r, upto)


def on_checkpoint(r: ReplicaCore, msg: Message) -> None:
    if not r._in_window(msg.seq) or (msg.seq + 1) % r.config.checkpoint_interval:
        return
    r.checkpoint_votes.setdefault(msg.seq, {}).setdefault(msg.sender, msg.digest)
    check_stable(r, msg.seq)


def check_stable(r: ReplicaCore, upto: int) -> None:
    """2f+1 matching checkpoints make `upto` stable: forget everything at or below it (bounded logs)."""
    votes = Counter(r.checkpoint_votes.get(upto, {}).values())
    if not votes or votes.most_common(1)[0][1] < r.committee.quorum or upto <= r.durable.stable:
        return
    durable = r.durable
    durable.stable = upto
    durable.requests = {seq: r for seq, r in durable.requests.items() if seq > upto}
    durable.decided = {seq: a for seq, a in durable.decided.items() if seq > upto}
    durable.locks = {seq: d for seq, d in durable.locks.items() if seq > upto}
    r.durable.signed = {k: m for k, m in r.durable.signed.items() if m.seq > upto}
    r._dirty = True
    for seq in [s for s in r.instances if s <= upto]:
        del r.instances[seq]
    r.checkpoint_votes = {s: v for s, v in r.checkpoint_votes.items() if s > upto}
    r.slots = {k: m for k, m in r.slots.items() if k[3] > upto}
    r.evidence = {k: e for k, e in r.evidence.items() if e.seq > upto}
    r.replied = {r for r in r.replied if r[0] > upto}
