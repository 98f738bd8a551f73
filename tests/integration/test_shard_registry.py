"""The shard registry on every store backend, and the membership's node-events on the bus.

Heartbeats use short periods here (50 ms, 3 misses) so records expire in real time on Redis too.
"""

from __future__ import annotations

import time

import pytest

from qcl.bus.memory import MemoryBus
from qcl.events import NODE_EVENTS, Envelope, NodeEvent
from qcl.shard.registry import Membership, NodeRecord, ShardRegistry, record_key, seen_key
from qcl.store.base import Store
from tests.backends import wait_for

PERIOD_S = 0.05


def _record(node_id: str = "n1", incarnation: str = "i1", ranges: list[tuple[int, int]] | None = None) -> NodeRecord:
    return NodeRecord(
        node_id=node_id,
        incarnation=incarnation,
        address="127.0.0.1:50051",
        model="tiny-random-llama",
        weights_sha256="ab" * 32,
        ranges=ranges or [(0, 1)],
        max_sessions=4,
        sessions=0,
        memory_free_bytes=10**9,
        started_at=time.time(),
    )


@pytest.fixture
def registry(store: Store) -> ShardRegistry:
    return ShardRegistry(store, heartbeat_s=PERIOD_S, misses=3)


def _expired(registry: ShardRegistry) -> None:
    time.sleep(registry.ttl_s * 1.5)


def test_a_heartbeat_makes_a_node_live(registry: ShardRegistry) -> None:
    registry.heartbeat(_record())
    assert [r.node_id for r in registry.live()] == ["n1"]


def test_a_node_that_stops_heartbeating_drops_out_after_the_ttl(registry: ShardRegistry) -> None:
    registry.heartbeat(_record())
    _expired(registry)
    assert registry.live() == []
    assert registry.stale() == ["n1"]


def test_a_node_that_leaves_is_gone_at_once(registry: ShardRegistry) -> None:
    registry.heartbeat(_record())
    registry.leave("n1")
    assert registry.live() == []


def test_an_unreadable_record_is_skipped_and_the_others_still_read(registry: ShardRegistry) -> None:
    registry.heartbeat(_record("good"))
    registry.heartbeat(_record("bad"))
    registry.store.put(record_key("bad"), '{"node_id": 5}', ttl_s=60)
    assert [r.node_id for r in registry.live()] == ["good"]


def _events(membership: Membership) -> list[tuple[str, str]]:
    return [(event.node_id, event.kind) for event in membership.events]


def test_membership_reports_a_join_then_a_failure_after_missed_heartbeats(registry: ShardRegistry) -> None:
    membership = Membership(registry)
    registry.heartbeat(_record())
    membership.refresh()
    _expired(registry)
    membership.refresh()
    assert _events(membership) == [("n1", "joined"), ("n1", "failed")]
    assert "missed 3 heartbeats" in membership.events[-1].detail


def test_a_failed_node_that_heartbeats_again_is_reported_recovered(registry: ShardRegistry) -> None:
    membership = Membership(registry)
    registry.heartbeat(_record())
    membership.refresh()
    _expired(registry)
    membership.refresh()
    registry.heartbeat(_record(incarnation="i2"))
    membership.refresh()
    assert _events(membership)[-1] == ("n1", "recovered")
    assert membership.state("n1") == "up"


def test_a_restart_faster_than_the_ttl_is_still_a_failure_and_a_recovery(registry: ShardRegistry) -> None:
    membership = Membership(registry)
    registry.heartbeat(_record(incarnation="before"))
    membership.refresh()
    registry.heartbeat(_record(incarnation="after"))
    membership.refresh()
    assert _events(membership) == [("n1", "joined"), ("n1", "failed"), ("n1", "recovered")]


def test_a_suspected_node_takes_no_work_until_it_restarts(registry: ShardRegistry) -> None:
    membership = Membership(registry)
    registry.heartbeat(_record())
    membership.refresh()
    membership.suspect("n1", "UNAVAILABLE: connection reset")
    assert membership.usable() == [] and membership.state("n1") == "suspected"
    registry.heartbeat(_record(incarnation="i2"))
    membership.refresh()
    assert [r.node_id for r in membership.usable()] == ["n1"]


def test_a_suspicion_lapses_when_the_node_keeps_heartbeating(store: Store) -> None:
    now = [0.0]
    registry = ShardRegistry(store, heartbeat_s=PERIOD_S, misses=3)
    membership = Membership(registry, clock=lambda: now[0])
    registry.heartbeat(_record())
    membership.refresh()
    membership.suspect("n1", "one slow reply")
    now[0] += registry.ttl_s + 0.01
    registry.heartbeat(_record())
    membership.refresh()
    assert [r.node_id for r in membership.usable()] == ["n1"]


def test_a_suspected_node_that_dies_is_declared_failed_with_the_suspicion_in_the_detail(
    registry: ShardRegistry,
) -> None:
    membership = Membership(registry)
    registry.heartbeat(_record())
    membership.refresh()
    membership.suspect("n1", "UNAVAILABLE: connection reset")
    _expired(registry)
    membership.refresh()
    assert membership.events[-1].kind == "failed"
    assert "after UNAVAILABLE: connection reset" in membership.events[-1].detail


def test_node_events_reach_the_node_events_topic(store: Store) -> None:
    bus = MemoryBus()
    received: list[Envelope[NodeEvent]] = []
    subscription = bus.subscribe(NODE_EVENTS, "api", received.append)
    try:
        registry = ShardRegistry(store, heartbeat_s=PERIOD_S, misses=3)
        membership = Membership(registry, bus)
        registry.heartbeat(_record(ranges=[(0, 11)]))
        membership.refresh()
        assert wait_for(lambda: len(received) == 1)
        event = received[0].data
        assert (event.node_id, event.role, event.kind) == ("n1", "shard", "joined")
        assert "layers 0:11" in event.detail
        assert (event.address, event.layers) == ("127.0.0.1:50051", [(0, 11)])
    finally:
        subscription.close()
        bus.close()


def test_known_nodes_keep_their_last_record_and_heartbeat_after_they_expire(registry: ShardRegistry) -> None:
    # n2's fresh heartbeat must outlive the reads after it: a 0.15 s TTL lapsed there on a loaded 2-core machine
    registry = ShardRegistry(registry.store, heartbeat_s=0.4, misses=3)
    before = time.time()
    registry.heartbeat(_record("n1", ranges=[(0, 10)]))
    registry.heartbeat(_record("n2", ranges=[(10, 20)]))
    _expired(registry)
    registry.heartbeat(_record("n2", ranges=[(10, 20)]))
    known = {node.record.node_id: node for node in registry.known()}
    assert (known["n1"].live, known["n2"].live) == (False, True)
    assert known["n1"].record.ranges == [(0, 10)] and before <= known["n1"].last_heartbeat < known["n2"].last_heartbeat


def test_a_node_that_leaves_is_known_as_left(registry: ShardRegistry) -> None:
    registry.heartbeat(_record("n1"))
    registry.leave("n1")
    (node,) = registry.known()
    assert node.left and not node.live


def test_an_unreadable_last_record_is_skipped_and_the_others_still_read(registry: ShardRegistry) -> None:
    registry.heartbeat(_record("n1"))
    registry.heartbeat(_record("n2"))
    registry.store.put(seen_key("n1"), "{broken")
    assert [node.record.node_id for node in registry.known()] == ["n2"]
