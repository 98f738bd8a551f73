"""`qcl logs`: search the log lines of every process of a running deployment, and their patterns, through its API.

    qcl logs search --since 10m --level ERROR --service shard --request-id 3f2a... --text '"session failed"' [--json]
    qcl logs patterns [--window 5m --baseline 1h] [--json]                # new and bursting templates first

The deployment is the one qcl.remote resolves, as for `qcl ops` (`qcl --api URL --key-file F logs ...`, QCL_API /
QCL_API_KEY, a profile, or the local stack). A query the API cannot parse prints its message (naming the field) and
exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from qcl import remote
from qcl.clitools import fail, print_json
from qcl.obs.cli import ApiOpt, JsonOpt, KeyFileOpt
from qcl.obs.monitor import OpsUnavailableError, scaled

logs_app = typer.Typer(no_args_is_help=True, help="Log lines of every process, and their patterns (through the API).")


def _get(api: str | None, key_file: Path | None, path: str, params: dict[str, Any]) -> Any:
    """GET `path` on the deployment qcl.remote resolves; a refusal prints the API's message and exits 1."""
    with remote.client(api, key_file) as client:
        return client.call("GET", path, params={k: v for k, v in params.items() if v is not None})


def _seconds(option: str, duration: str) -> float:
    try:
        return float(scaled(duration, 1.0).removesuffix("s"))
    except OpsUnavailableError as exc:
        raise fail(f"{option}: {exc}", 2) from None


@logs_app.command("search")
def search(
    since: Annotated[str | None, typer.Option("--since", help="15m, 2h, 7d, or an ISO-8601 time")] = "1h",
    until: Annotated[str | None, typer.Option("--until", help="as --since")] = None,
    level: Annotated[str | None, typer.Option("--level", help="lowest severity: DEBUG ... CRITICAL")] = None,
    service: Annotated[str | None, typer.Option("--service", help="a process (api) or family (shard)")] = None,
    request_id: Annotated[str | None, typer.Option("--request-id", help="lines of one request")] = None,
    text: Annotated[str | None, typer.Option("--text", help='words and "quoted phrases", all required')] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    api: ApiOpt = None,
    key_file: KeyFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Log lines, newest first."""
    params = {
        "since": since,
        "until": until,
        "level": level,
        "service": service,
        "request_id": request_id,
        "q": text,
        "limit": limit,
    }
    body = _get(api, key_file, "/api/ops/logs", params)
    if as_json:
        print_json(body)
        return
    for entry in body["entries"]:
        request = f" [{entry['request_id']}]" if entry.get("request_id") else ""
        typer.echo(f"{entry['time']} {entry['severity']:<8} {entry['service']:<20}{request} {entry['message']}")


@logs_app.command("patterns")
def patterns(
    window: Annotated[str, typer.Option("--window", help="what counts as recent: 5m, 1h")] = "5m",
    baseline: Annotated[str, typer.Option("--baseline", help="what recent is compared with")] = "1h",
    service: Annotated[str | None, typer.Option("--service", help="a process (api) or family (shard)")] = None,
    api: ApiOpt = None,
    key_file: KeyFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Log templates (Drain), new and bursting ones first, with an error burst's alerts and request ids."""
    params = {
        "window_s": _seconds("--window", window),
        "baseline_s": _seconds("--baseline", baseline),
        "service": service,
    }
    body = _get(api, key_file, "/api/ops/logs/patterns", params)
    if as_json:
        print_json(body)
        return
    for pattern in body["patterns"]:
        flags = ",".join(flag for flag in ("new", "bursting") if pattern[flag]) or "-"
        typer.echo(f"{pattern['recent']:>6} recent {pattern['baseline']:>6} before  {flags:<12} {pattern['template']}")
        if pattern["alerts"]:
            typer.echo(f"{'':>28}alerts: {', '.join(a['alertname'] for a in pattern['alerts'])}")
        if pattern["request_ids"] and pattern["severity"] in ("ERROR", "CRITICAL"):
            typer.echo(f"{'':>28}requests: {', '.join(pattern['request_ids'][:5])}")


def register(app: typer.Typer) -> None:
    app.add_typer(logs_app, name="logs")
