"""`qcl jobs ...`, registered on the `qcl` app by cli.py: workers here, and jobs on a deployment through its API.

qcl jobs work [--workers 4] [--lease-s 30]          # workers on QCL_MODEL against the QCL_STORE queue
qcl jobs work --fake-ms-per-token 50                # on the labelled fake runtime (tests, benchmarks)
qcl jobs autoscale --min 1 --max 4                  # `qcl jobs work` processes, as many as the queue needs
qcl jobs submit "Summarise epoch 190" --max-tokens 64 --priority standard
qcl jobs submit --file jobs.jsonl                   # a POST /api/jobs body a line (`-`: stdin); a result per line
qcl jobs list --state running --json | show ID | cancel ID... | wait ID... --timeout 60

The deployment is the one qcl.remote resolves (--api, QCL_API, a profile, or the local stack). A line of a batch
file is a JSON object, the body of POST /api/jobs (`{"prompt": "..."}`, `{"kind": "chat", "messages": [...]}`,
`{"prompts": [...]}`) over the defaults the options give (kind completion, --max-tokens, --priority).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from qcl import remote
from qcl.clitools import Refused, batch_items, fail, print_json, read_batch, run_batch, settings_or_exit
from qcl.compute.jobs import FINAL_STATES, JOB_STATES
from qcl.lifecycle import wait_for_stop

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
jobs_app = typer.Typer(
    no_args_is_help=True, help="Inference jobs: submit and follow them through the API; run workers on the queue."
)
IdsArg = Annotated[list[str] | None, typer.Argument(help="job ids")]
FileOpt = Annotated[Path | None, typer.Option("--file", help="one item a line; - for stdin")]


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
    from qcl.lifecycle import stop_on_sigterm
    from qcl.model.errors import ModelUnavailableError
    from qcl.obs.logging import configure_process_logging
    from qcl.store import open_store

    stop_on_sigterm()  # from here a SIGTERM stops cleanly, during the start too (an autoscaler's early removal)
    settings = settings_or_exit(jobs_workers=workers, jobs_lease_s=lease_s)
    configure_process_logging(settings, f"jobs-{os.getpid()}")  # under QCL_LOG_DIR: the stack's searchable logs
    runtime: Runtime
    try:
        if fake_ms_per_token is not None:
            runtime = SleepingRuntime(fake_ms_per_token)
        else:
            from qcl.model.service import load_service

            runtime = load_service(settings)
        store = open_store(settings)
    except ModelUnavailableError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        typer.echo("qcl jobs: stopped before taking any job", err=True)
        return
    name = f"//qcl/jobs/{socket.gethostname()}/{os.getpid()}"  # a job's `worker` says which process ran it
    pool = WorkerPool(
        open_jobs(settings, store), Runtimes({"local": runtime}), workers=settings.jobs_workers, name=name
    )
    try:
        pool.start()
        model = runtime.status().get("model")
        typer.echo(f"qcl jobs: {settings.jobs_workers} workers on {model} (store {store.backend}) as {name}", err=True)
        wait_for_stop()
    except KeyboardInterrupt:  # a SIGTERM before wait_for_stop took over: the same clean stop
        pass
    finally:
        pool.stop()  # drains: the jobs in flight finish
        store.close()


@jobs_app.command("autoscale")
def autoscale(
    min_replicas: Annotated[int, typer.Option("--min", min=0, help="worker processes at least")] = 1,
    max_replicas: Annotated[int, typer.Option("--max", min=1, help="worker processes at most")] = 4,
    target_wait_s: Annotated[float, typer.Option("--target-wait-s", help="a waiting job starts within this")] = 10.0,
    scale_down_after_s: Annotated[
        float, typer.Option("--scale-down-after-s", help="seconds with no need before a process is removed")
    ] = 60.0,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="threads each  [QCL_JOBS_WORKERS]")] = None,
    fake_ms_per_token: Annotated[
        float | None, typer.Option("--fake-ms-per-token", help="processes on the FAKE sleeping runtime")
    ] = None,
) -> None:
    """Run `qcl jobs work` processes on the QCL_STORE queue, as many as its load needs, until SIGTERM or Ctrl-C;
    a process removed drains (finishes its jobs in flight) first. Needs QCL_STORE=redis: the processes share it."""
    from qcl.compute.autoscale import Autoscaler, ScalingPolicy, WorkerProcesses, worker_command
    from qcl.compute.quotas import open_jobs
    from qcl.store import open_store

    settings = settings_or_exit(jobs_workers=workers)
    if settings.store != "redis":
        raise fail("worker processes share the queue through the store: set QCL_STORE=redis (and QCL_REDIS_URL)", 2)
    try:
        policy = ScalingPolicy(
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            target_wait_s=target_wait_s,
            scale_down_after_s=scale_down_after_s,
        )
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    store = open_store(settings)
    command = worker_command(settings.jobs_workers, fake_ms_per_token=fake_ms_per_token)
    processes = WorkerProcesses(command, log_dir=settings.state_dir / "autoscale")
    scaler = Autoscaler(open_jobs(settings, store), processes, policy)
    scaler.on_event = lambda e: typer.echo(f"qcl jobs autoscale: {e.replicas_from} -> {e.replicas_to} ({e.reason})")
    typer.echo(f"qcl jobs autoscale: {min_replicas}..{max_replicas} processes of {settings.jobs_workers} workers")
    scaler.start()
    try:
        wait_for_stop()
    finally:
        scaler.stop()  # every process drains
        store.close()
    typer.echo(f"qcl jobs autoscale: stopped ({len(processes.exits)} processes ended)")


def _line_body(line: str, defaults: dict[str, Any]) -> dict[str, Any]:
    try:
        body = json.loads(line)
    except json.JSONDecodeError as exc:
        raise Refused(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(body, dict):
        raise Refused(f"expected a JSON object (a POST /api/jobs body), got {type(body).__name__}")
    return {**defaults, **body}


@jobs_app.command("submit")
def submit(
    prompt: Annotated[str | None, typer.Argument(help="one completion prompt (or --file)")] = None,
    file: FileOpt = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="default for every job")] = None,
    priority: Annotated[
        str | None, typer.Option("--priority", help="interactive | standard | batch | background")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit one prompt, or a file of job bodies (each line submitted whatever the others do; exit 1 names the
    lines that failed). Prints the job ids."""
    if (prompt is None) == (file is None):
        raise fail("give a prompt or --file, not both or neither", 2)
    defaults: dict[str, Any] = {"kind": "completion"}
    defaults.update({k: v for k, v in {"max_tokens": max_tokens, "priority": priority}.items() if v is not None})
    with remote.client() as api:
        if prompt is not None:
            accepted = api.call("POST", "/api/jobs", json={**defaults, "prompt": prompt})
            if as_json:
                print_json(accepted)
            else:
                typer.echo(accepted["jobs"][0])
            return
        assert file is not None
        run_batch(
            read_batch(file),
            lambda line: api.item("POST", "/api/jobs", json=_line_body(line, defaults)),
            lambda accepted: "submitted " + " ".join(accepted["jobs"]),
            as_json=as_json,
        )


