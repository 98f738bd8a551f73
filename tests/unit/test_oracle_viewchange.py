"""View change: a faulty primary costs liveness, never safety (catalogue cases 3 and 12)."""

from __future__ import annotations

from typing import Any

from qcl.oracle.jobs import make_request
from qcl.oracle.messages import Message, MsgType, sign_message
from qcl.oracle.proposals import Proposal, numeric_outcome
from qcl.oracle.sim.jobs import sim_job
from qcl.oracle.sim.network import sim_keys
from qcl.oracle.state import Deliver
from qcl.oracle.viewchange import Job, check_new_view
from tests.unit.test_oracle_replica import Net

KEYS, COMMITTEE = sim_keys(4)


def test_a_primary_that_sends_its_proposal_to_only_f_backups_is_replaced() -> None:
    selective = lambda m, src, dst: m.type == MsgType.PRE_PREPARE and m.view == 0 and dst != 1  # noqa: E731
    net = Net(drop=selective)
    net.submit(*sim_job("findings"))
    assert not any(net.decided.values())  # one backup prepared; no 2f+1, no commit
    net.fire_timers()
    decisions = [net.decided[i][0] for i in range(4)]
    assert {d.view for d in decisions} == {1} and len({d.digest for d in decisions}) == 1


def spread_numeric_job() -> tuple[Any, dict[int, float]]:
    request, _ = sim_job("health-score")
    request = make_request(request.spec.model_copy(update={"tolerance": 5.0}), 0)
    return request, {0: 10.0, 1: 11.0, 2: 12.0, 3: 13.0}


def prepared_then_stuck() -> tuple[Net, Any]:
    """Everyone prepared the view-0 outcome, no commit got through, everyone asked for view 1."""
    request, values = spread_numeric_job()
    stuck = lambda m, src, dst: (m.type == MsgType.COMMIT and m.view == 0) or (m.type == MsgType.NEW_VIEW and src == 1)  # noqa: E731
    net = Net(results=values, drop=stuck)
    net.submit(request, None)
    assert all(r.instances[0].prepared is not None for r in net.replicas)
    net.fire_timers()
    return net, request


def byzantine_new_view(net: Net, request: Any, *, omit: bool) -> Message:
    """Member 1, primary of view 1, drops the prepared outcome: proposes another median, or none at all."""
    changes = [m.model_dump(mode="json") for src, m in net.sent if m.type == MsgType.VIEW_CHANGE and m.view == 1]
    pre_prepare = None
    if not omit:
        observations = tuple(m for src, m in net.sent if m.type == MsgType.OBSERVE and m.sender in (1, 2, 3))
        proposal = Proposal(numeric_outcome(12.0), observations)
        pre_prepare = sign_message(
            KEYS[1], COMMITTEE, 1, MsgType.PRE_PREPARE, 1, 0, request.job_id, proposal.digest, proposal.body()
        ).model_dump(mode="json")
    body = {"view_changes": changes, "pre_prepare": pre_prepare}
    return sign_message(KEYS[1], COMMITTEE, 1, MsgType.NEW_VIEW, 1, 0, request.job_id, body=body)


def test_a_new_primary_that_alters_the_prepared_outcome_is_rejected_and_the_outcome_survives() -> None:
    net, request = prepared_then_stuck()
    prepared_value = net.replicas[0].instances[0].prepared.proposal.outcome["value"]  # type: ignore[union-attr]
    bad = byzantine_new_view(net, request, omit=False)
    job = Job(0, request.job_id, "numeric", 5.0)
    reason = check_new_view(bad, COMMITTEE, job, lambda m: True, frozenset())
    assert reason == "new view proposes another outcome than the one prepared in view 0"
    before = len(net.sent)
    for member in (0, 2, 3):
        net.event(member, Deliver(bad, 1))
    assert not [m for _, m in net.sent[before:] if m.type == MsgType.PREPARE and m.view == 1]
    net.fire_timers()  # view 2: an honest primary carries the prepared outcome forward
    values = {net.decided[i][0].result for i in (0, 2, 3)}
    assert values == {prepared_value} and prepared_value == 11.0


def test_a_new_primary_that_omits_the_prepared_outcome_is_rejected() -> None:
    net, request = prepared_then_stuck()
    bad = byzantine_new_view(net, request, omit=True)
    reason = check_new_view(bad, COMMITTEE, Job(0, request.job_id, "numeric", 5.0), lambda m: True, frozenset())
    assert reason == "new view drops the outcome prepared in an earlier view"


