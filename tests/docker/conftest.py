"""Fixtures for the executor tests: both executors, a real Docker engine, and a leak check.

The Docker tests need an engine and the sandbox image (``make engine images``). Outside CI
they are skipped with that advice when either is missing; in CI (``CI=true``) they fail.
Every container these tests start carries the session's own namespace label; when the session
ends, none may be left (``docker_engine``'s teardown asserts it).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from agent_streams_executor.executors.containers import LABEL_SANDBOX
from agent_streams_executor.executors.docker import DockerExecutorPool
from agent_streams_executor.executors.local import LocalExecutorPool
from agent_streams_executor.executors.pool import ExecutorPool
from agent_streams_executor.executors.session import SandboxExecutor
from agent_streams_executor.settings import ExecutorSettings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SANDBOX_IMAGE = os.environ.get(
    "TEST_SANDBOX_IMAGE", os.environ.get("EXECUTOR_IMAGE", "agent-streams/sandbox:latest")
)

KINDS = [
    pytest.param("local", id="local"),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
]

MakePool = Callable[..., Awaitable[ExecutorPool]]


def unavailable(reason: str) -> None:
    """Fail in CI, skip (saying what to do) elsewhere: never a silent skip where it counts."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_namespace() -> str:
    return f"test-exec-{uuid.uuid4().hex[:10]}"


def _leftovers(client: docker.DockerClient, namespace: str) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"{LABEL_SANDBOX}={namespace}"}))


@pytest.fixture(scope="session")
def docker_engine(docker_namespace: str) -> Iterator[docker.DockerClient]:
    """A Docker client; at the end of the session, asserts no sandbox container was leaked."""
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:
        unavailable(f"no Docker engine answers ({exc}): start one (make engine)")
    try:
        client.images.get(SANDBOX_IMAGE)
    except docker.errors.ImageNotFound:
        client.close()
        unavailable(f"the sandbox image {SANDBOX_IMAGE} is missing: build it (make images)")
    yield client
    deadline = time.monotonic() + 15  # AutoRemove may still be finishing a removal
    while (left := _leftovers(client, docker_namespace)) and time.monotonic() < deadline:
        time.sleep(0.1)
    client.close()
    assert not left, f"leaked sandbox containers: {[c.short_id for c in left]}"


@pytest.fixture(scope="session")
def sandbox_image(docker_engine: docker.DockerClient) -> str:
    """The sandbox image, once the engine answered and has it."""
    return SANDBOX_IMAGE


def settings_for(tmp_path: Path, **overrides: Any) -> ExecutorSettings:
    values: dict[str, Any] = {
        "image": SANDBOX_IMAGE,
        "warm_spares": 0,
        "timeout_s": 20.0,
        "timeout_grace_s": 5.0,
        "local_root_dir": tmp_path / "local-executor",
    }
    return ExecutorSettings(**{**values, **overrides})


@pytest.fixture
async def make_pool(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakePool]:
    """``await make_pool(kind, **settings)``: a started pool, closed after the test."""
    pools: list[ExecutorPool] = []

    async def make(kind: str, **overrides: Any) -> ExecutorPool:
        settings = settings_for(tmp_path, **overrides)
        pool: ExecutorPool
        if kind == "docker":
            request.getfixturevalue("docker_engine")
            namespace = request.getfixturevalue("docker_namespace")
            pool = DockerExecutorPool(settings, namespace=namespace)
        else:
            pool = LocalExecutorPool(settings)
        await pool.start()
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.aclose()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    if value == "docker":
        request.getfixturevalue("docker_engine")
    return value


@pytest.fixture
async def executor(kind: str, make_pool: MakePool) -> SandboxExecutor:
    """One session's executor of each kind (started, so timings exclude the start)."""
    pool = await make_pool(kind)
    session = await pool.executor("session-1")
    await session.start()
    return session
