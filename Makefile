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

# $(call build_image,IMAGE,DOCKERFILE): classic build from the repository root with
# BASE_IMAGE=$(PYTHON_IMAGE); output in .build/logs/, its tail shown if the build fails.
define build_image
	@mkdir -p .build/logs; log=.build/logs/$(notdir $(2)).log; start=$$EPOCHREALTIME; \
	if ! docker build --build-arg BASE_IMAGE=$(PYTHON_IMAGE) -f $(2) -t $(1) . >"$$log" 2>&1; \
	then tail -n 40 "$$log"; echo "error: building $(1) failed, full log in $$log" >&2; exit 1; fi; \
	awk -v i="$(1)" -v s="$$(docker image inspect -f '{{.Size}}' $(1))" \
		-v a="$$start" -v b="$$EPOCHREALTIME" \
		'BEGIN { printf "built %-34s %6.1fs  %5.0f MB\n", i, b - a, s / 1e6 }'
endef

.PHONY: images base-images sandbox-image service-image
images: base-images sandbox-image service-image ## Build every image (offline base images first when no registry)

base-images: ## Build local/debian, local/python, local/redis if offline (OFFLINE=auto|1|0)
	@if [ "$(IS_OFFLINE)" = 1 ]; then deploy/offline-images.sh; \
	else echo "base images: official ($(PYTHON_IMAGE), $(REDIS_IMAGE))"; fi

sandbox-image: base-images ## Build agent-streams/sandbox (SANDBOX_IMAGE): where code runs
	$(call build_image,$(SANDBOX_IMAGE),deploy/sandbox.Dockerfile)

service-image: base-images ## Build agent-streams/service (SERVICE_IMAGE): assistant, executor, CLI
	$(call build_image,$(SERVICE_IMAGE),deploy/service.Dockerfile)

# ---------------------------------------------------------------------------------------------
# Quality
# ---------------------------------------------------------------------------------------------
# Tests get their own Redis via testcontainers from REDIS_IMAGE unless REDIS_URL is set;
# Ryuk (testcontainers' reaper) cannot be pulled offline, and docker_host mode makes it use
# localhost on machines that look like a container.
TEST_ENV = TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_CONNECTION_MODE=docker_host \
	TEST_REDIS_IMAGE=$(REDIS_IMAGE) TEST_SANDBOX_IMAGE=$(SANDBOX_IMAGE)
PYTEST_ARGS ?=

.PHONY: lint format test
lint: ## ruff check, ruff format --check, mypy --strict
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy

format: ## Apply ruff's fixes and formatting
	uv run ruff check --fix .
	uv run ruff format .

test: ## Run the test suite: uv run pytest (PYTEST_ARGS="-k x" to narrow)
	$(TEST_ENV) uv run pytest $(PYTEST_ARGS)

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