def test_a_new_view_needs_2f_plus_1_view_changes_from_its_primary() -> None:
    net, request = prepared_then_stuck()
    job = Job(0, request.job_id, "numeric", 5.0)
    changes = [m.model_dump(mode="json") for _, m in net.sent if m.type == MsgType.VIEW_CHANGE and m.view == 1][:2]
    short = sign_message(KEYS[1], COMMITTEE, 1, MsgType.NEW_VIEW, 1, 0, request.job_id, body={"view_changes": changes})
    assert "needs 3" in str(check_new_view(short, COMMITTEE, job, lambda m: True, frozenset()))
    wrong = sign_message(KEYS[2], COMMITTEE, 2, MsgType.NEW_VIEW, 1, 0, request.job_id, body={"view_changes": changes})
    assert check_new_view(wrong, COMMITTEE, job, lambda m: True, frozenset()) == "member 2 is not the primary of view 1"


def _vc_of(net: Net, sender: int) -> Message:
    return next(m for _, m in net.sent if m.type == MsgType.VIEW_CHANGE and m.view == 1 and m.sender == sender)


def _resigned(
    msg: Message, body: dict[str, Any] | None, *, sender: int | None = None, view: int | None = None
) -> Message:
    who = msg.sender if sender is None else sender
    return sign_message(
        KEYS[who], COMMITTEE, who, msg.type, msg.view if view is None else view, msg.seq, msg.job_id, body=body
    )


def test_malformed_view_changes_are_rejected_naming_the_problem() -> None:
    from qcl.oracle.viewchange import check_view_change

    net, request = prepared_then_stuck()
    job = Job(0, request.job_id, "numeric", 5.0)
    good = _vc_of(net, 2)
    body = dict(good.body or {})
    cert = dict(body["prepared"])
    cases = {
        "malformed prepared certificate": {**body, "prepared": {"pre_prepare": cert["pre_prepare"]}},
        "without a readable pre-prepare": {**body, "prepared": {**cert, "pre_prepare": {"x": 1}}},
        "needs 2": {**body, "prepared": {**cert, "prepares": cert["prepares"][:1]}},
        "for another slot": {**body, "prepared": {**cert, "prepares": [{**cert["prepares"][0], "view": 5}]}},
        "someone else's observation": {**body, "observation": _vc_of(net, 3).body["observation"]},  # type: ignore[index]
    }
    for reason, changed in cases.items():
        found = check_view_change(_resigned(good, changed), COMMITTEE, job, lambda m: m.signature != "", frozenset())
        assert isinstance(found, str) and reason in found, (reason, found)
    assert check_view_change(
        good.model_copy(update={"signature": "AA=="}), COMMITTEE, job, lambda m: False, frozenset()
    ) == ("view change signature does not verify")
    assert check_view_change(good, COMMITTEE, Job(0, "cd" * 32, "numeric", 5.0), lambda m: True, frozenset()) == (
        "not a view change of this job"
    )
    old = _resigned(good, body, view=0)
    assert check_view_change(old, COMMITTEE, job, lambda m: True, frozenset()) == "not a view change of this job"


def test_malformed_new_views_are_rejected_naming_the_problem() -> None:
    net, request = prepared_then_stuck()
    job = Job(0, request.job_id, "numeric", 5.0)
    good = byzantine_new_view(net, request, omit=False)
    body = dict(good.body or {})

    def check(changed: dict[str, Any] | None) -> object:
        return check_new_view(_resigned(good, changed), COMMITTEE, job, lambda m: True, frozenset())

    assert check({**body, "view_changes": "all of them"}) == "new view without view changes"
    assert check({**body, "view_changes": [{"x": 1}]}) == "new view holds a view change for another view"
    wrong_view = dict(body["pre_prepare"], view=2)
    assert check({**body, "pre_prepare": wrong_view}) == "new view's pre-prepare is for another view"
    assert check_new_view(good, COMMITTEE, job, lambda m: False, frozenset()) == "new view signature does not verify"
    assert check_new_view(good, COMMITTEE, Job(0, "cd" * 32, "numeric", 5.0), lambda m: True, frozenset()) == (
        "not a new view of this job"
    )
