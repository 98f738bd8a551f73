"""The CPU entry points import with no model stack installed, as they run from containers/requirements/cpu.txt.

Each entry point is imported in a fresh interpreter where `import torch` (and transformers) fails.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.infra.hcl import ROOT

# Entry points built on the CPU requirements: the Cloud Functions and the CPU Cloud Run images.
CPU_ENTRY_POINTS = [
    "functions/ingest/main.py",
    "functions/api/main.py",
    "containers/analyzer/main.py",
    "containers/api/main.py",
    "containers/oracle/main.py",
]

_IMPORT_WITHOUT_TORCH = """
import importlib.util, sys
for blocked in ("torch", "transformers", "gguf", "safetensors"):
    sys.modules[blocked] = None  # `import torch` now raises ImportError
spec = importlib.util.spec_from_file_location("entry", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""


@pytest.mark.parametrize("entry", CPU_ENTRY_POINTS)
def test_cpu_entry_point_imports_without_the_model_stack(entry: str) -> None:
    path = ROOT / entry
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_WITHOUT_TORCH, str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{entry} needs a package the CPU image lacks:\n{result.stderr[-2000:]}"
