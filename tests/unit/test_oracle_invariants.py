"""The simulator's invariant monitor catches each violation it is there for (a checker that cannot fail proves
nothing): each test breaks one thing in a finished run and expects the monitor to name it."""

from __future__ import annotations

import pytest

from qcl.oracle.evidence import Evidence, equivocation
from qcl.oracle.messages import MsgType, sign_message
from qcl.oracle.sim.faults import parse_faults
from qcl.oracle.sim.invariants import InvariantViolation, Monitor
from qcl.oracle.sim.jobs import sim_job
from qcl.oracle.sim.network import Simulation, sim_keys

KEYS, COMMITTEE = sim_keys(4)


def finished(faults: str = "", job: str = "findings", **options: object) -> Simulation:
    request, result = sim_job(job)
    simulation = Simulation(4, parse_faults(faults, 4), 0, request, result, **options)  # type: ignore[arg-type]
    simulation.run()
    return simulation


def fresh_monitor(simulation: Simulation) -> Monitor:
    return Monitor(simulation)


def test_an_invalid_attestation_held_by_an_honest_member_breaks_integrity() -> None:
    simulation = finished()
    node = simulation.nodes[2]
    assert node.decision is not None
    node.decision = node.decision.model_copy(update={"certificate": node.decision.certificate[:2]})
    with pytest.raises(InvariantViolation, match="integrity: member 2"):
        fresh_monitor(simulation).check_step()


def test_two_outcomes_among_honest_members_break_agreement() -> None:
    simulation = finished()
    simulation.nodes[3].decision = finished(job="health-score").nodes[3].decision  # valid, but another outcome
    monitor = fresh_monitor(simulation)
    for node in simulation.nodes:  # integrity and validity of each were checked already; agreement is at stake
        assert node.decision is not None
        monitor._checked_attestations.add((node.index, node.decision.digest, node.decision.view))
    with pytest.raises(InvariantViolation, match="agreement: honest members decided 2 different outcomes"):
        monitor.check_step()


def test_a_result_that_honest_members_did_not_compute_breaks_validity() -> None:
    simulation = finished()
    for node in simulation.nodes:
        node.result = [{"code": "something else"}]
    with pytest.raises(InvariantViolation, match="validity"):
        fresh_monitor(simulation).check_step()


def test_unresolvable_while_honest_members_agree_breaks_validity() -> None:
    simulation = finished("0:wrong-result,1:wrong-result")  # unresolvable, beyond the threshold
    simulation.plan = parse_faults("", 4)
    for node in simulation.nodes:
        node.behaviour = type(simulation.nodes[2].behaviour)()
        node.result = simulation.nodes[2].result
    with pytest.raises(InvariantViolation, match="unresolvable"):
        fresh_monitor(simulation).check_step()


def test_a_numeric_value_outside_the_honest_range_breaks_validity() -> None:
    simulation = finished(job="health-score")
    for node in simulation.nodes:
        node.result = 10.0
    with pytest.raises(InvariantViolation, match="outside the honest range"):
        fresh_monitor(simulation).check_step()


def test_equivocation_evidence_against_an_honest_member_breaks_accountability() -> None:
    simulation = finished()
    a = sign_message(KEYS[1], COMMITTEE, 1, MsgType.PREPARE, 0, 0, "ab" * 32, "11" * 32)
    b = sign_message(KEYS[1], COMMITTEE, 1, MsgType.PREPARE, 0, 0, "ab" * 32, "22" * 32)
    framed = equivocation(a, b, COMMITTEE)
    simulation.nodes[0].evidence[framed.key] = framed
    with pytest.raises(InvariantViolation, match="against honest member 1"):
        fresh_monitor(simulation).check_step()


def test_evidence_that_does_not_verify_breaks_accountability() -> None:
    simulation = finished()
    bogus = Evidence(kind="equivocation", node_id="oracle-2", seq=0, job_id="ab" * 32)
    simulation.nodes[0].evidence[bogus.key] = bogus
    with pytest.raises(InvariantViolation, match="unverifiable evidence"):
        fresh_monitor(simulation).check_step()


def test_an_honest_member_that_never_decides_breaks_liveness() -> None:
    simulation = finished()
    simulation.nodes[3].decision = None
    with pytest.raises(InvariantViolation, match=r"liveness: members \[3\]"):
        fresh_monitor(simulation).check_end(1000)


def test_the_monitor_can_be_switched_off_for_exploration() -> None:
    simulation = finished(check=False)
    simulation.nodes[3].decision = None
    simulation.monitor.check_end(1000)
