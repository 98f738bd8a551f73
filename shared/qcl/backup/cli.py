"""`qcl backup`: make, list and restore encrypted backups of a stack's state (registered on `qcl` by cli.py).

    export QCL_BACKUP_KEY=$(qcl backup keygen)                      # once; keep it in a secret store, not with backups
    qcl backup create [--to DIR|gs://bucket/prefix] [--json]        # default QCL_BACKUP_TO (.qcl-backups)
    qcl backup list [--from DIR|gs://...] [--json]
    qcl backup restore ID|PATH [--from ...] [--force] [--json]      # into an empty stack; --force replaces its state

The stack is the one these settings describe (QCL_STORE, QCL_REDIS_PREFIX, QCL_STATE_DIR). A refusal (no key, a
damaged or newer backup, a target that is not empty) prints what is wrong and exits 1 with nothing written.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from qcl.backup.archive import BackupError, Manifest
from qcl.clitools import fail, print_json, settings_or_exit

backup_app = typer.Typer(no_args_is_help=True, help="Encrypted backups of a stack's state: create, list, restore.")

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
FromOpt = Annotated[str | None, typer.Option("--from", help="folder or gs://bucket/prefix  [QCL_BACKUP_TO]")]


def _progress(line: str) -> None:
    typer.echo(line, err=True)


def _summary(manifest: Manifest) -> dict[str, Any]:
    return manifest.model_dump(mode="json")


@backup_app.command("keygen")
def keygen(as_json: JsonOpt = False) -> None:
    """Print a new backup key (base64 of 32 random bytes) for QCL_BACKUP_KEY."""
    from qcl.backup.service import new_key

    key = new_key()
    if as_json:
        print_json({"key": key})
        return
    typer.echo(key)


@backup_app.command("create")
def create(
    to: Annotated[str | None, typer.Option("--to", help="folder or gs://bucket/prefix  [QCL_BACKUP_TO]")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Back up the store's durable key families and the state files, encrypted, to a folder or a bucket."""
    from qcl.backup.service import create_backup

    try:
        made = create_backup(settings_or_exit(), to=to, progress=_progress)
    except BackupError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json({"id": made.id, "location": made.location, "bytes": made.size, "seconds": round(made.seconds, 3),
                    "manifest": _summary(made.manifest)})  # fmt: skip
        return
    keys = sum(made.manifest.families.values())
    typer.echo(
        f"backup {made.id}: {keys} keys in {len(made.manifest.families)} families, {made.manifest.files} files, "
        f"{made.size / 1024:.1f} KiB in {made.seconds:.2f} s -> {made.location}"
    )


@backup_app.command("list")
def list_(source: FromOpt = None, as_json: JsonOpt = False) -> None:
    """The backups in a folder or bucket, oldest first, with what each holds (read without the key)."""
    from qcl.backup.service import list_backups

    try:
        listed = list_backups(settings_or_exit(), source=source)
    except BackupError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json([{"id": item.id, "manifest": item.manifest and _summary(item.manifest), "problem": item.problem}
                    for item in listed])  # fmt: skip
        return
    for item in listed:
        if item.manifest is None:
            typer.echo(f"{item.id}  unreadable: {item.problem}")
            continue
        keys = sum(item.manifest.families.values())
        typer.echo(
            f"{item.id}  {item.manifest.created_at:%Y-%m-%d %H:%M:%S}Z  {keys} keys, {item.manifest.files} files, "
            f"qcl {item.manifest.qcl_version}, from {item.manifest.source}"
        )
    if not listed:
        typer.echo("no backups")


@backup_app.command("restore")
def restore(
    ref: Annotated[str, typer.Argument(help="a backup id (see `qcl backup list`) or a backup file")],
    source: FromOpt = None,
    force: Annotated[bool, typer.Option("--force", help="replace the target's state instead of refusing")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify a backup whole (key, tag, checksum, version), then write it into this stack's store and state dir."""
    from qcl.backup.service import restore_backup

    try:
        manifest, restored = restore_backup(settings_or_exit(), ref, source=source, force=force, progress=_progress)
    except BackupError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json({"keys": restored.keys, "files": restored.files, "expired": restored.expired,
                    "manifest": _summary(manifest)})  # fmt: skip
        return
    when = f"{manifest.created_at:%Y-%m-%d %H:%M:%S}Z"
    typer.echo(
        f"restored {restored.keys} keys and {restored.files} files from the backup of {when} "
        f"({restored.expired} keys had expired since)"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
