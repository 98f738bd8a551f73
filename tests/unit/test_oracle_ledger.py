"""Evidence from signed messages only, and the reputation ledger that acts on it."""

from __future__ import annotations

import pytest

from qcl.events import OracleResult, OracleSignature
from qcl.oracle.errors import EvidenceError
from qcl.oracle.evidence import Evidence, conflict_evidence, conflicting, equivocation, verify_evidence
from qcl.oracle.ledger import Ledger
from qcl.oracle.messages import MsgType, sign_message
from qcl.oracle.sim.network import sim_keys, simulate

KEYS, COMMITTEE = sim_keys(4)
JOB = "ab" * 32


def vote(sender: int, digest: str, *, view: int = 0, kind: MsgType = MsgType.PREPARE, seq: int = 0) -> object:
    return sign_message(KEYS[sender], COMMITTEE, sender, kind, view, seq, JOB, digest)


def test_two_votes_for_different_digests_in_one_slot_are_equivocation() -> None:
    a, b = vote(1, "aa" * 32), vote(1, "bb" * 32)
    evidence = equivocation(a, b, COMMITTEE)  # type: ignore[arg-type]
    verify_evidence(evidence, COMMITTEE)
    assert evidence.node_id == "oracle-1"


def test_prepares_in_different_views_do_not_conflict_but_commits_do() -> None:
    assert not conflicting(vote(1, "aa" * 32, view=0), vote(1, "bb" * 32, view=1))  # type: ignore[arg-type]
    commit_a = vote(1, "aa" * 32, view=0, kind=MsgType.COMMIT)
    commit_b = vote(1, "bb" * 32, view=1, kind=MsgType.COMMIT)
    assert conflicting(commit_a, commit_b)  # type: ignore[arg-type]  # an honest member locks on what it commits


def test_votes_of_different_members_or_sequences_never_conflict() -> None:
    assert not conflicting(vote(1, "aa" * 32), vote(2, "bb" * 32))  # type: ignore[arg-type]
    assert not conflicting(vote(1, "aa" * 32, seq=0), vote(1, "bb" * 32, seq=1))  # type: ignore[arg-type]


def test_a_forged_message_never_becomes_evidence_against_the_member_it_names() -> None:
    genuine = vote(1, "aa" * 32)
    forged = vote(2, "bb" * 32).model_copy(update={"sender": 1})  # type: ignore[attr-defined]
    with pytest.raises(EvidenceError, match="not validly signed by oracle-1"):
        verify_evidence(equivocation(genuine, forged, COMMITTEE), COMMITTEE)  # type: ignore[arg-type]


def test_the_same_message_twice_is_not_equivocation() -> None:
    same = vote(1, "aa" * 32)
    with pytest.raises(EvidenceError, match="two conflicting messages"):
        verify_evidence(equivocation(same, same, COMMITTEE), COMMITTEE)  # type: ignore[arg-type]


def test_evidence_against_a_non_member_or_without_its_certificate_is_refused() -> None:
    with pytest.raises(EvidenceError, match="not a member"):
        verify_evidence(Evidence(kind="downtime", node_id="mallory", seq=0, job_id=JOB), COMMITTEE)
    with pytest.raises(EvidenceError, match="needs the certified result"):
        verify_evidence(Evidence(kind="deviation", node_id="oracle-1", seq=0, job_id=JOB), COMMITTEE)


def decided(faults: str = "", job: str = "findings") -> tuple[OracleResult, list[Evidence]]:
    report = simulate(4, faults, 3, job=job)
    assert report.first_decision is not None
    found = {key: ev for node in report.nodes if not node.behaviour.byzantine for key, ev in node.evidence.items()}
    return report.first_decision, list(found.values())


def test_a_wrong_result_is_deviation_evidence_anyone_can_recheck() -> None:
    _, found = decided("2:wrong-result")
    (deviation,) = [e for e in found if e.kind == "deviation"]
    verify_evidence(deviation, COMMITTEE)
    assert deviation.node_id == "oracle-2"


def test_downtime_is_an_absence_from_the_attestation() -> None:
    attestation, _ = decided("0:silent")
    verify_evidence(
        Evidence(kind="downtime", node_id="oracle-0", seq=0, job_id=attestation.job_id, attestation=attestation),
        COMMITTEE,
    )
    present = attestation.certificate[0].node_id
    with pytest.raises(EvidenceError, match="that is not downtime"):
        verify_evidence(
            Evidence(kind="downtime", node_id=present, seq=0, job_id=attestation.job_id, attestation=attestation),
            COMMITTEE,
        )


def test_conflicting_certificates_name_the_members_that_signed_both() -> None:
    attestation, _ = decided()
    certificate = []
    for entry in attestation.certificate:
        index = COMMITTEE.index_of(entry.node_id) or 0
        commit = sign_message(
            KEYS[index], COMMITTEE, index, MsgType.COMMIT, attestation.view, 0, attestation.job_id, "ee" * 32
        )
        certificate.append(OracleSignature(node_id=entry.node_id, signature=commit.signature))
    other = attestation.model_copy(update={"digest": "ee" * 32, "certificate": certificate})
    found = conflict_evidence(attestation, other, COMMITTEE)
    assert {e.node_id for e in found} == {s.node_id for s in attestation.certificate}
    for evidence in found:
        verify_evidence(evidence, COMMITTEE)
    assert conflict_evidence(attestation, attestation, COMMITTEE) == []


def test_members_in_the_certificate_earn_and_absent_ones_decay() -> None:
    attestation, _ = decided("0:silent")
    ledger = Ledger(COMMITTEE)
    ledger.record_attestation(attestation)
    ledger.record_attestation(attestation)  # counted once per job
    assert ledger.scores["oracle-0"] == pytest.approx(0.95) and ledger.scores["oracle-1"] == 1.0


def test_a_member_that_misses_every_job_is_excluded_after_enough_misses() -> None:
    attestation, _ = decided("0:silent")
    ledger = Ledger(COMMITTEE)
    for n in range(20):
        ledger.record_attestation(attestation.model_copy(update={"job_id": f"{n:064x}"}))
    assert ledger.excluded() == ["oracle-0"]


def test_equivocation_excludes_at_once_and_deviation_costs_a_graded_penalty() -> None:
    _, found = decided("1:equivocate")
    ledger = Ledger(COMMITTEE)
    for evidence in found:
        ledger.record_evidence(evidence)
    assert ledger.excluded() == ["oracle-1"] and "oracle-1" in ledger.tombstoned
    _, deviations = decided("2:wrong-result")
    graded = Ledger(COMMITTEE)
    graded.record_evidence(deviations[0])
    graded.record_evidence(deviations[0])  # the same evidence counts once
    assert graded.scores["oracle-2"] == pytest.approx(0.75) and graded.excluded() == []


def test_never_more_than_f_members_are_excluded() -> None:
    ledger = Ledger(COMMITTEE)
    ledger.tombstoned.update({"oracle-1", "oracle-2"})
    ledger.scores.update({"oracle-1": 0.0, "oracle-2": 0.0})
    assert len(ledger.excluded()) == COMMITTEE.f
    assert ledger.excluded_indices() == frozenset({1})
    assert ledger.to_json()["excluded"] == ["oracle-1"]


def test_unverifiable_evidence_changes_no_score() -> None:
    ledger = Ledger(COMMITTEE)
    same = vote(1, "aa" * 32)
    with pytest.raises(EvidenceError):
        ledger.record_evidence(equivocation(same, same, COMMITTEE))  # type: ignore[arg-type]
    assert ledger.scores["oracle-1"] == 1.0
