"""Shared fixtures: a real Redis for every tier that needs one.

``REDIS_URL`` wins when set. Otherwise the tests start their own Redis: a testcontainers
container from ``TEST_REDIS_IMAGE`` (default ``local/redis:7``, built by ``make images``) when a
Docker engine answers, else a ``redis-server`` binary on a free port. With neither, the Redis
tests fail with a clear message (they never skip silently).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary and os.environ.get("TEST_REDIS_MODE") != "container":
        port = _free_port()
        workdir = tempfile.mkdtemp(prefix="agent-streams-redis-")
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                workdir,
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    proc.kill()
                    raise
                time.sleep(0.02)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
        return
    if _docker_answers():
        from testcontainers.community.redis import RedisContainer

        with RedisContainer(os.environ.get("TEST_REDIS_IMAGE", "local/redis:7")) as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        return
    pytest.fail(
        "the Redis tests need a real Redis: set REDIS_URL, install redis-server, "
        "or run a Docker engine (make engine images)"
    )


@pytest.fixture
def namespace() -> str:
    """A namespace of its own per test: tests never see each other's keys, never FLUSHALL."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_client(redis_url: str, namespace: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, protocol=2)
    yield client
    keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()
