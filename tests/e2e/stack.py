"""Drive one compose project of the whole system: the e2e tests' stack and the system benchmark's.

``Stack`` wraps ``docker compose`` with a project name, a Redis namespace and an environment of
its own (nothing from the caller's shell or ``.env`` leaks in), with the scripted FAKE model
override (``compose.fake-model.yml``) on top of the production ``docker-compose.yml``; Redis is
published on a random 127.0.0.1 port and runs with the production ACL users, from passwords and
an ACL file made for this stack alone (``client()`` and the CLI connect as user ``client``; the
tests' own inspection uses the operator, ``settings()``). No pytest here: ``bench/system.py``
uses it too.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from agent_streams.acl import SERVICE_USERS, new_password, render_acl
from agent_streams.client import AgentStreamsClient
from agent_streams.streams.settings import RuntimeSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = (ROOT / "docker-compose.yml", Path(__file__).with_name("compose.fake-model.yml"))
SANDBOX_LABEL = "agent-streams.sandbox"
EXECUTORS = 3


def run(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run a command in the repository root; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:6])}... exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return done.stdout


def image_present(image: str) -> bool:
    """Whether the local engine has ``image``."""
    done = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return done.returncode == 0


def _redis_image() -> str:
    wanted = os.environ.get("TEST_REDIS_IMAGE")
    if wanted:
        return wanted
    return "redis:7" if image_present("redis:7") else "local/redis:7"


@dataclass
class Stack:
    """One compose project of the system (see the module docstring); ``create`` makes one."""

    project: str
    namespace: str
    env: dict[str, str]
    env_file: Path
    passwords: dict[str, str]

    @classmethod
    def create(cls, prefix: str, **settings: str) -> Stack:
        """A new project ``<prefix><hex>`` with namespace ``<prefix>-<hex>`` (not started).

        ``settings`` are extra compose variables (``EXECUTOR_WARM_SPARES="4"``...).
        """
        suffix = uuid.uuid4().hex[:8]
        namespace = f"{prefix}-{suffix}"
        # An empty env file: a developer's .env must not change the stack.
        env_file = Path(tempfile.mkdtemp(prefix=f"{prefix}-")) / "empty.env"
        env_file.write_text("")
        # Redis ACL users, as `make redis-passwords redis-acl` makes them, for this stack only
        passwords = {user: new_password() for user in (*SERVICE_USERS, "default")}
        acl_file = env_file.with_name("users.acl")
        acl_file.write_text(render_acl(namespace, passwords))
        acl_file.chmod(0o644)  # the Redis container's user reads the bind mount
        env = stack_env(namespace, **settings)
        env["REDIS_ACL_FILE"] = str(acl_file)
        for user in SERVICE_USERS:
            env[f"REDIS_{user.upper()}_PASSWORD"] = passwords[user]
        return cls(f"{prefix}{suffix}", namespace, env, env_file, passwords)

    def missing_images(self) -> list[str]:
        names = ("SERVICE_IMAGE", "SANDBOX_IMAGE", "REDIS_IMAGE")
        return [self.env[n] for n in names if not image_present(self.env[n])]

    def compose(self, *args: str, timeout: float = 300) -> str:
        files = [arg for path in COMPOSE_FILES for arg in ("-f", str(path))]
        command = ["docker", "compose", "--project-name", self.project]
        command += ["--env-file", str(self.env_file), *files, *args]
        return run(command, env=self.env, timeout=timeout)

    def up(self, executors: int = EXECUTORS) -> None:
        """Start (or complete) the stack; returns when every container is healthy."""
        self.compose(
            "up", "--detach", "--no-build", "--wait", "--wait-timeout", "180",
            "--scale", f"executor={executors}",
        )  # fmt: skip

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "--quiet", service).split()

    def url(self, user: str = "default") -> str:
        """Redis on its published port, as ``user`` (``default``: the operator, every command)."""
        address = self.compose("port", "redis", "6379").strip()
        return f"redis://{user}:{self.passwords[user]}@{address}/0"

    @property
    def redis_url(self) -> str:
        """The operator's URL: the tests' own inspection (XPENDING, counters, raw entries)."""
        return self.url("default")

    def settings(self, user: str = "default") -> RuntimeSettings:
        return RuntimeSettings(redis_url=self.url(user), namespace=self.namespace)

    def client(self) -> AgentStreamsClient:
        """The client API as a user has it: Redis ACL user ``client``."""
        return AgentStreamsClient(self.settings("client"))

    def cli_env(self) -> dict[str, str]:
        """The CLI's environment, as user ``client``."""
        return {
            **self.env,
            "AGENT_STREAMS_REDIS_URL": self.url("client"),
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
        """Ids of the sandbox containers of this stack's namespace."""
        label = f"label={SANDBOX_LABEL}={self.namespace}"
        return run(["docker", "ps", "--all", "--quiet", "--filter", label]).split()

    def destroy(self) -> list[str]:
        """``down --volumes``, then remove sandboxes left behind; returns their ids (leaks).

        Executors remove their sandboxes when they stop, and a killed executor's go by
        themselves (AutoRemove once the runner loses its stdin): those get a moment first.
        """
        try:
            self.compose("down", "--volumes", "--remove-orphans", "--timeout", "30", timeout=180)
        finally:
            deadline = time.monotonic() + 15
            while self.sandboxes() and time.monotonic() < deadline:
                time.sleep(0.5)
            leaked = self.sandboxes()
            if leaked:
                subprocess.run(["docker", "rm", "--force", *leaked], capture_output=True)
            self.env_file.unlink(missing_ok=True)
            self.env_file.with_name("users.acl").unlink(missing_ok=True)
            self.env_file.parent.rmdir()
        return leaked


def stack_env(namespace: str, **overrides: str) -> dict[str, str]:
    """The compose environment: this process's, minus the project's own variables, plus the
    images (``TEST_*_IMAGE``), a random Redis port, short take-over times, and ``overrides``."""
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
            **overrides,
        }
    )
    return env
