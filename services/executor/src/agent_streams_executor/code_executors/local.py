"""``LocalCommandLineCodeExecutor``: autogen-ext's constructor and lifecycle; NOT a sandbox.

Written as AutoGen users write it::

    executor = LocalCommandLineCodeExecutor(work_dir="coding", timeout=60)

The code runs on this machine, as this user, with its file system and network, in ``work_dir``
(default: a temporary directory made by ``start()`` or the first run, removed by ``stop()``).
What it gets beyond AutoGen's: the Executor service's local runner (a fork server, so a block
costs a ``fork()``, not an interpreter start), a scrubbed environment (nothing of this
process's secrets is passed on), rlimits, the output caps, and cleanup of every process a block
leaves behind. ``HOME`` and ``TMPDIR`` of the code are a private temporary directory, removed on
``stop()``.

As in AutoGen, the code files (``tmp_code_<sha256>.py``) are deleted after each run unless
``cleanup_temp_files=False``. ``restart()`` starts a fresh runner (no state of earlier runs'
processes), keeping ``work_dir``'s files; AutoGen's does nothing. Refused with a
``ValueError``: ``functions``, ``virtual_env_context`` (the code runs with this interpreter).
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

from agent_streams.code_executor import (
    CancellationTokenLike,
    CodeBlock,
    CodeExecutor,
    CodeResult,
)
from agent_streams_executor.code_executors.options import (
    check_functions,
    check_timeout,
    check_unset,
)
from agent_streams_executor.code_executors.workdir import HostWorkDir
from agent_streams_executor.executors.local import LocalSandboxExecutor
from agent_streams_executor.settings import ExecutorSettings

__all__ = ["LocalCommandLineCodeExecutor"]


class LocalCommandLineCodeExecutor(CodeExecutor):
    """Runs code blocks in a local subprocess in ``work_dir``: NOT a sandbox.

    Args:
        timeout: wall-clock seconds for one ``execute_code_blocks`` call (at least 1).
        work_dir: where the code runs (default: a temporary directory, removed on ``stop()``).
        functions: must be empty; functions_module: checked as in AutoGen.
        cleanup_temp_files: delete the code files after each run (AutoGen's default).
        virtual_env_context: must be None.
        settings: output caps, rlimits, preloaded modules, the environment allowlist.

    Raises:
        ValueError: a refused option (see the module docstring).
    """

    def __init__(
        self,
        timeout: float = 60,
        work_dir: Path | str | None = None,
        functions: Sequence[object] = (),
        functions_module: str = "functions",
        cleanup_temp_files: bool = True,
        virtual_env_context: SimpleNamespace | None = None,
        *,
        settings: ExecutorSettings | None = None,
    ) -> None:
        self._timeout = check_timeout(timeout)
        check_functions(functions, functions_module)
        check_unset(
            {"virtual_env_context": virtual_env_context},
            "the code runs with this interpreter; use the Docker executor's image for packages",
        )
        self._settings = settings or ExecutorSettings()
        self._cleanup = cleanup_temp_files
        self._work_dir = HostWorkDir(work_dir)
        self._runner: LocalSandboxExecutor | None = None
        self._scratch: Path | None = None
        self._lock = asyncio.Lock()

    @property
    def timeout(self) -> float:
        """Wall-clock seconds for one ``execute_code_blocks`` call."""
        return self._timeout

    @property
    def work_dir(self) -> Path:
        """Where the code runs."""
        return self._work_dir.path

    async def start(self) -> None:
        """Make the work dir and start the runner."""
        async with self._lock:
            if self._runner is not None:
                return
            work_dir = await asyncio.to_thread(self._work_dir.open)
            self._scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="code-home-"))
            settings = self._settings
            self._runner = LocalSandboxExecutor(
                work_dir,
                timeout_s=self._timeout,
                grace_s=settings.timeout_grace_s,
                start_timeout_s=settings.start_timeout_s,
                limits=settings.run_limits(local=True),
                preload=settings.preload_modules,
                env_allowlist=settings.local_env_allowlist,
                scratch_dir=self._scratch,
            )
            try:
                await self._runner.start()
            except BaseException:
                await self._release()
                raise

    async def execute_code_blocks(
        self, code_blocks: Sequence[CodeBlock], cancellation_token: CancellationTokenLike
    ) -> CodeResult:
        """Run ``code_blocks`` in order in ``work_dir``, stopping at the first failure."""
        if not code_blocks:
            raise ValueError("No code blocks to execute.")
        await self.start()
        runner = self._runner
        if runner is None:
            raise RuntimeError("the executor was stopped while starting")
        result = await runner.execute_code_blocks(code_blocks, cancellation_token)
        if self._cleanup:
            await asyncio.to_thread(_delete_code_files, runner.work_dir, code_blocks)
        return result

    async def restart(self) -> None:
        """A fresh runner process; ``work_dir`` keeps its files."""
        async with self._lock:
            await self._release()
        await self.start()

    async def stop(self) -> None:
        """Stop the runner (and whatever the code left running); remove the temporary dirs."""
        async with self._lock:
            await self._release()
        await asyncio.to_thread(self._work_dir.close)

    async def _release(self) -> None:
        runner, scratch = self._runner, self._scratch
        self._runner = self._scratch = None
        try:
            if runner is not None:
                await runner.stop()
        finally:
            if scratch is not None:
                await asyncio.to_thread(shutil.rmtree, scratch, True)


def _delete_code_files(work_dir: Path, blocks: Sequence[CodeBlock]) -> None:
    """The ``tmp_code_<sha256>.*`` files of these blocks (``# filename:`` files are kept)."""
    for block in blocks:
        digest = hashlib.sha256(block.code.encode()).hexdigest()[:32]
        for path in work_dir.glob(f"tmp_code_{digest}.*"):
            path.unlink(missing_ok=True)
