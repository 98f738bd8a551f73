"""The committee's state as the API shows it, kept in the store (oracle:committee) by the oracle service; its own
module so that the API reads it without importing the service."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


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
