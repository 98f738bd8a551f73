"""The `qcl` command.

    qcl up                                  # the local stack on embedded defaults
    qcl analyze --input capture.jsonl --json
    qcl topics --json

Every option with a settings twin reads its `QCL_*` variable when not given; a flag wins over the variable.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from qcl.clitools import print_json, settings_or_exit
from qcl.config import Settings
from qcl.errors import QclError, SourceError
from qcl.lifecycle import stop_on_sigterm, wait_for_stop

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Qubic AI Compute Layer.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks; each prints figures (--json for machines).")
app.add_typer(bench_app, name="bench")

BusOpt = Annotated[str | None, typer.Option("--bus", help="memory | pubsub  [QCL_BUS]")]
StoreOpt = Annotated[str | None, typer.Option("--store", help="memory | redis  [QCL_STORE]")]
SourceOpt = Annotated[str | None, typer.Option("--source", help="replay | rpc  [QCL_SOURCE]")]
CaptureOpt = Annotated[Path | None, typer.Option("--capture", help="capture to replay  [QCL_CAPTURE]")]
SpeedOpt = Annotated[float | None, typer.Option("--speed", help="replay speed, 0 = no waiting  [QCL_REPLAY_SPEED]")]
RpcUrlOpt = Annotated[str | None, typer.Option("--rpc-url", help="Qubic RPC base URL  [QCL_RPC_URL]")]
RedisUrlOpt = Annotated[str | None, typer.Option("--redis-url", help="[QCL_REDIS_URL]")]
LogLevelOpt = Annotated[str | None, typer.Option("--log-level", help="[QCL_LOG_LEVEL]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _logging(settings: Settings, service: str | None = None) -> None:
    """The console as always; with QCL_LOG_DIR also `service`'s JSON lines in a file there."""
    from qcl.obs.logging import configure_logging, configure_process_logging

    if service is None:
        configure_logging(settings.log_level)
    else:
        configure_process_logging(settings, service)


@app.command()
def analyze(
    input: Annotated[
        Path, typer.Option("--input", "-i", help="capture file (JSON lines)", exists=True, dir_okay=False)
    ],
    as_json: JsonOpt = False,
    window_s: Annotated[int | None, typer.Option("--window-s", help="rolling window  [QCL_WINDOW_S]")] = None,
) -> None:
    """Analyse a capture: the final health score and every finding raised along the way."""
    from qcl.analysis import analyze_capture
    from qcl.qubic.capture import read_capture

    settings = settings_or_exit(window_s=window_s)
    result = analyze_capture(read_capture(input), window_s=settings.window_s).to_json()
    if as_json:
        print_json(result)
        return
    typer.echo(
        f"health {result['health_score']}/100 ({result['status']}), "
        f"{result['observations']} observations, {result['invalid_lines']} invalid line(s)"
    )
    for finding in result["findings"]:
        typer.echo(
            f"{finding['observed_at']:<26} {finding['severity']:<8} {finding['code']:<18} {finding['message_en']}"
        )


@app.command()
def topics(as_json: JsonOpt = False) -> None:
    """The topic registry: topic, dead-letter topic, event type, producers, consumers."""
    from qcl.events import registry_table

    table = registry_table()
    if as_json:
        print_json(table)
        return
    for row in table:
        typer.echo(
            f"{row['topic']:<18} {row['event_type']:<28} {','.join(row['producers']):<14} -> "
            f"{','.join(row['consumers']):<22} dlq {row['dead_letter_topic']}"
        )


@app.command()
def ingest(
    once: Annotated[
        bool, typer.Option("--once", help="take one observation and exit (default: one per poll interval)")
    ] = False,
    bus: BusOpt = None,
    store: StoreOpt = None,
    source: SourceOpt = None,
    capture: CaptureOpt = None,
    rpc_url: RpcUrlOpt = None,
    redis_url: RedisUrlOpt = None,
) -> None:
    """Take one observation from the source and publish it to qubic-ticks (what the ingest function does)."""
    from qcl.bus import open_bus
    from qcl.pipeline.ingest import Ingestor, source_failure
    from qcl.qubic.source import open_source
    from qcl.store import open_store

    settings = settings_or_exit(
        bus=bus, store=store, source=source, capture=capture, rpc_url=rpc_url, redis_url=redis_url
    )
    _logging(settings)
    the_bus, the_store = open_bus(settings), open_store(settings)
    ingestor, the_source = Ingestor(the_bus, the_store, name="//qcl/cli/ingest"), open_source(settings)
    code = 0
    try:
        while True:
            try:
                result = ingestor.ingest_once(the_source)
                print_json(result.to_json())
                code = 0 if result.http_status == 200 else 1
            except SourceError as exc:
                print_json(source_failure(exc)[0])
                code = 3
            if once:
                break
            time.sleep(settings.poll_interval_s)
    except KeyboardInterrupt:
        pass
    finally:
        the_source.close()
        the_bus.close()
        the_store.close()
    raise typer.Exit(code)


