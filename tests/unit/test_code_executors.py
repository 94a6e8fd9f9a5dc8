"""The AutoGen-shaped executors: AutoGen's constructors, lifecycle and work_dir, refusals.

The local one runs for real here (a subprocess); the Docker one's runs are in
``tests/docker/test_code_executors_docker.py``, its constructor's refusals here (they need no
engine: nothing is started before ``start()``).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent_streams import CancellationToken
from agent_streams.code_executor import CodeBlock, CodeResult, OutputFile
from agent_streams_executor.code_executors import (
    CommandLineCodeResult,
    DockerCommandLineCodeExecutor,
    LocalCommandLineCodeExecutor,
)
from agent_streams_executor.code_executors.workdir import HostWorkDir
from agent_streams_executor.executors.base import CodeBlock as OldPathCodeBlock


def helper() -> int:
    return 1


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"functions": [helper]}, "functions"),
        ({"bind_dir": "/tmp"}, "bind_dir"),
        ({"extra_volumes": {"/": {"bind": "/host", "mode": "rw"}}}, "extra_volumes"),
        ({"extra_hosts": {"a": "1.2.3.4"}}, "extra_hosts"),
        ({"device_requests": [object()]}, "device_requests"),
        ({"init_command": "pip install x"}, "init_command"),
        ({"auto_remove": False}, "auto_remove=False"),
        ({"stop_container": False}, "stop_container=False"),
        ({"timeout": 0}, "Timeout must be greater than or equal to 1"),
        ({"functions_module": "not a module"}, "Module name must be a valid Python identifier"),
    ],
)
def test_docker_refuses_what_would_loosen_the_sandbox(kwargs: dict[str, Any], option: str) -> None:
    with pytest.raises(ValueError, match=option):
        DockerCommandLineCodeExecutor(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"functions": [helper]}, "functions"),
        ({"virtual_env_context": SimpleNamespace(bin_path="/x")}, "virtual_env_context"),
        ({"timeout": 0.5}, "Timeout must be greater than or equal to 1"),
    ],
)
def test_local_refuses_what_it_cannot_do(kwargs: dict[str, Any], option: str) -> None:
    with pytest.raises(ValueError, match=option):
        LocalCommandLineCodeExecutor(**kwargs)


def test_docker_takes_autogens_arguments_and_keeps_the_locks() -> None:
    executor = DockerCommandLineCodeExecutor(
        "some/image:tag", "my-container", timeout=5, work_dir="unused", delete_tmp_files=True
    )
    assert (executor.image, executor.container_name, executor.timeout) == (
        "some/image:tag",
        "my-container",
        5,
    )
    assert executor.work_dir == Path("unused")  # made by start(), not by the constructor
    assert not Path("unused").exists()


def test_network_is_off_unless_an_argument_or_the_operator_turns_it_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EXECUTOR_ALLOW_NETWORK", raising=False)
    assert DockerCommandLineCodeExecutor().network is False
    assert DockerCommandLineCodeExecutor(network=True).network is True
    monkeypatch.setenv("EXECUTOR_ALLOW_NETWORK", "true")
    assert DockerCommandLineCodeExecutor().network is True
    assert DockerCommandLineCodeExecutor(network=False).network is False


def test_the_result_types_are_autogens_shapes() -> None:
    assert CommandLineCodeResult is CodeResult
    assert OldPathCodeBlock is CodeBlock  # the old import path still works
    result = CodeResult(0, "out")
    assert (result.exit_code, result.output, result.code_file) == (0, "out", None)
    assert CodeBlock("print(1)").language == "python"


async def test_local_runs_in_work_dir_as_autogen(tmp_path: Path) -> None:
    work_dir = tmp_path / "coding"
    code = "from pathlib import Path\nPath('out.txt').write_text('hi')\nprint('made it')"
    async with LocalCommandLineCodeExecutor(work_dir=work_dir, timeout=10) as executor:
        assert executor.work_dir == work_dir
        result = await executor.execute_code_blocks(
            [CodeBlock(code, "python")], CancellationToken()
        )
        assert (result.exit_code, result.output) == (0, "made it\n")
        assert result.code_file is not None
        assert Path(result.code_file).parent == work_dir.resolve()
        bash = await executor.execute_code_blocks(
            [CodeBlock("cat out.txt", "bash")], CancellationToken()
        )
        assert bash.output == "hi"
    assert (work_dir / "out.txt").read_text() == "hi"
    # the code files are cleaned up (AutoGen's cleanup_temp_files=True); HOME and TMPDIR of the
    # code were private, not siblings of work_dir
    assert os.listdir(work_dir) == ["out.txt"]
    assert os.listdir(tmp_path) == ["coding"]


async def test_local_keeps_code_files_when_asked(tmp_path: Path) -> None:
    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path, cleanup_temp_files=False)
    await executor.start()
    try:
        result = await executor.execute_code_blocks([CodeBlock("print(1)")], CancellationToken())
    finally:
        await executor.stop()
    assert result.code_file is not None
    code_file = tmp_path / Path(result.code_file).name
    assert code_file.name.startswith("tmp_code_")
    assert code_file.read_text() == "print(1)"


async def test_local_default_work_dir_is_temporary(tmp_path: Path) -> None:
    executor = LocalCommandLineCodeExecutor(timeout=10)
    async with executor:
        work_dir = executor.work_dir
        await executor.execute_code_blocks(
            [CodeBlock("open('f', 'w').write('x')")], CancellationToken()
        )
        assert (work_dir / "f").read_text() == "x"
    assert not work_dir.exists()
    with pytest.raises(RuntimeError, match="temporary work_dir"):
        _ = executor.work_dir


async def test_local_restart_is_a_fresh_runner_with_the_files_kept(tmp_path: Path) -> None:
    # each block is forked by the runner (a fork server): its parent pid names the runner
    probe = "import os; print(os.getppid())"
    async with LocalCommandLineCodeExecutor(work_dir=tmp_path) as executor:
        before = await executor.execute_code_blocks([CodeBlock(probe)], CancellationToken())
        await executor.execute_code_blocks(
            [CodeBlock("open('kept', 'w').write('1')")], CancellationToken()
        )
        await executor.restart()
        after = await executor.execute_code_blocks([CodeBlock(probe)], CancellationToken())
        kept = await executor.execute_code_blocks(
            [CodeBlock("print(open('kept').read())")], CancellationToken()
        )
    assert before.output != after.output  # another runner process forked the block
    assert kept.output == "1\n"


async def test_no_blocks_is_an_error_as_in_autogen() -> None:
    async with LocalCommandLineCodeExecutor() as executor:
        with pytest.raises(ValueError, match="No code blocks"):
            await executor.execute_code_blocks([], CancellationToken())


def test_files_from_the_sandbox_stay_inside_work_dir(tmp_path: Path) -> None:
    """What the sandbox reports is not trusted: a name leaving work_dir, or a path through a
    symlink planted in work_dir, is not written (and is named in the result's notes)."""
    work, outside = tmp_path / "work", tmp_path / "outside"
    outside.mkdir()
    host = HostWorkDir(work)
    host.open()
    (work / "link").symlink_to(outside)

    def file(name: str) -> OutputFile:
        return OutputFile(name, 1, "0" * 64, b"x")

    reported = CodeResult(
        0,
        "",
        files=(file("../escape.txt"), file("/etc/evil"), file("link/evil"), file("ok/fine.txt")),
    )
    result = host.apply(reported, [], "/workspace", code=True)
    assert (work / "ok" / "fine.txt").read_bytes() == b"x"
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "escape.txt").exists()
    assert len(result.notes) == 3


def test_work_dir_files_reach_the_sandbox_once_and_within_caps(tmp_path: Path) -> None:
    host = HostWorkDir(tmp_path)
    host.open()
    (tmp_path / "small.txt").write_text("a")
    (tmp_path / "big.bin").write_bytes(b"b" * 100)
    (tmp_path / "link.txt").symlink_to(tmp_path / "small.txt")
    files, notes = host.pending(max_file_bytes=10, max_total_bytes=1000)
    assert files == {"small.txt": b"a"}  # symlinks are not followed
    assert len(notes) == 1
    assert notes[0].startswith("big.bin")
    assert host.pending(max_file_bytes=10, max_total_bytes=1000) == ({}, notes)  # only changes
    host.forget_sandbox()
    assert host.pending(max_file_bytes=10, max_total_bytes=1000)[0] == {"small.txt": b"a"}
