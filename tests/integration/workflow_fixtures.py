"""What the workflow tests share: a store holding the bundled capture's observations, and a service over it."""

from __future__ import annotations

from pathlib import Path

import qcl.qubic
from qcl.analysis import analyze_window, check_consistency
from qcl.bus.base import Bus
from qcl.narrate.service import Narrator
from qcl.pipeline.analyzer import LATEST_KEY, WINDOW_KEY
from qcl.qubic.capture import read_capture
from qcl.qubic.types import Observation
from qcl.store.base import Store
from qcl.workflows import LocalConnectors, WorkflowService

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "workflows"
CAPTURE = Path(qcl.qubic.__file__).parent / "data" / "sample_capture.synthetic.jsonl"


def load_observations(store: Store, count: int = 240) -> list[Observation]:
    """The capture's last `count` observations in the analyzer's window, and the latest report (as the analyzer
    leaves them)."""
    observations: list[Observation] = []
    for item in read_capture(CAPTURE):
        if isinstance(item, Observation) and check_consistency(observations, item) is None:
            observations.append(item)
    observations = observations[-count:]
    for observation in observations:
        store.window_add(WINDOW_KEY, observation.observed_at.timestamp(), observation.to_json_line())
    store.put(LATEST_KEY, analyze_window(observations).model_dump_json())
    return observations


def make_service(store: Store, bus: Bus | None, **options: object) -> WorkflowService:
    """The service with the real connectors and a template-only narrator (no model)."""
    connectors = LocalConnectors(store=store, bus=bus, narrator=Narrator(None))
    return WorkflowService(store, connectors, **options)  # type: ignore[arg-type]


def example(name: str) -> str:
    return (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")