@jobs_app.command("list")
def list_jobs(
    state: Annotated[str | None, typer.Option("--state", help=" | ".join(JOB_STATES))] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The key's jobs (an admin key's: everyone's), newest first."""
    params: dict[str, Any] = {"limit": limit, **({"state": state} if state else {})}
    with remote.client() as api:
        jobs = api.call("GET", "/api/jobs", params=params)["jobs"]
    if as_json:
        print_json(jobs)
        return
    for job in jobs:
        typer.echo(_line(job))


def _line(job: dict[str, Any]) -> str:
    outcome = (job.get("result") or {}).get("text") or (job.get("error") or {}).get("message") or ""
    return f"{job['id']}  {job['state']:<9}  {job['kind']:<10}  {job['priority']:<11}  {outcome[:60]!r}"


@jobs_app.command("show")
def show(job_id: Annotated[str, typer.Argument(help="a job id")], as_json: JsonOpt = False) -> None:
    """A job: its state, attempts, and its result or error."""
    with remote.client() as api:
        job = api.call("GET", f"/api/jobs/{job_id}")
    if as_json:
        print_json(job)
        return
    typer.echo(f"{job['id']} {job['state']} ({job['kind']}, {job['priority']}, attempt {job['attempts']})")
    if job.get("result"):
        typer.echo(job["result"].get("text", ""))
    if job.get("error"):
        typer.echo(f"error {job['error']['code']}: {job['error']['message']}")


@jobs_app.command("cancel")
def cancel(job_ids: IdsArg = None, file: FileOpt = None, as_json: JsonOpt = False) -> None:
    """Cancel jobs: a waiting one at once, a running one at its next decode step. Exit 1 names those that failed."""
    items, unit = batch_items(job_ids, file, "job ids")
    with remote.client() as api:
        run_batch(
            items,
            lambda job_id: api.item("POST", f"/api/jobs/{job_id}/cancel"),
            lambda job: f"{job['id']} {job['state']}",
            as_json=as_json,
            unit=unit,
        )


@jobs_app.command("wait")
def wait(
    job_ids: IdsArg = None,
    file: FileOpt = None,
    timeout_s: Annotated[float, typer.Option("--timeout", help="seconds to wait for all of them")] = 600.0,
    as_json: JsonOpt = False,
) -> None:
    """Wait until every job is final; print each. Exit 0 when all are done, 1 when any failed, was cancelled or
    died, 3 when any is still queued or running at the timeout."""
    items, _ = batch_items(job_ids, file, "job ids")
    deadline, pause_s = time.monotonic() + timeout_s, 0.1
    with remote.client() as api:
        jobs = {job_id: api.call("GET", f"/api/jobs/{job_id}") for _, job_id in items}
        while any(job["state"] not in FINAL_STATES for job in jobs.values()) and time.monotonic() < deadline:
            time.sleep(min(pause_s, max(0.0, deadline - time.monotonic())))
            pause_s = min(pause_s * 1.5, 2.0)  # quick jobs answer quickly; long ones cost a request per 2 s
            for job_id, job in jobs.items():
                if job["state"] not in FINAL_STATES:
                    jobs[job_id] = api.call("GET", f"/api/jobs/{job_id}")
    if as_json:
        print_json(list(jobs.values()))
    else:
        for job in jobs.values():
            typer.echo(_line(job))
    states = {job["state"] for job in jobs.values()}
    if not states <= FINAL_STATES:
        raise fail(f"still {', '.join(sorted(states - FINAL_STATES))} after {timeout_s:g} s", 3)
    if states != {"done"}:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
