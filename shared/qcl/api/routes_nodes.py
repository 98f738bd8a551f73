"""Admin: an operator's actions on the stack's nodes (drain, restart, remove a shard stage or an oracle member).

What each action does, and when it is refused, is qcl.pipeline.node_control's docstring. Every attempt is audited with
the acting key's id; GET /api/nodes shows each node's lifecycle as it changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import flask

from qcl.api.errors import ApiError, unavailable
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import NodeActionResult, Role

if TYPE_CHECKING:
    from qcl.api.context import ApiContext

_NODE_ID = {"type": "string", "pattern": r"^[A-Za-z0-9._:-]{1,128}$"}
_ACTION = {"type": "string", "enum": ["drain", "restart", "remove"], "pattern": r"^(drain|restart|remove)$"}


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    services = ctx.services

    @routes.route(
        "POST",
        "/api/admin/nodes/{node_id}/{action}",
        role=Role.ADMIN,
        tag="admin",
        summary="Drain, restart or remove a shard stage or an oracle member",
        responses={200: NodeActionResult, 404: None, 409: None, 503: None},
        path_params={"node_id": _NODE_ID, "action": _ACTION},
    )
    def node_action(node_id: str, action: Literal["drain", "restart", "remove"]) -> NodeActionResult:
        """drain: no new sessions (shards) or requests (members); in-flight ones finish, then `drained`. restart: the
        stage process (or member) stops and starts again; the pool keeps serving. remove: leaves for good. 404 for
        an unknown node; 409, saying why, for an action its state does not allow or one that would leave a layer
        range uncovered or the committee below PBFT's n >= 3f+1; 503 where this instance does not run the nodes."""
        from qcl.pipeline.node_control import NodeActionRefused, UnknownNodeError

        if services.nodes is None:
            raise unavailable("nodes", "this API instance does not run the nodes; act on them where they run")
        try:
            lifecycle = services.nodes.act(node_id, action, actor=f"key:{flask.g.key.id}")
        except UnknownNodeError as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        except NodeActionRefused as exc:
            raise ApiError(409, "node_action_refused", str(exc)) from None
        return NodeActionResult(node_id=node_id, action=action, lifecycle=lifecycle)
