"""The whole system under test: docker-compose.yml on the real Docker engine.

One stack per test session, under a project name and a Redis namespace of its own
(``ase2e<hex>``), with the scripted FAKE model (``compose.fake-model.yml``) in place of the
embedded one so that runs are deterministic and take no model time; everything else is the
production compose file and images: Redis with its AOF volume, the Assistant, three Executor
replicas starting real sandbox containers. Redis is published on a random 127.0.0.1 port.

Teardown: ``down --volumes``, then every sandbox container of the namespace is looked for (the
executors remove their own; one found here is a leak: removed, and reported as an error).

Images: ``TEST_SERVICE_IMAGE``, ``TEST_SANDBOX_IMAGE``, ``TEST_REDIS_IMAGE`` (``make test`` passes
the ones ``make images`` built). Without Docker, compose or the images the tests skip on a
developer's machine and FAIL under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_streams.client import AgentStreamsClient
from agent_streams.streams.settings import RuntimeSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = (ROOT / "docker-compose.yml", Path(__file__).with_name("compose.fake-model.yml"))
SANDBOX_LABEL = "agent-streams.sandbox"
EXECUTORS = 3


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the e2e stack cannot run: {reason}", pytrace=False)
    pytest.skip(f"e2e stack unavailable: {reason}")


def _run(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:6])}... exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return done.stdout


def _image_present(image: str) -> bool:
    done = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return done.returncode == 0


def _redis_image() -> str:
    wanted = os.environ.get("TEST_REDIS_IMAGE")
    if wanted:
        return wanted
    return "redis:7" if _image_present("redis:7") else "local/redis:7"


@dataclass
class Stack:
    """A running compose project and the commands the tests need on it."""

    project: str
    namespace: str
    env: dict[str, str]
    env_file: Path

    def compose(self, *args: str, timeout: float = 300) -> str:
        files = [arg for path in COMPOSE_FILES for arg in ("-f", str(path))]
        command = ["docker", "compose", "--project-name", self.project]
        command += ["--env-file", str(self.env_file), *files, *args]
        return _run(
            command,
            env=self.env,
            timeout=timeout,
        )

    def up(self, executors: int = EXECUTORS) -> None:
        """Start (or complete) the stack; returns when every container is healthy."""
        self.compose(
            "up", "--detach", "--no-build", "--wait", "--wait-timeout", "180",
            "--scale", f"executor={executors}",
        )  # fmt: skip

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "--quiet", service).split()

    @property
    def redis_url(self) -> str:
        address = self.compose("port", "redis", "6379").strip()
        return f"redis://{address}/0"

    def settings(self) -> RuntimeSettings:
        return RuntimeSettings(redis_url=self.redis_url, namespace=self.namespace)

    def client(self) -> AgentStreamsClient:
        return AgentStreamsClient(self.settings())

    def cli_env(self) -> dict[str, str]:
        return {
            **self.env,
            "AGENT_STREAMS_REDIS_URL": self.redis_url,
            "AGENT_STREAMS_NAMESPACE": self.namespace,
        }

    def handled_code_messages(self, container: str) -> int:
        """How many code requests one executor container handled (its canonical log lines)."""
        done = subprocess.run(
            ["docker", "logs", container], capture_output=True, text=True, timeout=60, check=True
        )
        count = 0
        for line in (done.stdout + done.stderr).splitlines():
            if '"handled"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            stream, agent = str(entry.get("stream", "")), str(entry.get("agent", ""))
            if (
                entry.get("event") == "handled"
                and stream.endswith(":topic:code")
                and agent.startswith("executor/")  # not the canceller's group
            ):
                count += 1
        return count

    def sandboxes(self) -> list[str]:
        label = f"label={SANDBOX_LABEL}={self.namespace}"
        return _run(["docker", "ps", "--all", "--quiet", "--filter", label]).split()


def _stack_env(project: str, namespace: str) -> dict[str, str]:
    socket_path = os.environ.get("DOCKER_SOCKET", "/var/run/docker.sock")
    env = {
        name: value
        for name, value in os.environ.items()
        # the stack's settings come from here only, never from the developer's shell
        if not name.startswith(("AGENT_STREAMS_", "EXECUTOR_", "OPENAI_", "COMPOSE_"))
    }
    env.update(
        {
            "SERVICE_IMAGE": os.environ.get("TEST_SERVICE_IMAGE", "agent-streams/service:latest"),
            "SANDBOX_IMAGE": os.environ.get("TEST_SANDBOX_IMAGE", "agent-streams/sandbox:latest"),
            "REDIS_IMAGE": _redis_image(),
            "DOCKER_SOCKET": socket_path,
            "DOCKER_GID": str(os.stat(socket_path).st_gid),
            "REDIS_PORT": "",  # a random free 127.0.0.1 port
            "LLM_PORT": "",
            "AGENT_STREAMS_NAMESPACE": namespace,
            # a killed executor's entries are taken over after 6 s (production: 30 s)
            "AGENT_STREAMS_CLAIM_IDLE_MS": "6000",
            "AGENT_STREAMS_HEARTBEAT_MS": "1500",
            "AGENT_STREAMS_DRAIN_GRACE_S": "15",
            "STOP_GRACE_PERIOD": "25s",
            "EXECUTOR_WARM_SPARES": "1",
            "EXECUTOR_IDLE_TIMEOUT_S": "300",
        }
    )
    return env


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("docker") is None:
        _unavailable("no docker CLI")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        _unavailable("no Docker engine answers (make engine)")
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        _unavailable("no docker compose plugin (make engine)")
    suffix = uuid.uuid4().hex[:8]
    project, namespace = f"ase2e{suffix}", f"e2e-{suffix}"
    env = _stack_env(project, namespace)
    missing = [
        env[name]
        for name in ("SERVICE_IMAGE", "SANDBOX_IMAGE", "REDIS_IMAGE")
        if not _image_present(env[name])
    ]
    if missing:
        _unavailable(f"images missing: {', '.join(missing)} (make images)")
    # An empty env file: a developer's .env must not change the stack under test.
    env_file = tmp_path_factory.mktemp("e2e") / "empty.env"
    env_file.write_text("")
    stack = Stack(project, namespace, env, env_file)
    try:
        stack.up()
        yield stack
    finally:
        _teardown(stack)


def _teardown(stack: Stack) -> None:
    try:
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "30", timeout=180)
    finally:
        # Executors remove their sandboxes when they stop, and a killed one's go by themselves
        # (AutoRemove once the runner loses its stdin): give those a moment, then sweep.
        deadline = time.monotonic() + 15
        while stack.sandboxes() and time.monotonic() < deadline:
            time.sleep(0.5)
        leaked = stack.sandboxes()
        if leaked:
            subprocess.run(["docker", "rm", "--force", *leaked], capture_output=True)
            pytest.fail(f"{len(leaked)} sandbox container(s) leaked by the stack", pytrace=False)
