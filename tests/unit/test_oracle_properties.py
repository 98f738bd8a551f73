"""Property-based fault schedules: hypothesis draws a SPEC and a seed; the simulator checks every invariant after
every step (and liveness at the end). A failure shrinks to a minimal SPEC and seed, which replay the same trace:
`qcl oracle simulate --nodes N --faults SPEC --seed S --trace`.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from qcl.oracle.sim.network import simulate

NODE_FAULTS = ["silent", "equivocate", "wrong-result", "lazy-copy", "forge-signature", "replay", "crash-restart"]


@st.composite
def node_fault(draw: st.DrawFn, node: int) -> str:
    kind = draw(st.sampled_from([*NODE_FAULTS, "delay", "drop"]))
    if kind == "delay":
        return f"{node}:delay:{draw(st.integers(0, 900))}"
    if kind == "drop":
        return f"{node}:drop:{draw(st.sampled_from([0.1, 0.3, 0.6, 1.0]))}"
    return f"{node}:{kind}"


@st.composite
def partition(draw: st.DrawFn, n: int) -> str:
    members = draw(st.permutations(list(range(n))))
    cut = draw(st.integers(1, n - 1))
    start = draw(st.integers(0, 1000))
    end = start + draw(st.integers(1, 2500))
    groups = "|".join(".".join(str(m) for m in sorted(g)) for g in (members[:cut], members[cut:]))
    return f"partition:{groups}@{start}-{end}"


@st.composite
def schedule(draw: st.DrawFn, *, beyond: bool = False) -> tuple[int, str]:
    n = draw(st.sampled_from([4, 7]))
    f = (n - 1) // 3
    count = draw(st.integers(f + 1, min(n - 1, f + 2)) if beyond else st.integers(0, f))
    faulty = draw(st.lists(st.integers(0, n - 1), min_size=count, max_size=count, unique=True))
    items = [draw(node_fault(node)) for node in faulty]
    if draw(st.booleans()):
        items.append(f"delay:{draw(st.integers(0, 300))}")
    if draw(st.booleans()):
        items.append(f"drop:{draw(st.sampled_from([0.05, 0.1, 0.2]))}")
    items += draw(st.lists(partition(n), max_size=2))
    return n, ",".join(items)


def runs(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
    )


@runs(60)
@given(schedule(), st.integers(0, 2**16), st.sampled_from(["findings", "health-score"]))
def test_within_the_threshold_every_invariant_holds_and_every_honest_member_decides(
    drawn: tuple[int, str], seed: int, job: str
) -> None:
    n, spec = drawn
    note(f"qcl oracle simulate --nodes {n} --faults '{spec}' --seed {seed} --job {job} --trace")
    report = simulate(n, spec, seed, job=job)
    assert report.first_decision is not None or report.plan.silent()  # liveness is checked inside, this is the output


@runs(30)
@given(schedule(beyond=True), st.integers(0, 2**16))
def test_beyond_the_threshold_only_valid_certificates_and_evidence_for_conflicts(
    drawn: tuple[int, str], seed: int
) -> None:
    n, spec = drawn
    note(f"qcl oracle simulate --nodes {n} --faults '{spec}' --seed {seed} --trace")
    report = simulate(n, spec, seed)
    assert report.first_decision is None or report.certificate_valid
