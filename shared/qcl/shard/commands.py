"""`qcl shard serve`, `qcl shard pool up`, `qcl shard plan` and `qcl bench shard`; torch is imported inside.

qcl shard serve --model ID --layers A:B [--port 50051] [--host 0.0.0.0] [--store redis]
qcl shard pool up --stages 3 [--replicas 2] [--model ID] [--threads N]
qcl shard plan [--model ID] [--stages 3] [--json]
qcl bench shard [--model ID] [--tokens 64] [--stages 3] [--wire auto] [--json]
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from qcl.clitools import print_json, settings_or_exit

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="registry id  [QCL_MODEL]")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=0, help="intra-op threads  [QCL_SHARD_THREADS]")]

shard_app = typer.Typer(no_args_is_help=True, help="The shard pool: one model split across processes or machines.")
pool_app = typer.Typer(no_args_is_help=True, help="A local pool of stage processes on loopback.")
shard_app.add_typer(pool_app, name="pool")


def _wait_for_signal() -> None:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


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
    )
    from qcl.obs.logging import configure_logging
    from qcl.shard.errors import ShardError
    from qcl.shard.partition import parse_layers
    from qcl.shard.server import ServerOptions, build_server, configure_threads, resolve_device

    configure_logging(settings.log_level)
    try:
        ranges = [parse_layers(part) for part in layers.split(",")]
    except ShardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
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
    )
    server = _build(settings, ranges, options, build_server)
    server.start()
    typer.echo(f"qcl shard: {server.node_id} serving layers {layers} of {settings.model} on {server.address}", err=True)
    heartbeat = _heartbeat(settings, server)
    try:
        _wait_for_signal()
    finally:
        if heartbeat is not None:
            heartbeat.stop(leave=True)
        server.stop()
        typer.echo(f"qcl shard: {server.node_id} stopped", err=True)


def _build(settings: Any, ranges: list[Any], options: Any, build_server: Any) -> Any:
    from qcl.model.errors import ModelUnavailableError
    from qcl.shard.errors import ShardError

    try:
        return build_server(settings, settings.model, ranges, options)
    except (ShardError, ModelUnavailableError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


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
    if host in ("0.0.0.0", "::", ""):
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
        _wait_for_signal()
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


def bench_shard(
    model: ModelOpt = None,
    tokens: Annotated[int, typer.Option("--tokens", min=2, max=1024, help="new tokens per run")] = 64,
    stages: Annotated[int, typer.Option("--stages", min=1, max=16, help="pipeline stages")] = 3,
    wire: Annotated[
        Literal["auto", "fp16", "fp32", "int8"], typer.Option("--wire", help="activation dtype  [QCL_SHARD_WIRE]")
    ] = "auto",
    threads: ThreadsOpt = None,
    log_dir: Annotated[Path | None, typer.Option("--log-dir", help="stage logs (default: a temporary folder)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Single node vs the pool: tokens/s, time to first token, bytes per token, identity, recovery after a kill."""
    # Both sides alike: idle OpenMP threads sleep (the stage processes get the same policy from the local pool).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    settings = settings_or_exit(model=model, shard_threads=threads)
    from qcl.bench.shard import run_shard_bench
    from qcl.model.errors import ModelUnavailableError
    from qcl.shard.errors import ShardError

    try:
        result = run_shard_bench(
            settings, model_id=settings.model, new_tokens=tokens, stages=stages, wire=wire, log_dir=log_dir
        )
    except (ShardError, ModelUnavailableError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        print_json(result)
        return
    for key, value in result.items():
        typer.echo(f"{key:<34} {value}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(shard_app, name="shard")
    bench_app.command("shard")(bench_shard)
