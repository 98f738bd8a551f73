"""Privacy (admin): export or erase everything held for one API key (qcl.privacy.subject), and the inventory.

GET    /api/admin/privacy                 the inventory of personal data (qcl.privacy.inventory)
GET    /api/admin/privacy/{key_id}        the key's data as JSON
DELETE /api/admin/privacy/{key_id}        erase it; the receipt is chained into the audit trail
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import flask
from pydantic import BaseModel

from qcl.api.errors import ApiError
from qcl.api.keys import UnknownKeyError
from qcl.api.routing import ApiRoutes
from qcl.api.schemas import Role
from qcl.compute.queue import JobsStillRunning
from qcl.privacy.inventory import INVENTORY
from qcl.privacy.subject import ErasureReceipt, SubjectExport, erase_subject, export_subject

if TYPE_CHECKING:
    from qcl.api.context import ApiContext

_KEY_ID = {"type": "string", "pattern": r"^[0-9a-f]{8}$"}


class DataKindView(BaseModel):
    name: str
    holds: str
    store_families: list[str]
    elsewhere: str
    retention: str
    erased: str
    why_kept: str


class InventoryResponse(BaseModel):
    kinds: list[DataKindView]


def register(routes: ApiRoutes, ctx: ApiContext) -> None:
    def unknown(exc: UnknownKeyError) -> ApiError:
        return ApiError(404, "not_found", f"{exc}: nothing is held for it (an erased key is unknown too)")

    @routes.route(
        "GET",
        "/api/admin/privacy",
        role=Role.ADMIN,
        tag="admin",
        summary="The inventory of personal data: each kind, where it lives, its retention",
        responses={200: InventoryResponse},
    )
    def privacy_inventory() -> InventoryResponse:
        return InventoryResponse(kinds=[DataKindView.model_validate(kind.public()) for kind in INVENTORY])

    @routes.route(
        "GET",
        "/api/admin/privacy/{key_id}",
        role=Role.ADMIN,
        tag="admin",
        summary="Export everything held for one API key (tasks, questions, answers, jobs, audit, log lines)",
        responses={200: SubjectExport, 404: None},
        path_params={"key_id": _KEY_ID},
    )
    def privacy_export(key_id: str) -> SubjectExport:
        try:
            return export_subject(ctx, key_id)
        except UnknownKeyError as exc:
            raise unknown(exc) from None

    @routes.route(
        "DELETE",
        "/api/admin/privacy/{key_id}",
        role=Role.ADMIN,
        tag="admin",
        summary="Erase everything held for one API key; the receipt is recorded in the audit trail",
        responses={200: ErasureReceipt, 404: None, 409: None},
        path_params={"key_id": _KEY_ID},
    )
    def privacy_erase(key_id: str) -> Any:
        """The key is revoked, then its tasks, answers, jobs, stream entries and log lines are deleted and the key
        forgotten. 409 `erasure_pending` while a job of the key runs: it was cancelled; erase again shortly."""
        try:
            return erase_subject(ctx, key_id, by=f"key:{flask.g.key.id}")
        except UnknownKeyError as exc:
            raise unknown(exc) from None
        except JobsStillRunning as exc:
            raise ApiError(409, "erasure_pending", str(exc), retry_after_s=1.0) from None
