"""`qcl keys create|list|revoke` and `qcl audit verify|list`, registered on the `qcl` app by cli.py.

qcl keys create --role operator --name dashboard      # the key on stdout (once), its id on stderr
qcl keys list --json
qcl keys revoke 3f9c0a12
qcl --profile prod keys revoke --file ids.txt         # one id a line (`-`: stdin); a result per line

Where: through a deployment's API (POST/GET/DELETE /api/admin/keys, an admin key) when the invocation names one
(--api, --key/--key-file, QCL_API, QCL_API_KEY or a profile: qcl.remote); otherwise this machine's key store
(QCL_API_KEYS: the embedded stack's file, or the store with its pepper). The local mode is how the first admin key
of a store-backed deployment is made, and how an operator gets back in when no admin key is left.
qcl audit verify                                       # exit 0: the chain holds; 1: the first broken entry
qcl audit list --action api_key.created --json
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer

from qcl import remote
from qcl.api.schemas import Role
from qcl.clitools import Refused, batch_items, fail, print_json, run_batch, settings_or_exit

keys_app = typer.Typer(no_args_is_help=True, help="API keys: create, list, revoke (only hashes are stored).")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit trail: verify it, list its entries.")
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


class Keys(Protocol):
    """Key management, wherever the keys live; records are the API's KeyView as JSON (never the hash)."""

    def create(self, role: Role, name: str) -> dict[str, Any]: ...  # the record and, once, its "key"
    def list(self) -> list[dict[str, Any]]: ...
    def revoke(self, key_id: str) -> dict[str, Any]: ...  # raises Refused naming an unknown key


class LocalKeys:
    def __init__(self) -> None:
        from qcl.api.keys import open_keys
        from qcl.errors import ConfigError
        from qcl.obs.audit import open_audit_trail
        from qcl.obs.logging import configure_audit_trail
        from qcl.store import open_store

        settings = settings_or_exit()
        try:
            store = open_store(settings) if settings.api_keys == "store" else None
            configure_audit_trail(open_audit_trail(settings, store))  # the trail next to the keys
            self.service = open_keys(settings, store)
        except ConfigError as exc:
            raise fail(str(exc), 2) from None
        self.actor = f"cli:{getpass.getuser()}"

    def create(self, role: Role, name: str) -> dict[str, Any]:
        record, key = self.service.create(role, name, created_by=self.actor)
        return {**record.public(), "key": key}

    def list(self) -> list[dict[str, Any]]:
        return [record.public() for record in self.service.list()]

    def revoke(self, key_id: str) -> dict[str, Any]:
        from qcl.api.keys import UnknownKeyError

        try:
            return self.service.revoke(key_id, revoked_by=self.actor).public()
        except UnknownKeyError as exc:
            raise Refused(str(exc)) from None


class RemoteKeys:
    def __init__(self, api: remote.Remote) -> None:
        self.api = api

    def create(self, role: Role, name: str) -> dict[str, Any]:
        created: dict[str, Any] = self.api.call("POST", "/api/admin/keys", json={"role": role.value, "name": name})
        return created

    def list(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.api.call("GET", "/api/admin/keys")["keys"]
        return listed

    def revoke(self, key_id: str) -> dict[str, Any]:
        revoked: dict[str, Any] = self.api.item("DELETE", f"/api/admin/keys/{key_id}")
        return revoked


@contextmanager
def _keys() -> Iterator[Keys]:
    """The keys this invocation acts on: the API's when it names a deployment, else this machine's (see above)."""
    if remote.targeted():
        with remote.client() as api:
            yield RemoteKeys(api)
    else:
        yield LocalKeys()


@keys_app.command("create")
def create(
    role: Annotated[Role, typer.Option("--role", help="viewer | operator | admin")],
    name: Annotated[str, typer.Option("--name", help="what the key is for")] = "cli",
    as_json: JsonOpt = False,
) -> None:
    """Create a key; it is printed once and cannot be shown again."""
    with _keys() as keys:
        created = keys.create(role, name)
    if as_json:
        print_json(created)
        return
    typer.echo(f"created {created['role']} key {created['id']} ({created['name']}); it is shown once:", err=True)
    typer.echo(created["key"])


@keys_app.command("list")
def list_keys(as_json: JsonOpt = False) -> None:
    """Every key: id, role, name, created, revoked."""
    with _keys() as keys:
        records = keys.list()
    if as_json:
        print_json(records)
        return
    for r in records:
        revoked = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        typer.echo(
            f"{r['id']}  {r['role']:<8}  {revoked:<36}  created {r['created_at']} by {r['created_by']}  {r['name']}"
        )


@keys_app.command("revoke")
def revoke(
    key_ids: Annotated[list[str] | None, typer.Argument(help="key ids (qcl keys list)")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="ids, one a line; - for stdin")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke keys; requests with them are refused from then on. Every id is tried; exit 1 names those that
    failed."""
    items, unit = batch_items(key_ids, file, "key ids")
    with _keys() as keys:
        run_batch(
            items,
            keys.revoke,
            lambda r: f"revoked {r['role']} key {r['id']} ({r['name']})",
            as_json=as_json,
            unit=unit,
        )


def _trail() -> Any:
    from qcl.obs.audit import open_audit_trail
    from qcl.store import open_store

    settings = settings_or_exit()
    return open_audit_trail(settings, open_store(settings) if settings.api_keys == "store" else None)


@audit_app.command("verify")
def verify_audit(as_json: JsonOpt = False) -> None:
    """Check every entry's hash and link; exit 1 naming the first entry that was edited, deleted or reordered."""
    verdict = _trail().verify()
    if as_json:
        print_json(verdict.__dict__)
    elif verdict.ok:
        typer.echo(f"ok: {verdict.entries} entries, the chain holds (newest hash {verdict.head_hash})")
    else:
        typer.echo(f"broken at entry {verdict.broken_seq}: {verdict.reason}", err=True)
    raise typer.Exit(0 if verdict.ok else 1)


@audit_app.command("list")
def list_audit(
    actor: Annotated[str | None, typer.Option("--actor", help="only this actor (e.g. key:3f9c0a12)")] = None,
    action: Annotated[str | None, typer.Option("--action", help="only this action (e.g. api_key.created)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The trail's entries, oldest first."""
    entries = _trail().entries(actor=actor, action=action)
    if as_json:
        print_json(entries)
        return
    for e in entries:
        typer.echo(f"{e['seq']:>6}  {e['at']}  {e['actor']:<24} {e['action']:<20} {e.get('target') or ''}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
