"""`qcl shard serve`, `qcl shard pool up`, `qcl shard plan`; torch is imported inside.

qcl shard serve --model ID --layers A:B [--port 50051] [--host 0.0.0.0] [--store redis] [--tls-dir DIR]
qcl shard pool up --stages 3 [--replicas 2] [--model ID] [--threads N]
qcl shard plan [--model ID] [--stages 3] [--json]
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from qcl.clitools import fail, print_json, settings_or_exit
from qcl.lifecycle import wait_for_stop

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="registry id  [QCL_MODEL]")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=0, help="intra-op threads  [QCL_SHARD_THREADS]")]

shard_app = typer.Typer(no_args_is_help=True, help="The shard pool: one model split across processes or machines.")
pool_app = typer.Typer(no_args_is_help=True, help="A local pool of stage processes on loopback.")
shard_app.add_typer(pool_app, name="pool")


@shard_app.command("serve")
def serve(
    layers: Annotated[str, typer.Option("--layers", help="half-open layer range A:B this node holds")],
    model: ModelOpt = None,
    port: Annotated[int | None, typer.Option("--port", help="gRPC and health port  [QCL_SHARD_PORT]")] = None,
    host: Annotated[str | None, typer.Option("--host", help="address to bind  [QCL_SHARD_HOST]")] = None,
    advertise: Annotated[
        str | None, typer.Option("--advertise", help="host:port others reach it at  [QCL_SHARD_ADVERTISE]")
    ] = None,
    node_id: Annotated[str | None, typer.Option("--node-id", help="stable node id (default: generated)")] = None,
    threads: ThreadsOpt = None,
    max_sessions: Annotated[
        int | None, typer.Option("--max-sessions", min=1, help="KV caches held at once  [QCL_SHARD_MAX_SESSIONS]")
    ] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="memory | redis: redis registers and heartbeats  [QCL_STORE]")
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto | cpu | cuda  [QCL_SHARD_DEVICE]")] = None,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="serve Prometheus metrics on this port (HTTP /metrics)")
    ] = None,
    tls_dir: Annotated[
        Path | None, typer.Option("--tls-dir", help="cert.pem, key.pem, ca.pem of this shard  [QCL_TLS_DIR]")
    ] = None,
    health_port: Annotated[
        int | None, typer.Option("--health-port", help="plaintext port for health checks  [QCL_SHARD_HEALTH_PORT]")
    ] = None,
) -> None:
    """Serve a range of a model's layers over gRPC (data plane + grpc.health.v1 on the same port)."""
    # Before torch loads: idle OpenMP threads sleep instead of spinning on cores other stages need.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    settings = settings_or_exit(
        model=model,
        shard_port=port,
        shard_host=host,
        shard_advertise=advertise,
        shard_threads=threads,
        shard_max_sessions=max_sessions,
        store=store,
        shard_device=device,
        tls_dir=tls_dir,
        shard_health_port=health_port,
    )
    from qcl.model.errors import ModelUnavailableError
    from qcl.model.registry import get_spec
    from qcl.obs.logging import configure_process_logging
    from qcl.shard.errors import ShardError
    from qcl.shard.partition import check_layers, parse_layers

    configure_process_logging(settings, f"shard-{node_id or settings.shard_port}")
    try:
        ranges = [parse_layers(part) for part in layers.split(",")]
    except ShardError as exc:
        raise fail(str(exc), 2) from None
    try:  # a model or range that cannot be served is refused before torch loads (seconds on a busy machine)
        spec = get_spec(settings.model)
        for layer_range in ranges:
            check_layers(spec, layer_range)
    except (ShardError, ModelUnavailableError) as exc:
        raise fail(str(exc)) from None
    from qcl.shard.server import ServerOptions, build_server, configure_threads, resolve_device

    chosen_device = resolve_device(settings.shard_device)
    options = ServerOptions(
        host=settings.shard_host,
        port=settings.shard_port,
        advertise=settings.shard_advertise or _default_advertise(settings.shard_host, settings.shard_port),
        node_id=node_id,
        max_sessions=settings.shard_max_sessions,
        session_ttl_s=settings.shard_session_ttl_s,
        threads=configure_threads(settings.shard_threads),
        device=chosen_device,
        tls=_server_tls(settings),
        health_port=settings.shard_health_port,
    )
    server = _build(settings, ranges, options, build_server)
    server.start()
    typer.echo(f"qcl shard: {server.node_id} serving layers {layers} of {settings.model} on {server.address}", err=True)
    if metrics_port is not None:  # liveness and process figures for Prometheus (`qcl up --ops` scrapes it)
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=settings.shard_host)
        typer.echo(f"qcl shard: metrics on {settings.shard_host}:{metrics_port}/metrics", err=True)
    heartbeat = _heartbeat(settings, server)
    try:
        wait_for_stop()
    finally:
        if heartbeat is not None:
            heartbeat.stop(leave=True)
        server.stop()
        typer.echo(f"qcl shard: {server.node_id} stopped", err=True)


