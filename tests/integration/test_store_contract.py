"""The store contract: every backend (memory, redis) passes the same tests."""

from __future__ import annotations

import threading
import time

import pytest

from qcl.store.base import Entry, Store


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


def test_list_remove_takes_out_every_equal_entry_and_keeps_the_order(store: Store) -> None:
    for value in ("a", "b", "a", "c"):
        store.list_push("recent", value, max_len=10)
    assert store.list_remove("recent", "a") == 2
    assert store.list_range("recent", 10) == ["c", "b"]
    assert store.list_remove("recent", "absent") == 0 and store.list_remove("none", "a") == 0


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


def test_token_bucket_takes_up_to_its_capacity_then_says_how_long_to_wait(store: Store) -> None:
    taken = [store.take_tokens("rl:a", capacity=3, refill_per_s=1.0) for _ in range(3)]
    assert taken == [0.0, 0.0, 0.0]
    wait = store.take_tokens("rl:a", capacity=3, refill_per_s=1.0)
    assert 0.0 < wait <= 1.0


def test_token_bucket_refills_at_its_rate(store: Store) -> None:
    assert store.take_tokens("rl:b", capacity=1, refill_per_s=10.0) == 0.0
    assert store.take_tokens("rl:b", capacity=1, refill_per_s=10.0) > 0.0
    time.sleep(0.25)
    assert store.take_tokens("rl:b", capacity=1, refill_per_s=10.0) == 0.0


def test_token_buckets_are_independent_by_name(store: Store) -> None:
    assert store.take_tokens("rl:c", capacity=1, refill_per_s=0.01) == 0.0
    assert store.take_tokens("rl:c", capacity=1, refill_per_s=0.01) > 0.0
    assert store.take_tokens("rl:d", capacity=1, refill_per_s=0.01) == 0.0


def test_token_bucket_never_gives_more_than_it_holds_to_concurrent_takers(store: Store) -> None:
    granted: list[bool] = []
    lock = threading.Lock()

    def taker() -> None:
        for _ in range(20):
            ok = store.take_tokens("rl:shared", capacity=50, refill_per_s=0.001) == 0.0
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=taker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 160 and sum(granted) == 50


def test_token_bucket_rejects_a_cost_it_could_never_pay(store: Store) -> None:
    with pytest.raises(ValueError, match="cost <= capacity"):
        store.take_tokens("rl:e", capacity=2, refill_per_s=1.0, cost=3)


def test_clear_refills_every_token_bucket(store: Store) -> None:
    store.take_tokens("rl:f", capacity=1, refill_per_s=0.01)
    store.clear()
    assert store.take_tokens("rl:f", capacity=1, refill_per_s=0.01) == 0.0


def test_the_memory_store_drops_expired_keys_nobody_reads_again() -> None:
    from qcl.store.memory import MemoryStore

    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    for n in range(MemoryStore.SWEEP_EVERY - 1):
        store.put(f"done:{n}", "1", ttl_s=10)
    now[0] = 11.0
    store.put("fresh", "1", ttl_s=10)  # the write that triggers a sweep
    assert len(store._values) == 1  # only "fresh" is left in memory


# -- the job queue's operations: counters, window scores, atomic moves -----------------------------------------------


def test_window_items_carry_their_scores_lowest_first(store: Store) -> None:
    store.window_add("w", 2.5, "b")
    store.window_add("w", 1.0, "a")
    assert store.window_items("w") == [("a", 1.0), ("b", 2.5)]
    assert store.window_count("w") == 2
    assert store.window_count("none") == 0


def test_window_remove_says_whether_it_removed(store: Store) -> None:
    store.window_add("w", 1.0, "a")
    assert store.window_remove("w", "a") is True
    assert store.window_remove("w", "a") is False
    assert store.window_range("w") == []


def test_window_incr_adds_to_a_score_starting_at_zero(store: Store) -> None:
    assert store.window_incr("vt", "key-a", 2.5) == 2.5
    assert store.window_incr("vt", "key-a", 0.5) == 3.0
    assert store.window_items("vt") == [("key-a", 3.0)]


def test_window_move_takes_the_lowest_member_into_the_target(store: Store) -> None:
    store.window_add("ready", 2.0, "job-2")
    store.window_add("ready", 1.0, "job-1")
    assert store.window_move("ready", "leases", 100.0) == "job-1"
    assert store.window_items("leases") == [("job-1", 100.0)]
    assert store.window_range("ready") == ["job-2"]


def test_window_move_of_a_named_member_only_moves_one_that_is_there(store: Store) -> None:
    store.window_add("leases", 5.0, "job-1")
    assert store.window_move("leases", "ready", 1.0, member="job-9") is None
    assert store.window_move("leases", "ready", 1.0, member="job-1") == "job-1"
    assert store.window_move("leases", "ready", 1.0, member="job-1") is None
    assert store.window_items("ready") == [("job-1", 1.0)]


