# camunda-workers: the commands people type. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKERS := $(BIN)/workers
PORT ?= 8080
# The demo and the benchmark talk to this engine; the tests start their own
# (set CAMUNDA_URL in the environment to make them use a running one instead).
ENGINE_URL ?= http://localhost:$(PORT)/engine-rest

# ---------------------------------------------------------------- setup
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python sdk/pyproject.toml tooling/pyproject.toml requirements-dev.txt bench/requirements.txt
	$(BIN)/pip install -q -e 'sdk[compat]' -e tooling -r requirements-dev.txt
	touch $@

.PHONY: setup template-tags
setup: $(VENV)/.installed template-tags ## Create .venv with the SDK, the tooling and the test tools

# Copier reads template versions from vX.Y.Z tags; clones carry none (see CHANGELOG.md).
# Only the template commands need them: a copy without git history still sets up.
template-tags: $(VENV)/.installed ## Derive the template's vX.Y.Z tags from copier.yml's history
	@$(WORKERS) template-version --quiet || echo "make: no template tags (see above); only workers new/update/check-update need them"

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
.PHONY: bootstrap-demo bootstrap-test test-bare-machine
bootstrap-demo: ## Install what `make demo` needs and this machine lacks (Java 17, Maven, ...; says why)
	@scripts/bootstrap.sh demo

bootstrap-test: ## The same for `make test` (what .ci/run installs)
	@scripts/bootstrap.sh test

test-bare-machine: ## `make demo` from a clean clone on a bare Debian root filesystem (chroot; root; about 6 min)
	scripts/test-bare-machine.sh

demo: bootstrap-demo setup engine ## The main job: local engine + hello-world as a local process, instances completed
	$(WORKERS) demo --instances 20 --engine-url $(ENGINE_URL)

# ---------------------------------------------------------------- checks
.PHONY: lint typecheck test test-workers bench bench-replicas bench-replicas-postgres bench-autoscale
lint: setup ## ruff over all Python code
	$(BIN)/ruff check sdk tooling tests bench workers deploy

typecheck: setup ## mypy --strict over the SDK, the tooling, the benchmarks and the socket proxy
	$(BIN)/mypy sdk/src tooling/src bench deploy/monitoring/socket_proxy.py

test-workers: setup ## Each worker's own unit tests, run in its folder
	@set -e; for dir in workers/*/; do \
	  if [ -d "$$dir/tests" ]; then echo "== $$dir"; (cd "$$dir" && ../../$(BIN)/pytest -q -p no:cacheprovider); fi; \
	done

test: bootstrap-test setup lint typecheck engine-build test-workers ## Everything: lint, types, worker tests, SDK and tooling tests on real engines
	scripts/pytest-split.sh $(BIN)/pytest  # the Docker tests and the others at once

# BENCH_ARGS: more options, e.g. BENCH_ARGS="--variants camunda_workers,js_client --rounds 2"
ENGINE_PIDFILE := engine/.run/camunda-$(PORT).pid
bench: setup engine ## Benchmark against the official JS/Java clients on the local engine (bench/README.md)
	$(BIN)/python bench/throughput.py --engine-url $(ENGINE_URL) \
	  $$(test -f $(ENGINE_PIDFILE) && echo --engine-pid $$(cat $(ENGINE_PIDFILE))) $(BENCH_ARGS)

bench-replicas: setup engine ## K = 1, 4, 12, 24 replicas of one worker against one engine, ours and JS (bench/README.md)
	$(BIN)/python bench/replicas.py --engine-url $(ENGINE_URL) \
	  $$(test -f $(ENGINE_PIDFILE) && echo --engine-pid $$(cat $(ENGINE_PIDFILE))) $(BENCH_ARGS)

bench-replicas-postgres: setup engine-build ## The same on an engine on PostgreSQL (Debian's, started and removed by the run)
	$(BIN)/python bench/postgres_engine.py -- $(BIN)/python bench/replicas.py $(BENCH_ARGS)

bench-autoscale: setup ## A burst through the autoscaler on a real stack, plotted: docs/autoscale-burst.png (bench/README.md)
	$(BIN)/pytest tests/deploy/test_cluster_autoscale.py -s -q
	$(BIN)/python bench/autoscale_plot.py

# ---------------------------------------------------------------- workers and the stack
.PHONY: discover-workers list-workers schema generate-compose check-compose render-compose bench-compose
discover-workers: setup ## Find and validate every workers/*/worker.json (all problems at once)
	$(WORKERS) discover

