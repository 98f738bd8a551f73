"""`qcl up --ops`: a real Prometheus and Alertmanager (Debian's `prometheus`, `prometheus-alertmanager`) watching
the local stack with the repository's rules, and Alertmanager posting to the API's webhook.

    monitor = OpsMonitor(state_dir, rules=Path("ops/prometheus/alerts.yml"),
                         routes=Path("ops/alertmanager/alertmanager.yml"), key_file=state_dir / "admin.key")
    monitor.start("http://127.0.0.1:8080", {"qcl-api": ["127.0.0.1:8080"], "qcl-shard": ["127.0.0.1:9101"]})

Everything it writes lies in <state_dir>/ops: prometheus.yml, alertmanager.yml, the rules, targets.json (file
discovery, so targets can change while it runs) and both data folders. Prometheus scrapes every second locally
(15 s is the production default); `time_scale` shortens each rule's `for:` and Alertmanager's waits by that factor
(0.05 turns "for: 1m" into 3 s) for demonstrations and tests — the rules and routes themselves are the repo's.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from qcl.bus.emulator import free_port
from qcl.errors import QclError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
_DURATION = re.compile(r"^(\d+)([smh])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600}


class OpsUnavailableError(QclError):
    pass


def scaled(duration: str, factor: float) -> str:
    """'5m' x 0.05 -> '15s' (whole seconds, at least 1)."""
    match = _DURATION.match(duration)
    if match is None:
        raise OpsUnavailableError(f"cannot scale duration {duration!r}: expected a number and s, m or h")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    return f"{max(1, round(seconds * factor))}s"


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise OpsUnavailableError(
        f"{names[0]} is not installed (Debian: apt-get install prometheus prometheus-alertmanager)"
    )


@dataclass
class OpsMonitor:
    state_dir: Path
    rules: Path
    routes: Path
    key_file: Path  # the bearer credential Prometheus scrapes /metrics with and Alertmanager posts alerts with
    time_scale: float = 1.0
    scrape_interval_s: int = 1
    folder: Path = field(init=False)
    api_url: str = field(init=False, default="")
    prometheus_port: int = field(default_factory=free_port)
    alertmanager_port: int = field(default_factory=free_port)
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # by name: its log is <name>.log

    def __post_init__(self) -> None:
        self.folder = (self.state_dir / "ops").resolve()
        for path in (self.rules, self.routes):
            if not path.is_file():
                raise OpsUnavailableError(f"{path} not found: run `qcl up --ops` from the repository's root")

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.alertmanager_port}"

    def start(self, api_url: str, targets: dict[str, list[str]]) -> list[str]:
        self.api_url = api_url
        prometheus, alertmanager = _binary("prometheus"), _binary("prometheus-alertmanager", "alertmanager")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.set_targets(targets)
        self._write_configs()
        self._spawn(
            "alertmanager",
            alertmanager,
            f"--config.file={self.folder / 'alertmanager.yml'}",
            f"--storage.path={self.folder / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{self.alertmanager_port}",
            "--cluster.listen-address=",  # one instance: no gossip port
        )
        self._spawn(
            "prometheus",
            prometheus,
            f"--config.file={self.folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.folder / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
            "--storage.tsdb.retention.time=2d",
        )
        self._wait_ready(f"{self.alertmanager_url}/-/ready")
        self._wait_ready(f"{self.prometheus_url}/-/ready")
        scraped = sum(map(len, targets.values()))
        return [
            f"ops      Prometheus {self.prometheus_url} ({scraped} targets, rules {self.rules})",
            f"ops      Alertmanager {self.alertmanager_url} -> {self.api_url}/api/ops/alerts",
        ]

    def set_targets(self, targets: dict[str, list[str]]) -> None:
        """Replace the scraped targets (Prometheus rereads the file within a few seconds)."""
        groups = [{"targets": addresses, "labels": {"job": job}} for job, addresses in targets.items() if addresses]
        written = self.folder / "targets.json.tmp"
        written.write_text(json.dumps(groups, indent=2))
        written.replace(self.folder / "targets.json")

    def stop(self) -> None:
        for process in self._processes.values():
            process.terminate()
        for process in self._processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()

    def _write_configs(self) -> None:
        rules = yaml.safe_load(self.rules.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = scaled(rule["for"], self.time_scale)
        (self.folder / "alerts.yml").write_text(yaml.safe_dump(rules, sort_keys=False, allow_unicode=True))
        interval = f"{self.scrape_interval_s}s"
        prometheus: dict[str, Any] = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
            "rule_files": ["alerts.yml"],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.alertmanager_port}"]}]}]},
            "scrape_configs": [
                {
                    "job_name": "qcl",  # each target group's `job` label names its service (qcl-api, qcl-shard)
                    "authorization": {"type": "Bearer", "credentials_file": str(self.key_file.resolve())},
                    "file_sd_configs": [{"files": [str(self.folder / "targets.json")], "refresh_interval": "1s"}],
                }
            ],
        }
        (self.folder / "prometheus.yml").write_text(yaml.safe_dump(prometheus, sort_keys=False))
        routes = yaml.safe_load(self.routes.read_text())
        route = routes["route"]
        for key in ("group_wait", "group_interval"):
            route[key] = scaled(route[key], self.time_scale)
        for receiver in routes["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                hook["url"] = f"{self.api_url}/api/ops/alerts"
                hook["http_config"] = {
                    "authorization": {"type": "Bearer", "credentials_file": str(self.key_file.resolve())}
                }
        (self.folder / "alertmanager.yml").write_text(yaml.safe_dump(routes, sort_keys=False))

    def _spawn(self, name: str, *command: str) -> None:
        with (self.folder / f"{name}.log").open("ab") as sink:
            self._processes[name] = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            exited = [name for name, process in self._processes.items() if process.poll() is not None]
            if exited:
                name, code = exited[0], self._processes[exited[0]].returncode
                last = (self.folder / f"{name}.log").read_text(errors="replace").strip().splitlines()[-1:]
                self.stop()
                raise OpsUnavailableError(
                    f"{name} exited with code {code} before {url} was ready: "
                    f"{last[0] if last else 'no output'} (logs in {self.folder})"
                )
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise OpsUnavailableError(f"{url} did not become ready in {START_TIMEOUT_S:.0f} s; logs in {self.folder}")
