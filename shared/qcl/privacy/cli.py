"""`qcl privacy inventory|export|erase`, registered on the `qcl` app by cli.py, through the deployment's API.

qcl privacy inventory                          # each kind of personal data, where it lives, its retention
qcl privacy export --key 3f9c0a12 --json > 3f9c0a12.json   # without --json: how much of each kind
qcl privacy erase --key 3f9c0a12 --yes --json  # the receipt: counts per kind, the audit entry's seq and hash

The deployment is the one qcl.remote resolves (--api, QCL_API, a profile, or the local stack with its admin key);
the routes are GET /api/admin/privacy, GET and DELETE /api/admin/privacy/{key_id} (an admin key).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from qcl import remote
from qcl.clitools import fail, print_json

privacy_app = typer.Typer(no_args_is_help=True, help="Personal data: the inventory; export or erase one key's data.")
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
KeyOpt = Annotated[str, typer.Option("--key", help="the API key's id (8 hex digits; qcl keys list)")]
_KEY_ID = re.compile(r"^[0-9a-f]{8}$")


def _key_id(value: str) -> str:
    if not _KEY_ID.match(value):
        raise fail(f"--key {value!r}: expected a key id, 8 hex digits such as 3f9c0a12 (qcl keys list)", 2)
    return value


def _call(method: str, path: str) -> Any:
    with remote.client() as api:
        return api.call(method, path)


@privacy_app.command("inventory")
def inventory(as_json: JsonOpt = False) -> None:
    """Every kind of personal data the system holds: where, how long, and what an erasure does with it."""
    kinds = _call("GET", "/api/admin/privacy")["kinds"]
    if as_json:
        print_json(kinds)
        return
    for kind in kinds:
        typer.echo(f"{kind['name']:<13} {kind['erased']:<8} {kind['retention']}")


@privacy_app.command("export")
def export(key: KeyOpt, as_json: JsonOpt = False) -> None:
    """Everything held for one key: with --json the whole export (tasks, questions, answers, jobs, audit entries,
    log lines), else how much of each there is."""
    exported = _call("GET", f"/api/admin/privacy/{_key_id(key)}")
    if as_json:
        print_json(exported)
        return
    record = exported["key"]
    typer.echo(f"key {record['id']} ({record['role']}, {record['name']}), created {record['created_at']}")
    for kind in ("tasks", "answers", "jobs", "audit", "log_lines"):
        typer.echo(f"  {len(exported[kind]):>6} {kind.replace('_', ' ')}")
    typer.echo("the whole export: qcl privacy export --key ID --json")


@privacy_app.command("erase")
def erase(
    key: KeyOpt,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask; erasing cannot be undone")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Revoke the key and erase everything held for it; the receipt is recorded in the audit trail."""
    key_id = _key_id(key)
    if not yes and not typer.confirm(f"erase every record of key {key_id}? this cannot be undone"):
        raise fail("not erased", 1)
    receipt = _call("DELETE", f"/api/admin/privacy/{key_id}")
    if as_json:
        print_json(receipt)
        return
    counts = ", ".join(f"{n} {kind}" for kind, n in receipt["counts"].items())
    typer.echo(f"erased key {key_id}: {counts}")
    seq, digest = receipt["audit_seq"], receipt["audit_hash"]
    typer.echo(f"receipt: audit entry {seq} (hash {digest}); `qcl audit verify` checks the chain")


def register(app: typer.Typer) -> None:
    app.add_typer(privacy_app, name="privacy")
