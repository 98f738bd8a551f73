"""`qcl keys create|list|revoke` and `qcl bench api`, registered on the `qcl` app by cli.py.

qcl keys create --role operator --name dashboard      # the key on stdout (once), its id on stderr
qcl keys list --json
qcl keys revoke 3f9c0a12
qcl bench api --json
qcl bench openai --json                             # /v1/chat/completions (openai client) vs the service directly
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer

from qcl.api.schemas import Role
from qcl.config import load_settings
from qcl.errors import ConfigError

keys_app = typer.Typer(no_args_is_help=True, help="API keys: create, list, revoke (only hashes are stored).")
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _keys() -> Any:
    from qcl.api.keys import open_keys
    from qcl.obs.logging import configure_audit_file
    from qcl.store import open_store

    try:
        settings = load_settings()
        if settings.api_keys == "file":  # the embedded trail, next to the keys
            configure_audit_file(settings.state_dir / "audit.jsonl")
        store = open_store(settings) if settings.api_keys == "store" else None
        return open_keys(settings, store)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@keys_app.command("create")
def create(
    role: Annotated[Role, typer.Option("--role", help="viewer | operator | admin")],
    name: Annotated[str, typer.Option("--name", help="what the key is for")] = "cli",
    as_json: JsonOpt = False,
) -> None:
    """Create a key; it is printed once and cannot be shown again."""
    record, key = _keys().create(role, name, created_by=_actor())
    if as_json:
        typer.echo(json.dumps({**record.public(), "key": key}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"created {record.role.value} key {record.id} ({record.name}); it is shown once:", err=True)
    typer.echo(key)


@keys_app.command("list")
def list_keys(as_json: JsonOpt = False) -> None:
    """Every key: id, role, name, created, revoked."""
    records = [r.public() for r in _keys().list()]
    if as_json:
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    for r in records:
        revoked = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        typer.echo(
            f"{r['id']}  {r['role']:<8}  {revoked:<36}  created {r['created_at']} by {r['created_by']}  {r['name']}"
        )


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id (qcl keys list)")]) -> None:
    """Revoke a key; requests with it are refused from then on."""
    from qcl.api.keys import UnknownKeyError

    try:
        record = _keys().revoke(key_id, revoked_by=_actor())
    except UnknownKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked {record.role.value} key {record.id} ({record.name})", err=True)


def bench_api(
    as_json: JsonOpt = False,
    requests: Annotated[int, typer.Option("--requests", help="requests per case and concurrency (bounded)")] = 3000,
    concurrency: Annotated[str, typer.Option("--concurrency", help="comma-separated client counts")] = "100,1000",
    max_s: Annotated[float, typer.Option("--max-s", help="time limit per case and concurrency")] = 30.0,
) -> None:
    """Start `qcl up` on loopback and load it: requests/s and latency p50/p95/p99 per endpoint and concurrency."""
    from qcl.bench.api import run_api_bench

    levels = [int(part) for part in concurrency.split(",") if part.strip()]
    result = run_api_bench(
        requests=requests, concurrency=levels, max_s=max_s, progress=lambda line: typer.echo(line, err=True)
    )
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for row in result["results"]:
        typer.echo(
            f"{row['case']:<22} c={row['concurrency']:<5} {row['requests_per_s']:>8.1f} req/s  "
            f"p50 {row['latency_ms_p50']:>8.1f} ms  p95 {row['latency_ms_p95']:>8.1f} ms  "
            f"p99 {row['latency_ms_p99']:>8.1f} ms  errors {row['errors']}"
        )


def bench_openai(
    as_json: JsonOpt = False,
    model: Annotated[str | None, typer.Option("--model", help="registered model id (default QCL_MODEL)")] = None,
    tokens: Annotated[int, typer.Option("--tokens", help="max_tokens per request")] = 64,
    runs: Annotated[int, typer.Option("--runs", help="timed runs per prompt and path")] = 5,
) -> None:
    """Time to first token and tokens/s through the OpenAI-compatible endpoint vs the generation service."""
    from qcl.bench.openai import run_openai_bench
    from qcl.errors import QclError

    settings = load_settings()
    try:
        result = run_openai_bench(
            settings,
            model_id=model or settings.model,
            new_tokens=tokens,
            runs=runs,
            progress=lambda line: typer.echo(line, err=True),
        )
    except QclError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for path in ("direct", "endpoint"):
        row = result[path]
        typer.echo(f"{path:<9} ttft p50 {row['ttft_ms_p50']:>8.1f} ms  {row['tokens_per_s_p50']:>7.2f} tokens/s")
    typer.echo(
        f"ratios    tokens/s {result['tokens_per_s_ratio']}  ttft {result['ttft_ratio']}  (target >= 0.9); "
        f"ttft overhead {result['ttft_overhead_ms_p50']} ms"
    )


def bench_oidc(
    as_json: JsonOpt = False,
    requests: Annotated[int, typer.Option("--requests", min=10, help="timed calls per figure")] = 2000,
) -> None:
    """What a Google ID token costs per request with a warm certificate cache, against an API key."""
    from qcl.bench.oidc import run_oidc_bench

    result = run_oidc_bench(requests, progress=lambda line: typer.echo(line, err=True))
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for name in ("id_token_verify", "api_key_verify", "request_with_api_key", "request_with_id_token"):
        row = result[name]
        typer.echo(f"{name:<22} p50 {row['p50_us']:>9.1f} us  p95 {row['p95_us']:>9.1f} us")
    overhead, ratio = result["id_token_overhead_us_p50"], result["request_ratio_p50"]
    typer.echo(f"ID token overhead per request (p50): {overhead} us; ratio {ratio}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    bench_app.command("api")(bench_api)
    bench_app.command("openai")(bench_openai)
    bench_app.command("oidc")(bench_oidc)
