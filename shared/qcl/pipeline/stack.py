"""The local stack behind `qcl up`: bus, store, analyzer, narrator, a feeder (replayed capture or live RPC) and the
HTTP API (with its `api` consumer), in one process.

With `--bus pubsub` and no PUBSUB_EMULATOR_HOST, the stack starts the Pub/Sub emulator itself and stops it on exit.
The API serves on QCL_HOST:QCL_PORT with authentication on: on first start an admin key is created and written to
<state_dir>/admin.key (mode 0600); the stack prints that path and the URL, never the key, and a one-time login URL
that signs a browser in as admin (qcl.api.sessions).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from qcl.bus import Bus, Subscription, open_bus
from qcl.bus.base import close_all
from qcl.bus.emulator import PubSubEmulator, ensure_emulator
from qcl.config import Settings
from qcl.errors import QclError, SourceError, SourceExhaustedError
from qcl.events import AI_INSIGHTS, AI_REQUESTS, NETWORK_ANALYSIS, QUBIC_TICKS
from qcl.pipeline.analyzer import Analyzer
from qcl.pipeline.ingest import Ingestor
from qcl.qubic.capture import InvalidLine
from qcl.qubic.replay import pace
from qcl.qubic.source import ObservationSource, open_source
from qcl.qubic.types import Observation
from qcl.store import Store, open_store

log = logging.getLogger(__name__)


def stack_settings(settings: Settings) -> Settings:
    """The settings the stack runs on: a replay keeps its state under "<prefix>replay:" and clears it at start (the
    window and duplicate checks of an earlier run would otherwise see the capture's observations as already
    published). `qcl backup` reads the same namespace."""
    if settings.source != "replay":
        return settings
    return settings.model_copy(update={"redis_prefix": settings.redis_prefix + "replay:"})


@dataclass
class LocalStack:
    settings: Settings
    bus: Bus = field(init=False)
    store: Store = field(init=False)
    analyzer: Analyzer = field(init=False)
    ingestor: Ingestor = field(init=False)
    feed_done: threading.Event = field(default_factory=threading.Event)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _emulator: PubSubEmulator | None = None
    _subscriptions: list[Subscription] = field(default_factory=list)
    _feeder: threading.Thread | None = None
    narration: Any = None  # the narrator service (network-analysis, ai-requests -> ai-insights)
    narrator: Any = None  # its Narrator: the API answers questions with the same one, so one model serves both
    generation: Any = None  # the model runtime, when the stack runs one: /readyz and /api/ai/status report it
    oracle: Any = None  # the 4-member oracle committee: analysis reports -> attestations on oracle-results
    jobs: Any = None  # qcl.compute's worker pool: /api/jobs on the narrator's model
    autoscaler: Any = None  # under --shards N --autoscale M: the shard replica sets' (the worker processes' is `jobs`)
    _api: Any = None
    _api_ingest: Any = None
    workflows: Any = None  # the API's workflow executor: triggers, resumed executions, the examples deployed
    ops: Any = None  # qcl.obs.monitor's Prometheus and Alertmanager, under --ops
    log_collector: Any = None  # qcl.obs.logindex's: the processes' log files -> the searchable index

    def start(self) -> list[str]:
        """Start everything; returns one line per started piece, saying where it is."""
        lines = []
        if self.settings.jobs_autoscale and not self.settings.shards and self.settings.store != "redis":
            raise QclError(
                "--autoscale runs the job workers as processes that share the queue through the store: "
                "it needs --store redis (or --shards N, where it scales the shard pool's replica sets)"
            )
        if self.settings.bus == "pubsub":
            self._emulator, where = ensure_emulator()
            lines.append(f"pubsub   {where}")
        self.settings = stack_settings(self.settings)
        self.bus = open_bus(self.settings)
        self.store = open_store(self.settings)
        if self.settings.source == "replay":
            self.store.clear()
        project = f" (project {self.settings.project})" if self.bus.backend == "pubsub" else ""
        lines.append(f"bus      {self.bus.backend}{project}")
        redis_at = (
            f" ({self.settings.redis_url}, keys {self.settings.redis_prefix}*)" if self.store.backend == "redis" else ""
        )
        lines.append(f"store    {self.store.backend}{redis_at}")
        self.analyzer = Analyzer(self.bus, self.store, window_s=self.settings.window_s, name="//qcl/up/analyzer")
        self._subscriptions.append(self.bus.subscribe(QUBIC_TICKS, "analyzer", self.analyzer.handle))
        lines.append(f"analyzer {QUBIC_TICKS.subscription('analyzer')} -> {NETWORK_ANALYSIS.name}")
        lines.append(self._start_narrator())
        lines.append(self._start_jobs())
        lines += self._start_oracle()
        if self.settings.ops:
            self._prepare_ops()
        lines += self._start_api()
        if self.ops is not None:
            lines += self._start_ops()
        source = open_source(self.settings)
        self.ingestor = Ingestor(self.bus, self.store, name="//qcl/up/ingest")
        self._feeder = threading.Thread(target=self._feed, args=(source,), name="feeder", daemon=True)
        self._feeder.start()
        if self.settings.source == "rpc":
            lines.append(f"source   live RPC {self.settings.rpc_url}, every {self.settings.poll_interval_s:g} s")
        else:
            capture = self.settings.capture or "the bundled synthetic sample"
            lines.append(f"source   replay of {capture} at {self.settings.replay_speed:g}x")
        return lines

    def _start_narrator(self) -> str:
        from qcl.narrate.service import open_narrator
        from qcl.pipeline.narrator import NarratorService, policy_from

        load = None
        if self.settings.shards:  # QCL_MODEL split over N stage processes; closing the model stops them
            from qcl.shard.coordinator import open_local_sharded_model

            load = partial(
                open_local_sharded_model,
                self.settings,
                store=self.store,
                bus=self.bus,
                stages=self.settings.shards,
                replicas=self.settings.shard_replicas,
            )

        # Loads QCL_MODEL (on one process or a local shard pool), or says why it narrates from templates.
        self.narrator = open_narrator(self.settings, load=load)
        self.generation = getattr(self.narrator, "model", None)
        self.narration = NarratorService(
            self.bus,
            self.store,
            self.narrator,
            policy=policy_from(self.settings),
            name="//qcl/up/narrator",
            task_ttl_s=self.settings.retention_tasks_s,
        )
        self._subscriptions.extend(self.narration.subscribe())
        state = self.narrator.status()
        return (
            f"narrator {NETWORK_ANALYSIS.subscription('narrator')}, {AI_REQUESTS.subscription('narrator')} -> "
            f"{AI_INSIGHTS.name} ({state['model'] or 'templates'}"
            + (f" on {self.settings.shards} shard stages" if self.settings.shards and state["model"] else "")
            + (f": {state['reason']}" if state.get("reason") else "")
            + ")"
        )

    def _start_jobs(self) -> str:
        from qcl.compute.worker import start_workers

        workers = self.settings.jobs_workers
        local_pool = getattr(self.generation, "local_pool", None)
        if self.settings.jobs_autoscale and workers and local_pool is None:
            return self._start_autoscaled_jobs()
        # The narrator's generation service: its priority line puts interactive jobs before background narration.
        self.jobs = start_workers(self.settings, self.store, self.generation, name="//qcl/up/jobs")
        if self.jobs is None or self.generation is None:
            return "jobs     queued only: no model runs here" + ("" if workers else " (QCL_JOBS_WORKERS=0)")
        line = f"jobs     {workers} workers + 1 interactive lane on {self.generation.model_id} (/api/jobs)"
        if self.settings.jobs_autoscale and local_pool is not None:
            line += self._start_autoscaled_shards(local_pool)
        return line

    def _start_autoscaled_shards(self, local_pool: Any) -> str:
        """`--shards N --autoscale M`: the jobs' load adds and drains whole replica sets of the stage processes."""
        from qcl.compute.autoscale import Autoscaler, ScalingPolicy
        from qcl.compute.quotas import open_jobs
        from qcl.shard.replicas import ShardReplicas

        policy = ScalingPolicy(min_replicas=1, max_replicas=self.settings.jobs_autoscale)
        replicas = ShardReplicas(local_pool, self.generation.pool)
        self.autoscaler = Autoscaler(open_jobs(self.settings, self.store), replicas, policy).start()
        return f"; shard replica sets autoscaled 1..{self.settings.jobs_autoscale}"

    def _start_autoscaled_jobs(self) -> str:
        """`qcl jobs work` processes on the stack's store and model settings, sized to the queue's load."""
        from qcl.compute.autoscale import Autoscaler, ScalingPolicy, WorkerProcesses, worker_command
        from qcl.compute.quotas import open_jobs
        from qcl.config import as_environment
        from qcl.model.registry import model_cache_dir

        settings = self.settings
        names = [name for name in type(settings).model_fields if name.startswith(("model", "jobs_", "redis_"))]
        names += ["store", "quantization", "state_dir", "log_dir", "log_level", "retention_jobs_s"]
        env = {**os.environ, **as_environment(settings, names)}
        env.update(
            {
                "QCL_JOBS_AUTOSCALE": "0",
                "QCL_MODEL_CACHE_DIR": str(model_cache_dir(settings).resolve()),  # the stack's converted model
                "TOKENIZERS_PARALLELISM": "false",
            }
        )
        processes = WorkerProcesses(worker_command(settings.jobs_workers), env=env)
        policy = ScalingPolicy(min_replicas=1, max_replicas=settings.jobs_autoscale)
        self.jobs = Autoscaler(open_jobs(settings, self.store), processes, policy).start()
        return (
            f"jobs     autoscaled: 1..{settings.jobs_autoscale} `qcl jobs work` processes of "
            f"{settings.jobs_workers} workers (/api/jobs)"
        )

    def _start_oracle(self) -> list[str]:
        from qcl.oracle.service import OracleCommittee

        # Built after the store is cleared: a fresh store resets the members' job numbering with it.
        self.oracle = OracleCommittee(self.settings, self.bus, self.store)
        started: list[str] = self.oracle.start()
        return started

    def _start_api(self) -> list[str]:
        from qcl.api import ApiIngest, build_services, context, create_app, default_narrator
        from qcl.api.server import ApiServer

        settings = self.settings
        narrator = self.narrator or default_narrator(settings)  # the stack's own, when it runs one
        services = build_services(
            settings, store=self.store, bus=self.bus, narrator=narrator, generation=self.generation
        )
        services.nodes = self._node_control()
        services.logs = self._start_log_collector()
        app = create_app(services)  # first: it chains this process's audit lines, the admin key's creation included
        key_path, created = services.keys.ensure_admin_key(settings.state_dir)
        login = services.sessions.issue_login()
        try:
            self._api = ApiServer(app, settings.host, settings.port)
        except (OSError, SystemExit) as exc:  # Werkzeug reports a busy port by printing and exiting
            reason = "the port is in use or the address is not local" if isinstance(exc, SystemExit) else str(exc)
            raise QclError(f"cannot serve the API on {settings.host}:{settings.port}: {reason}; try --port") from None
        self._api_ingest = ApiIngest(services, context(app).broadcaster)
        self._api_ingest.start()
        self._api.start()
        url = self._api.url
        from qcl.workflows.service import deploy_folder

        self.workflows = services.workflows
        workflow_lines = self.workflows.start_background(self.bus) + deploy_folder(self.workflows, Path("workflows"))
        return [
            *workflow_lines,
            f"api      {url}  (docs {url}/api/docs, OpenAPI {url}/api/openapi.json; narration: "
            f"{services.narration_mode()})",
            f"admin key {'created in' if created else 'in'} {key_path} (mode 0600); "
            f'curl -H "Authorization: Bearer $(cat {key_path})" {url}/api/network/latest',
            f"open {url}/?login={login}  (signs this browser in as admin; good once, for "
            f"{settings.login_token_ttl_s / 60:g} min)",
        ] + ([f"openai   {url}/v1  (OpenAI-compatible: base_url={url}/v1, api_key=a key)"] if self.generation else [])

    def _node_control(self) -> Any:
        """The admin's node actions over this stack's shard pool (under --shards) and oracle committee."""
        from qcl.pipeline.node_control import NodeControl

        return NodeControl(
            shards=getattr(self.generation, "pool", None),
            local=getattr(self.generation, "local_pool", None),
            oracle=self.oracle,
        )

    def _start_log_collector(self) -> Any:
        """Index what every process of the stack writes under QCL_LOG_DIR, for /api/ops/logs (None without it)."""
        from qcl.obs.logindex import LogCollector, SqliteLogIndex

        log_dir = self.settings.log_dir
        if log_dir is None:
            return None
        index = SqliteLogIndex(log_dir / "index.sqlite3")
        self.log_collector = LogCollector(index, log_dir, retention_h=self.settings.log_retention_h).start()
        return index

    def _prepare_ops(self) -> None:
        from qcl.obs.monitor import OpsMonitor

        self.ops = OpsMonitor(
            self.settings.state_dir,
            rules=Path("ops/prometheus/alerts.yml"),
            routes=Path("ops/alertmanager/alertmanager.yml"),
            key_file=self.settings.state_dir / "admin.key",
            time_scale=self.settings.ops_time_scale,
        )
        # The API's silences talk to these two.
        urls = {"prometheus_url": self.ops.prometheus_url, "alertmanager_url": self.ops.alertmanager_url}
        self.settings = self.settings.model_copy(update=urls)

    def _start_ops(self) -> list[str]:
        api = self._api.url.removeprefix("http://")
        local_pool = getattr(self.generation, "local_pool", None)
        stages = [stage.metrics_address for stage in local_pool.processes] if local_pool is not None else []
        lines: list[str] = self.ops.start(self._api.url, {"qcl-api": [api], "qcl-shard": stages})
        return lines

    def _items(self, source: ObservationSource) -> Iterator[Observation | InvalidLine]:
        while not self._stopping.is_set():
            try:
                yield source.next()
            except SourceExhaustedError as exc:
                log.info("feeder: %s", exc)
                return
            except SourceError as exc:
                log.warning("feeder: source failed, retrying in %g s: %s", self.settings.poll_interval_s, exc)
                self._stopping.wait(self.settings.poll_interval_s)
                continue
            if self.settings.source == "rpc":
                self._stopping.wait(self.settings.poll_interval_s)

    def _feed(self, source: ObservationSource) -> None:
        speed = self.settings.replay_speed if self.settings.source == "replay" else 0
        try:
            for item in pace(self._items(source), speed, sleep=self._stopping.wait):
                if self._stopping.is_set():
                    break
                try:
                    self.ingestor.ingest(item)
                except Exception:
                    log.exception("feeder: could not publish an observation; it is skipped")
        finally:
            source.close()
            self.feed_done.set()

    def stop(self) -> None:
        self._stopping.set()
        if self.ops is not None:
            self.ops.stop()
        if self._api is not None:
            self._api.stop()  # graceful: in-flight requests finish, WebSocket clients are told to reconnect
        if self._api_ingest is not None:
            self._api_ingest.stop()
        if self._feeder is not None:
            self._feeder.join(timeout=10)
        if self.oracle is not None:
            self.oracle.stop()
        if self.autoscaler is not None:
            self.autoscaler.stop()
        if self.jobs is not None:
            self.jobs.stop()
        if self.workflows is not None:
            self.workflows.close()
        if self.log_collector is not None:
            self.log_collector.stop()
            self.log_collector.index.close()
        close_all(self._subscriptions)
        if self.narration is not None:
            self.narration.close()
        self.bus.close()
        self.store.close()
        if self._emulator is not None:
            self._emulator.stop()
