"""Every operation of the OpenAPI document × every kind of caller, against the real server: who gets in, who not.

The cases come from the document the server serves (/api/openapi.json), not from a list here: an operation's
`security` says whether it needs a key and its description says the role ("Role: operator or above."), so a new
route is in the matrix the day it is declared. Authorisation is decided before a body is read, so every call sends
`{}` as its body (a caller who gets through is answered 422 for it, without side effects) and a path parameter that
matches its pattern. A caller let through may get any answer but a refusal of its credentials (401) or of its role
or scope (403 forbidden / out_of_scope); a caller who must not get through gets exactly that refusal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from qcl.api.schemas import Role
from tests.integration.test_api_fixtures import Served, make_api, serving

ROLE_IN_DESCRIPTION = re.compile(r"Role: (\w+) or above\.$")
REFUSALS = {"unauthorized", "invalid_api_key", "forbidden", "out_of_scope", "key_expired"}
SCOPE = "network"  # the scoped key's one tag (besides "auth", which every key reaches)
# A value for a path parameter: the first of these its pattern accepts (an enum's first member otherwise).
PATH_VALUES = ("0", "00000000", "abc", "00000000-0000-0000-0000-000000000000")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # with its parameters filled in
    role: Role | None  # None: public
    tag: str
    has_body: bool

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass(frozen=True)
class Caller:
    name: str
    role: Role | None  # the role its key has; None: it has none that counts
    valid: bool  # its credentials are live (a role with an invalid credential still gets 401)
    tags: tuple[str, ...] | None = None  # a scoped key's tags


CALLERS = [
    Caller("anonymous", None, valid=False),
    Caller("garbage", None, valid=False),
    Caller("viewer", Role.VIEWER, valid=True),
    Caller("operator", Role.OPERATOR, valid=True),
    Caller("admin", Role.ADMIN, valid=True),
    Caller("revoked-admin", Role.ADMIN, valid=False),
    Caller("expired-admin", Role.ADMIN, valid=False),
    Caller("scoped-admin", Role.ADMIN, valid=True, tags=(SCOPE,)),
]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, dict[str, str]]]]:
    api = make_api(tmp_path_factory.mktemp("matrix"), start_stream=True)
    keys = api.services.keys
    revoked, revoked_key = keys.create(Role.ADMIN, "revoked", created_by="test")
    keys.revoke(revoked.id, revoked_by="test")
    expired = keys.create(Role.ADMIN, "expired", created_by="test", expires_at=datetime.now(UTC) - timedelta(minutes=1))
    scoped = keys.create(Role.ADMIN, "scoped", created_by="test", tags=[SCOPE])
    headers = {
        "anonymous": {},
        "garbage": {"Authorization": "Bearer qcl_0badc0de_" + "A" * 43},
        "revoked-admin": {"Authorization": f"Bearer {revoked_key}"},
        "expired-admin": {"Authorization": f"Bearer {expired[1]}"},
        "scoped-admin": {"Authorization": f"Bearer {scoped[1]}"},
        **{role.value: api.headers(role) for role in Role},
    }
    with serving(api) as served:
        yield served, headers


def operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            role = None
            if op["security"]:
                match = ROLE_IN_DESCRIPTION.search(op.get("description", ""))
                assert match, f"{method.upper()} {path} needs a key but its description names no role"
                role = Role(match.group(1))
            filled = path
            for parameter in op.get("parameters", []):
                if parameter["in"] == "path":
                    filled = filled.replace("{" + parameter["name"] + "}", _value(parameter["schema"], path))
            found.append(Operation(method, filled, role, op["tags"][0], "requestBody" in op))
    return found


def _value(schema: dict[str, Any], path: str) -> str:
    if "enum" in schema:
        return str(schema["enum"][0])
    pattern = schema.get("pattern", ".*").strip("^$")
    for candidate in PATH_VALUES:
        if re.fullmatch(pattern, candidate):
            return candidate
    raise AssertionError(f"{path}: add a value matching {pattern!r} to PATH_VALUES")


def expected_refusal(caller: Caller, op: Operation) -> int | None:
    """The status `caller` must be refused with on `op`, or None when it must get through."""
    if op.role is None:
        return None
    if not caller.valid:
        return 401
    assert caller.role is not None
    if caller.tags is not None and op.tag not in (*caller.tags, "auth"):
        return 403
    return 403 if caller.role.rank < op.role.rank else None


def call(http: httpx.Client, op: Operation, headers: dict[str, str]) -> tuple[int, str | None]:
    answer = http.request(op.method.upper(), op.path, headers=headers, json={} if op.has_body else None)
    code = None
    if answer.headers.get("content-type", "").startswith("application/json"):
        error = answer.json().get("error") if isinstance(answer.json(), dict) else None
        code = error.get("code") if isinstance(error, dict) else None
    return answer.status_code, code


def test_the_document_declares_a_role_for_every_route_that_needs_a_key(
    matrix: tuple[Served, dict[str, dict[str, str]]],
) -> None:
    served, _ = matrix
    found = operations(httpx.get(served.url + "/api/openapi.json").json())
    assert len(found) > 50 and {op.role for op in found} == {None, *Role}
    assert [op for op in found if op.path.startswith("/api/admin") and op.role is not Role.ADMIN] == []


def test_every_change_needs_the_operator_role_or_above_except_signing_in_and_out(
    matrix: tuple[Served, dict[str, dict[str, str]]],
) -> None:
    """A route that changes something declared for viewers (or public) would pass the matrix: this is the policy."""
    served, _ = matrix
    changes = [op for op in operations(httpx.get(served.url + "/api/openapi.json").json()) if op.method != "get"]
    lax = {str(op) for op in changes if op.role is None or op.role.rank < Role.OPERATOR.rank}
    assert lax == {"POST /api/auth/login", "POST /api/auth/logout"}


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.name)
def test_every_operation_answers_each_caller_as_its_declared_role_says(
    matrix: tuple[Served, dict[str, dict[str, str]]], caller: Caller
) -> None:
    served, headers = matrix
    wrong = []
    with httpx.Client(base_url=served.url, timeout=15) as http:
        for op in operations(http.get("/api/openapi.json").json()):
            status, code = call(http, op, headers[caller.name])
            refusal = expected_refusal(caller, op)
            if refusal is None and (status == 401 or code in REFUSALS):
                wrong.append(f"{op}: let through expected, got {status} {code}")
            elif refusal is not None and (status != refusal or code not in REFUSALS):
                wrong.append(f"{op}: {refusal} expected, got {status} {code}")
    assert wrong == []
