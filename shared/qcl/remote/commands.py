"""The root command's target options, `qcl profile add|list|use|remove` and `qcl whoami` (registered by cli.py).

qcl profile add prod --api https://qcl.example.com --key-file ~/.qcl/prod.key --use
qcl profile list --json
qcl --profile staging whoami          # the URL, where the key came from, and the key's id and role
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qcl import remote
from qcl.clitools import fail, print_json

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
profile_app = typer.Typer(no_args_is_help=True, help="Named deployments (URL and key) the commands can target.")


def _root(
    api: Annotated[str | None, typer.Option("--api", help="the API's URL  [QCL_API]")] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="the API key itself (shown in `ps`: prefer --key-file)  [QCL_API_KEY]")
    ] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="file holding the API key")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="a profile's name  [QCL_PROFILE]")] = None,
) -> None:
    """Qubic AI Compute Layer. The commands that go through an API (keys, jobs, ops) target --api, QCL_API, a
    profile, or the local stack, in that order."""
    remote.use_flags(remote.Flags(api=api, key=key, key_file=key_file, profile=profile))


def _valid_name(name: str) -> str:
    if not remote.PROFILE_NAME.match(name):
        raise fail(f"profile name {name!r}: expected 1-40 letters, digits, _ or -", 2)
    return name


@profile_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="e.g. prod, staging")],
    api: Annotated[str, typer.Option("--api", help="the deployment's URL")],
    key_file: Annotated[Path | None, typer.Option("--key-file", help="file holding the key (kept as a path)")] = None,
    key: Annotated[str | None, typer.Option("--key", help="the key itself, stored in the 0600 profiles file")] = None,
    use: Annotated[bool, typer.Option("--use", help="also make it the current profile")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add or replace a profile."""
    _valid_name(name)
    if (key is None) == (key_file is None):
        raise fail("give exactly one of --key-file or --key", 2)
    if not api.startswith(("http://", "https://")):
        raise fail(f"--api {api!r}: expected an http(s) URL", 2)
    entry = {"api": api.rstrip("/")}
    if key_file is not None:
        if not key_file.expanduser().is_file():
            raise fail(f"--key-file {key_file}: no such file", 2)
        entry["key_file"] = str(key_file.expanduser().resolve())
    else:
        entry["key"] = str(key)
    data = remote.load_profiles()
    data["profiles"][name] = entry
    if use:
        data["current"] = name
    path = remote.save_profiles(data)
    shown = {"name": name, "api": entry["api"], "key_file": entry.get("key_file"), "current": data["current"] == name}
    if as_json:
        print_json({**shown, "file": str(path)})
    else:
        typer.echo(f"profile {name} -> {entry['api']} saved in {path}{' (current)' if use else ''}")


@profile_app.command("list")
def list_profiles(as_json: JsonOpt = False) -> None:
    """Every profile: name, URL, where its key is (never the key)."""
    data = remote.load_profiles()
    rows = [
        {
            "name": name,
            "api": entry.get("api"),
            "key": entry.get("key_file") or ("stored in the profiles file" if entry.get("key") else None),
            "current": name == data["current"],
        }
        for name, entry in sorted(data["profiles"].items())
    ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(f"{'*' if row['current'] else ' '} {row['name']:<16} {row['api']:<40} key {row['key']}")


@profile_app.command("use")
def use(name: Annotated[str, typer.Argument(help="a profile's name")], as_json: JsonOpt = False) -> None:
    """Make NAME the profile commands target when no --api, QCL_API or --profile says otherwise."""
    data = remote.load_profiles()
    if name not in data["profiles"]:
        raise fail(f"no profile {name!r} (profiles: {', '.join(sorted(data['profiles'])) or 'none'})")
    data["current"] = name
    remote.save_profiles(data)
    if as_json:
        print_json({"current": name})
    else:
        typer.echo(f"current profile: {name}")


@profile_app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="a profile's name")], as_json: JsonOpt = False) -> None:
    """Forget a profile (a key file it names is left alone)."""
    data = remote.load_profiles()
    if data["profiles"].pop(name, None) is None:
        raise fail(f"no profile {name!r}")
    if data["current"] == name:
        data["current"] = None
    remote.save_profiles(data)
    if as_json:
        print_json({"removed": name})
    else:
        typer.echo(f"removed profile {name}")


def whoami(as_json: JsonOpt = False) -> None:
    """The deployment this invocation targets, where its URL and key came from, and the key's id and role."""
    with remote.client() as api:
        body = {**api.target.describe(), **api.call("GET", "/api/auth/whoami")}
    if as_json:
        print_json(body)
    else:
        typer.echo(
            f"{body['api']} (from {body['api_from']}) as key {body['key_id']}, role {body['role']} "
            f"(key from {body['key_from']})"
        )


def register(app: typer.Typer) -> None:
    app.callback()(_root)
    app.add_typer(profile_app, name="profile")
    app.command("whoami")(whoami)