def test_window_move_from_an_empty_window_moves_nothing(store: Store) -> None:
    assert store.window_move("empty", "leases", 1.0) is None
    assert store.window_count("leases") == 0


def test_concurrent_window_moves_hand_each_member_to_exactly_one_mover(store: Store) -> None:
    for n in range(200):
        store.window_add("ready", float(n), f"job-{n}")
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer() -> None:
        while (member := store.window_move("ready", "leases", 1.0)) is not None:
            with lock:
                claimed.append(member)

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(f"job-{n}" for n in range(200))
    assert store.window_count("leases") == 200


def test_counter_adds_and_expires_from_its_creation(store: Store) -> None:
    assert store.incr("budget", 5, ttl_s=0.3) == 5.0
    assert store.incr("budget", -2, ttl_s=10) == 3.0  # a later TTL does not extend the first
    assert store.incr("plain") == 1.0
    time.sleep(0.45)
    assert store.get("budget") is None
    assert store.incr("budget", 1) == 1.0


def test_concurrent_increments_are_never_lost(store: Store) -> None:
    def adder() -> None:
        for _ in range(50):
            store.incr("count", 1)

    threads = [threading.Thread(target=adder) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.incr("count", 0) == 300.0


def test_a_listener_hears_a_notice_on_its_channel_and_no_other(store: Store) -> None:
    appended, elsewhere = store.listen("appended"), store.listen("elsewhere")
    try:
        store.notify("appended")
        assert appended.wait(5) is True
        assert elsewhere.wait(0.2) is False
        assert appended.wait(0.2) is False  # one notice wakes once
    finally:
        appended.close()
        elsewhere.close()


def test_a_notice_wakes_a_listener_waiting_on_another_thread(store: Store) -> None:
    listener = store.listen("appended")
    heard: list[bool] = []
    waiting = threading.Thread(target=lambda: heard.append(listener.wait(5)))
    waiting.start()
    time.sleep(0.1)
    started = time.monotonic()
    store.notify("appended")
    waiting.join()
    listener.close()
    assert heard == [True] and time.monotonic() - started < 1


def _fill(store: Store) -> None:
    store.put("plain", "v1")
    store.put("expiring", "v2", ttl_s=60)
    store.incr("counter", 2.5)
    store.list_push("recent", "old", max_len=10)
    store.list_push("recent", "new", max_len=10)
    store.window_add("w", 2.0, "b")
    store.window_add("w", 1.0, "a")
    store.take_tokens("bucket", capacity=5, refill_per_s=1)


def test_scan_reads_every_key_with_its_content_and_time_left(store: Store) -> None:
    _fill(store)
    entries = {entry.key: entry for entry in store.scan()}
    assert set(entries) == {"plain", "expiring", "counter", "recent", "w"}  # the token bucket is left out
    assert entries["plain"].kind == "value" and entries["plain"].value == "v1" and entries["plain"].ttl_s is None
    assert entries["expiring"].ttl_s is not None and 55 < entries["expiring"].ttl_s <= 60
    assert float(str(entries["counter"].value)) == 2.5
    assert entries["recent"].kind == "list" and entries["recent"].value == ["new", "old"]
    assert entries["w"].kind == "window" and entries["w"].value == [("a", 1.0), ("b", 2.0)]


def test_scan_keeps_only_the_keys_select_accepts(store: Store) -> None:
    _fill(store)
    assert sorted(entry.key for entry in store.scan(lambda key: key.startswith("p") or key == "w")) == ["plain", "w"]


def test_load_writes_back_what_scan_read(store: Store) -> None:
    _fill(store)
    entries = list(store.scan())
    store.clear()
    assert store.load(entries) == 5
    assert store.get("plain") == "v1" and store.list_range("recent", 10) == ["new", "old"]
    assert store.window_items("w") == [("a", 1.0), ("b", 2.0)]
    assert store.incr("counter", 1.0) == 3.5  # still a counter
    time.sleep(0.05)
    assert store.get("expiring") == "v2"


def test_load_gives_values_the_time_they_had_left(store: Store) -> None:
    store.put("short", "x", ttl_s=1.5)
    entries = list(store.scan())
    store.clear()
    store.load(entries)
    assert store.get("short") == "x"
    time.sleep(1.7)
    assert store.get("short") is None


def test_load_replaces_a_key_it_writes_rather_than_adding_to_it(store: Store) -> None:
    store.list_push("recent", "stale", max_len=10)
    store.window_add("w", 9.0, "stale")
    store.load([Entry("recent", "list", ["fresh"]), Entry("w", "window", [("fresh", 1.0)])])
    assert store.list_range("recent", 10) == ["fresh"]
    assert store.window_items("w") == [("fresh", 1.0)]


def test_load_with_replace_deletes_every_other_key_first(store: Store) -> None:
    _fill(store)
    store.load([Entry("only", "value", "kept")], replace=True)
    assert [entry.key for entry in store.scan()] == ["only"]
    assert store.get("plain") is None
