"""The store contract: every backend (memory, redis) passes the same tests."""

from __future__ import annotations

import time

from qcl.store.base import Store


def test_get_returns_what_put_stored(store: Store) -> None:
    store.put("latest", "report-1")
    assert store.get("latest") == "report-1"
    store.put("latest", "report-2")
    assert store.get("latest") == "report-2"


def test_missing_key_reads_as_none(store: Store) -> None:
    assert store.get("never-written") is None


def test_value_expires_after_its_ttl(store: Store) -> None:
    store.put("short", "x", ttl_s=0.2)
    assert store.get("short") == "x"
    time.sleep(0.35)
    assert store.get("short") is None


def test_put_if_absent_claims_a_key_once(store: Store) -> None:
    assert store.put_if_absent("claim:e1", "worker-a") is True
    assert store.put_if_absent("claim:e1", "worker-b") is False
    assert store.get("claim:e1") == "worker-a"


def test_put_if_absent_succeeds_again_after_expiry(store: Store) -> None:
    assert store.put_if_absent("claim:e2", "a", ttl_s=0.2)
    time.sleep(0.35)
    assert store.put_if_absent("claim:e2", "b")


def test_delete_removes_a_value(store: Store) -> None:
    store.put("gone", "x")
    store.delete("gone")
    assert store.get("gone") is None


def test_window_returns_members_in_score_order(store: Store) -> None:
    for score, member in [(30.0, "c"), (10.0, "a"), (20.0, "b")]:
        store.window_add("w", score, member)
    assert store.window_range("w") == ["a", "b", "c"]
    assert store.window_range("w", 15.0, 30.0) == ["b", "c"]


def test_window_add_is_idempotent_for_the_same_member(store: Store) -> None:
    store.window_add("w", 1.0, "obs")
    store.window_add("w", 1.0, "obs")
    assert store.window_range("w") == ["obs"]


def test_window_trim_drops_members_below_the_score(store: Store) -> None:
    for score in range(10):
        store.window_add("w", float(score), f"m{score}")
    assert store.window_trim("w", 7.0) == 7
    assert store.window_range("w") == ["m7", "m8", "m9"]


def test_list_keeps_the_newest_entries_first(store: Store) -> None:
    for n in range(5):
        store.list_push("insights", f"i{n}", max_len=3)
    assert store.list_range("insights", 10) == ["i4", "i3", "i2"]
    assert store.list_range("insights", 2) == ["i4", "i3"]


def test_empty_window_and_list_read_as_empty(store: Store) -> None:
    assert store.window_range("none") == []
    assert store.list_range("none", 5) == []


def test_ping_answers(store: Store) -> None:
    assert store.ping() is True


def test_clear_deletes_every_kind_of_key(store: Store) -> None:
    store.put("v", "1")
    store.window_add("w", 1.0, "m")
    store.list_push("l", "x", max_len=5)
    assert store.clear() == 3
    assert (store.get("v"), store.window_range("w"), store.list_range("l", 5)) == (None, [], [])
