"""An operator's node actions on real stage processes (tiny-random-qwen2, 2 stages x 2 replicas) and a real oracle
committee: drain lets in-flight sessions finish and then places none, restart brings a stage back while generation
keeps its tokens, remove leaves for good, and whatever would break the pipeline or PBFT's bound is refused saying why.
The same actions through POST /api/admin/nodes/{id}/{action}: 404, 409, 503, the lifecycle in /api/nodes, audited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qcl.api.schemas import Role
from qcl.bus.memory import MemoryBus
from qcl.config import Settings, load_settings
from qcl.events import ORACLE_RESULTS, Envelope, OracleResult
from qcl.model.loading import load_model
from qcl.model.params import GenerationParams
from qcl.model.service import GenerationService
from qcl.oracle.scheduler import submit_job
from qcl.oracle.service import OracleCommittee
from qcl.oracle.sim.jobs import sim_input
from qcl.pipeline.node_control import NodeActionRefused, NodeControl, UnknownNodeError
from qcl.shard.coordinator import ShardedModel, open_pool
from qcl.shard.local import LocalPool
from qcl.shard.pool import PoolOptions
from qcl.store.base import Store
from qcl.store.memory import MemoryStore
from tests.backends import wait_for
from tests.integration.test_api_fixtures import Api, make_api

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stage-pools")]

MODEL = "tiny-random-qwen2"
QUESTION = "How healthy is the Qubic network at tick 17,500,000?"
PARAMS = GenerationParams(max_new_tokens=24, ban_eos=True)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("nodes")
    return load_settings(model_cache_dir=root / "models", state_dir=root / "state", shard_heartbeat_s=0.5)


@pytest.fixture(scope="module")
def local(settings: Settings) -> Iterator[LocalPool]:
    with LocalPool(settings, MODEL, stages=2, replicas=2, threads=1) as pool:
        yield pool


@pytest.fixture(scope="module")
def reference(settings: Settings) -> Iterator[GenerationService]:
    with GenerationService(load_model(MODEL, settings, progress=None), result_cache=0, threads=1) as service:
        yield service


def _sharded(settings: Settings, local: LocalPool, store: Store) -> ShardedModel:
    """A fresh coordinator over the module's processes (an operator's drains and removals are the coordinator's)."""
    for stage_process in local.processes:
        if stage_process.stopped:
            local.start_stage(stage_process.node_id)
    local.wait_serving(local.processes)
    pool, skeleton = open_pool(
        settings, store=store, seeds=local.addresses, model_id=MODEL, options=PoolOptions(wire="fp32")
    )
    assert pool.wait_ready(60)
    assert wait_for(lambda: len(pool.membership.usable()) == len(local.processes), timeout_s=30)
    return ShardedModel(pool, skeleton, result_cache=0)


@pytest.fixture
def model(settings: Settings, local: LocalPool) -> Iterator[ShardedModel]:
    sharded = _sharded(settings, local, MemoryStore())
    yield sharded
    sharded.close()


@pytest.fixture
def control(model: ShardedModel, local: LocalPool) -> NodeControl:
    return NodeControl(shards=model.pool, local=local)


def _placed(model: ShardedModel) -> list[str]:
    """Record the node of every frame sent from now on."""
    seen: list[str] = []
    model.pool.on_send = lambda stage, step, node_id: seen.append(node_id)
    return seen


def test_a_drained_stage_finishes_its_session_then_takes_no_new_one(
    model: ShardedModel, control: NodeControl, reference: GenerationService
) -> None:
    during: list[tuple[str, str, int]] = []

    def drain_mid_session(stage: int, step: int, node_id: str) -> None:
        if stage == 1 and step == 8 and not during:
            during.append((node_id, control.act(node_id, "drain", actor="test"), model.pool.open_sessions(node_id)))

    model.pool.on_send = drain_mid_session
    assert model.generate(QUESTION, PARAMS).raw_text == reference.generate(QUESTION, PARAMS).raw_text
    drained, lifecycle, open_then = during[0]
    assert (lifecycle, open_then) == ("draining", 1)  # its session was still there, and went on there
    assert model.pool.counters.failovers == 0
    assert wait_for(lambda: control.lifecycle(drained) == "drained", timeout_s=10)
    assert control.lifecycles() == {drained: "drained"}

    seen = _placed(model)
    for _ in range(2):  # least-loaded placement would pick the drained node for one of two sessions
        assert model.generate(QUESTION, PARAMS).raw_text == reference.generate(QUESTION, PARAMS).raw_text
    assert seen and drained not in seen


