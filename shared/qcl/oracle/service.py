"""The oracle committee as a service: what `qcl oracle up` runs and `qcl up` starts beside the analyzer.

    committee = OracleCommittee(settings, bus, store)     # n = settings.oracle_nodes members in this process
    for line in committee.start(): print(line)            # keys and committee file created on first use
    committee.stop()

Members talk over the bus (oracle-protocol) or loopback datagrams (settings.oracle_transport). Jobs come from
oracle-requests (each member reads the one shared subscription; the member that takes a request relays it to the
others) and from the report scheduler on network-analysis. The first member to decide a job keeps the attestation in
the store under oracle:result:<job id> (`qcl oracle request --wait` reads it there) and publishes it on
oracle-results, with an event id derived from the job id, so a second copy is one event to idempotent consumers.

A job submitted as an API task is reported on the task board (qcl.tasks): running when a member takes it, done with
the attestation (committed or unresolvable) when decided, failed when the request is refused. The committee's state
(members, who led the latest decision, reputation and exclusions from the ledger) is kept under COMMITTEE_KEY for
the API's topology, rewritten at start, after every decision and exclusion, and at stop.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from qcl.bus.base import Bus, Subscription
from qcl.config import Settings
from qcl.events import (
    NETWORK_ANALYSIS,
    NODE_EVENTS,
    ORACLE_PROTOCOL,
    ORACLE_REQUESTS,
    ORACLE_RESULTS,
    Envelope,
    NodeEvent,
    OracleRequest,
    OracleResult,
)
from qcl.oracle.committee import Committee
from qcl.oracle.errors import JobError
from qcl.oracle.evidence import Evidence
from qcl.oracle.jobs import Blobs, Executors, check_request
from qcl.oracle.ledger import Ledger
from qcl.oracle.runtime import STATE_FILE, NodeRuntime
from qcl.oracle.scheduler import ReportScheduler
from qcl.oracle.setup import init_committee, install_env_keys, member_dir, open_committee
from qcl.oracle.state import ProtocolConfig
from qcl.oracle.transport import BusTransport, LoopbackTransport, Transport
from qcl.store.base import Store
from qcl.tasks import TaskBoard

log = logging.getLogger(__name__)

RUN_KEY = "oracle:run"  # present while the store's sequence counter matches the members' state on disk
_RESULT_IDS = uuid.UUID("5d3c9e21-8b7a-4f10-a2c4-6e9d0b3f7a18")  # namespace of result event ids (by job id)
RESULT_TTL_S = 7 * 24 * 3600
COMMITTEE_KEY = "oracle:committee"  # CommitteeState JSON


class MemberState(BaseModel):
    node_id: str
    index: int
    running: bool
    reputation: float  # the ledger's score in [0, 1]
    excluded: bool  # below the threshold: its votes count for nothing
    tombstoned: bool  # equivocated: excluded for good


class CommitteeState(BaseModel):
    """The committee as the API shows it. Views are per job (PBFT per sequence): `sequence` and `view` are those of
    the latest decision (job 0, view 0 before the first), `primary` the member that leads that view."""

    committee_id: str
    n: int
    f: int
    quorum: int
    sequence: int
    view: int
    primary: str
    members: list[MemberState]
    updated_at: datetime


def result_key(job_id: str) -> str:
    return f"oracle:result:{job_id}"


class OracleCommittee:
    def __init__(
        self, settings: Settings, bus: Bus, store: Store, *, nodes: int | None = None, pull_inputs: bool = True
    ) -> None:
        self.pull_inputs = pull_inputs  # False: oracle-requests and network-analysis arrive by push (Cloud Run)
        self.settings, self.bus, self.store = settings, bus, store
        self.n = nodes or settings.oracle_nodes
        self.folder = Path(settings.state_dir) / "oracle" / f"n{self.n}"
        self.config = ProtocolConfig(
            view_timeout_ms=settings.oracle_view_timeout_ms, checkpoint_interval=settings.oracle_checkpoint_interval
        )
        self.nodes: list[NodeRuntime] = []
        self.scheduler = ReportScheduler(
            bus, store, every=settings.oracle_every_reports, window_s=settings.oracle_window_s
        )
        self._subscriptions: list[Subscription] = []
        self.ledger: Ledger | None = None
        self.committee: Committee | None = None
        self.tasks = TaskBoard(store)
        self._latest = (0, 0)  # (sequence, view) of the latest decision

    def start(self) -> list[str]:
        install_env_keys(self.folder, self.n)
        init_committee(self.folder, n=self.n, base_port=self.settings.oracle_base_port)
        committee, keys = open_committee(self.folder)
        self.committee = committee
        self.ledger = Ledger(committee)
        if self.store.put_if_absent(RUN_KEY, uuid.uuid4().hex):
            # A fresh store (a new replay) numbers jobs from 0 again: the members' old state would refuse them.
            for index in range(self.n):
                (member_dir(self.folder, index) / STATE_FILE).unlink(missing_ok=True)
                shutil.rmtree(member_dir(self.folder, index) / "attestations", ignore_errors=True)
        executors = Executors(Blobs(self.store))
        for index, key in enumerate(keys):
            transport: Transport = (
                LoopbackTransport(committee, index)
                if self.settings.oracle_transport == "loopback"
                else BusTransport(self.bus, committee, index, source=f"//qcl/oracle/{key.node_id}")
            )
            node = NodeRuntime(
                committee,
                key,
                transport=transport,
                executors=executors,
                state_dir=member_dir(self.folder, index),
                config=self.config,
                on_decide=self._published,
                on_evidence=self.record_evidence,
            )
            node.start()
            self.nodes.append(node)
            if self.pull_inputs:
                self._subscriptions.append(self.bus.subscribe(ORACLE_REQUESTS, "oracle", self._taker(node)))
            self._node_event(key.node_id, "recovered" if node.restored else "joined")
        if self.settings.oracle_transport == "bus":
            # Members beyond this committee's size have subscriptions too (the registry lists seven); drain them.
            for spare in range(self.n, len(ORACLE_PROTOCOL.consumers)):
                self._subscriptions.append(self.bus.subscribe(ORACLE_PROTOCOL, f"oracle-{spare}", lambda event: None))
        if self.pull_inputs:
            self._subscriptions.append(self.bus.subscribe(NETWORK_ANALYSIS, "oracle", self.scheduler.handle))
        self.record_state()
        return [
            f"oracle   {self.n} members (f = {committee.f}) over {self.settings.oracle_transport}, committee "
            f"{committee.committee_id[:16]}… in {self.folder}",
            f"oracle   {ORACLE_REQUESTS.name} + every {self.scheduler.every}th {NETWORK_ANALYSIS.name} report "
            f"-> {ORACLE_RESULTS.name}",
        ]

    def take_request(self, event: Envelope[OracleRequest]) -> None:
        """A pushed request: the first running member takes it and relays it (raises, so it is redelivered, when
        none runs)."""
        running = [node for node in self.nodes if node.running]
        if not running:
            raise RuntimeError("no committee member is running")
        self._taker(running[event.data.sequence % len(running)])(event)

    def _taker(self, node: NodeRuntime) -> Callable[[Envelope[OracleRequest]], None]:
        def take(event: Envelope[OracleRequest]) -> None:
            try:
                check_request(event.data)
            except JobError as exc:
                self.tasks.fail(event.data.job_id, "invalid_job", str(exc))
                raise ValueError(f"oracle request {event.id} rejected: {exc}") from None  # -> dead letter after retries
            self.tasks.start(event.data.job_id, worker=node.key.node_id)
            node.submit(event.data)

        return take

    def _published(self, attestation: OracleResult) -> None:
        """Every member publishes; one event id per job makes the copies one event downstream."""
        if not self.store.put_if_absent(
            result_key(attestation.job_id), attestation.model_dump_json(), ttl_s=RESULT_TTL_S
        ):
            return
        self.tasks.finish(attestation.job_id, attestation.model_dump(mode="json"))  # before readers hear of it
        event = ORACLE_RESULTS.event(
            attestation,
            source="//qcl/oracle",
            subject=attestation.spec.subject,
            event_id=str(uuid.uuid5(_RESULT_IDS, attestation.job_id)),
        )
        self.bus.publish(ORACLE_RESULTS, event)
        if self.ledger is not None:
            self.ledger.record_attestation(attestation)
        self._latest = max(self._latest, (attestation.sequence, attestation.view))
        self.record_state()
        shown = "unresolvable" if attestation.status == "unresolvable" else _short(attestation)
        log.info(
            "oracle: job %d (%s) %s in view %d with %d signatures: %s",
            attestation.sequence,
            attestation.spec.task,
            attestation.status,
            attestation.view,
            len(attestation.certificate),
            shown,
        )

    def record_evidence(self, evidence: Evidence) -> None:
        """Apply evidence to the ledger; a member excluded by it is announced and ignored by the local members."""
        if self.ledger is None:
            return
        was = set(self.ledger.excluded())
        try:
            self.ledger.record_evidence(evidence)
        except Exception as exc:  # unverifiable evidence changes nothing
            log.warning("oracle: evidence against %s not recorded: %s", evidence.node_id, exc)
            return
        excluded = self.ledger.excluded_indices()
        for node in self.nodes:  # from the next message on, their votes count for nothing here
            node.replica.excluded = excluded - {node.replica.me}
        for node_id in set(self.ledger.excluded()) - was:
            self._node_event(node_id, "failed", f"excluded from the committee: {evidence.kind}")
        self.record_state()

    def state(self) -> CommitteeState | None:
        """Members, the latest decision's view and primary, reputation and exclusions; None before start."""
        if self.committee is None or self.ledger is None:
            return None
        committee, ledger = self.committee, self.ledger
        excluded = set(ledger.excluded())
        running = {node.key.node_id for node in self.nodes if node.running}
        sequence, view = self._latest
        members = [
            MemberState(
                node_id=member.node_id,
                index=index,
                running=member.node_id in running,
                reputation=round(ledger.scores.get(member.node_id, 1.0), 4),
                excluded=member.node_id in excluded,
                tombstoned=member.node_id in ledger.tombstoned,
            )
            for index, member in enumerate(committee.members)
        ]
        return CommitteeState(
            committee_id=committee.committee_id,
            n=committee.n,
            f=committee.f,
            quorum=committee.quorum,
            sequence=sequence,
            view=view,
            primary=committee.node_id(committee.primary(sequence, view)),
            members=members,
            updated_at=datetime.now(UTC),
        )

    def record_state(self) -> None:
        """Keep the committee's state in the store for the API (a failed write is logged: it is a view, not state)."""
        state = self.state()
        if state is None:
            return
        try:
            self.store.put(COMMITTEE_KEY, state.model_dump_json())
        except Exception:
            log.exception("oracle: could not keep the committee state in the store")

    def _node_event(
        self, node_id: str, kind: Literal["joined", "left", "failed", "recovered"], detail: str = ""
    ) -> None:
        data = NodeEvent(node_id=node_id, role="oracle", kind=kind, detail=detail)
        self.bus.publish(NODE_EVENTS, NODE_EVENTS.event(data, source="//qcl/oracle", subject=node_id))

    def stop(self) -> None:
        for subscription in self._subscriptions:
            subscription.close()
        for node in self.nodes:
            node.stop()
            self._node_event(node.key.node_id, "left")
        self.record_state()


def _short(attestation: OracleResult) -> str:
    if isinstance(attestation.result, list):
        codes = [f.get("code") for f in attestation.result if isinstance(f, dict)]
        return f"{len(codes)} finding(s) {codes}"
    return str(attestation.result)
