"""The images' and functions' pinned requirements stay inside pyproject.toml's ranges, and CPU builds carry no torch.

.venv/bin/pytest tests/infra/test_requirements.py
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.infra.hcl import ROOT

REQUIREMENTS = ROOT / "containers" / "requirements"
MODEL_STACK = {"torch", "transformers", "gguf", "safetensors", "accelerate"}


def _pins(path: Path) -> dict[str, str]:
    """name -> exact version, following `-r` includes; fails on anything that is not `name==version`."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            pins.update(_pins(path.parent / line[3:].strip()))
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{path.name}: '{line}' is not an exact pin"
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(d).name): Requirement(d) for d in project["dependencies"]}


@pytest.mark.parametrize("lock", ["cpu.txt", "gpu.txt"])
def test_every_pin_satisfies_the_range_pyproject_declares(lock: str) -> None:
    declared = _declared()
    for name, version in _pins(REQUIREMENTS / lock).items():
        assert name in declared, f"{lock}: {name} is not a dependency in pyproject.toml"
        assert declared[name].specifier.contains(version), f"{lock}: {name}=={version} is outside {declared[name]}"


def test_cpu_pins_cover_every_runtime_dependency_but_the_model_stack() -> None:
    assert set(_pins(REQUIREMENTS / "cpu.txt")) == set(_declared()) - MODEL_STACK


def test_gpu_pins_cover_every_runtime_dependency() -> None:
    assert set(_pins(REQUIREMENTS / "gpu.txt")) == set(_declared())


def test_a_range_pin_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / "loose.txt"
    loose.write_text("flask>=3\n")
    with pytest.raises(AssertionError, match="not an exact pin"):
        _pins(loose)
