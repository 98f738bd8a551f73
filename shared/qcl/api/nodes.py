"""The nodes the API shows: node-events merged with the shard registry and the oracle committee's state.

    views = merge_nodes(event_views, registry.known(), committee_state, now)    # GET /api/nodes
    topology = build_topology(views, committee_state)                          # GET /api/topology

Node-events say what happened (joined, failed, recovered, left) when the API heard of it; the shard registry says
what is true now (a record that expired is a failed node, whether or not its event has arrived yet) and where each
shard is (address, layer ranges, sessions, last heartbeat); the committee's state says which member leads the latest
decision's view and how the reputation ledger sees each member. Pure functions: the caller reads the store.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Literal

from qcl.api.schemas import (
    CommitteeView,
    NodeView,
    OracleMemberDetail,
    ShardDetail,
    ShardPoolView,
    StageView,
    TopologyResponse,
)
from qcl.oracle.status import CommitteeState, MemberState
from qcl.shard.registry import KnownNode

NodeState = Literal["up", "down", "left"]
NodeEventKind = Literal["joined", "left", "failed", "recovered"]
_EVENT_STATE: dict[NodeEventKind, NodeState] = {"joined": "up", "recovered": "up", "failed": "down", "left": "left"}


def state_of(kind: NodeEventKind) -> NodeState:
    return _EVENT_STATE[kind]


def merge_nodes(
    events: list[NodeView], known: list[KnownNode], committee: CommitteeState | None, now: datetime
) -> list[NodeView]:
    """Every node, shards before oracle members, each by id."""
    by_id = {view.node_id: view for view in events}
    shards = [_shard(node, by_id.pop(node.record.node_id, None), now) for node in known]
    oracles = [_member(by_id.pop(m.node_id, None), m, committee) for m in committee.members] if committee else []
    rest = list(by_id.values())  # heard of only through events (the registry or committee state is elsewhere)
    views = _placed([*shards, *(v for v in rest if v.role == "shard")]) + oracles
    views += [v for v in rest if v.role == "oracle"]
    return sorted(views, key=lambda v: (v.role != "shard", v.node_id))


def build_topology(nodes: list[NodeView], committee: CommitteeState | None) -> TopologyResponse:
    shards = [n for n in nodes if n.role == "shard"]
    oracles = [n for n in nodes if n.role == "oracle"]
    by_range: dict[tuple[int, int], list[NodeView]] = defaultdict(list)
    for node in shards:
        if node.shard is not None:
            for layers in node.shard.layers:
                by_range[layers].append(node)
    stages = [
        StageView(
            stage=index,
            layers=layers,
            nodes=[n.node_id for n in sorted(by_range[layers], key=_replica_order)],
            up=sum(n.state == "up" for n in by_range[layers]),
        )
        for index, layers in enumerate(sorted(by_range))
    ]
    return TopologyResponse(
        shard_pool=ShardPoolView(up=_up(shards), total=len(shards), nodes=shards, stages=stages),
        oracle_committee=CommitteeView(
            up=_up(oracles),
            total=len(oracles),
            nodes=oracles,
            committee_id=committee.committee_id if committee else None,
            f=committee.f if committee else None,
            quorum=committee.quorum if committee else None,
            sequence=committee.sequence if committee else None,
            view=committee.view if committee else None,
            primary=committee.primary if committee else None,
        ),
    )


def _up(nodes: list[NodeView]) -> int:
    return sum(n.state == "up" for n in nodes)


def _replica_order(node: NodeView) -> tuple[int, str]:
    return (node.shard.replica if node.shard else 0, node.node_id)


def _shard(node: KnownNode, event: NodeView | None, now: datetime) -> NodeView:
    """The registry decides the state; the event adds what happened, where it agrees with that state."""
    record = node.record
    state: NodeState = "left" if node.left else "up" if node.live else "down"
    last_event: NodeEventKind
    if event is not None and state_of(event.last_event) == state:
        last_event = event.last_event
    else:  # the event is late (or was missed): say what the registry shows
        last_event = "left" if state == "left" else "failed" if state == "down" else "recovered" if event else "joined"
    heartbeat = datetime.fromtimestamp(node.last_heartbeat, UTC)
    detail = ShardDetail(
        stage=None,
        replica=0,
        layers=list(record.ranges),
        address=record.address,
        model=record.model,
        sessions=record.sessions,
        max_sessions=record.max_sessions,
        last_heartbeat=heartbeat,
        heartbeat_age_s=round(max(0.0, (now - heartbeat).total_seconds()), 1),
    )
    return NodeView(
        node_id=record.node_id,
        role="shard",
        state=state,
        last_event=last_event,
        last_seen=max(heartbeat, event.last_seen) if event else heartbeat,
        detail=event.detail if event is not None and last_event == event.last_event else "",
        shard=detail,
    )


def _placed(shards: list[NodeView]) -> list[NodeView]:
    """Stage = position of a node's first layer range among all ranges; replica = its rank among that range's nodes."""
    ranges = sorted({tuple(r) for n in shards if n.shard is not None for r in n.shard.layers})
    serving: dict[tuple[int, ...], list[str]] = defaultdict(list)
    for node in sorted(shards, key=lambda n: n.node_id):
        if node.shard is not None and node.shard.layers:
            serving[tuple(node.shard.layers[0])].append(node.node_id)
    placed = []
    for node in shards:
        if node.shard is None or not node.shard.layers:
            placed.append(node)
            continue
        first = tuple(node.shard.layers[0])
        where = {"stage": ranges.index(first), "replica": serving[first].index(node.node_id)}
        placed.append(node.model_copy(update={"shard": node.shard.model_copy(update=where)}))
    return placed


def _member(event: NodeView | None, member: MemberState, committee: CommitteeState) -> NodeView:
    """The member's events say what happened; the committee's state adds its place, reputation and exclusion."""
    detail = OracleMemberDetail(
        index=member.index,
        primary=committee.primary == member.node_id,
        running=member.running,
        reputation=member.reputation,
        excluded=member.excluded,
        tombstoned=member.tombstoned,
    )
    if event is not None:
        return event.model_copy(update={"oracle": detail})
    return NodeView(
        node_id=member.node_id,
        role="oracle",
        state="up" if member.running else "left",
        last_event="joined" if member.running else "left",
        last_seen=committee.updated_at,
        detail="",
        oracle=detail,
    )
