"""Outcomes and their justification: OCR's median, exact agreement on a hash, provable unresolvability."""

from __future__ import annotations

from typing import Any

import pytest

from qcl.oracle.canonical import canonical_json, proof_for, sha256_hex
from qcl.oracle.messages import Message, MsgType, sign_message
from qcl.oracle.proposals import (
    UNRESOLVABLE,
    Proposal,
    acceptable,
    build_proposal,
    check_proposal,
    max_support_numeric,
    median,
    numeric_outcome,
    unresolvable_proven,
)
from qcl.oracle.sim.network import sim_keys

KEYS, COMMITTEE = sim_keys(4)
JOB = "ab" * 32


def numeric(sender: int, value: float) -> Message:
    return sign_message(KEYS[sender], COMMITTEE, sender, MsgType.OBSERVE, 0, 0, JOB, body={"value": value})


def exact(sender: int, result: Any, *, proof_of: Any = None) -> Message:
    raw = canonical_json(result)
    proof = proof_for(canonical_json(proof_of if proof_of is not None else result), KEYS[sender].node_id)
    body = {"result_digest": sha256_hex(raw), "proof": proof}
    return sign_message(KEYS[sender], COMMITTEE, sender, MsgType.OBSERVE, 0, 0, JOB, body=body)


def test_the_median_is_the_middle_value_and_the_upper_middle_for_an_even_count() -> None:
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 3.0


def test_with_f_liars_the_median_stays_inside_the_honest_range() -> None:
    observations = [numeric(0, 10.0), numeric(1, 11.0), numeric(2, 1e9)]  # member 2 lies
    proposal = build_proposal("numeric", observations, COMMITTEE, tolerance=2.0, own_result=None, own_value=10.5)
    assert proposal is not None and 10.0 <= proposal.outcome["value"] <= 11.0


def test_exact_agreement_needs_2f_plus_1_equal_commitments() -> None:
    two = [exact(0, {"a": 1}), exact(1, {"a": 1}), exact(2, {"a": 2})]
    assert (
        build_proposal("exact", two, COMMITTEE, tolerance=0, own_result=canonical_json({"a": 1}), own_value=None)
        is None
    )
    three = [*two, exact(3, {"a": 1})]
    proposal = build_proposal(
        "exact", three, COMMITTEE, tolerance=0, own_result=canonical_json({"a": 1}), own_value=None
    )
    assert proposal is not None and proposal.outcome["result_digest"] == sha256_hex(canonical_json({"a": 1}))
    assert [m.sender for m in proposal.observations] == [0, 1, 3]


def test_a_primary_leaves_out_commitments_whose_knowledge_proof_fails() -> None:
    observations = [exact(0, 1), exact(1, 1), exact(2, 1), exact(3, 1, proof_of=2)]
    good = build_proposal(
        "exact", observations[1:], COMMITTEE, tolerance=0, own_result=canonical_json(1), own_value=None
    )
    assert good is None  # only two valid proofs among members 1..3
    full = build_proposal("exact", observations, COMMITTEE, tolerance=0, own_result=canonical_json(1), own_value=None)
    assert full is not None and 3 not in [m.sender for m in full.observations]


def test_unresolvable_is_proven_only_when_even_the_unseen_could_not_make_a_quorum() -> None:
    split = [exact(0, 1), exact(1, 1), exact(2, 2), exact(3, 3)]
    assert unresolvable_proven("exact", split, 4, 3, 0.0)
    assert not unresolvable_proven("exact", split[:3], 4, 3, 0.0)  # member 3 might still agree with 0 and 1


def test_numeric_support_is_the_densest_window_of_twice_the_tolerance() -> None:
    assert max_support_numeric([1.0, 2.0, 3.0, 10.0], tolerance=1.0) == 3
    assert max_support_numeric([1.0, 5.0, 9.0], tolerance=1.0) == 1


def test_spread_honest_values_make_a_numeric_job_unresolvable() -> None:
    observations = [numeric(0, 1.0), numeric(1, 50.0), numeric(2, 100.0), numeric(3, 150.0)]
    proposal = build_proposal("numeric", observations, COMMITTEE, tolerance=1.0, own_result=None, own_value=1.0)
    assert proposal is not None and proposal.outcome == UNRESOLVABLE


def job_check(proposal: Proposal, kind: str, tolerance: float = 0.0, **extra: Any) -> str | None:
    return check_proposal(proposal, COMMITTEE, kind=kind, seq=0, job_id=JOB, tolerance=tolerance, **extra)


