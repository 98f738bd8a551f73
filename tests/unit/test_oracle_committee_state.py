"""qcl.oracle.status.read_state: the committee as the API shows it, from one process's key or merged from the keys
of members that each run alone (QCL_ORACLE_MEMBER)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from qcl.oracle.status import CommitteeState, MemberState, read_state
from qcl.store.keys import ORACLE_COMMITTEE, ORACLE_COMMITTEE_MEMBER
from qcl.store.memory import MemoryStore

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def seen_by(index: int | None, *, sequence: int, view: int = 0, at: datetime = T0) -> CommitteeState:
    """A state as written by the process hosting member `index` alone (None: hosting all four)."""
    members = [
        MemberState(
            node_id=f"oracle-{i}",
            index=i,
            running=index is None or i == index,
            reputation=1.0 - 0.1 * i,
            excluded=False,
            tombstoned=False,
        )
        for i in range(4)
    ]
    primary = f"oracle-{(sequence + view) % 4}"
    return CommitteeState(
        committee_id="c1", n=4, f=1, quorum=3, sequence=sequence, view=view, primary=primary, members=members,
        updated_at=at,
    )  # fmt: skip


def test_members_running_alone_are_each_shown_running_from_their_own_key() -> None:
    store = MemoryStore()
    for index, sequence in ((0, 3), (1, 5), (3, 4)):  # member 2 never wrote: it is not running
        state = seen_by(index, sequence=sequence, at=T0 + timedelta(seconds=index))
        store.put(ORACLE_COMMITTEE_MEMBER.key(index=index), state.model_dump_json())
    merged = read_state(store.get)
    assert merged is not None
    assert [m.running for m in merged.members] == [True, True, False, True]
    assert (merged.sequence, merged.primary) == (5, "oracle-1")  # the latest decision any member saw
    assert merged.updated_at == T0 + timedelta(seconds=3)
    assert [m.reputation for m in merged.members] == [1.0, 0.9, 0.8, 0.7]


def test_one_process_hosting_every_member_is_read_as_written() -> None:
    store = MemoryStore()
    assert read_state(store.get) is None
    store.put(ORACLE_COMMITTEE.key(), seen_by(None, sequence=2).model_dump_json())
    state = read_state(store.get)
    assert state is not None and all(m.running for m in state.members) and state.sequence == 2


def test_an_unreadable_state_is_none_not_an_error() -> None:
    store = MemoryStore()
    store.put(ORACLE_COMMITTEE_MEMBER.key(index=1), '{"committee_id": "c1"}')
    assert read_state(store.get) is None