def test_draining_the_last_node_taking_a_range_is_refused_naming_the_range(
    model: ShardedModel, control: NodeControl, local: LocalPool
) -> None:
    first, second = (p.node_id for p in local.processes if p.stage == 0)
    control.act(first, "drain", actor="test")
    with pytest.raises(NodeActionRefused, match=rf"draining shard {second} would break the pipeline: no other node "):
        control.act(second, "drain", actor="test")
    layers = local.processes[0].layers
    with pytest.raises(NodeActionRefused, match=f"layers {layers.start}:{layers.stop}"):
        control.act(second, "remove", actor="test")
    with pytest.raises(NodeActionRefused, match="already drained"):
        control.act(first, "drain", actor="test")
    assert control.lifecycle(second) == "active"


def test_a_restarted_stage_comes_back_and_generation_keeps_its_tokens(
    model: ShardedModel, control: NodeControl, local: LocalPool, reference: GenerationService
) -> None:
    restarted: list[tuple[str, int | None]] = []

    def restart_mid_session(stage: int, step: int, node_id: str) -> None:
        if stage == 1 and step == 6 and not restarted:
            pid = local.process(node_id).pid
            assert control.act(node_id, "restart", actor="test") == "restarting"
            restarted.append((node_id, pid))

    model.pool.on_send = restart_mid_session
    assert model.generate(QUESTION, PARAMS).raw_text == reference.generate(QUESTION, PARAMS).raw_text
    node_id, old_pid = restarted[0]
    assert model.pool.counters.failovers >= 1  # its session moved on (replayed) while it restarted
    stage_process = local.process(node_id)
    assert stage_process.pid != old_pid and stage_process.restarts >= 1
    local.wait_serving([stage_process])
    assert wait_for(lambda: control.lifecycle(node_id) == "active", timeout_s=30)  # a new incarnation, heartbeating

    other = next(p.node_id for p in local.processes if p.stage == 1 and p.node_id != node_id)
    control.act(other, "drain", actor="test")  # only the restarted stage takes the range now
    seen = _placed(model)
    assert model.generate(QUESTION, PARAMS).raw_text == reference.generate(QUESTION, PARAMS).raw_text
    assert node_id in seen


def test_a_removed_stage_leaves_for_good_and_the_last_replica_cannot_follow(
    model: ShardedModel, control: NodeControl, local: LocalPool, reference: GenerationService
) -> None:
    gone, last = (p.node_id for p in local.processes if p.stage == 1)
    assert control.act(gone, "remove", actor="test") == "removed"
    assert local.process(gone).stopped and local.process(gone).process.poll() is not None  # type: ignore[union-attr]
    assert model.pool.registry.get(gone) is None
    assert next(n for n in model.pool.registry.known() if n.record.node_id == gone).left
    with pytest.raises(NodeActionRefused, match=rf"removing shard {last} would break the pipeline: no other node"):
        control.act(last, "remove", actor="test")
    for action in ("drain", "restart", "remove"):
        with pytest.raises(NodeActionRefused, match="was removed"):
            control.act(gone, action, actor="test")
    seen = _placed(model)
    assert model.generate(QUESTION, PARAMS).raw_text == reference.generate(QUESTION, PARAMS).raw_text
    assert gone not in seen


def test_an_unknown_node_is_named(control: NodeControl) -> None:
    with pytest.raises(UnknownNodeError, match="no shard stage or oracle member 'local-s9-r0'"):
        control.act("local-s9-r0", "drain", actor="test")


# -- the oracle committee ------------------------------------------------------------------------------------------


@pytest.fixture
def committee(tmp_path: Path) -> Iterator[OracleCommittee]:
    bus = MemoryBus()
    service = OracleCommittee(load_settings(state_dir=tmp_path, oracle_view_timeout_ms=400), bus, MemoryStore())
    service.start()
    yield service
    service.stop()
    bus.close()


def _decide(committee: OracleCommittee, subject: str) -> OracleResult:
    results: list[Envelope[OracleResult]] = []
    subscription = committee.bus.subscribe(ORACLE_RESULTS, "api", results.append)
    try:
        request, blob = sim_input("health-score")
        spec = request.spec.model_copy(update={"subject": subject})
        filed = submit_job(committee.bus, committee.store, spec, blob, source="//test")
        assert wait_for(lambda: any(r.data.job_id == filed.job_id for r in results), timeout_s=60)
        return next(r.data for r in results if r.data.job_id == filed.job_id)
    finally:
        subscription.close()


