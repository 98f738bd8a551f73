"""`qcl pki init|issue|rotate|show`: the project CA and node certificates (qcl.pki); every command has --json.

qcl pki init [--dir DIR]
qcl pki issue --role shard --node-id s0 [--host 10.0.0.5 --host shard-0] [--days 7]
qcl pki rotate --role shard --node-id s0 | --ca | --retire
qcl pki show [--role shard --node-id s0 | --cert PATH]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from qcl.clitools import fail, print_json, settings_or_exit
from qcl.pki import CA_DAYS, CERT, NODE_DAYS, Pki, PkiError, describe, identity

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
DirOpt = Annotated[Path | None, typer.Option("--dir", help="PKI directory (default <state_dir>/pki)")]
RoleOpt = Annotated[str | None, typer.Option("--role", help="coordinator | shard | oracle")]
NodeOpt = Annotated[str | None, typer.Option("--node-id", help="the node id the certificate pins (a DNS label)")]

pki_app = typer.Typer(no_args_is_help=True, help="The project CA and node certificates for mTLS (qcl.pki).")


def _pki(directory: Path | None) -> Pki:
    return Pki(directory or settings_or_exit().state_dir / "pki")


def _report(value: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        print_json(value)
    else:
        typer.echo(line)


@pki_app.command("init")
def init(
    directory: DirOpt = None,
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="CA validity")] = CA_DAYS,
    as_json: JsonOpt = False,
) -> None:
    """Create the project CA (EC P-256); its key is written 0600."""
    pki = _pki(directory)
    try:
        pki.init(days=days)
    except PkiError as exc:
        raise fail(str(exc)) from None
    shown = describe(pki.ca_dir / "ca.pem")
    _report(shown, as_json, f"CA {shown['subject']} in {pki.ca_dir}, valid until {shown['not_after']}")


@pki_app.command("issue")
def issue(
    role: RoleOpt = None,
    node_id: NodeOpt = None,
    hosts: Annotated[list[str] | None, typer.Option("--host", help="DNS name or IP it is dialled at (repeat)")] = None,
    days: Annotated[float, typer.Option("--days", min=0.001, max=397, help="certificate validity")] = NODE_DAYS,
    directory: DirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue a node certificate pinning (role, node id), with a new key (0600) and the trust bundle."""
    pki = _pki(directory)
    try:
        folder = pki.issue(identity(role or "", node_id or ""), tuple(hosts or ()), days=days)
    except PkiError as exc:
        raise fail(str(exc), 2) from None
    shown = {**describe(folder / CERT), "dir": str(folder)}
    _report(shown, as_json, f"{role}/{node_id}: {folder} (QCL_TLS_DIR), valid until {shown['not_after']}")


@pki_app.command("rotate")
def rotate(
    role: RoleOpt = None,
    node_id: NodeOpt = None,
    ca: Annotated[bool, typer.Option("--ca", help="start a new CA; the bundle trusts old and new")] = False,
    retire: Annotated[bool, typer.Option("--retire", help="trust the current CA only")] = False,
    days: Annotated[
        float | None, typer.Option("--days", min=0.001, max=3650, help="validity of what is issued")
    ] = None,
    directory: DirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A node's new key and certificate (--role, --node-id); or a new CA (--ca); or retire old CAs (--retire)."""
    pki = _pki(directory)
    chosen = [name for name, given in (("--ca", ca), ("--retire", retire), ("--node-id", node_id)) if given]
    if len(chosen) != 1:
        raise fail(f"rotate: expected exactly one of --role/--node-id, --ca or --retire, got {chosen or 'none'}", 2)
    try:
        if ca:
            pki.rotate_ca(days=int(days or CA_DAYS))
            shown = {**describe(pki.ca_dir / "ca.pem"), "bundle_cas": pki.bundle().count(b"BEGIN CERTIFICATE")}
            line = f"new CA {shown['subject']}; the bundle trusts {shown['bundle_cas']} CAs until `--retire`"
        elif retire:
            pki.retire()
            shown = {**describe(pki.ca_dir / "ca.pem"), "bundle_cas": 1}
            line = f"the bundle trusts {shown['subject']} only"
        else:
            folder = pki.rotate_node(identity(role or "", node_id or ""), days=days or NODE_DAYS)
            shown = {**describe(folder / CERT), "dir": str(folder)}
            line = f"{role}/{node_id}: new key and certificate in {folder}, valid until {shown['not_after']}"
    except PkiError as exc:
        raise fail(str(exc), 2) from None
    _report(shown, as_json, line)


@pki_app.command("show")
def show(
    role: RoleOpt = None,
    node_id: NodeOpt = None,
    cert: Annotated[Path | None, typer.Option("--cert", help="a certificate file to describe")] = None,
    directory: DirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Describe a certificate: the CA's (default), a node's (--role, --node-id) or a file's (--cert)."""
    pki = _pki(directory)
    try:
        if cert is not None:
            path = cert
        elif role or node_id:
            path = pki.node_dir(identity(role or "", node_id or "")) / CERT
        else:
            path = pki.ca_dir / "ca.pem"
        shown = describe(path)
    except PkiError as exc:
        raise fail(str(exc), 2) from None
    lines = [f"{key}: {value}" for key, value in shown.items()]
    _report(shown, as_json, "\n".join(lines))


def register(app: typer.Typer) -> None:
    app.add_typer(pki_app, name="pki")
