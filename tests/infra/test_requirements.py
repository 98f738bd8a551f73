"""The images' and functions' pinned requirements stay inside pyproject.toml's ranges, CPU builds carry no torch, and
the CPU lock (what the CPU images, the functions and `make setup` install, hash-checked) follows cpu.txt.

.venv/bin/pytest tests/infra/test_requirements.py
"""

from __future__ import annotations

import re
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


def _locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a pip-compile lock: each entry `name==version \\` then its `--hash=` lines."""
    entries: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for raw in path.read_text().splitlines():
        line = raw.strip().rstrip("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            entries[name][1].append(line.removeprefix("--hash="))
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{path.name}: '{line}' is not an exact pin"
        name = canonicalize_name(requirement.name)
        entries[name] = (specifier.version, [])
    return entries


def test_the_cpu_lock_pins_what_cpu_txt_pins_and_every_dependency_with_its_hashes() -> None:
    locked = _locked(REQUIREMENTS / "cpu.lock")
    pinned = _pins(REQUIREMENTS / "cpu.txt")
    stale = {name: (version, locked.get(name, ("missing",))[0]) for name, version in pinned.items()}
    assert {n: v for n, v in stale.items() if v[0] != v[1]} == {}, "cpu.txt changed: run `make lock`"
    assert len(locked) > len(pinned)  # the dependencies' dependencies too
    unhashed = [name for name, (_, hashes) in locked.items() if not hashes]
    assert unhashed == []
    hashes = [h for _, entry_hashes in locked.values() for h in entry_hashes]
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes)
    assert "torch" not in locked


def test_a_lock_entry_without_a_pin_is_refused(tmp_path: Path) -> None:
    loose = tmp_path / "loose.lock"
    loose.write_text("flask>=3 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(AssertionError, match="not an exact pin"):
        _locked(loose)
