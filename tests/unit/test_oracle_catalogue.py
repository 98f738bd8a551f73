"""The adversarial catalogue (reference notes §7), run through the seeded simulated network.

Every simulation asserts agreement, validity, integrity and accountability after every step and liveness at the end
(qcl.oracle.sim.invariants); the tests below add what each case expects on top. n = 4 (f = 1) by default; key cases
again with n = 7 (f = 2).
"""

from __future__ import annotations

from typing import Any

import pytest

from qcl.oracle.sim.jobs import sim_job
from qcl.oracle.sim.network import SimulationReport, simulate

FINDINGS = sim_job("findings")[1]


def kinds(report: SimulationReport, node: int) -> set[str]:
    return {e["kind"] for e in report.evidence if e["node"] == node}


def accused(report: SimulationReport) -> set[int]:
    return {e["node"] for e in report.evidence if e["kind"] in ("equivocation", "deviation", "bad-knowledge-proof")}


def committed_honestly(report: SimulationReport, expected: Any = FINDINGS) -> None:
    summary = report.summary()
    assert summary["committed"] and summary["certificate_valid"] and summary["result"] == expected


# 1 -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "faults"), [(4, "0:equivocate"), (7, "0:equivocate,1:equivocate")])
def test_1_an_equivocating_primary_is_caught_and_the_honest_result_commits(n: int, faults: str) -> None:
    report = simulate(n, faults, seed=1)
    committed_honestly(report)
    assert "equivocation" in kinds(report, 0) and accused(report) <= {0, 1}
    assert 0 in report.excluded


# 2 -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 7])
def test_2_a_silent_primary_costs_one_view_change_and_only_a_downtime_mark(n: int) -> None:
    report = simulate(n, "0:silent", seed=2)
    committed_honestly(report)
    assert report.summary()["views"] == 2
    assert [e for e in report.evidence if e["node"] == 0] == [{"node": 0, "kind": "downtime"}]
    assert report.excluded == []


# 3 -------------------------------------------------------------------------------------------------------------


def test_3_a_primary_slow_just_under_the_timeout_still_leads_without_a_view_change() -> None:
    report = simulate(4, "0:delay:400", seed=3)
    committed_honestly(report)
    assert report.summary()["views"] == 1 and report.evidence == []


def test_3_a_primary_slower_than_the_timeout_is_replaced() -> None:
    report = simulate(4, "0:delay:2000", seed=3)
    committed_honestly(report)
    assert report.summary()["views"] >= 2 and accused(report) == set()


# 4 -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "faults", "liars"), [(4, "2:wrong-result", {2}), (7, "2:wrong-result,5:wrong-result", {2, 5})]
)
@pytest.mark.parametrize("job", ["findings", "health-score"])
def test_4_f_members_with_a_wrong_result_are_outvoted_and_marked(
    n: int, faults: str, liars: set[int], job: str
) -> None:
    report = simulate(n, faults, seed=4, job=job)
    committed_honestly(report, sim_job(job)[1])
    assert accused(report) == liars and all(kinds(report, liar) == {"deviation"} for liar in liars)
    decision = report.first_decision
    assert decision is not None and not {f"oracle-{i}" for i in liars} & {s.node_id for s in decision.certificate}


# 5 -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults", ["0:wrong-result,1:wrong-result", "0:equivocate,1:equivocate", "1:equivocate,2:wrong-result"]
)
@pytest.mark.parametrize("seed", [5, 6])
def test_5_beyond_the_threshold_only_valid_certificates_exist(faults: str, seed: int) -> None:
    report = simulate(4, faults, seed=seed)  # the monitor switches to the weaker contract: integrity, evidence
    for node in report.nodes:
        if not node.behaviour.byzantine and node.decision is not None:
            assert len({s.node_id for s in node.decision.certificate}) >= 3
    assert report.summary()["certificate_valid"] or report.first_decision is None


# 6, 7 -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 7])
def test_6_replayed_messages_and_another_networks_votes_change_nothing(n: int) -> None:
    report = simulate(n, "1:replay", seed=6)
    committed_honestly(report)
    assert accused(report) == set() and kinds(report, 1) == {"invalid-message"}


def test_7_forged_signatures_are_dropped_and_never_blamed_on_the_member_they_name() -> None:
    report = simulate(4, "2:forge-signature", seed=7)  # it signs as member 3
    committed_honestly(report)
    assert kinds(report, 3) == set() and kinds(report, 2) == {"invalid-message"}
    assert report.summary()["views"] == 1  # forged view changes from "member 3" moved nobody


# 8 -------------------------------------------------------------------------------------------------------------


def test_8_a_2_2_partition_decides_nothing_until_it_heals() -> None:
    report = simulate(4, "partition:0.1|2.3@0-1500", seed=8)
    committed_honestly(report)
    assert report.latency_ms is not None and report.latency_ms >= 1500
    assert all(node.decided_at is not None and node.decided_at >= 1500 for node in report.nodes)


