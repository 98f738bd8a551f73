"""/api/nodes and /api/topology: shards from the shard registry (where they are, which layers, which replica, their
heartbeat), oracle members from the running committee (primary, reputation, exclusion), merged with node-events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qcl.api import context
from qcl.api.schemas import Role
from qcl.events import NODE_EVENTS, NodeEvent
from qcl.oracle.service import OracleCommittee
from qcl.shard.registry import NodeRecord, ShardRegistry
from tests.backends import wait_for
from tests.integration.test_api_fixtures import Api, ingesting_api

PERIOD_S = 0.05  # heartbeats of the registry written here: a record expires 0.15 s after its last beat


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with ingesting_api(tmp_path) as instance:
        yield instance


@pytest.fixture
def registry(api: Api) -> ShardRegistry:
    return ShardRegistry(api.store, heartbeat_s=PERIOD_S, misses=3)


def record(node_id: str, ranges: list[tuple[int, int]], port: int) -> NodeRecord:
    return NodeRecord(
        node_id=node_id,
        incarnation="i1",
        address=f"127.0.0.1:{port}",
        model="smollm2-135m-instruct",
        weights_sha256="ab" * 32,
        ranges=ranges,
        max_sessions=16,
        sessions=1,
        memory_free_bytes=10**9,
        started_at=time.time(),
    )


def get(api: Api, path: str) -> Any:
    return api.client.get(path, headers=api.headers(Role.VIEWER)).json


def nodes(api: Api) -> dict[str, dict[str, Any]]:
    return {n["node_id"]: n for n in get(api, "/api/nodes")["nodes"]}


POOL = [("s0-a", [(0, 10)], 50051), ("s0-b", [(0, 10)], 50052), ("s1", [(10, 20)], 50053), ("s2", [(20, 30)], 50054)]


def test_shards_show_their_stage_layers_replica_address_and_heartbeat(api: Api, registry: ShardRegistry) -> None:
    for node_id, ranges, port in POOL:
        registry.heartbeat(record(node_id, ranges, port))
    shown = nodes(api)
    assert {n: (v["state"], v["last_event"]) for n, v in shown.items()} == {n: ("up", "joined") for n, _, _ in POOL}
    where = {n: (v["shard"]["stage"], v["shard"]["replica"], v["shard"]["layers"]) for n, v in shown.items()}
    assert where == {
        "s0-a": (0, 0, [[0, 10]]),
        "s0-b": (0, 1, [[0, 10]]),
        "s1": (1, 0, [[10, 20]]),
        "s2": (2, 0, [[20, 30]]),
    }
    s1 = shown["s1"]["shard"]
    assert s1["address"] == "127.0.0.1:50053" and s1["sessions"] == 1 and s1["max_sessions"] == 16
    assert 0 <= s1["heartbeat_age_s"] < 60 and s1["last_heartbeat"] is not None


def test_the_topology_lists_each_stage_with_its_replicas(api: Api, registry: ShardRegistry) -> None:
    for node_id, ranges, port in POOL:
        registry.heartbeat(record(node_id, ranges, port))
    pool = get(api, "/api/topology")["shard_pool"]
    assert (pool["up"], pool["total"]) == (4, 4)
    stages = [(s["stage"], s["layers"], s["nodes"], s["up"]) for s in pool["stages"]]
    assert stages == [(0, [0, 10], ["s0-a", "s0-b"], 2), (1, [10, 20], ["s1"], 1), (2, [20, 30], ["s2"], 1)]


def test_a_shard_whose_heartbeats_stop_is_down_before_its_event_arrives_and_keeps_its_place(
    api: Api, registry: ShardRegistry
) -> None:
    registry.heartbeat(record("s1", [(10, 20)], 50053))
    time.sleep(registry.ttl_s * 2)
    shown = nodes(api)["s1"]
    assert (shown["state"], shown["last_event"]) == ("down", "failed")
    assert shown["shard"]["address"] == "127.0.0.1:50053" and shown["shard"]["layers"] == [[10, 20]]
    assert shown["shard"]["heartbeat_age_s"] >= registry.ttl_s
    assert "nodes_down" in get(api, "/api/ai/status")["degraded"]


def test_a_shard_that_heartbeats_again_after_failing_reads_as_recovered(api: Api, registry: ShardRegistry) -> None:
    event = NodeEvent(node_id="s1", role="shard", kind="failed", detail="missed 3 heartbeats")
    api.bus.publish(NODE_EVENTS, NODE_EVENTS.event(event, source="//test"))
    assert api.bus.wait_idle()
    registry.heartbeat(record("s1", [(10, 20)], 50053))  # back before its `recovered` event
    assert (nodes(api)["s1"]["state"], nodes(api)["s1"]["last_event"]) == ("up", "recovered")


def test_a_shard_that_left_reads_as_left(api: Api, registry: ShardRegistry) -> None:
    registry.heartbeat(record("s2", [(20, 30)], 50054))
    registry.leave("s2")
    assert nodes(api)["s2"]["state"] == "left"


def test_a_node_event_with_an_address_places_a_shard_the_registry_does_not_hold(api: Api) -> None:
    event = NodeEvent(node_id="far", role="shard", kind="joined", address="10.0.0.5:50051", layers=[(0, 30)])
    api.bus.publish(NODE_EVENTS, NODE_EVENTS.event(event, source="//test"))
    assert api.bus.wait_idle()
    shard = nodes(api)["far"]["shard"]
    assert (shard["address"], shard["layers"], shard["stage"], shard["last_heartbeat"]) == (
        "10.0.0.5:50051",
        [[0, 30]],
        0,
        None,
    )


def test_a_live_node_message_carries_the_registry_detail(api: Api, registry: ShardRegistry) -> None:
    registry.heartbeat(record("s1", [(10, 20)], 50053))
    event = NodeEvent(node_id="s1", role="shard", kind="joined", address="127.0.0.1:50053", layers=[(10, 20)])
    api.bus.publish(NODE_EVENTS, NODE_EVENTS.event(event, source="//test"))
    assert api.bus.wait_idle()
    streamed = [e for e in context(api.app).log.read_after(0) if e["type"] == "node"]
    assert streamed[-1]["data"]["shard"]["sessions"] == 1  # from the registry's record, not the event


# -- the oracle committee -------------------------------------------------------------------------------------------


@pytest.fixture
def committee(api: Api) -> Iterator[OracleCommittee]:
    service = OracleCommittee(api.services.settings, api.bus, api.store)
    service.start()
    yield service
    service.stop()


def test_the_committee_shows_its_id_quorum_and_the_primary_of_its_current_view(
    api: Api, committee: OracleCommittee
) -> None:
    topology = get(api, "/api/topology")["oracle_committee"]
    assert committee.committee is not None
    assert topology["committee_id"] == committee.committee.committee_id
    assert (topology["f"], topology["quorum"], topology["sequence"], topology["view"]) == (1, 3, 0, 0)
    assert topology["primary"] == "oracle-0"  # job 0, view 0: member 0 leads (PBFT: primary = (seq + view) mod n)
    members = {n["node_id"]: n["oracle"] for n in topology["nodes"]}
    assert sorted(members) == [f"oracle-{i}" for i in range(4)]
    assert [m["primary"] for m in members.values()].count(True) == 1 and members["oracle-0"]["primary"]
    assert all(m["reputation"] == 1.0 and not m["excluded"] and m["running"] for m in members.values())


def test_reputation_and_exclusion_come_from_the_ledger(api: Api, committee: OracleCommittee) -> None:
    assert committee.ledger is not None
    committee.ledger.scores["oracle-2"] = 0.2  # below the threshold of 0.5, as after two deviations
    committee.record_state()
    member = nodes(api)["oracle-2"]["oracle"]
    assert member["reputation"] == 0.2 and member["excluded"] and not member["tombstoned"]


def test_members_the_api_never_heard_join_are_still_shown_from_the_committee_state(
    api: Api, committee: OracleCommittee
) -> None:
    api.store.delete("api:nodes")  # as an API instance started after the members announced themselves
    assert wait_for(lambda: len([n for n in nodes(api).values() if n["role"] == "oracle"]) == 4)
    assert all(n["state"] == "up" for n in nodes(api).values() if n["role"] == "oracle")
