"""The invariants the simulator asserts after every step (reference notes §7), and liveness at the end.

    agreement       no two honest members decide different outcomes for a job
    validity        a committed exact result was computed by >= f+1 honest members; a numeric one lies within the
                    honest values; "unresolvable" only when honest members really disagree
    integrity       every attestation an honest member holds verifies against the committee
    accountability  every piece of evidence an honest member holds verifies; equivocation and bad knowledge proofs
                    never name an honest member
    liveness        within the fault threshold, once faults heal, every honest member decides

Beyond the threshold (more than f Byzantine members) agreement and validity are not promised; the weaker contract
holds instead: integrity, and conflicting certificates carry equivocation evidence against members that signed both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from qcl.events import OracleResult
from qcl.oracle.attestation import verify_attestation
from qcl.oracle.canonical import canonical_json, sha256_hex
from qcl.oracle.committee import Committee
from qcl.oracle.errors import CertificateError, EvidenceError
from qcl.oracle.evidence import Evidence, conflict_evidence, verify_evidence
from qcl.oracle.sim.faults import FaultPlan

TRACE_TAIL = 40  # steps shown with a violation


class InvariantViolation(AssertionError):
    """An invariant failed; the message names it and ends with the last steps of the run."""


class Member(Protocol):
    """What the monitor reads of a simulated member (network.SimNode)."""

    @property
    def index(self) -> int: ...
    @property
    def result(self) -> Any: ...
    @property
    def decision(self) -> OracleResult | None: ...
    @property
    def evidence(self) -> dict[tuple[str, str, int], Evidence]: ...


class Run(Protocol):
    """What the monitor reads of a run (network.Simulation, which creates the monitor: this module does not import
    it)."""

    @property
    def committee(self) -> Committee: ...
    @property
    def plan(self) -> FaultPlan: ...
    @property
    def trace(self) -> list[str]: ...
    @property
    def now(self) -> float: ...
    def honest(self) -> Sequence[Member]: ...


class Monitor:
    def __init__(self, sim: Run, *, enabled: bool = True) -> None:
        self.sim = sim
        self.enabled = enabled
        self._checked_attestations: set[tuple[int, str, int]] = set()  # (member, digest, view)
        self._checked_evidence: set[tuple[int, tuple[str, str, int]]] = set()
        byzantine = sim.plan.byzantine()
        self.within_threshold = len(byzantine) <= sim.committee.f
        self.faulty = byzantine | sim.plan.silent()

    def _fail(self, what: str) -> None:
        tail = "\n".join(self.sim.trace[-TRACE_TAIL:])
        raise InvariantViolation(f"{what} (at {self.sim.now:.2f} ms)\nlast steps:\n{tail}")

    def check_step(self) -> None:
        if not self.enabled:
            return
        sim = self.sim
        honest = sim.honest()
        decisions = [(node.index, node.decision) for node in honest if node.decision is not None]
        for index, decision in decisions:
            assert decision is not None
            seen = (index, decision.digest, decision.view)
            if seen not in self._checked_attestations:
                self._checked_attestations.add(seen)
                try:
                    verify_attestation(decision, sim.committee)
                except CertificateError as exc:
                    self._fail(f"integrity: member {index} holds an invalid attestation: {exc}")
                if self.within_threshold:
                    self._validity(index, decision)
        outcomes = {d.digest: d for _, d in decisions if d is not None}
        if len(outcomes) > 1:
            if self.within_threshold:
                self._fail(f"agreement: honest members decided {len(outcomes)} different outcomes")
            first, *others = outcomes.values()
            for other in others:
                proof = conflict_evidence(first, other, sim.committee)
                if not proof or any(sim.committee.index_of(e.node_id) in {n.index for n in honest} for e in proof):
                    self._fail("conflicting certificates without equivocation evidence against faulty members only")
        for node in honest:
            for key, evidence in node.evidence.items():
                if (node.index, key) in self._checked_evidence:
                    continue
                self._checked_evidence.add((node.index, key))
                try:
                    verify_evidence(evidence, sim.committee)
                except EvidenceError as exc:
                    self._fail(f"accountability: member {node.index} holds unverifiable evidence: {exc}")
                accused = sim.committee.index_of(evidence.node_id)
                if evidence.kind in ("equivocation", "bad-knowledge-proof") and accused in {n.index for n in honest}:
                    self._fail(f"accountability: {evidence.kind} evidence against honest member {accused}")

    def _validity(self, index: int, decision: object) -> None:
        assert isinstance(decision, OracleResult)
        sim = self.sim
        results = [node.result for node in sim.honest()]
        tolerance = decision.spec.tolerance or 0.0
        if decision.kind == "exact":
            digests = [sha256_hex(canonical_json(r)) for r in results]
            if decision.status == "committed" and digests.count(decision.result_digest or "") < sim.committee.f + 1:
                self._fail(f"validity: member {index} certified a result fewer than f+1 honest members computed")
            if decision.status == "unresolvable" and len(set(digests)) == 1:
                self._fail(f"validity: member {index} certified 'unresolvable' though honest members agree")
            return
        values = [float(r) for r in results]
        if decision.status == "committed" and not min(values) <= float(decision.result) <= max(values):  # type: ignore[arg-type]
            self._fail(f"validity: value {decision.result} outside the honest range {min(values)}..{max(values)}")
        if decision.status == "unresolvable" and max(values) - min(values) <= tolerance:
            self._fail(f"validity: member {index} certified 'unresolvable' though honest values agree")

    def check_end(self, limit_ms: float) -> None:
        """Liveness: within the threshold, on a network that loses at most 20 % of messages, all honest decide."""
        sim = self.sim
        if not self.enabled or len(self.faulty) > sim.committee.f or sim.plan.drop_rate > 0.2:
            return
        results = {sha256_hex(canonical_json(n.result)) for n in sim.honest() if n.index not in self.faulty}
        if len(results) > 1:
            return  # honest non-determinism: neither a result nor unresolvability is promised in every case
        silent = sim.plan.silent()  # nothing leaves them: they cannot even ask for the result
        waiting = [n.index for n in sim.honest() if n.decision is None and n.index not in silent]
        if waiting:
            self._fail(f"liveness: members {waiting} never decided (ran until {limit_ms:.0f} ms)")
