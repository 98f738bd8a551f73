"""Stable checkpoints bound the logs; a flood or bad checkpoints from f members change nothing (catalogue 15)."""

from __future__ import annotations

from qcl.oracle.jobs import make_request
from qcl.oracle.messages import MsgType, sign_message
from qcl.oracle.sim.jobs import sim_job
from qcl.oracle.sim.network import sim_keys
from qcl.oracle.state import Deliver, ProtocolConfig
from tests.unit.test_oracle_replica import Net

KEYS, COMMITTEE = sim_keys(4)
CONFIG = ProtocolConfig(view_timeout_ms=100, checkpoint_interval=2, window=4)


def run_jobs(net: Net, count: int) -> None:
    request, result = sim_job("findings")
    for seq in range(count):
        spec = request.spec.model_copy(update={"subject": f"job {seq}"})
        net.submit(make_request(spec, seq), result)


def test_members_forget_finished_jobs_once_a_checkpoint_is_stable() -> None:
    net = Net(config=CONFIG)
    run_jobs(net, 10)
    for replica in net.replicas:
        assert replica.durable.stable == 9
        assert replica.instances == {} and replica.durable.decided == {} and replica.durable.signed == {}
        assert len(replica.done) == 10  # finished jobs are still answered from the cache


def test_memory_stays_bounded_over_many_jobs() -> None:
    net = Net(config=CONFIG)
    run_jobs(net, 40)
    replica = net.replicas[0]
    assert len(replica.instances) <= CONFIG.window and len(replica.slots) <= 64 and len(replica.checkpoint_votes) <= 2


def test_a_job_beyond_the_window_is_refused_until_checkpoints_catch_up() -> None:
    net = Net(config=CONFIG)
    request, result = sim_job("findings")
    net.submit(make_request(request.spec.model_copy(update={"subject": "far"}), 9), result)
    assert not any(net.decided.values()) and 9 not in net.replicas[0].instances


def test_checkpoints_with_a_wrong_digest_from_f_members_never_become_stable() -> None:
    net = Net(config=CONFIG, drop=lambda m, src, dst: m.type == MsgType.CHECKPOINT)
    run_jobs(net, 2)
    replica = net.replicas[0]
    assert replica.durable.stable == -1
    bad = sign_message(KEYS[3], COMMITTEE, 3, MsgType.CHECKPOINT, 0, 1, "", "00" * 32)
    net.event(0, Deliver(bad, 3))
    assert replica.durable.stable == -1
    honest = [m for src, m in net.sent if m.type == MsgType.CHECKPOINT and src in (1, 2)]
    for message in honest:
        net.event(0, Deliver(message, message.sender))
    assert replica.durable.stable == 1  # its own + two honest matching make 2f+1


def test_a_member_that_missed_jobs_adopts_the_stable_checkpoint_of_the_others() -> None:
    net = Net(config=CONFIG, drop=lambda m, src, dst: dst == 3)
    run_jobs(net, 2)
    assert net.replicas[3].durable.stable == -1 and net.replicas[0].durable.stable == 1
    for message in [m for _, m in net.sent if m.type == MsgType.CHECKPOINT]:
        net.event(3, Deliver(message, message.sender))
    assert net.replicas[3].durable.stable == 1