list-workers: setup ## Table of the workers: name, port, topics, replicas, version, Dockerfile
	$(WORKERS) list

schema: setup ## Write workers/worker.schema.json (JSON Schema of worker.json, for editors)
	$(WORKERS) schema

# MONITORING=1 adds the monitoring services; PUBLISH_MONITORING=1 publishes Prometheus'
# port (9090, MONITORING_PORT) on its node, PUBLISH_MONITORING=0 stops publishing it.
# AUTOSCALE=1 adds the autoscaler (with the monitoring services), AUTOSCALE=0 removes it.
MONITORING_FLAGS = $(if $(MONITORING),--monitoring) \
  $(if $(filter 1,$(AUTOSCALE)),--autoscale) $(if $(filter 0,$(AUTOSCALE)),--no-autoscale) \
  $(if $(filter 1,$(PUBLISH_MONITORING)),--publish-monitoring) \
  $(if $(filter 0,$(PUBLISH_MONITORING)),--no-publish-monitoring)
generate-compose: setup ## Update the worker services in docker-compose.swarm.yml (MONITORING=1: add Prometheus)
	$(WORKERS) compose $(strip $(MONITORING_FLAGS))

render-compose: setup ## Render the stack of ENV (ENV=production) to .docker-compose.swarm.ENV.yml; the stack file stays
	@test -n "$(ENV)" || { echo "give the environment: make render-compose ENV=production"; exit 2; }
	$(WORKERS) compose --env $(ENV) --output .docker-compose.swarm.$(ENV).yml

bench-compose: setup ## Scale benchmark of discovery and compose, 100 to 2000 workers (bench/README.md)
	$(BIN)/python bench/compose_scale.py

check-compose: setup ## Fail (with a diff) if docker-compose.swarm.yml is behind the workers
	$(WORKERS) compose --check

# ---------------------------------------------------------------- template
.PHONY: new-worker update-workers check-update check-updates template-version
template-version: setup ## The template version, its tags, and whether a release step is missing
	$(WORKERS) template-version --check

new-worker: setup ## Create a worker from the template, answering its questions
	$(WORKERS) new --interactive

update-workers: setup ## Re-apply newer template versions to every worker (3-way merge)
	$(WORKERS) update --all

check-update: setup ## Which workers are behind the template (as `workers check-update`)
	$(WORKERS) check-update

check-updates: check-update # the earlier name, kept

# ---------------------------------------------------------------- images and Swarm
# BASE_IMAGE (default python:3.12-slim), REGISTRY (default local), STACK, ENVIRONMENT.
# With a REGISTRY, `make deploy` also builds the engine image from engine/ and pushes it
# (REGISTRY/camunda-engine:ENGINE_TAG; JRE_BASE_IMAGE for its base) unless ENGINE_IMAGE
# names one. DOCKER_HOST=ssh://user@manager deploys to a remote Swarm.
STACK ?= camunda-workers
ENGINE_TAG ?= camunda-7.24
ifneq ($(filter-out local,$(REGISTRY)),)
ifeq ($(ENGINE_IMAGE),)
ENGINE_IMAGE := $(REGISTRY)/camunda-engine:$(ENGINE_TAG)
BUILD_ENGINE_IMAGE := 1
endif
endif
export ENGINE_IMAGE
.PHONY: docker-up build-all-workers deploy-workers deploy worker-status monitoring-status prometheus-url engine-image
docker-up: ## Start a local Docker engine + single-node Swarm and build the base images
	scripts/docker-up.sh
	scripts/base-images.sh
	scripts/base-images.sh postgres

run-worker-%: setup ## Run one worker as a local process, reloading on changes: make run-worker-hello-world
	$(WORKERS) run $* --reload

