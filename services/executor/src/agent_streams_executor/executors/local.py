"""The local executor, for machines without Docker: NOT a sandbox.

The code runs as the executor's own user, on this machine, with its file system and network.
What it does get: its own work dir, a scrubbed environment built from an allowlist (the service's
secrets, ``OPENAI_API_KEY`` and the like, are never passed on: nothing is copied unless named),
rlimits (address space, file size, open files, CPU seconds, no core dumps), the wall-clock timeout
and the output caps of the Docker executor, and cleanup of every process a block leaves behind.

Speed: the runner (``runner.py``) is a fork server started once per session with
``sys.executable`` (never a ``PATH`` lookup), so a block costs a ``fork()`` instead of an
interpreter start-up, and modules named in ``preload`` are imported only once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from agent_streams_executor.executors.base import SandboxLostError, SandboxStartError
from agent_streams_executor.executors.channel import (
    Message,
    RunLimits,
    RunnerClient,
    close_quietly,
    encode,
)
from agent_streams_executor.executors.pool import ExecutorPool
from agent_streams_executor.executors.runner import source
from agent_streams_executor.executors.session import SandboxExecutor
from agent_streams_executor.settings import ExecutorSettings

__all__ = ["LocalExecutorPool", "LocalSandboxExecutor", "scrubbed_environment"]

log = logging.getLogger(__name__)

_EXIT_GRACE_S = 3.0

_WARNING = (
    "The local executor is NOT a sandbox: generated code runs on this machine as "
    "user %s, with its file system and network. Use the Docker executor for untrusted code."
)


def scrubbed_environment(
    home: Path, tmp: Path, allowlist: Sequence[str] = (), extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment the code sees: fixed values, plus only the allowlisted names.

    ``PATH`` starts with the directory of ``sys.executable`` so that ``python`` in a bash block
    is the executor's interpreter.
    """
    env = {
        "PATH": os.pathsep.join(
            [os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(tmp / "matplotlib"),
    }
    env.update({name: os.environ[name] for name in allowlist if name in os.environ})
    env.update(extra or {})
    return env


class _PipeChannel:
    """JSON lines over a local runner's stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self._process, self._stdin, self._stdout = process, process.stdin, process.stdout

    async def send(self, message: Message) -> None:
        try:
            self._stdin.write(encode(message))
            await self._stdin.drain()
        except (ConnectionError, OSError) as exc:
            raise SandboxLostError(f"the local runner is gone: {exc}") from exc

    async def receive(self) -> Message:
        try:
            line = await self._stdout.readline()
        except (ValueError, asyncio.LimitOverrunError) as exc:
            raise SandboxLostError("the local runner sent an oversized message") from exc
        if not line:
            raise SandboxLostError(f"the local runner exited ({self._process.returncode})")
        message: Message = json.loads(line)
        return message

    async def close(self) -> None:
        await close_quietly(self._stdin)  # EOF: the runner kills what runs, then exits
        try:
            async with asyncio.timeout(_EXIT_GRACE_S):
                await self._process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, 9)  # children die with it (PR_SET_PDEATHSIG)
            await self._process.wait()


class _LocalRunner:
    """A runner process and its client (the local "sandbox")."""

    def __init__(self, client: RunnerClient) -> None:
        self._client = client

    @property
    def client(self) -> RunnerClient:
        return self._client

    async def destroy(self) -> None:
        await self._client.close()


class LocalSandboxExecutor(SandboxExecutor):
    """Runs code blocks in a local fork-server subprocess, in ``work_dir`` (kept across runs).

    Args:
        work_dir: where the code runs.
        scratch_dir: where the code's ``HOME`` and ``TMPDIR`` go (``home`` and ``tmp`` in it;
            default: beside ``work_dir``, the pool's per-session layout).
        timeout_s: default wall-clock budget of one ``execute_code_blocks`` call.
        limits: output and artifact caps; ``rlimits`` are applied to every block.
        preload: modules the fork server imports once (missing ones are skipped).
        env_allowlist: names copied from the service's environment (nothing else is).
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        timeout_s: float = 60.0,
        grace_s: float = 5.0,
        start_timeout_s: float = 60.0,
        limits: RunLimits | None = None,
        preload: Sequence[str] = (),
        env_allowlist: Sequence[str] = (),
        idle_exit_s: float = 3600.0,
        scratch_dir: Path | None = None,
    ) -> None:
        super().__init__(
            timeout_s=timeout_s, limits=limits or RunLimits(), request_timeout_s=start_timeout_s
        )
        self.work_dir = Path(work_dir).resolve()
        self.scratch_dir = Path(scratch_dir).resolve() if scratch_dir else self.work_dir.parent
        self._grace_s, self._start_timeout_s = grace_s, start_timeout_s
        self._preload, self._allowlist = list(preload), list(env_allowlist)
        self._idle_exit_s = idle_exit_s
        log.warning(_WARNING, _user())

    async def restart(self) -> None:
        """A fresh runner and an empty work dir."""
        await super().restart()
        await asyncio.to_thread(shutil.rmtree, self.work_dir, True)

    async def _launch(self) -> _LocalRunner:
        home, tmp = self.scratch_dir / "home", self.scratch_dir / "tmp"
        config = {
            "workdir": str(self.work_dir),
            "container": False,
            "preload": self._preload,
            "idle_exit_s": self._idle_exit_s,
            "make_dirs": [str(self.work_dir), str(home), str(tmp)],
        }
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                source(),
                json.dumps(config),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=scrubbed_environment(home, tmp, self._allowlist),
                cwd="/",
                start_new_session=True,
                limit=self.limits.message_bytes(),
            )
        except OSError as exc:
            raise SandboxStartError(f"could not start the local runner: {exc}") from exc
        client = RunnerClient(_PipeChannel(process), grace_s=self._grace_s)
        try:
            await client.wait_ready(self._start_timeout_s)
        except BaseException:
            await client.close()
            raise
        return _LocalRunner(client)


class LocalExecutorPool(ExecutorPool):
    """Local executors, one per session, under ``settings.local_root_dir``."""

    def __init__(self, settings: ExecutorSettings) -> None:
        super().__init__(settings)
        self._root = settings.local_root_dir

    def _new_executor(self, session: str, network: bool) -> LocalSandboxExecutor:
        settings = self.settings
        return LocalSandboxExecutor(
            self._root / session_dir_name(session) / "work",
            timeout_s=settings.timeout_s,
            grace_s=settings.timeout_grace_s,
            start_timeout_s=settings.start_timeout_s,
            limits=settings.run_limits(local=True),
            preload=settings.preload_modules,
            env_allowlist=settings.local_env_allowlist,
            idle_exit_s=settings.idle_timeout_s * 2 + 60,
        )

    async def _forget(self, executor: SandboxExecutor) -> None:
        if isinstance(executor, LocalSandboxExecutor):
            await asyncio.to_thread(shutil.rmtree, executor.work_dir.parent, True)


def session_dir_name(session: str) -> str:
    """A directory name for a session id: readable, and unique even after sanitising."""
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in session)[:48].strip(".")
    return f"{slug or 'session'}-{hashlib.sha256(session.encode()).hexdigest()[:10]}"


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())
