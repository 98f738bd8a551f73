"""`qcl ops`: alerts and silences of a running deployment, through its API (registered on `qcl` by cli.py).

    qcl ops alerts [--json]                                          # active alerts, then recent changes
    qcl ops silence QclNodeDown --for 1h --comment "draining shard-1" [--match role=shard]
    qcl ops silences [--json]
    qcl ops unsilence 6a96c23a-db13-47f1-a397-81e09421e3ab

The deployment is the one qcl.remote resolves (`qcl --api URL --key-file F ops ...`, QCL_API/QCL_API_KEY, a
profile, or the local stack); each command's own --api/--key-file, from before the root options, still win over
them. A refusal prints the API's message and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qcl import remote
from qcl.clitools import fail, print_json
from qcl.obs.monitor import OpsUnavailableError, scaled

ops_app = typer.Typer(no_args_is_help=True, help="Alerts and silences of a running deployment (through its API).")

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
ApiOpt = Annotated[str | None, typer.Option("--api", help="the API's URL (as qcl --api)  [QCL_API]")]
KeyFileOpt = Annotated[Path | None, typer.Option("--key-file", help="file holding the API key (as qcl --key-file)")]


@ops_app.command("alerts")
def alerts(
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="state changes shown")] = 20,
    api: ApiOpt = None,
    key_file: KeyFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Active alerts, then the latest state changes."""
    with remote.client(api, key_file) as client:
        body = client.call("GET", "/api/ops/alerts", params={"limit": limit})
    if as_json:
        print_json(body)
        return
    typer.echo(f"active ({len(body['active'])})")
    for alert in body["active"]:
        typer.echo(f"  [{alert['severity']}] {alert['alertname']} since {alert['starts_at']}: {alert['summary']}")
        if alert.get("runbook_url"):
            typer.echo(f"      runbook {alert['runbook_url']}")
    typer.echo("changes (newest first)")
    for alert in body["history"]:
        typer.echo(f"  {alert['received_at']} {alert['status']:<8} [{alert['severity']}] {alert['alertname']}")


@ops_app.command("silence")
def silence(
    alertname: Annotated[str, typer.Argument(help="the alert rule, e.g. QclNodeDown")],
    duration: Annotated[str, typer.Option("--for", help="how long: 30m, 2h, 90s")] = "1h",
    comment: Annotated[str, typer.Option("--comment", help="why (shown to everyone)")] = "",
    match: Annotated[list[str] | None, typer.Option("--match", help="a further label, name=value")] = None,
    api: ApiOpt = None,
    key_file: KeyFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Silence an alert rule for a while (only rules Prometheus has)."""
    matchers = {}
    for pair in match or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise fail(f"--match {pair!r}: expected name=value", 2)
        matchers[name] = value
    if not comment.strip():
        raise fail("--comment is required: say why the alert is silenced", 2)
    try:
        seconds = int(scaled(duration, 1.0).removesuffix("s"))
    except OpsUnavailableError as exc:
        raise fail(f"--for: {exc}", 2) from None
    body = {"alertname": alertname, "duration_s": seconds, "comment": comment, "matchers": matchers}
    with remote.client(api, key_file) as client:
        created = client.call("POST", "/api/ops/silences", json=body)
    if as_json:
        print_json(created)
    else:
        typer.echo(f"silenced {alertname} for {duration}: {created['id']}")


@ops_app.command("silences")
def silences(api: ApiOpt = None, key_file: KeyFileOpt = None, as_json: JsonOpt = False) -> None:
    """Alertmanager's silences."""
    with remote.client(api, key_file) as client:
        body = client.call("GET", "/api/ops/silences")
    if as_json:
        print_json(body)
        return
    for item in body["silences"]:
        typer.echo(f"{item['id']} {item['state']:<8} {item['alertname']} until {item['ends_at']}: {item['comment']}")


@ops_app.command("unsilence")
def unsilence(
    silence_id: Annotated[str, typer.Argument(help="the silence's id")],
    api: ApiOpt = None,
    key_file: KeyFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Expire a silence now."""
    with remote.client(api, key_file) as client:
        client.call("DELETE", f"/api/ops/silences/{silence_id}")
    if as_json:
        print_json({"expired": silence_id})
    else:
        typer.echo(f"expired {silence_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(ops_app, name="ops")
