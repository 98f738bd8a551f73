"""`qcl jobs work` and `qcl bench jobs`, registered on the `qcl` app by cli.py.

qcl jobs work [--workers 4] [--lease-s 30]          # workers on QCL_MODEL against the QCL_STORE queue
qcl jobs work --fake-ms-per-token 50                # on the labelled fake runtime (tests, benchmarks)
qcl bench jobs [--store memory|redis] [--n 10000] [--runtime tiny|fake] --json
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Annotated, Any, Literal

import typer

from qcl.clitools import fail, print_json, settings_or_exit

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
jobs_app = typer.Typer(no_args_is_help=True, help="Inference jobs: run workers against the shared queue.")


@jobs_app.command("work")
def work(
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="worker threads  [QCL_JOBS_WORKERS]")] = None,
    lease_s: Annotated[float | None, typer.Option("--lease-s", help="lease seconds  [QCL_JOBS_LEASE_S]")] = None,
    fake_ms_per_token: Annotated[
        float | None, typer.Option("--fake-ms-per-token", help="run on the FAKE sleeping runtime instead of the model")
    ] = None,
) -> None:
    """Claim jobs from the queue in QCL_STORE and run them until SIGTERM or Ctrl-C."""
    from qcl.compute.fake import SleepingRuntime
    from qcl.compute.placement import Runtime, Runtimes
    from qcl.compute.quotas import open_jobs
    from qcl.compute.worker import WorkerPool
    from qcl.model.errors import ModelUnavailableError
    from qcl.store import open_store

    settings = settings_or_exit(jobs_workers=workers, jobs_lease_s=lease_s)
    runtime: Runtime
    if fake_ms_per_token is not None:
        runtime = SleepingRuntime(fake_ms_per_token)
    else:
        from qcl.model.service import load_service

        try:
            runtime = load_service(settings)
        except ModelUnavailableError as exc:
            raise fail(str(exc)) from None
    store = open_store(settings)
    name = f"//qcl/jobs/{socket.gethostname()}/{os.getpid()}"  # a job's `worker` says which process ran it
    pool = WorkerPool(
        open_jobs(settings, store), Runtimes({"local": runtime}), workers=settings.jobs_workers, name=name
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    pool.start()
    model = runtime.status().get("model")
    typer.echo(f"qcl jobs: {settings.jobs_workers} workers on {model} (store {store.backend}) as {name}", err=True)
    try:
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        pool.stop()
        store.close()


def bench_jobs(
    store: Annotated[Literal["memory", "redis"], typer.Option("--store")] = "memory",
    n: Annotated[int, typer.Option("--n", min=2, help="jobs in the backlog")] = 10_000,
    runtime: Annotated[Literal["tiny", "fake"], typer.Option("--runtime", help="what runs the backlog")] = "tiny",
    workers: Annotated[int, typer.Option("--workers", min=1)] = 4,
    probes: Annotated[int, typer.Option("--probes", min=2, help="interactive jobs timed, idle and loaded")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Scheduling overhead, throughput, fairness, lost/duplicated jobs; interactive p95 idle vs under a backlog."""
    from qcl.bench.jobs import run_jobs_bench
    from qcl.store import open_store

    settings = settings_or_exit(store=store)
    if store == "redis":  # a namespace of its own, cleared by the bench
        settings = settings.model_copy(update={"redis_prefix": settings.redis_prefix + "bench-jobs:"})
    opened = open_store(settings)
    try:
        result: dict[str, Any] = run_jobs_bench(
            settings,
            opened,
            n=n,
            runtime=runtime,
            workers=workers,
            probes=probes,
            progress=lambda line: typer.echo(f"\r{line:<40}", nl=False, err=True),
        )
    finally:
        opened.close()
    typer.echo("", err=True)
    if as_json:
        print_json(result)
        return
    for part in ("backlog", "interactive"):
        for key, value in result[part].items():
            typer.echo(f"{part}.{key:<40} {value}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
    bench_app.command("jobs")(bench_jobs)