@pytest.mark.parametrize(("n", "faults"), [(4, "partition:0|1.2.3@0-3000"), (7, "partition:0.1|2.3.4.5.6@0-3000")])
def test_8_the_majority_side_changes_view_and_the_isolated_members_catch_up(n: int, faults: str) -> None:
    report = simulate(n, faults, seed=8)
    committed_honestly(report)
    assert report.latency_ms is not None and report.latency_ms < 3000  # the majority did not wait for the heal
    assert all(node.decision is not None for node in report.nodes)  # the minority adopted the certificate
    assert report.summary()["views"] >= 2 and accused(report) == set()


# 9 -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("faults", ["delay:120,drop:0.1", "3:delay:300", "1:drop:0.5,2:replay", "delay:700"])
def test_9_delays_losses_and_duplicates_never_blame_honest_slow_members(faults: str) -> None:
    report = simulate(4, faults, seed=9)
    committed_honestly(report)
    assert accused(report) == set()


# 10 ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "faults"), [(4, "1:crash-restart"), (4, "0:crash-restart"), (7, "3:crash-restart")])
def test_10_a_member_killed_after_voting_restarts_from_disk_without_equivocating(n: int, faults: str) -> None:
    report = simulate(n, faults, seed=10)
    committed_honestly(report)
    crashed = int(faults.split(":")[0])
    assert "crashed" in "\n".join(report.trace) and "restarted" in "\n".join(report.trace)
    assert report.nodes[crashed].decision is not None and accused(report) == set()


def test_10_a_member_that_restarts_with_a_wiped_disk_does_not_vote_until_it_has_learned() -> None:
    report = simulate(4, "1:crash-restart", seed=10, wipe_on_restart=True)
    committed_honestly(report)
    assert accused(report) == set() and report.nodes[1].decision is not None


# 11 ------------------------------------------------------------------------------------------------------------


def test_11_an_equivocating_backup_leaves_the_outcome_unchanged_and_is_excluded() -> None:
    report = simulate(4, "2:equivocate", seed=11)
    committed_honestly(report)
    assert "equivocation" in kinds(report, 2) and accused(report) == {2} and report.excluded == [2]


# 13 ------------------------------------------------------------------------------------------------------------


def test_13_a_lazy_member_that_copies_commitments_earns_nothing_and_is_caught() -> None:
    report = simulate(4, "3:lazy-copy", seed=13)
    committed_honestly(report)
    assert kinds(report, 3) == {"bad-knowledge-proof"}
    decision = report.first_decision
    assert decision is not None and "oracle-3" not in {o.node_id for o in decision.observations}


# 14 ------------------------------------------------------------------------------------------------------------


def test_14_honest_members_that_cannot_agree_certify_unresolvable_and_nobody_is_blamed() -> None:
    results = {i: [{"code": f"variant {i}"}] for i in range(4)}
    report = simulate(4, "", seed=14, results=results)
    summary = report.summary()
    assert (summary["committed"], summary["result"], summary["certificate_valid"]) == (False, "unresolvable", True)
    assert report.evidence == [] and report.excluded == []


def test_14_spread_numeric_observations_are_unresolvable_not_averaged_into_a_wrong_value() -> None:
    results = {0: 10.0, 1: 40.0, 2: 70.0, 3: 100.0}
    report = simulate(4, "", seed=14, job="health-score", results=results)
    assert report.summary()["result"] == "unresolvable" and accused(report) == set()


def test_14_numeric_values_within_the_tolerance_agree_on_their_median() -> None:
    results = {0: 0.50, 1: 0.505, 2: 0.51, 3: 0.502}  # price change job: tolerance 0.01
    report = simulate(4, "", seed=14, job="price-change", results=results)
    summary = report.summary()
    assert summary["committed"] and 0.50 <= summary["result"] <= 0.51


# 16 ------------------------------------------------------------------------------------------------------------


def test_16_a_member_with_a_fast_clock_alone_cannot_force_a_view_change() -> None:
    report = simulate(4, "delay:60", seed=16, timer_scale={2: 0.05})  # its 500 ms timeout fires after 25 ms
    committed_honestly(report)
    assert report.summary()["views"] == 1 and report.evidence == []


# the issue's example -----------------------------------------------------------------------------------------------


def test_the_issue_example_commits_the_honest_result_and_names_the_equivocator() -> None:
    report = simulate(4, "0:equivocate,3:delay:200,partition:0.1|2.3@0-1500", seed=1)
    committed_honestly(report)
    assert "equivocation" in kinds(report, 0) and accused(report) == {0} and report.excluded == [0]
    assert set(report.summary()) == {
        "committed", "result", "certificate_valid", "views", "messages", "latency_ms", "evidence", "excluded"
    }  # fmt: skip


def test_the_same_seed_and_spec_replay_the_same_run() -> None:
    spec = "1:equivocate,delay:30,drop:0.1,partition:0.1|2.3@0-700"
    first, second = simulate(4, spec, seed=42), simulate(4, spec, seed=42)
    assert first.summary() == second.summary() and first.trace == second.trace
