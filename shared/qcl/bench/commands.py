"""Every `qcl bench` command, registered on the `qcl` app by cli.py; the suites themselves are the bench/*.py modules,
and heavy libraries (torch) are imported inside the commands only.

qcl bench all --json [--out .qcl/bench/all.json] [--suite oracle ...]     # every suite, small parameters
qcl bench compare .qcl/bench/all.json shared/qcl/bench/baseline.json     # exit 1 on a regression or missing figure
qcl bench pipeline --bus memory --store redis --n 1000 --json
qcl bench model|shard|oracle|narrate|api|openai|oidc|jobs|workflows|logs|autoscale --json   # each suite, full size
qcl bench soak --duration 30m --out .qcl/bench/soak.jsonl --json       # hours of mixed load, leak detector
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from qcl.clitools import fail, print_json, settings_or_exit
from qcl.config import load_settings

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="registry id  [QCL_MODEL]")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=0, help="intra-op threads  [QCL_SHARD_THREADS]")]


def bench_all(
    suite: Annotated[
        list[str] | None, typer.Option("--suite", help="run only these (repeatable); default: every suite")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="result file")] = Path(".qcl/bench/all.json"),
    as_json: JsonOpt = False,
) -> None:
    """Every suite on small parameters, one after another; the result file holds each suite's JSON and its
    comparable figures (ratios and counts) for `qcl bench compare`."""
    from qcl.bench.gate import SUITES, run_all

    chosen = suite or list(SUITES)
    unknown = [name for name in chosen if name not in SUITES]
    if unknown:
        raise fail(f"--suite: unknown {', '.join(unknown)}; suites: {', '.join(SUITES)}", 2)
    result = run_all(settings_or_exit(), chosen, progress=lambda line: typer.echo(line, err=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    typer.echo(f"bench all: wrote {out}", err=True)
    if as_json:
        print_json(result)
        return
    for name, run in result["suites"].items():
        for figure, entry in run["figures"].items():
            typer.echo(f"{name}.{figure:<44} {entry['value']:>10}  ({entry['better']} is better)")


def bench_compare(
    new: Annotated[Path, typer.Argument(help="a result file of `qcl bench all`")],
    baseline: Annotated[Path, typer.Argument(help="the recorded baseline (shared/qcl/bench/baseline.json)")],
    as_json: JsonOpt = False,
) -> None:
    """Each comparable figure against the baseline's; exit 1 when one is more than 15 % worse or missing."""
    from qcl.bench.gate import compare, failed, read_result

    try:
        rows = compare(read_result(new), read_result(baseline))
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    if as_json:
        print_json([{**row.__dict__, "change": row.change} for row in rows])
    else:
        for row in rows:
            typer.echo(row.line())
    bad = failed(rows)
    if bad:
        typer.echo(f"bench compare: {len(bad)} figure(s) regressed or missing", err=True)
        raise typer.Exit(1)