@pytest.mark.parametrize(
    ("proposal", "kind", "reason"),
    [
        (Proposal(numeric_outcome(2.0), (numeric(0, 1.0), numeric(1, 2.0), numeric(2, 9.0))), "numeric", None),
        (
            Proposal(numeric_outcome(9.0), (numeric(0, 1.0), numeric(1, 2.0), numeric(2, 9.0))),
            "numeric",
            "not the median",
        ),
        (Proposal(numeric_outcome(1.0), (numeric(0, 1.0), numeric(1, 1.0))), "numeric", "needs 3 observations"),
        (Proposal(numeric_outcome(1.0), (numeric(0, 1.0), numeric(0, 1.0), numeric(1, 1.0))), "numeric", "distinct"),
        (Proposal({"status": "committed", "value": 1}, (numeric(0, 1.0),) * 1), "numeric", "needs 3"),
        (Proposal(dict(UNRESOLVABLE), (numeric(0, 1.0), numeric(1, 1.0), numeric(2, 1.0))), "numeric", "do not prove"),
        (
            Proposal({"status": "committed", "result_digest": "00" * 32}, (exact(0, 1), exact(1, 1), exact(2, 1))),
            "exact",
            "disagree",
        ),
        (
            Proposal(
                {"status": "committed", "result_digest": "00" * 32, "x": 1}, (exact(0, 1), exact(1, 1), exact(2, 1))
            ),
            "exact",
            "malformed",
        ),
        (Proposal(numeric_outcome(1.0), (exact(0, 1), exact(1, 1), exact(2, 1))), "numeric", "must carry a number"),
    ],
)
def test_check_proposal_names_what_is_wrong(proposal: Proposal, kind: str, reason: str | None) -> None:
    found = job_check(proposal, kind)
    assert found is None if reason is None else reason in (found or "")


def test_an_observation_with_a_forged_signature_invalidates_the_proposal() -> None:
    forged = numeric(1, 1.0).model_copy(update={"signature": numeric(2, 1.0).signature})
    proposal = Proposal(numeric_outcome(1.0), (numeric(0, 1.0), forged, numeric(2, 1.0)))
    assert "does not verify" in (job_check(proposal, "numeric") or "")


def test_an_observation_of_an_excluded_member_invalidates_the_proposal() -> None:
    proposal = Proposal(numeric_outcome(1.0), (numeric(0, 1.0), numeric(1, 1.0), numeric(2, 1.0)))
    assert "excluded member 2" in (job_check(proposal, "numeric", excluded=frozenset({2})) or "")


def test_an_honest_member_accepts_only_its_own_result_with_valid_proofs() -> None:
    mine = canonical_json({"a": 1})
    good = Proposal(
        {"status": "committed", "result_digest": sha256_hex(mine)}, (exact(0, {"a": 1}), exact(1, {"a": 1}))
    )
    assert acceptable(good, COMMITTEE, own_result=mine, own_value=None, tolerance=0) is None
    assert (
        acceptable(good, COMMITTEE, own_result=canonical_json(2), own_value=None, tolerance=0)
        == "proposed result differs from ours"
    )
    assert acceptable(good, COMMITTEE, own_result=None, own_value=None, tolerance=0) == "no result of our own yet"
    copied = Proposal(good.outcome, (exact(0, {"a": 1}), exact(1, {"a": 1}, proof_of="nothing")))
    assert "knowledge proofs of members [1]" in (
        acceptable(copied, COMMITTEE, own_result=mine, own_value=None, tolerance=0) or ""
    )


def test_an_honest_member_accepts_a_median_within_the_tolerance_only() -> None:
    proposal = Proposal(numeric_outcome(10.0), ())
    assert acceptable(proposal, COMMITTEE, own_result=None, own_value=10.4, tolerance=0.5) is None
    assert "more than 0.5" in (acceptable(proposal, COMMITTEE, own_result=None, own_value=11.0, tolerance=0.5) or "")
    assert acceptable(Proposal(dict(UNRESOLVABLE), ()), COMMITTEE, own_result=None, own_value=None, tolerance=0) is None


def test_a_proposal_body_round_trips_and_garbage_reads_as_none() -> None:
    proposal = Proposal(numeric_outcome(1.0), (numeric(0, 1.0),))
    assert Proposal.from_body(proposal.body()) == proposal
    for garbage in (
        None,
        {},
        {"outcome": 1},
        {"outcome": {}, "observations": "x"},
        {"outcome": {}, "observations": [1]},
    ):
        assert Proposal.from_body(garbage) is None
