# agent-streams/service: one image for every Python part of the system (assistant, executor,
# client CLI); compose picks the program with `command:` (agent-streams-assistant,
# agent-streams-executor, agent-streams ...). Build from the repository root:
#   docker build -f deploy/service.Dockerfile -t agent-streams/service:latest .
# BASE_IMAGE is the official python:3.11-slim; offline machines pass local/python:3.11-slim.
# Dependencies are installed from uv.lock (exact versions and hashes) when it is present, then
# the three workspace packages themselves, non-editable, as a non-root user's runtime.
ARG BASE_IMAGE=python:3.11-slim

# Stage 1: turn uv.lock into a pip requirements file (uv only reads the lock: no network).
FROM ${BASE_IMAGE} AS lock
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 UV_PYTHON_DOWNLOADS=never
RUN pip install "uv==0.13.9"
WORKDIR /src
COPY pyproject.toml uv.loc[k] ./
COPY shared/pyproject.toml shared/
COPY services/executor/pyproject.toml services/executor/
COPY services/assistant/pyproject.toml services/assistant/
RUN if [ -f uv.lock ]; then \
        uv export --frozen --no-default-groups --no-emit-workspace --no-header \
            --output-file /requirements.txt; \
    else \
        echo "# no uv.lock: pip resolves from the packages' metadata" >/requirements.txt; \
    fi

# Stage 2: the runtime image.
FROM ${BASE_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Third-party dependencies first: this layer changes only when the lock does.
COPY --from=lock /requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

# The containers' healthcheck (compose runs it): standard library only, so it costs ~30 ms of CPU.
COPY deploy/healthcheck.py /usr/local/bin/agent-streams-healthcheck

COPY shared /src/shared
COPY services /src/services
RUN pip install --no-deps /src/shared /src/services/executor /src/services/assistant \
    && rm -rf /src \
    && python -c "import agent_streams, agent_streams_executor, agent_streams_assistant"

# uid 10002: distinct from the sandbox user (10001). The executor talks to the Docker engine
# through the mounted socket: give it the socket's group with compose `group_add`.
RUN groupadd --gid 10002 app \
    && useradd --uid 10002 --gid 10002 --create-home --home-dir /home/app --shell /bin/sh app
USER app
WORKDIR /home/app