def _server_tls(settings: Any) -> Any:
    """This shard's certificate (QCL_TLS_DIR); plaintext only when QCL_SHARD_TLS=false says so."""
    from qcl.pki import PkiError
    from qcl.shard.tls import TlsMaterial

    if not settings.shard_tls:
        return None
    if settings.tls_dir is None:
        raise fail(
            "QCL_TLS_DIR (--tls-dir): mTLS is on but no certificate directory is given; `qcl pki issue --role shard "
            "--node-id ID` writes one (or set QCL_SHARD_TLS=false to serve plaintext on a trusted network)",
            2,
        )
    try:
        return TlsMaterial.load(settings.tls_dir, role="shard")
    except PkiError as exc:
        raise fail(str(exc), 2) from None


def _build(settings: Any, ranges: list[Any], options: Any, build_server: Any) -> Any:
    from qcl.model.errors import ModelUnavailableError
    from qcl.shard.errors import ShardError

    try:
        return build_server(settings, settings.model, ranges, options)
    except (ShardError, ModelUnavailableError) as exc:
        raise fail(str(exc)) from None


def _heartbeat(settings: Any, server: Any) -> Any:
    """A shared store (Redis) gets this node's own heartbeats; an embedded memory store is nobody else's to read."""
    if settings.store != "redis":
        return None
    from qcl.shard.registry import ShardRegistry
    from qcl.shard.server import SelfHeartbeat
    from qcl.store import open_store

    registry = ShardRegistry(
        open_store(settings), heartbeat_s=settings.shard_heartbeat_s, misses=settings.shard_missed_heartbeats
    )
    return SelfHeartbeat(server, registry).start()


def _default_advertise(host: str, port: int) -> str | None:
    if port == 0:
        return None  # the bound port is known only after binding; the server fills it in
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - recognises a wildcard, binds nothing
        return f"{socket.getfqdn()}:{port}"
    return f"{host}:{port}"


@pool_app.command("up")
def pool_up(
    stages: Annotated[int, typer.Option("--stages", min=1, max=16, help="pipeline stages")] = 3,
    replicas: Annotated[int, typer.Option("--replicas", min=1, max=4, help="processes per stage")] = 1,
    model: ModelOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Start the stages as separate processes on loopback; print their addresses; Ctrl-C stops them."""
    settings = settings_or_exit(model=model, shard_threads=threads)
    from qcl.model.errors import ModelUnavailableError
    from qcl.obs.logging import configure_logging
    from qcl.shard.errors import ShardError
    from qcl.shard.local import LocalPool

    configure_logging(settings.log_level)
    try:
        pool = LocalPool(settings, settings.model, stages=stages, replicas=replicas, threads=settings.shard_threads)
        typer.echo(f"qcl shard pool: starting {len(pool.processes)} processes (logs in {pool.log_dir})", err=True)
        pool.start()
    except (ShardError, ModelUnavailableError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for stage_process in pool.processes:
        layers = stage_process.layers
        typer.echo(
            f"qcl shard pool: {stage_process.node_id} layers {layers.start}:{layers.stop} on {stage_process.address}"
        )
    typer.echo(f"qcl shard pool: running; QCL_SHARD_NODES={','.join(pool.addresses)}; Ctrl-C stops", err=True)
    try:
        wait_for_stop()
    finally:
        pool.stop()
        typer.echo("qcl shard pool: stopped", err=True)


@shard_app.command("plan")
def plan(
    model: ModelOpt = None,
    stages: Annotated[int, typer.Option("--stages", min=1, max=64, help="pipeline stages")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """The layer ranges for N equal nodes, counting the embedding and LM head (what `pool up` uses)."""
    settings = settings_or_exit(model=model)
    from qcl.model.errors import ModelUnavailableError
    from qcl.shard.errors import ShardError
    from qcl.shard.local import local_plan

    try:
        result = local_plan(settings, settings.model, stages).to_json()
    except (ShardError, ModelUnavailableError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        print_json(result)
        return
    for index, layers in enumerate(result["ranges"]):
        typer.echo(f"stage {index}: layers {layers}  (relative time {result['relative_stage_time'][index]})")


def register(app: typer.Typer) -> None:
    app.add_typer(shard_app, name="shard")
