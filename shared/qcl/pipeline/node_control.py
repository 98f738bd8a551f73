"""An operator's actions on the stack's nodes: drain, restart, remove a shard stage or an oracle member.

    control = NodeControl(shards=model.pool, local=model.local_pool, oracle=committee)
    control.act("local-s1-r0", "drain", actor="key:3f9c0a12")     # -> "draining", then "drained"
    control.lifecycles()                                           # {"local-s1-r0": "drained", ...}

What each does (POST /api/admin/nodes/{id}/{action}; every attempt is audited, refusals too):
  drain    a shard takes no new session, those it holds finish there, then it is "drained"; an oracle member takes
           no new request but keeps voting, "drained" once the jobs it took are decided. Refused when no other node
           would cover its layer range (or take oracle requests).
  restart  the stage process is stopped and started again on its port (the coordinator replays the sessions it held
           once it is back, so they keep their tokens); a member is stopped and started again from its disk. A
           drain ends with it.
  remove   a shard leaves for good: it leaves the registry, is never placed on, its process stops. Refused when it
           would leave a layer range without a node; always refused for an oracle member, naming PBFT's n >= 3f+1
           (a committee has exactly 3f+1 members: one fewer would need a smaller f, i.e. a new committee).
An unknown node is UnknownNodeError (404); an action its state does not allow, or one that would break the pool or
the committee, is NodeActionRefused (409) saying why.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal, get_args

from qcl.errors import QclError
from qcl.obs.logging import audit

if TYPE_CHECKING:
    from qcl.oracle.service import OracleCommittee
    from qcl.shard.local import LocalPool
    from qcl.shard.pool import ShardPool

Action = Literal["drain", "restart", "remove"]
ACTIONS: tuple[str, ...] = get_args(Action)
Lifecycle = Literal["active", "draining", "drained", "restarting", "removed"]


class UnknownNodeError(QclError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class NodeActionRefused(QclError):
    """The action is not allowed in the node's state, or would break the pool or the committee."""


class NodeControl:
    def __init__(
        self,
        *,
        shards: ShardPool | None = None,
        local: LocalPool | None = None,
        oracle: OracleCommittee | None = None,
    ) -> None:
        self.shards = shards
        self.local = local  # the stage processes this stack runs (restart needs them)
        self.oracle = oracle
        self._lock = threading.Lock()  # one action at a time: two removals must not both pass the coverage check
        self._restarting: dict[str, str] = {}  # shard node -> the incarnation it had before its restart

    def act(self, node_id: str, action: Action, *, actor: str) -> Lifecycle:
        """Do `action` on `node_id`; returns the node's lifecycle afterwards."""
        with self._lock:
            try:
                if self._is_shard(node_id):
                    self._shard(node_id, action)
                elif self.oracle is not None and self.oracle.member_index(node_id) is not None:
                    self._member(self.oracle, node_id, action)
                else:
                    raise UnknownNodeError(f"no shard stage or oracle member {node_id!r}; GET /api/nodes lists them")
            except NodeActionRefused as exc:
                audit(f"node.{action}", actor=actor, target=node_id, outcome="refused", reason=str(exc))
                raise
        lifecycle = self.lifecycle(node_id)
        audit(f"node.{action}", actor=actor, target=node_id, lifecycle=lifecycle)
        return lifecycle

    def lifecycles(self) -> dict[str, Lifecycle]:
        """Every node this stack controls whose lifecycle is not "active"."""
        ids = [r.node_id for r in self.shards.membership.records()] if self.shards is not None else []
        ids += [node.key.node_id for node in self.oracle.nodes] if self.oracle is not None else []
        found = {node_id: self.lifecycle(node_id) for node_id in ids}
        return {node_id: lifecycle for node_id, lifecycle in found.items() if lifecycle != "active"}

    def lifecycle(self, node_id: str) -> Lifecycle:
        if self._is_shard(node_id):
            assert self.shards is not None
            if node_id in self._restarting:
                record = self.shards.node(node_id)
                back = record is not None and record.incarnation != self._restarting[node_id]
                if not (back and self.shards.membership.state(node_id) == "up"):
                    return "restarting"
                self._restarting.pop(node_id, None)
            return _lifecycle(self.shards.lifecycle(node_id))
        if self.oracle is not None and self.oracle.member_index(node_id) is not None:
            return _lifecycle(self.oracle.lifecycle(node_id))
        return "active"

    # -- shards ----------------------------------------------------------------------------------------------------

    def _is_shard(self, node_id: str) -> bool:
        if self.shards is None:
            return False
        if self.shards.node(node_id) is not None:
            return True
        return self.local is not None and any(p.node_id == node_id for p in self.local.processes)

    def _shard(self, node_id: str, action: Action) -> None:
        pool = self.shards
        assert pool is not None
        state = self.lifecycle(node_id)
        if state == "removed":
            raise NodeActionRefused(f"shard {node_id} was removed from the pool; it takes no further action")
        if action == "drain":
            if state in ("draining", "drained"):
                raise NodeActionRefused(f"shard {node_id} is already {state}")
            if state == "restarting":
                raise NodeActionRefused(f"shard {node_id} is restarting; drain it once it is back")
            try:
                pool.drain(node_id)
            except ValueError as exc:
                raise NodeActionRefused(f"draining shard {node_id} would break the pipeline: {exc}") from None
        elif action == "restart":
            if self.local is None or not any(p.node_id == node_id for p in self.local.processes):
                raise NodeActionRefused(
                    f"shard {node_id} is not a stage process of this stack; restart it where it runs"
                )
            if state == "restarting":
                raise NodeActionRefused(f"shard {node_id} is already restarting")
            record = pool.node(node_id)
            self._restarting[node_id] = record.incarnation if record is not None else ""
            pool.undrain(node_id)
            self.local.restart_stage(node_id)
        else:
            try:
                pool.remove(node_id)
            except ValueError as exc:
                raise NodeActionRefused(f"removing shard {node_id} would break the pipeline: {exc}") from None
            self._restarting.pop(node_id, None)
            if self.local is not None and any(p.node_id == node_id for p in self.local.processes):
                self.local.stop_stage(node_id)

    # -- oracle members --------------------------------------------------------------------------------------------

    def _member(self, oracle: OracleCommittee, node_id: str, action: Action) -> None:
        if action == "remove":
            raise NodeActionRefused(f"cannot remove oracle member {node_id}: {oracle.removal_refusal()}")
        if action == "restart":
            oracle.restart(node_id)
            return
        state = oracle.lifecycle(node_id)
        if state in ("draining", "drained"):
            raise NodeActionRefused(f"oracle member {node_id} is already {state}")
        try:
            oracle.drain(node_id)
        except ValueError as exc:
            raise NodeActionRefused(f"cannot drain oracle member {node_id}: {exc}") from None


def _lifecycle(value: str) -> Lifecycle:
    assert value in get_args(Lifecycle), value
    return value  # type: ignore[return-value]