build-all-workers: setup ## Build every worker image with the Docker SDK
	$(WORKERS) build --all

build-worker-%: setup ## Build one worker image: make build-worker-hello-world
	$(WORKERS) build $*

deploy-workers: setup ## Render the stack (not written back), build the images, docker stack deploy (MONITORING=1: with Prometheus; PUBLISH_MONITORING=1: its port published)
	$(WORKERS) deploy --stack $(STACK) $(if $(ENVIRONMENT),--env $(ENVIRONMENT)) $(strip $(MONITORING_FLAGS))

engine-image: ## Build the engine image from engine/ (local/camunda-engine:ENGINE_TAG; with REGISTRY=host:port pushed there)
	engine/engine.sh build camunda
	@set -e; image="$${ENGINE_IMAGE:-local/camunda-engine:$(ENGINE_TAG)}"; base="$${JRE_BASE_IMAGE:-}"; \
	if [ -z "$$base" ] && ! docker image inspect eclipse-temurin:17-jre >/dev/null 2>&1 \
	   && docker image inspect local/jre-base:bookworm >/dev/null 2>&1; then \
	  base=local/jre-base:bookworm; echo "JRE_BASE_IMAGE not set: building on $$base"; fi; \
	docker build -q $${base:+--build-arg JRE_BASE_IMAGE=$$base} -t "$$image" engine; \
	echo "built $$image"; \
	if [ -n "$(filter-out local,$(REGISTRY))" ]; then docker push -q "$$image"; fi

deploy: $(if $(BUILD_ENGINE_IMAGE),engine-image) deploy-workers ## deploy-workers, and with REGISTRY the engine image (ENVIRONMENT=production REGISTRY=host:port make deploy)

worker-status: setup ## Replicas, image, update state and last error per service
	$(WORKERS) status --stack $(STACK)

logs-worker-%: setup ## Logs of one worker's replicas: make logs-worker-hello-world
	$(WORKERS) logs $* --stack $(STACK)

monitoring-status: setup ## Each replica's /metrics (PROMETHEUS_URL=...: replicas, rates, backlog, alerts)
	$(WORKERS) monitoring-status --stack $(STACK) $(if $(PROMETHEUS_URL),--prometheus $(PROMETHEUS_URL))

prometheus-url: setup ## The stack's unpublished Prometheus, on the node that runs it (docs/production.md: Monitoring and ports)
	@$(WORKERS) prometheus-url --stack $(STACK)

# ---------------------------------------------------------------- the engine's database
.PHONY: db-backup db-restore db-upgrade
db-backup: ## pg_dump the stack's database to backups/ (FILE=... to choose), on the db node
	STACK=$(STACK) scripts/db.sh backup $(FILE)

db-restore: ## Restore FILE=... into the stack's database (the engine stops meanwhile)
	@test -n "$(FILE)" || { echo "give the dump: make db-restore FILE=backups/....dump" >&2; exit 2; }
	STACK=$(STACK) scripts/db.sh restore $(FILE)

db-upgrade: setup ## The new engine jar's SQL upgrade scripts on the stack's database (DRY_RUN=1: only list them)
	$(WORKERS) db-upgrade --stack $(STACK) --jar $(or $(JAR),engine/target/engine-camunda.jar) $(if $(DRY_RUN),--dry-run)

# ---------------------------------------------------------------- monitoring
PROMETHEUS_PORT ?= 9090
.PHONY: monitoring monitoring-stop test-rules
monitoring: setup ## Prometheus + backlog exporter next to `make demo` (local processes); prints the URL
	$(WORKERS) monitoring start --port $(PROMETHEUS_PORT) --engine-url $(ENGINE_URL)

monitoring-stop: setup ## Stop what `make monitoring` started
	$(WORKERS) monitoring stop

test-rules: ## promtool: check the config and the rules, run the rules' unit tests
	promtool check config deploy/monitoring/prometheus.yml
	promtool test rules deploy/monitoring/tests/*.test.yml

# ---------------------------------------------------------------- help
.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}'
