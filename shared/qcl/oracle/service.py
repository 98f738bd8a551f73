"""The oracle committee as a service: what `qcl oracle up` runs and `qcl up` starts beside the analyzer.

    committee = OracleCommittee(settings, bus, store)     # n = settings.oracle_nodes members in this process
    for line in committee.start(): print(line)            # keys and committee file created on first use
    committee.stop()

With settings.oracle_member = i the process is member i alone (production: one Cloud Run service or pod per member):
it trusts the committee file at settings.oracle_committee_file, holds only its own key (QCL_ORACLE_NODE_KEY_<i>;
any other member's key in its environment is refused), and takes requests and reports from the shared
subscriptions, competing with the other members; the report scheduler then counts reports in the store, so the
committee still files a job pair every oracle_every_reports-th report whichever member pulled it.

Members talk over the bus (oracle-protocol) or loopback datagrams (settings.oracle_transport). Jobs come from
oracle-requests (each member reads the one shared subscription; the member that takes a request relays it to the
others) and from the report scheduler on network-analysis. The first member to decide a job keeps the attestation in
the store under oracle:result:<job id> (`qcl oracle request --wait` reads it there) and publishes it on
oracle-results, with an event id derived from the job id, so a second copy is one event to idempotent consumers.

A job submitted as an API task is reported on the task board (qcl.tasks): running when a member takes it, done with
the attestation (committed or unresolvable) when decided, failed when the request is refused. The committee's state
(members, who led the latest decision, reputation and exclusions from the ledger) is kept under COMMITTEE_KEY for
the API's topology, rewritten at start, after every decision and exclusion, and at stop.

An operator may drain a member (it takes no new request but keeps voting; "drained" once the jobs it took are
decided) or restart it (stopped and started again from its disk; the others carry on meanwhile). Removing one is
refused: the committee has exactly PBFT's n = 3f+1 members.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from qcl.bus.base import Bus, Subscription, close_all
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
from qcl.oracle.committee import Committee, load_committee
from qcl.oracle.crypto import NodeKey
from qcl.oracle.errors import CommitteeError, JobError
from qcl.oracle.evidence import Evidence
from qcl.oracle.jobs import Blobs, Executors, check_request
from qcl.oracle.ledger import Ledger
from qcl.oracle.runtime import STATE_FILE, NodeRuntime
from qcl.oracle.scheduler import ReportScheduler
from qcl.oracle.setup import init_committee, install_env_keys, member_dir, open_committee, own_key
from qcl.oracle.state import ProtocolConfig
from qcl.oracle.status import CommitteeState, MemberState
from qcl.oracle.transport import BusTransport, LoopbackTransport, Transport
from qcl.store.base import Store
from qcl.store.keys import ORACLE_COMMITTEE, ORACLE_COMMITTEE_MEMBER, ORACLE_RESULT, ORACLE_RUN
from qcl.tasks import TaskBoard

log = logging.getLogger(__name__)

RUN_KEY = ORACLE_RUN.key()
_RESULT_IDS = uuid.UUID("5d3c9e21-8b7a-4f10-a2c4-6e9d0b3f7a18")  # namespace of result event ids (by job id)
RESULT_TTL_S = 7 * 24 * 3600
COMMITTEE_KEY = ORACLE_COMMITTEE.key()


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
        self.member = settings.oracle_member  # None: this process hosts every member
        self.scheduler = ReportScheduler(
            bus,
            store,
            every=settings.oracle_every_reports,
            window_s=settings.oracle_window_s,
            shared_count=self.member is not None,
        )
        self._subscriptions: list[Subscription] = []
        self.ledger: Ledger | None = None
        self.committee: Committee | None = None
        self.tasks = TaskBoard(store, ttl_s=settings.retention_tasks_s)
        self._latest = (0, 0)  # (sequence, view) of the latest decision
        self._state_lock = threading.Lock()  # members' threads publish at once: one write at a time, newest last
        self._executors: Executors | None = None
        self._draining: set[str] = set()  # members taking no new request (an operator's drain)
        self._taken: dict[str, set[str]] = {}  # member -> job ids it took that are not decided yet

    def _committee_and_keys(self) -> tuple[Committee, list[NodeKey]]:
        """Every member's key (one host, keys created on first use), or a lone member's own key only."""
        if self.member is None:
            install_env_keys(self.folder, self.n)
            init_committee(self.folder, n=self.n, base_port=self.settings.oracle_base_port)
            return open_committee(self.folder)
        if self.settings.oracle_committee_file is None:
            raise CommitteeError(
                f"member {self.member} runs alone, so it needs the committee file: set QCL_ORACLE_COMMITTEE_FILE "
                "(committee.json from `qcl oracle init`)"
            )
        committee = load_committee(self.settings.oracle_committee_file)
        if committee.n != self.n:
            raise CommitteeError(
                f"{self.settings.oracle_committee_file} lists {committee.n} members; QCL_ORACLE_NODES is {self.n}"
            )
        return committee, [own_key(committee, self.member)]

    def start(self) -> list[str]:
        committee, keys = self._committee_and_keys()
        self.committee = committee
        self.ledger = Ledger(committee)
        local = [i for i, member in enumerate(committee.members) if member.node_id in {k.node_id for k in keys}]
        if self.store.put_if_absent(RUN_KEY, uuid.uuid4().hex):
            # A fresh store (a new replay) numbers jobs from 0 again: the members' old state would refuse them.
            for index in local:
                (member_dir(self.folder, index) / STATE_FILE).unlink(missing_ok=True)
                shutil.rmtree(member_dir(self.folder, index) / "attestations", ignore_errors=True)
        if self.member is not None:  # a shared key left by a run hosting every member would hide the members' own
            self.store.delete(COMMITTEE_KEY)
        self._executors = Executors(Blobs(self.store))
        for position, key in enumerate(keys):
            node = self._runtime(key)
            node.start()
            self.nodes.append(node)
            if self.pull_inputs:
                self._subscriptions.append(self.bus.subscribe(ORACLE_REQUESTS, "oracle", self._taker(position)))
            self._node_event(key.node_id, "recovered" if node.restored else "joined")
        if self.settings.oracle_transport == "bus" and self.member is None:
            # Members beyond this committee's size have subscriptions too (the registry lists seven); drain them.
            for spare in range(self.n, len(ORACLE_PROTOCOL.consumers)):
                self._subscriptions.append(self.bus.subscribe(ORACLE_PROTOCOL, f"oracle-{spare}", lambda event: None))
        if self.pull_inputs:
            self._subscriptions.append(self.bus.subscribe(NETWORK_ANALYSIS, "oracle", self.scheduler.handle))
        self.record_state()
        hosted = f"{self.n} members" if self.member is None else f"member {self.member} of {self.n}"
        return [
            f"oracle   {hosted} (f = {committee.f}) over {self.settings.oracle_transport}, committee "
            f"{committee.committee_id[:16]}… in {self.folder}",
            f"oracle   {ORACLE_REQUESTS.name} + every {self.scheduler.every}th {NETWORK_ANALYSIS.name} report "
            f"-> {ORACLE_RESULTS.name}",
        ]

    def _runtime(self, key: NodeKey) -> NodeRuntime:
        """The member holding `key` as a runtime (restored from its disk when it has one), not yet started."""
        assert self.committee is not None and self._executors is not None
        index = self.committee.index_of(key.node_id)
        assert index is not None  # keys come from the committee file's members
        transport: Transport = (
            LoopbackTransport(self.committee, index)
            if self.settings.oracle_transport == "loopback"
            else BusTransport(self.bus, self.committee, index, source=f"//qcl/oracle/{key.node_id}")
        )
        return NodeRuntime(
            self.committee,
            key,
            transport=transport,
            executors=self._executors,
            state_dir=member_dir(self.folder, index),
            config=self.config,
            on_decide=self._published,
            on_evidence=self.record_evidence,
        )

    def take_request(self, event: Envelope[OracleRequest]) -> None:
        """A pushed request: a member taking requests takes it and relays it (raises, so it is redelivered, when none
        does)."""
        taking = self._taking()
        if not taking:
            raise RuntimeError("no committee member is taking requests")
        self._taker(taking[event.data.sequence % len(taking)])(event)

    def _taking(self) -> list[int]:
        """Indices of the members that take new requests: running and not draining."""
        return [
            index for index, node in enumerate(self.nodes) if node.running and node.key.node_id not in self._draining
        ]

    def _taker(self, index: int) -> Callable[[Envelope[OracleRequest]], None]:
        def take(event: Envelope[OracleRequest]) -> None:
            try:
                check_request(event.data)
            except JobError as exc:
                self.tasks.fail(event.data.job_id, "invalid_job", str(exc))
                raise ValueError(f"oracle request {event.id} rejected: {exc}") from None  # -> dead letter after retries
            taking = self._taking()
            if index not in taking:  # this member is drained or restarting: another one takes the request
                if not taking:
                    raise RuntimeError("no committee member is taking requests")  # redelivered later
                return self._taker(taking[event.data.sequence % len(taking)])(event)
            node = self.nodes[index]
            self.tasks.start(event.data.job_id, worker=node.key.node_id)
            self._taken.setdefault(node.key.node_id, set()).add(event.data.job_id)
            node.submit(event.data)
            return None

        return take

    # -- an operator's actions: drain or restart a member ----------------------------------------------------------

    def member_index(self, node_id: str) -> int | None:
        return next((i for i, node in enumerate(self.nodes) if node.key.node_id == node_id), None)

    def lifecycle(self, node_id: str) -> str:
        """ "active", "draining" (jobs it took still undecided) or "drained"."""
        if node_id in self._draining:
            return "draining" if self._taken.get(node_id) else "drained"
        return "active"

    def drain(self, node_id: str) -> None:
        """The member takes no new request (it still votes: the committee needs it); the jobs it took finish.
        ValueError when no other member would take requests."""
        index = self.member_index(node_id)
        if index is not None and not [i for i in self._taking() if i != index]:
            raise ValueError("no other committee member would take requests")
        self._draining.add(node_id)
        self.record_state()

    def restart(self, node_id: str) -> None:
        """Stop the member and start it again from its disk (it catches up through the protocol's resume)."""
        index = self.member_index(node_id)
        if index is None:
            raise KeyError(node_id)
        old = self.nodes[index]
        old.stop()
        self._node_event(node_id, "left", "restarting on an operator's request")
        node = self._runtime(old.key)
        node.start()
        self.nodes[index] = node
        self._draining.discard(node_id)
        self._node_event(node_id, "recovered", "restarted on an operator's request")
        self.record_state()

    def removal_refusal(self) -> str:
        """Why no member can be removed: a committee has exactly n = 3f+1 members (committee.py), the fewest with
        which PBFT tolerates f faulty ones; a smaller committee is a new committee with a smaller f."""
        assert self.committee is not None
        n, f = self.committee.n, self.committee.f
        return (
            f"the committee would keep {n - 1} of {n} members; PBFT with f = {f} needs n >= 3f+1 = {3 * f + 1} "
            f"(drain or restart the member instead, or build a smaller committee)"
        )

    def _published(self, attestation: OracleResult) -> None:
        """Every member publishes; one event id per job makes the copies one event downstream."""
        if not self.store.put_if_absent(
            ORACLE_RESULT.key(job_id=attestation.job_id), attestation.model_dump_json(), ttl_s=RESULT_TTL_S
        ):
            return
        self.tasks.finish(attestation.job_id, attestation.model_dump(mode="json"))  # before readers hear of it
        for taken in self._taken.values():
            taken.discard(attestation.job_id)
        event = ORACLE_RESULTS.event(
            attestation,
            source="//qcl/oracle",
            subject=attestation.spec.subject,
            event_id=str(uuid.uuid5(_RESULT_IDS, attestation.job_id)),
        )
        if self.ledger is not None:
            self.ledger.record_attestation(attestation)
        with self._state_lock:
            self._latest = max(self._latest, (attestation.sequence, attestation.view))
        self.record_state()  # like the task, the committee's state is current before readers hear of the result
        self.bus.publish(ORACLE_RESULTS, event)
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
        with self._state_lock:
            state = self.state()
            if state is None:
                return
            # A member run alone writes its own key (qcl.oracle.status merges them on read).
            key = COMMITTEE_KEY if self.member is None else ORACLE_COMMITTEE_MEMBER.key(index=self.member)
            try:
                self.store.put(key, state.model_dump_json())
            except Exception:
                log.exception("oracle: could not keep the committee state in the store")

    def _node_event(
        self, node_id: str, kind: Literal["joined", "left", "failed", "recovered"], detail: str = ""
    ) -> None:
        data = NodeEvent(node_id=node_id, role="oracle", kind=kind, detail=detail)
        self.bus.publish(NODE_EVENTS, NODE_EVENTS.event(data, source="//qcl/oracle", subject=node_id))

    def stop(self) -> None:
        close_all(self._subscriptions)
        for node in self.nodes:
            node.stop()
            self._node_event(node.key.node_id, "left")
        self.record_state()


def _short(attestation: OracleResult) -> str:
    if isinstance(attestation.result, list):
        codes = [f.get("code") for f in attestation.result if isinstance(f, dict)]
        return f"{len(codes)} finding(s) {codes}"
    return str(attestation.result)
