"""The committee's state as the API shows it, kept in the store by the oracle service; its own module so that the
API reads it without importing the service.

A process hosting every member writes oracle:committee. A member run alone (one Cloud Run service or pod each,
QCL_ORACLE_MEMBER) knows only whether it runs itself, so each writes oracle:committee:member:<i>, and `read_state`
merges them: each member's `running` from its own process, the latest decision from whichever saw it. (One shared
key written by every member showed one member running at a time, whichever wrote last.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ValidationError

from qcl.store.keys import ORACLE_COMMITTEE, ORACLE_COMMITTEE_MEMBER

log = logging.getLogger(__name__)
MAX_MEMBERS = 7  # the largest committee (QCL_ORACLE_NODES: 4 or 7)


class MemberState(BaseModel):
    node_id: str
    index: int
    running: bool
    reputation: float  # the ledger's score in [0, 1]
    excluded: bool  # below the threshold: its votes count for nothing
    tombstoned: bool  # equivocated: excluded for good


class CommitteeState(BaseModel):
    """The committee as the API shows it. Views are per job (PBFT per sequence): `sequence` and `view` are those of
    the latest decision (job 0, view 0 before the first), `primary` the member that leads that view."""

    committee_id: str
    n: int
    f: int
    quorum: int
    sequence: int
    view: int
    primary: str
    members: list[MemberState]
    updated_at: datetime


def merge_members(states: dict[int, CommitteeState]) -> CommitteeState:
    """One state from the states member i's own process wrote (index -> state): member i's entry from its own,
    the latest decision (sequence, view, primary) and the freshest time from whichever is newest."""
    latest = max(states.values(), key=lambda state: (state.sequence, state.view, state.updated_at))
    own = {i: next(m for m in state.members if m.index == i) for i, state in states.items()}
    members = [own.get(m.index, m.model_copy(update={"running": False})) for m in latest.members]
    newest = max(state.updated_at for state in states.values())
    return latest.model_copy(update={"members": members, "updated_at": newest})


def read_state(get: Callable[[str], str | None]) -> CommitteeState | None:
    """The committee's state from the store (`get`: its read): the one key a process hosting every member writes
    (one read, the local stack's case), else the members' own keys merged; None when none is kept or what is kept
    cannot be read (logged). A member run alone removes the shared key when it starts (qcl.oracle.service)."""
    try:
        raw = get(ORACLE_COMMITTEE.key())
        if raw is not None:
            return CommitteeState.model_validate_json(raw)
        per_member = {i: raw for i in range(MAX_MEMBERS) if (raw := get(ORACLE_COMMITTEE_MEMBER.key(index=i)))}
        if not per_member:
            return None
        return merge_members({i: CommitteeState.model_validate_json(raw) for i, raw in per_member.items()})
    except ValidationError as exc:
        log.warning("unreadable oracle committee state: %s", exc.errors()[0]["msg"])
        return None