@app.command()
def record(
    out: Annotated[Path, typer.Option("--out", "-o", help="capture file to append to")],
    count: Annotated[int | None, typer.Option("--count", help="observations to take (default: until Ctrl-C)")] = None,
    interval_s: Annotated[
        float | None, typer.Option("--interval", help="seconds between observations  [QCL_POLL_INTERVAL_S]")
    ] = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record live observations from the Qubic RPC into a capture file."""
    from qcl.qubic.record import record as record_capture
    from qcl.qubic.rpc import QubicRpcClient

    settings = settings_or_exit(rpc_url=rpc_url, poll_interval_s=interval_s)
    _logging(settings)
    client = QubicRpcClient.from_settings(settings)
    with out.open("a", encoding="utf-8") as sink:
        try:
            written = record_capture(
                client,
                sink,
                count=count,
                interval_s=settings.poll_interval_s,
                on_progress=lambda n: typer.echo(f"\rrecorded {n}", nl=False, err=True),
            )
        except KeyboardInterrupt:
            written = -1
        finally:
            client.close()
    if as_json and written >= 0:
        print_json({"written": written, "out": str(out)})
    else:
        typer.echo("" if written < 0 else f"\nwrote {written} observation(s) to {out}", err=True)


@app.command()
def up(
    bus: BusOpt = None,
    store: StoreOpt = None,
    source: SourceOpt = None,
    capture: CaptureOpt = None,
    speed: SpeedOpt = None,
    rpc_url: RpcUrlOpt = None,
    redis_url: RedisUrlOpt = None,
    log_level: LogLevelOpt = None,
    port: Annotated[int | None, typer.Option("--port", help="API port, 0 = any free one  [QCL_PORT]")] = None,
    host: Annotated[str | None, typer.Option("--host", help="API address  [QCL_HOST]")] = None,
    shards: Annotated[
        int | None, typer.Option("--shards", help="run the model split over N stage processes  [QCL_SHARDS]")
    ] = None,
    ops: Annotated[
        bool | None,
        typer.Option("--ops/--no-ops", help="also run Prometheus and Alertmanager on the stack  [QCL_OPS]"),
    ] = None,
    autoscale: Annotated[
        int | None,
        typer.Option(
            "--autoscale",
            min=0,
            help="job workers as 1..N processes sized to the queue (with --shards: 1..N replica sets of the "
            "stage processes)  [QCL_JOBS_AUTOSCALE]",
        ),
    ] = None,
) -> None:
    """Start the local stack on loopback (embedded defaults unless told otherwise); Ctrl-C stops it."""
    from qcl.pipeline.stack import LocalStack

    settings = settings_or_exit(
        bus=bus,
        store=store,
        source=source,
        capture=capture,
        replay_speed=speed,
        rpc_url=rpc_url,
        redis_url=redis_url,
        log_level=log_level,
        port=port,
        host=host,
        shards=shards,
        ops=ops,
        jobs_autoscale=autoscale,
    )
    # Every process of the stack writes its JSON lines under one folder; the API indexes it (`qcl logs search`).
    settings = settings.model_copy(update={"log_dir": settings.log_dir or settings.state_dir / "logs"})
    _logging(settings, "api")
    stack = LocalStack(settings)
    stop_on_sigterm()
    try:
        for line in stack.start():
            typer.echo(f"qcl up: {line}", err=True)
        typer.echo("qcl up: running; Ctrl-C stops", err=True)
        wait_for_stop()
    except KeyboardInterrupt:  # during the start
        pass
    except QclError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        typer.echo("qcl up: stopping", err=True)
        stack.stop()
        typer.echo("qcl up: stopped", err=True)


# Command groups of the library's packages register below, one line each, every benchmark in bench/commands.py
# (their modules import heavy libraries such as torch inside the commands, so `qcl topics` stays fast).
from qcl.bench.commands import register as _register_bench  # noqa: E402

_register_bench(bench_app)
from qcl.model.commands import register as _register_model  # noqa: E402

_register_model(app)
from qcl.api.commands import register as _register_api  # noqa: E402

_register_api(app)
from qcl.narrate.cli import register as _register_narrate  # noqa: E402

_register_narrate(app)

from qcl.oracle.cli import register as _register_oracle  # noqa: E402

_register_oracle(app)

from qcl.shard.commands import register as _register_shard  # noqa: E402

_register_shard(app)

from qcl.workflows.cli import register as _register_workflows  # noqa: E402

_register_workflows(app)

from qcl.compute.commands import register as _register_jobs  # noqa: E402

_register_jobs(app)

from qcl.obs.cli import register as _register_ops  # noqa: E402

_register_ops(app)
from qcl.obs.logs_cli import register as _register_logs  # noqa: E402

_register_logs(app)

from qcl.backup.cli import register as _register_backup  # noqa: E402

_register_backup(app)
from qcl.store.cli import register as _register_store  # noqa: E402

_register_store(app)
from qcl.delivery.cli import register as _register_rollout  # noqa: E402

_register_rollout(app)
from qcl.federation_cli import register as _register_federation  # noqa: E402

_register_federation(app)

from qcl.remote.commands import register as _register_remote  # noqa: E402

_register_remote(app)

from qcl.pki_commands import register as _register_pki  # noqa: E402

_register_pki(app)

from qcl.privacy.cli import register as _register_privacy  # noqa: E402

_register_privacy(app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
