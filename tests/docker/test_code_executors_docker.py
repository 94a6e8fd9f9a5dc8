"""``DockerCommandLineCodeExecutor`` as AutoGen users write it, on a real engine.

work_dir's files reach the code and the code's files come back to work_dir; the container is
the locked-down sandbox (no network unless asked, read-only root, non-root, no capabilities);
``restart()`` gives a fresh container with work_dir copied in again; ``stop()`` removes it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from agent_streams import CancellationToken
from agent_streams.code_executor import CodeBlock
from agent_streams_executor.code_executors import DockerCommandLineCodeExecutor

pytestmark = pytest.mark.docker


def inspect(client: docker.DockerClient, name: str) -> dict[str, Any]:
    attrs: dict[str, Any] = client.api.inspect_container(name)
    return attrs


def gone(client: docker.DockerClient, name: str) -> bool:
    try:
        state = client.api.inspect_container(name)["State"]["Status"]
    except docker.errors.NotFound:
        return True
    return state in ("removing", "exited", "dead")  # AutoRemove may still be finishing


async def run(executor: DockerCommandLineCodeExecutor, code: str) -> Any:
    return await executor.execute_code_blocks([CodeBlock(code, "python")], CancellationToken())


async def test_work_dir_round_trip_in_a_locked_down_container(
    docker_engine: docker.DockerClient, sandbox_image: str, tmp_path: Path
) -> None:
    root = tmp_path.resolve()  # noqa: ASYNC240 - before anything runs
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.csv").write_text("a,b\n1,2\n")
    name = f"test-code-exec-{uuid.uuid4().hex[:8]}"
    code = (
        "# filename: job.py\n"
        "import os\n"
        "print(open('data/in.csv').read().splitlines()[1])\n"
        "os.makedirs('out', exist_ok=True)\n"
        "open('out/result.txt', 'w').write('3')\n"
    )
    async with DockerCommandLineCodeExecutor(
        sandbox_image, name, timeout=30, work_dir=tmp_path
    ) as executor:
        attrs = inspect(docker_engine, name)
        host = attrs["HostConfig"]
        assert host["NetworkMode"] == "none"
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        assert host["Binds"] in (None, [])  # no host path inside
        assert attrs["Config"]["User"] == "10001:10001"
        result = await run(executor, code)
        assert (result.exit_code, result.output) == (0, "1,2\n")
        assert result.code_file == str(root / "job.py")
        # a file changed on the host between runs reaches the next run
        (tmp_path / "data" / "in.csv").write_text("a,b\n5,6\n")
        again = await run(executor, "print(open('data/in.csv').read().splitlines()[1])")
        assert again.output == "5,6\n"
    assert (tmp_path / "out" / "result.txt").read_text() == "3"
    assert (tmp_path / "job.py").read_text() == code
    assert gone(docker_engine, name)


async def test_restart_is_a_fresh_container_with_work_dir_copied_in(
    docker_engine: docker.DockerClient, sandbox_image: str, tmp_path: Path
) -> None:
    (tmp_path / "kept.txt").write_text("kept")
    name = f"test-code-exec-{uuid.uuid4().hex[:8]}"
    executor = DockerCommandLineCodeExecutor(sandbox_image, name, timeout=30, work_dir=tmp_path)
    await executor.start()
    try:
        first = inspect(docker_engine, name)["Id"]
        await run(executor, "open('/tmp/scratch', 'w').write('x')")  # outside work_dir
        await executor.restart()
        assert inspect(docker_engine, name)["Id"] != first
        result = await run(
            executor, "import os; print(open('kept.txt').read(), os.path.exists('/tmp/scratch'))"
        )
        assert result.output == "kept False\n"
    finally:
        await executor.stop()
    assert gone(docker_engine, name)


async def test_network_is_only_given_when_asked(
    docker_engine: docker.DockerClient, sandbox_image: str, tmp_path: Path
) -> None:
    name = f"test-code-exec-{uuid.uuid4().hex[:8]}"
    async with DockerCommandLineCodeExecutor(sandbox_image, name, work_dir=tmp_path, network=True):
        assert inspect(docker_engine, name)["HostConfig"]["NetworkMode"] == "bridge"
    assert gone(docker_engine, name)


async def test_a_temporary_work_dir_goes_with_stop(
    docker_engine: docker.DockerClient, sandbox_image: str
) -> None:
    executor = DockerCommandLineCodeExecutor(sandbox_image, timeout=30)
    async with executor:
        work_dir = executor.work_dir
        result = await run(executor, "open('plot.png', 'wb').write(b'png')")
        assert result.exit_code == 0
        assert (work_dir / "plot.png").read_bytes() == b"png"
    assert not work_dir.exists()
    assert gone(docker_engine, executor.container_name)
