# camunda-workers: the commands people type. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKERS := $(BIN)/workers
PORT ?= 8080
CAMUNDA_URL ?= http://localhost:$(PORT)/engine-rest
export CAMUNDA_URL

# ---------------------------------------------------------------- setup
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python sdk/pyproject.toml tooling/pyproject.toml requirements-dev.txt
	$(BIN)/pip install -q -e sdk -e tooling -r requirements-dev.txt
	touch $@

.PHONY: setup
setup: $(VENV)/.installed ## Create .venv with the SDK, the tooling and the test tools

# ---------------------------------------------------------------- engine
.PHONY: engine engine-stop engine-operaton
engine: ## Build (if needed) and start the local Camunda 7.24 engine on PORT (default 8080)
	PORT=$(PORT) engine/engine.sh start camunda

engine-operaton: ## The same engine built on Operaton
	PORT=$(PORT) engine/engine.sh start operaton

engine-stop: ## Stop the local engine(s)
	engine/engine.sh stop

.PHONY: engine-build
engine-build:
	engine/engine.sh build camunda
	engine/engine.sh build operaton

# ---------------------------------------------------------------- main job
.PHONY: demo
demo: setup engine ## The main job: local engine + hello-world as a local process, instances completed
	$(WORKERS) demo --instances 20

# ---------------------------------------------------------------- checks
.PHONY: lint typecheck test test-workers bench
lint: setup ## ruff over all Python code
	$(BIN)/ruff check sdk tooling tests bench workers

typecheck: setup ## mypy --strict over the SDK and the tooling
	$(BIN)/mypy sdk/src tooling/src

test-workers: setup ## Each worker's own unit tests, run in its folder
	@set -e; for dir in workers/*/; do \
	  if [ -d "$$dir/tests" ]; then echo "== $$dir"; (cd "$$dir" && ../../$(BIN)/pytest -q -p no:cacheprovider); fi; \
	done

test: setup lint typecheck engine-build test-workers ## Everything: lint, types, worker tests, SDK and tooling tests on real engines
	$(BIN)/pytest

bench: setup engine ## Throughput benchmark against the local engine (see bench/README.md)
	$(BIN)/python bench/throughput.py --engine-url $(CAMUNDA_URL)

# ---------------------------------------------------------------- help
.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}'
