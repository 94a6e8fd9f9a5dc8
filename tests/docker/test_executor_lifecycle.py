"""Sandbox lifecycle: one container per session, reused, reaped, and never leaked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from typing import Any

import docker
import pytest

from agent_streams import CancellationToken
from agent_streams_executor.executors.base import CodeBlock
from agent_streams_executor.executors.containers import LABEL_OWNER, LABEL_POOL, LABEL_SANDBOX
from agent_streams_executor.executors.docker import DockerExecutorPool

pytestmark = pytest.mark.docker

MakePool = Callable[..., Awaitable[DockerExecutorPool]]
HOSTNAME = "import socket; print(socket.gethostname(), open('/proc/1/stat').read().split()[21])"


def containers(client: docker.DockerClient, **labels: str) -> list[Any]:
    filters: dict[str, str | list[str] | bool] = {
        "label": [f"{key}={value}" for key, value in labels.items()]
    }
    return list(client.containers.list(all=True, filters=filters))


def wait_until_gone(client: docker.DockerClient, timeout_s: float, **labels: str) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while (left := containers(client, **labels)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


async def test_a_session_reuses_its_container(make_pool: MakePool) -> None:
    pool = await make_pool("docker")
    first = await pool.run("s", [CodeBlock(HOSTNAME)], CancellationToken())
    second = await pool.run("s", [CodeBlock(HOSTNAME)], CancellationToken())
    other = await pool.run("t", [CodeBlock(HOSTNAME)], CancellationToken())
    assert first.output == second.output  # same container: same PID 1 start time
    assert first.output != other.output
    assert sorted(pool.sessions) == ["s", "t"]


async def test_idle_sessions_are_reaped(
    make_pool: MakePool, docker_engine: docker.DockerClient
) -> None:
    pool = await make_pool("docker", idle_timeout_s=600)
    await pool.run("s", [CodeBlock("open('f', 'w')")], CancellationToken())
    pool_id = pool.containers.pool_id
    assert len(containers(docker_engine, **{LABEL_POOL: pool_id})) == 1
    assert await pool.reap_idle() == 0  # used just now
    executor = await pool.executor("s")
    executor.last_used -= 601  # ten minutes pass
    assert await pool.reap_idle() == 1
    assert pool.sessions == []
    assert wait_until_gone(docker_engine, 10, **{LABEL_POOL: pool_id}) == []
    again = await pool.run(
        "s", [CodeBlock("import os; print(os.path.exists('f'))")], CancellationToken()
    )
    assert again.output == "False\n"  # a fresh sandbox


async def test_past_max_sessions_the_least_recently_used_is_evicted(make_pool: MakePool) -> None:
    pool = await make_pool("docker", max_sessions=2)
    for session in ("a", "b", "a", "c"):
        await pool.run(session, [CodeBlock("pass")], CancellationToken())
    assert sorted(pool.sessions) == ["a", "c"]


async def test_a_spare_serves_a_new_session_at_once(
    make_pool: MakePool, docker_engine: docker.DockerClient, docker_namespace: str
) -> None:
    pool = await make_pool("docker", warm_spares=1)
    await pool.wait_for_spares()
    assert isinstance(pool, DockerExecutorPool)
    spare_id = pool._spares[0].container_id
    executor = await pool.executor("new")
    code = "import sys; print('pandas' in sys.modules); print(open('/proc/self/mountinfo').read())"
    result = await executor.execute_code_blocks([CodeBlock(code)], CancellationToken())
    assert result.exit_code == 0, result.output
    assert result.output.startswith("True\n")  # pre-imported by the warm runner: none paid
    assert spare_id in result.output  # it ran in the spare: no container start was waited for


async def test_orphans_are_removed_at_start(
    make_pool: MakePool, docker_engine: docker.DockerClient, docker_namespace: str
) -> None:
    # A never-started leftover, as a crash between create and start would leave.
    orphan = docker_engine.containers.create(
        "agent-streams/sandbox:latest",
        command=["true"],
        labels={LABEL_SANDBOX: docker_namespace, LABEL_OWNER: "elsewhere:1"},
    )
    # younger than the grace: it may be a sibling replica's spare being started, so it stays
    await make_pool("docker", warm_spares=0)
    assert docker_engine.containers.get(str(orphan.id)).status == "created"
    await make_pool("docker", warm_spares=0, orphan_grace_s=0)
    with pytest.raises(docker.errors.NotFound):
        docker_engine.containers.get(str(orphan.id))


def test_no_container_outlives_a_killed_executor(
    docker_engine: docker.DockerClient, docker_namespace: str, tmp_path: Any
) -> None:
    """SIGKILL the executor process mid-run: its sandbox goes away by itself."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        from agent_streams import CancellationToken
        from agent_streams_executor.executors.base import CodeBlock
        from agent_streams_executor.executors.docker import DockerExecutorPool
        from agent_streams_executor.settings import ExecutorSettings

        async def main():
            settings = ExecutorSettings(warm_spares=1)
            pool = DockerExecutorPool(settings, namespace={docker_namespace!r})
            await pool.start()
            executor = await pool.executor("doomed")
            await executor.start()
            print(pool.containers.pool_id, flush=True)
            await executor.execute_code_blocks([CodeBlock("import time; time.sleep(60)")],
                                               CancellationToken())

        asyncio.run(main())
    """)
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        pool_id = process.stdout.readline().strip()
        assert pool_id, "the executor process did not start"
        assert containers(docker_engine, **{LABEL_POOL: pool_id})
    finally:
        os.kill(process.pid, 9)
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]
    assert wait_until_gone(docker_engine, 20, **{LABEL_POOL: pool_id}) == []