def bench_pipeline(
    bus: Annotated[Literal["memory", "pubsub"], typer.Option("--bus")] = "memory",
    store: Annotated[Literal["memory", "redis"], typer.Option("--store")] = "memory",
    n: Annotated[int, typer.Option("--n", help="observations to replay")] = 500,
    baseline: Annotated[
        bool, typer.Option("--baseline", help="also run with the whole window re-analysed per event; report the ratio")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replay N observations through ingest -> bus -> analyzer; events/s and publish-to-analysis latency."""
    from qcl.bench.pipeline import run_pipeline_bench

    settings = settings_or_exit(bus=bus, store=store)
    result = run_pipeline_bench(
        settings, n=n, baseline=baseline, progress=lambda done: typer.echo(f"\r{done}/{n}", nl=False, err=True)
    )
    typer.echo("", err=True)
    if as_json:
        print_json(result)
    else:
        for key, value in result.items():
            typer.echo(f"{key:<18} {value}")


def bench_model(
    model: Annotated[str | None, typer.Option("--model", help="registry id  [QCL_MODEL]")] = None,
    tokens: Annotated[int, typer.Option("--tokens", min=1, max=1024, help="new tokens per timed run")] = 64,
    runs: Annotated[int, typer.Option("--runs", min=1, max=20, help="timed runs (median)")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Load time (cold, cached), tokens/s fp32 vs int8 vs transformers generate(), sizes, int8 agreement."""
    from qcl.bench.model import run_model_bench
    from qcl.model.errors import ModelUnavailableError

    settings = settings_or_exit()
    try:
        result = run_model_bench(settings, model_id=model or settings.model, new_tokens=tokens, runs=runs)
    except ModelUnavailableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        print_json(result)
        return
    for key, value in result.items():
        typer.echo(f"{key:<28} {value}")


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


def bench_oracle(
    samples: Annotated[int, typer.Option("--samples", help="decisions per configuration")] = 30,
    model: Annotated[bool, typer.Option("--model/--no-model", help="also time one real model job")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Decision latency and messages per decision for n = 4 and 7, no faults and a silent primary."""
    from qcl.bench.oracle import run_oracle_bench

    result = run_oracle_bench(samples=samples, model=model, progress=lambda line: typer.echo(line, err=True))
    if as_json:
        print_json(result)
    else:
        for row in result["runs"]:
            typer.echo(json.dumps(row))


def bench_narrate(
    reports: Annotated[
        int | None, typer.Option("--reports", min=1, help="narrate the first N onset reports (default: all)")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="comma-separated languages")] = "zh-TW,en",
    no_questions: Annotated[bool, typer.Option("--no-questions", help="narratives only")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Grounded share and latency of the model's narratives on the bundled sample's onset reports."""
    from qcl.bench.narrate import run_narrate_bench
    from qcl.narrate.errors import NarrationInputError
    from qcl.narrate.questions import validate_language

    try:
        languages = tuple(validate_language(part) for part in lang.split(","))
    except NarrationInputError as exc:
        raise fail(str(exc), 2) from None
    result = run_narrate_bench(
        settings_or_exit(),
        reports=reports,
        languages=languages,
        questions=not no_questions,
        progress=lambda done, total: typer.echo(f"\rnarrated {done}/{total}", nl=False, err=True),
    )
    typer.echo("", err=True)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for key, value in result.items():
        typer.echo(f"{key:<16} {value}")


def bench_api(
    as_json: JsonOpt = False,
    requests: Annotated[int, typer.Option("--requests", help="requests per case and concurrency (bounded)")] = 3000,
    concurrency: Annotated[str, typer.Option("--concurrency", help="comma-separated client counts")] = "100,1000",
    max_s: Annotated[float, typer.Option("--max-s", help="time limit per case and concurrency")] = 30.0,
    cases: Annotated[str, typer.Option("--cases", help="comma-separated cases (default: all)")] = "",
    think_s: Annotated[
        float, typer.Option("--think-s", min=0, help="mean pause before each request (0: closed loop)")
    ] = 0.0,
) -> None:
    """Start `qcl up` on loopback and load it: requests/s and latency p50/p95/p99 per endpoint and concurrency."""
    from qcl.bench.api import CASES, run_api_bench

    levels = [int(part) for part in concurrency.split(",") if part.strip()]
    chosen = tuple(part.strip() for part in cases.split(",") if part.strip()) or CASES
    unknown = sorted(set(chosen) - set(CASES))
    if unknown:
        raise typer.BadParameter(f"unknown case(s) {', '.join(unknown)}; cases: {', '.join(CASES)}")
    result = run_api_bench(
        requests=requests,
        concurrency=levels,
        max_s=max_s,
        cases=chosen,
        think_s=think_s,
        progress=lambda line: typer.echo(line, err=True),
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


def bench_autoscale(
    burst: Annotated[int, typer.Option("--burst", min=1, help="jobs submitted at once")] = 300,
    trickle_per_s: Annotated[float, typer.Option("--trickle-per-s", min=0, help="jobs a second after it")] = 3.0,
    trickle_s: Annotated[float, typer.Option("--trickle-s", min=0, help="seconds of trickle")] = 30.0,
    max_replicas: Annotated[int, typer.Option("--max-replicas", min=1)] = 4,
    baseline: Annotated[bool, typer.Option(help="also run a fixed pool of --max-replicas on the same load")] = True,
    shards: Annotated[
        int,
        typer.Option(
            "--shards", min=0, help="scale replica sets of this many stage processes of --model instead of workers"
        ),
    ] = 0,
    model: Annotated[str, typer.Option("--model", help="registry id, with --shards")] = "tiny-random-qwen2",
    as_json: JsonOpt = False,
) -> None:
    """The job autoscaler on worker processes (or, with --shards, on a real shard pool's replica sets): reaction,
    scale-down without loss (with --shards: every job's text against the model in one process), node-seconds vs a
    fixed pool."""
    from qcl.bench.autoscale import run_autoscale_bench, run_shard_autoscale_bench
    from qcl.compute.autoscale import ScalingPolicy
    from qcl.store import open_store

    def progress(line: str) -> None:
        typer.echo(line, err=True)

    if shards:
        policy = ScalingPolicy(
            min_replicas=1, max_replicas=max_replicas, target_wait_s=2.0, scale_down_after_s=5.0, interval_s=0.5
        )
        result = run_shard_autoscale_bench(
            settings_or_exit(shard_heartbeat_s=0.5),
            model_id=model,
            stages=shards,
            burst=burst,
            trickle_per_s=trickle_per_s,
            trickle_s=trickle_s,
            policy=policy,
            baseline=baseline,
            progress=progress,
        )
    else:
        settings = settings_or_exit(store="redis")  # the worker processes share the queue through it
        settings = settings.model_copy(update={"redis_prefix": settings.redis_prefix + "bench-autoscale:"})
        policy = ScalingPolicy(
            min_replicas=1, max_replicas=max_replicas, target_wait_s=5.0, scale_down_after_s=10.0, interval_s=0.5
        )
        opened = open_store(settings)
        try:
            result = run_autoscale_bench(
                settings,
                opened,
                burst=burst,
                trickle_per_s=trickle_per_s,
                trickle_s=trickle_s,
                policy=policy,
                baseline=baseline,
                progress=progress,
            )
        finally:
            opened.close()
    if as_json:
        print_json(result)
        return
    for pool in ("autoscaled", "fixed"):
        for key, value in result.get(pool, {}).items():
            if key not in ("events", "policy"):
                typer.echo(f"{pool}.{key:<36} {value}")
    for key in ("node_seconds_ratio", "wall_ratio"):
        typer.echo(f"{key:<47} {result.get(key)}")


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


def bench_workflows(
    iterations: Annotated[int, typer.Option("--steps", help="loop iterations (a step each)", min=1)] = 1000,
    store: Annotated[str, typer.Option("--store", help="memory | redis (redis also runs memory)")] = "memory",
    as_json: JsonOpt = False,
) -> None:
    """Per-step cost of the durable executor (checkpoint per step) vs the bare interpreter, and resume speed."""
    from qcl.bench.workflows import run_workflows_bench
    from qcl.store.memory import MemoryStore

    stores: dict[str, Any] = {"memory": MemoryStore()}
    if store == "redis":
        from qcl.store.redis import RedisStore

        settings = settings_or_exit()
        stores["redis"] = RedisStore(settings.redis_url, prefix=f"{settings.redis_prefix}bench-workflows:")
    elif store != "memory":
        raise fail(f"--store: memory or redis, got {store!r}", 2)
    result = run_workflows_bench(stores, iterations=iterations, progress=lambda line: typer.echo(line, err=True))
    if as_json:
        print_json(result)
        return
    for row in result["runs"]:
        typer.echo("  ".join(f"{k}={v}" for k, v in row.items()))


def bench_backup(
    n: Annotated[int, typer.Option("--n", min=1, help="finished tasks in the store (3 keys each)")] = 10_000,
    store: Annotated[Literal["memory", "redis"], typer.Option("--store")] = "memory",
    as_json: JsonOpt = False,
) -> None:
    """Backup and restore time and file size for N tasks plus an oracle committee's state files."""
    from qcl.bench.backup import run_backup_bench
    from qcl.store.base import Store
    from qcl.store.memory import MemoryStore

    stores: tuple[Store, Store] = (MemoryStore(), MemoryStore())
    if store == "redis":  # namespaces of their own, cleared by the bench
        from qcl.store.redis import RedisStore

        settings = settings_or_exit()
        stores = tuple(
            RedisStore(settings.redis_url, prefix=f"{settings.redis_prefix}bench-backup-{side}:")
            for side in ("old", "new")
        )  # type: ignore[assignment]
    result = run_backup_bench(*stores, n=n, progress=lambda line: typer.echo(line, err=True))
    if as_json:
        print_json(result)
        return
    typer.echo(
        f"{result['keys']} keys + {result['files']} files ({result['store']}): backup {result['backup_s']} s, "
        f"restore {result['restore_s']} s, file {result['archive_bytes'] / 1_048_576:.1f} MiB"
    )


def bench_logs(
    lines: Annotated[int, typer.Option("--lines", min=1000, help="log lines written, then indexed")] = 100_000,
    rotate_kib: Annotated[int, typer.Option("--rotate-kib", min=64, help="a log file rotates at this size")] = 1024,
    as_json: JsonOpt = False,
) -> None:
    """Log ingest rate (the collector into SQLite FTS5) against the emit rate; search by request id vs a file scan."""
    from qcl.bench.logs import run_logs_bench

    result = run_logs_bench(lines, rotate_bytes=rotate_kib * 1024, progress=lambda line: typer.echo(line, err=True))
    if as_json:
        print_json(result)
        return
    typer.echo(
        f"{result['lines']} lines, {result['files']} files, {result['megabytes']} MB: written at "
        f"{result['emit_lines_per_s']} lines/s, indexed at {result['ingest_lines_per_s']} lines/s "
        f"({result['ingest_over_emit']}x)"
    )
    typer.echo(
        f"search by request id p50 {result['search_request_id_ms_p50']} ms (scan of the files "
        f"{result['scan_request_id_ms_p50']} ms, {result['search_speedup_over_scan']}x); "
        f"text p50 {result['search_text_ms_p50']} ms"
    )
    typer.echo(f"patterns: {result['patterns_lines']} lines mined in {result['patterns_ms']} ms")


def bench_soak(
    duration: Annotated[str, typer.Option("--duration", help="how long: 20s, 30m, 72h, 7d")] = "30m",
    sample_s: Annotated[float, typer.Option("--sample-s", min=0.1, help="seconds between two samples")] = 10.0,
    out: Annotated[Path | None, typer.Option("--out", help="the time series, a JSON line per sample")] = Path(
        ".qcl/bench/soak.jsonl"
    ),
    api: Annotated[
        str | None, typer.Option("--api", help="soak this deployment's API instead of an embedded stack")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="its API key (else --key-file, QCL_API_KEY, a profile)")
    ] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="a file holding its API key")] = None,
    shards: Annotated[int, typer.Option("--shards", min=0, max=8, help="embedded: shard stages (0: no pool)")] = 2,
    model: Annotated[str, typer.Option("--model", help="embedded: the model the stack runs")] = "tiny-random-qwen2",
    speed: Annotated[float, typer.Option("--speed", min=0.1, help="embedded: replay speed of the capture")] = 10.0,
    kill: Annotated[
        bool, typer.Option("--kill/--no-kill", help="kill a shard stage every --kill-every (where a local pool runs)")
    ] = True,
    kill_every: Annotated[str, typer.Option("--kill-every", help="how often a stage is killed: 5m, 90s")] = "5m",
    readers: Annotated[int, typer.Option("--readers", min=0, help="users doing cached reads")] = 4,
    subscribers: Annotated[int, typer.Option("--subscribers", min=0, help="WebSocket subscribers")] = 10,
    leak_mib_per_h: Annotated[
        float, typer.Option("--leak-mib-per-h", min=0, help="RSS growth past which the run counts as leaking")
    ] = 20.0,
    as_json: JsonOpt = False,
) -> None:
    """Mixed load (reads, WebSockets, questions, jobs, oracle jobs, stage kills) for --duration; RSS, descriptors,
    threads, latency and errors sampled over time, and a leak detector. Exit 1 on an error or a leak."""
    from qcl.bench.soak import SoakPlan, run_soak
    from qcl.bench.soak_stats import LeakThresholds, parse_duration

    try:
        plan = SoakPlan(
            duration_s=parse_duration(duration, name="--duration"),
            sample_s=sample_s,
            readers=readers,
            subscribers=subscribers,
            kill_every_s=parse_duration(kill_every, name="--kill-every") if kill else None,
            thresholds=LeakThresholds(rss_mib_per_h=leak_mib_per_h),
        )
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    if api is None and (key is not None or key_file is not None):
        raise fail("--key/--key-file: give --api too (an embedded stack uses its own admin key)", 2)
    if api is not None and key is None:
        from qcl import remote

        key = remote.resolve(api, key_file).key
    result = run_soak(
        plan,
        api=api,
        key=key,
        shards=shards,
        model=model,
        speed=speed,
        out=out,
        progress=lambda line: typer.echo(line, err=True),
    )
    if as_json:
        print_json(result)
    else:
        process, leak = result["process"], result["leak"]
        typer.echo(
            f"{result['target']}: {result['duration_s']} s, {result['samples']} samples, "
            f"{result['requests']} requests, {result['errors']} errors"
        )
        typer.echo(
            f"rss {process['rss_mib_start']} -> {process['rss_mib_end']} MiB, fds {process['open_fds_start']} "
            f"-> {process['open_fds_end']}, threads {process['threads_start']} -> {process['threads_end']}"
        )
        for name, figure in leak["figures"].items():
            typer.echo(
                f"slope {name:<9} {figure['slope_per_h']} /h (threshold {figure['threshold_per_h']})"
                + ("  LEAK" if figure["leak"] else "")
            )
        for name, row in result["ops"].items():
            typer.echo(
                f"{name:<14} n {row['n']:>7}  p50 {row['p50_ms']} ms  p95 {row['p95_ms']} ms  "
                f"errors {row['error_kinds'] or 0}"
            )
    if out is not None:
        typer.echo(f"bench soak: wrote {out}", err=True)
    if result["errors"] or result["leak"]["leak"]:
        typer.echo(f"bench soak: {result['errors']} error(s); leak: {result['leak']['leak']}", err=True)
        raise typer.Exit(1)


def register(bench_app: typer.Typer) -> None:
    """Add every suite's command to `qcl bench`."""
    bench_app.command("all")(bench_all)
    bench_app.command("compare")(bench_compare)
    bench_app.command("pipeline")(bench_pipeline)
    bench_app.command("model")(bench_model)
    bench_app.command("api")(bench_api)
    bench_app.command("openai")(bench_openai)
    bench_app.command("oidc")(bench_oidc)
    bench_app.command("narrate")(bench_narrate)
    bench_app.command("oracle")(bench_oracle)
    bench_app.command("shard")(bench_shard)
    bench_app.command("workflows")(bench_workflows)
    bench_app.command("jobs")(bench_jobs)
    bench_app.command("autoscale")(bench_autoscale)
    bench_app.command("backup")(bench_backup)
    bench_app.command("logs")(bench_logs)
    bench_app.command("soak")(bench_soak)
