"""A stage's session table: explicit capacity (refuse, never evict), TTL, close, reopen; per-step sampling seeds."""

from __future__ import annotations

import pytest
import torch

from qcl.shard.errors import SessionOwnerError, ShardFullError, UnknownSessionError
from qcl.shard.sessions import Sampling, Session, SessionTable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _sid(n: int) -> bytes:
    return n.to_bytes(16, "big")


def _open(table: SessionTable, n: int) -> Session:
    return table.open(_sid(n), lambda: Session(_sid(n), cache=None, sampling=Sampling(), wire="fp16"))


def test_a_full_table_refuses_a_new_session_and_keeps_every_open_one() -> None:
    table = SessionTable(capacity=2, ttl_s=60)
    first, second = _open(table, 1), _open(table, 2)
    with pytest.raises(ShardFullError, match="shard is full: 2 of 2 sessions open"):
        _open(table, 3)
    assert table.get(_sid(1)) is first and table.get(_sid(2)) is second
    assert table.refused == 1


def test_closing_a_session_makes_room_for_another() -> None:
    table = SessionTable(capacity=1, ttl_s=60)
    _open(table, 1)
    assert table.close(_sid(1))
    assert _open(table, 2).session_id == _sid(2)


def test_a_session_idle_past_its_ttl_expires_and_says_so() -> None:
    clock = Clock()
    table = SessionTable(capacity=4, ttl_s=30, clock=clock)
    _open(table, 1)
    clock.now += 31
    assert table.expire() == [_sid(1)]
    with pytest.raises(UnknownSessionError, match="expired after 30 s idle"):
        table.get(_sid(1))


def test_using_a_session_resets_its_idle_time() -> None:
    clock = Clock()
    table = SessionTable(capacity=4, ttl_s=30, clock=clock)
    _open(table, 1)
    clock.now += 20
    table.get(_sid(1))
    clock.now += 20
    assert table.expire() == []


def test_expired_sessions_free_capacity_for_new_ones() -> None:
    clock = Clock()
    table = SessionTable(capacity=1, ttl_s=5, clock=clock)
    _open(table, 1)
    clock.now += 6
    assert _open(table, 2).session_id == _sid(2)


def test_a_closed_session_is_unknown_and_says_it_was_closed() -> None:
    table = SessionTable(capacity=4, ttl_s=60)
    _open(table, 1)
    table.close(_sid(1))
    with pytest.raises(UnknownSessionError, match="is not open on this shard: closed"):
        table.get(_sid(1))


def test_a_session_never_opened_is_unknown() -> None:
    with pytest.raises(UnknownSessionError, match="a session opens with its step 0 frame"):
        SessionTable(capacity=4, ttl_s=60).get(_sid(9))


def test_closing_an_unknown_session_reports_false() -> None:
    assert SessionTable(capacity=4, ttl_s=60).close(_sid(9)) is False


def test_reopening_a_session_replaces_it_and_the_old_stream_loses_it() -> None:
    table = SessionTable(capacity=1, ttl_s=60)
    old = _open(table, 1)
    new = _open(table, 1)  # the same session, reopened: no capacity needed
    assert table.get(_sid(1)) is new
    with pytest.raises(UnknownSessionError, match="replaced by a newer stream"):
        table.get(_sid(1), owner=old)
    assert table.close(_sid(1), owner=old) is False  # the old stream's exit does not close the new one


def test_greedy_sampling_needs_no_generator() -> None:
    assert Sampling().generator(3) is None


def test_a_step_draws_the_same_numbers_every_time_it_is_replayed() -> None:
    sampling = Sampling(temperature=0.7, seed=11)
    first = torch.rand(4, generator=sampling.generator(5))
    again = torch.rand(4, generator=sampling.generator(5))
    other_step = torch.rand(4, generator=sampling.generator(6))
    assert torch.equal(first, again) and not torch.equal(first, other_step)


def test_a_session_id_is_bound_to_the_peer_that_opened_it() -> None:
    table = SessionTable(capacity=2, ttl_s=60)
    mine = table.open(
        _sid(1), lambda: Session(_sid(1), None, Sampling(), "fp16", "coordinator/a"), peer="coordinator/a"
    )
    with pytest.raises(SessionOwnerError, match="belongs to coordinator/a, not coordinator/b"):
        table.open(_sid(1), lambda: Session(_sid(1), None, Sampling(), "fp16", "coordinator/b"), peer="coordinator/b")
    with pytest.raises(SessionOwnerError, match="belongs to coordinator/a, not coordinator/b"):
        table.get(_sid(1), peer="coordinator/b")
    assert table.get(_sid(1), peer="coordinator/a") is mine
    again = table.open(
        _sid(1), lambda: Session(_sid(1), None, Sampling(), "fp16", "coordinator/a"), peer="coordinator/a"
    )
    assert table.get(_sid(1)) is again  # its own peer may reopen it (a newer stream after a transient failure)