def test_a_drained_member_takes_no_request_yet_jobs_are_decided_and_a_restart_rejoins_it(
    committee: OracleCommittee,
) -> None:
    control = NodeControl(oracle=committee)
    assert control.act("oracle-1", "drain", actor="test") == "drained"  # it had taken no job
    taken_by: list[str] = []
    for node in committee.nodes:  # who takes each request off oracle-requests
        node.submit = _recording(node.submit, node.key.node_id, taken_by)  # type: ignore[method-assign]
    for subject in ("a", "b", "c", "d"):
        assert _decide(committee, subject).status == "committed"
    assert len(taken_by) == 4 and "oracle-1" not in taken_by  # a request it got was handed to another member

    before = committee.nodes[1]
    assert control.act("oracle-1", "restart", actor="test") == "active"  # a restart ends the drain
    assert committee.nodes[1] is not before and committee.nodes[1].running and not before.running
    assert _decide(committee, "e").status == "committed"


def _recording(submit: Callable[..., None], node_id: str, into: list[str]) -> Callable[..., None]:
    def recorded(*args: Any, **kwargs: Any) -> None:
        into.append(node_id)
        submit(*args, **kwargs)

    return recorded


def test_removing_a_member_of_a_minimal_committee_is_refused_citing_pbft(committee: OracleCommittee) -> None:
    control = NodeControl(oracle=committee)
    with pytest.raises(NodeActionRefused, match=r"keep 3 of 4 members; PBFT with f = 1 needs n >= 3f\+1 = 4"):
        control.act("oracle-2", "remove", actor="test")
    assert committee.nodes[2].running and control.lifecycle("oracle-2") == "active"


def test_the_last_member_taking_requests_cannot_be_drained(committee: OracleCommittee) -> None:
    control = NodeControl(oracle=committee)
    for node_id in ("oracle-0", "oracle-1", "oracle-2"):
        control.act(node_id, "drain", actor="test")
    with pytest.raises(NodeActionRefused, match="no other committee member would take requests"):
        control.act("oracle-3", "drain", actor="test")


# -- through the API -----------------------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path: Path, settings: Settings, local: LocalPool) -> Iterator[tuple[Api, ShardedModel]]:
    instance = make_api(tmp_path)
    sharded = _sharded(settings, local, instance.store)  # the registry the API reads
    instance.services.nodes = NodeControl(shards=sharded.pool, local=local)
    yield instance, sharded
    sharded.close()
    instance.bus.close()


def _act(api: Api, node_id: str, action: str, role: Role = Role.ADMIN) -> tuple[int, dict[str, object]]:
    response = api.client.post(f"/api/admin/nodes/{node_id}/{action}", headers=api.headers(role))
    return response.status_code, response.json


def test_node_actions_over_http_show_in_the_node_list_and_are_audited(
    api: tuple[Api, ShardedModel], local: LocalPool, caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = api
    first, second = (p.node_id for p in local.processes if p.stage == 0)
    with caplog.at_level(logging.INFO, logger="qcl.audit"):
        assert _act(client, first, "drain") == (200, {"node_id": first, "action": "drain", "lifecycle": "drained"})
        status, body = _act(client, second, "drain")
    assert status == 409 and body["error"]["code"] == "node_action_refused"  # type: ignore[index]
    assert "no other node takes sessions for layers" in body["error"]["message"]  # type: ignore[index]
    nodes = {
        n["node_id"]: n for n in client.client.get("/api/nodes", headers=client.headers(Role.VIEWER)).json["nodes"]
    }
    assert nodes[first]["lifecycle"] == "drained" and nodes[second]["lifecycle"] == "active"
    audited = [getattr(r, "audit", {}) for r in caplog.records]
    assert [(a["action"], a["target"], a["outcome"]) for a in audited if a.get("action", "").startswith("node.")] == [
        ("node.drain", first, "ok"),
        ("node.drain", second, "refused"),
    ]


def test_node_actions_over_http_refuse_unknown_nodes_bad_actions_and_lower_roles(
    api: tuple[Api, ShardedModel], local: LocalPool
) -> None:
    client, _ = api
    status, body = _act(client, "local-s7-r3", "drain")
    assert status == 404 and "local-s7-r3" in body["error"]["message"]  # type: ignore[index]
    status, body = _act(client, local.processes[0].node_id, "reboot")
    assert status == 422 and body["error"]["field"] == "action"  # type: ignore[index]
    assert _act(client, local.processes[0].node_id, "drain", Role.OPERATOR)[0] == 403


def test_node_actions_answer_503_where_the_api_does_not_run_the_nodes(tmp_path: Path) -> None:
    bare = make_api(tmp_path)
    status, body = _act(bare, "local-s0-r0", "drain")
    assert status == 503 and body["error"]["code"] == "nodes_unavailable"  # type: ignore[index]
    bare.bus.close()
