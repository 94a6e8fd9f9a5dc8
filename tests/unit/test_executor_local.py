"""The local executor's own promises: a scrubbed environment, rlimits, sys.executable, a loud
warning, and the runner's pieces (output capping, work-dir snapshots, confined paths).

The behaviours it shares with the Docker executor are tested on both in tests/docker/.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_streams import CancellationToken
from agent_streams_executor.executors.base import CodeBlock, filename_problem, parse_filename
from agent_streams_executor.executors.channel import RunLimits
from agent_streams_executor.executors.local import (
    LocalSandboxExecutor,
    scrubbed_environment,
    session_dir_name,
)
from agent_streams_executor.executors.runner import Capped
from agent_streams_executor.executors.session import WorkdirState, WorkdirWriter
from agent_streams_executor.executors.workspace import (
    changed,
    collect,
    inside,
    remove_file,
    removed,
    snapshot,
)


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalSandboxExecutor]:
    limits = RunLimits(rlimits={"as": 2048 * 2**20, "fsize": 2**20, "nofile": 256, "core": 0})
    executor = LocalSandboxExecutor(tmp_path / "work", timeout_s=10, limits=limits)
    yield executor
    await executor.stop()


async def run(executor: LocalSandboxExecutor, code: str, language: str = "python") -> str:
    result = await executor.execute_code_blocks([CodeBlock(code, language)], CancellationToken())
    return result.output


async def test_the_code_never_sees_the_service_secrets(
    local: LocalSandboxExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary")
    monkeypatch.setenv("AGENT_STREAMS_REDIS_URL", "redis://user:canary@127.0.0.1/0")
    monkeypatch.setenv("SOME_FUTURE_SECRET", "canary")
    output = await run(local, "import os\nprint(sorted(os.environ))\nprint(os.environ.values())")
    assert "canary" not in output
    assert "OPENAI_API_KEY" not in output
    names = eval(output.splitlines()[0])
    assert set(names) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "LC_CTYPE",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "MPLBACKEND",
        "MPLCONFIGDIR",
    }


def test_only_allowlisted_names_are_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary")
    env = scrubbed_environment(tmp_path, tmp_path, allowlist=["TZ", "OPENAI_API_KEY_NOT_SET"])
    assert env["TZ"] == "UTC"
    assert "OPENAI_API_KEY" not in env
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)


async def test_python_in_a_shell_block_is_the_executors_interpreter(
    local: LocalSandboxExecutor,
) -> None:
    output = await run(local, 'python -c "import sys; print(sys.executable)"', "bash")
    assert output.strip() == sys.executable


async def test_rlimits_apply_to_the_code(local: LocalSandboxExecutor) -> None:
    code = (
        "import resource as r\n"
        "for name in ('AS', 'FSIZE', 'NOFILE', 'CORE', 'CPU'):\n"
        "    print(name, r.getrlimit(getattr(r, 'RLIMIT_' + name))[0])\n"
    )
    limits = dict(line.split() for line in (await run(local, code)).splitlines())
    assert limits == {
        "AS": str(2048 * 2**20),
        "FSIZE": str(2**20),
        "NOFILE": "256",
        "CORE": "0",
        "CPU": "11",
    }


async def test_a_file_over_the_size_limit_fails_clearly(
    local: LocalSandboxExecutor,
) -> None:
    output = await run(local, "open('big', 'wb').write(b'x' * (2 * 2**20))")
    assert "File too large" in output


async def test_a_memory_bomb_is_a_memory_error(local: LocalSandboxExecutor) -> None:
    output = await run(local, "x = bytearray(4 * 2**30)")
    assert "MemoryError" in output
    assert await run(local, "print('still serving')") == "still serving\n"


async def test_it_says_loudly_that_it_is_not_a_sandbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        LocalSandboxExecutor(tmp_path / "work")
    assert "NOT a sandbox" in caplog.text


def test_session_dir_names_are_safe_and_distinct() -> None:
    assert session_dir_name("../../etc") != session_dir_name("______etc")
    assert "/" not in session_dir_name("a/b/../c")
    assert not session_dir_name("..").startswith(".")


# -- the runner's pieces ----------------------------------------------------------------------


def test_capped_keeps_everything_under_the_cap() -> None:
    capped = Capped(10)
    capped.add(b"12345")
    capped.add(b"67890")
    assert capped.text() == "1234567890"


def test_capped_keeps_head_and_tail_and_says_what_it_cut() -> None:
    capped = Capped(10)
    for _ in range(100):
        capped.add(b"abcdefghij")
    text = capped.text()
    assert text.startswith("abcde")
    assert text.endswith("fghij")
    assert "[... 990 bytes cut: output is capped at 10 bytes ...]" in text


def test_snapshot_and_changed_files(tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_text("same")
    (tmp_path / "sub").mkdir()
    before, truncated = snapshot(str(tmp_path), 100)
    assert not truncated
    (tmp_path / "sub" / "new.csv").write_text("a,b")
    (tmp_path / "link").symlink_to("/etc/passwd")
    after, _ = snapshot(str(tmp_path), 100)
    assert changed(before, after, skip=set()) == ["sub/new.csv"]  # never a symlink


def test_collect_reports_over_cap_files_with_their_digest(tmp_path: Path) -> None:
    (tmp_path / "small").write_bytes(b"x" * 10)
    (tmp_path / "large").write_bytes(b"y" * 100)
    limits = {"max_files": 10, "max_file_bytes": 50, "max_run_bytes": 1000}
    files, notes = collect(str(tmp_path), ["large", "small"], limits)
    large, small = files
    assert (large["data"], large["size"]) == (None, 100)
    assert len(large["sha256"]) == 64
    assert "file cap" in large["note"]
    assert small["data"] == "eHh4eHh4eHh4eA=="
    assert notes == []


def test_paths_are_confined_to_the_work_dir(tmp_path: Path) -> None:
    (tmp_path / "out").symlink_to("/tmp")
    assert inside(str(tmp_path), "a/b.py") == str(tmp_path / "a" / "b.py")
    assert inside(str(tmp_path), "../x.py") is None
    assert inside(str(tmp_path), "out/x.py") is None
    assert filename_problem("/etc/x") == "it is an absolute path"
    assert filename_problem("a/../../x") == "it leaves the work dir (..)"
    assert filename_problem("ok/x.py") is None


def test_removed_lists_deleted_files_within_a_byte_budget() -> None:
    before = {"a": (1, 1), "b/c": (1, 1), "d": (1, 1)}
    assert removed(before, {"d": (2, 2)}, 100) == (["a", "b/c"], True)
    assert removed(before, {}, 6) == (["a"], False)


def test_remove_file_deletes_a_link_not_its_target_and_stays_inside(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "f.txt").write_text("x")
    (work / "link").symlink_to(outside)
    (work / "out").symlink_to(tmp_path)
    assert remove_file(str(work), "sub/f.txt") is True
    assert remove_file(str(work), "sub/never-there") is True
    assert remove_file(str(work), "link") is True
    assert remove_file(str(work), "out/outside.txt") is False  # through a link, outside
    assert remove_file(str(work), "../outside.txt") is False
    assert not (work / "sub" / "f.txt").exists()
    assert not (work / "link").is_symlink()
    assert outside.read_text() == "keep"


async def test_runs_report_deletions_and_writes_reach_subdirectories(
    local: LocalSandboxExecutor,
) -> None:
    await run(local, "open('a.txt', 'w').write('a')\nopen('b.txt', 'w').write('b')")
    code = CodeBlock("# filename: tool.py\nimport os\nos.remove('a.txt')")
    result = await local.execute_code_blocks([code], CancellationToken())
    assert result.deleted == ("a.txt",)
    assert [(f.name, f.content) for f in result.code_files] == [("tool.py", code.code.encode())]
    written: list[tuple[list[str], set[str]]] = []

    async def sync(state: WorkdirState, write: WorkdirWriter) -> list[str]:
        written.append(await write({"deep/er/c.txt": b"c", "../x": b"no"}, ["b.txt"]))
        return ["synced"]

    check = "import os\nprint(open('deep/er/c.txt').read(), os.path.exists('b.txt'))"
    result = await local.execute_code_blocks([CodeBlock(check)], CancellationToken(), sync=sync)
    assert result.output == "c False\n"
    assert result.notes == ("synced",)
    [(errors, failed)] = written
    assert failed == {"../x"}
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("# filename: plot.py\nprint(1)", "plot.py"),
        ("\n#   FILENAME:   tools/run.sh  \necho", "tools/run.sh"),
        ("// filename: x.js\n", "x.js"),
        ("print(1)\n# filename: later.py", None),
    ],
)
def test_filename_comment_on_the_first_line(code: str, name: str | None) -> None:
    assert parse_filename(code) == name


async def test_a_runner_that_stops_answering_is_replaced_by_the_outer_timeout(
    tmp_path: Path,
) -> None:
    executor = LocalSandboxExecutor(tmp_path / "work", timeout_s=1, grace_s=1)
    try:
        freeze = "import os, signal, time\nos.kill(os.getppid(), signal.SIGSTOP)\ntime.sleep(30)"
        result = await executor.execute_code_blocks([CodeBlock(freeze)], CancellationToken())
        assert (result.exit_code, result.timed_out) == (124, True)
        assert "did not answer" in result.output
        assert await run(executor, "print('fresh runner')") == "fresh runner\n"
    finally:
        await executor.stop()


async def test_a_missing_module_is_answered_with_what_is_installed(
    local: LocalSandboxExecutor,
) -> None:
    result = await local.execute_code_blocks(
        [CodeBlock("import surely_not_installed_here.sub", "python")], CancellationToken()
    )
    assert result.exit_code == 1
    (note,) = [n for n in result.notes if "surely_not_installed_here" in n]
    assert note.startswith(
        "module 'surely_not_installed_here' is not installed in this sandbox, and nothing can be"
    )
    installed = note.split("Use what is installed (import names): ")[1].split(", ")
    # this interpreter's distributions, by import name (with the distribution where it differs)
    assert "pydantic" in installed
    assert "redis" in installed
    assert "pip" not in installed
