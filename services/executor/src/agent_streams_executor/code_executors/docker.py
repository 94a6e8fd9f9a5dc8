"""``DockerCommandLineCodeExecutor``: autogen-ext's constructor and lifecycle, this sandbox.

Written as AutoGen users write it::

    async with DockerCommandLineCodeExecutor(work_dir=work_dir) as executor:
        result = await executor.execute_code_blocks([CodeBlock("print(1)", "python")], token)

One locked-down container (the Executor service's: no network, read-only root, non-root user,
every capability dropped, memory/CPU/pids limits, the timeout enforced from outside) with the
warm runner inside, started by ``start()`` (or the first run) and removed by ``stop()``. Files
of ``work_dir`` are copied in before each run and the files the code writes come back to it
(see ``workdir.py``: no host path is mounted). Code files land there as in AutoGen: every
``# filename:`` file, and the last block's ``tmp_code_<sha256>.py`` unless ``delete_tmp_files``.

Differences, each explicit: the default image is the project's sandbox image (any image with
Python 3 works; missing ones are not pulled); the container has no network unless
``network=True`` (or, when ``network`` is not given, ``EXECUTOR_ALLOW_NETWORK=true``), the one
lock an argument loosens; the other limits come from ``settings`` (default:
``ExecutorSettings()``, the ``EXECUTOR_*`` environment). Refused with a ``ValueError``:
``bind_dir``, ``extra_volumes`` (no host path enters the sandbox), ``extra_hosts`` and
``device_requests``, ``init_command``, ``functions``, ``auto_remove=False`` and
``stop_container=False`` (the container never outlives its executor). ``restart()`` starts a
fresh container and copies ``work_dir`` in again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from pathlib import Path

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
    refuse,
)
from agent_streams_executor.code_executors.workdir import HostWorkDir
from agent_streams_executor.executors.containers import SandboxContainers, connect
from agent_streams_executor.executors.docker import DockerSandboxExecutor
from agent_streams_executor.settings import ExecutorSettings

__all__ = ["DockerCommandLineCodeExecutor"]

NAMESPACE = "code-executor"
"""The sandbox label's value for these containers (the services use their runtime namespace)."""


class DockerCommandLineCodeExecutor(CodeExecutor):
    """Runs code blocks in one locked-down Docker sandbox, AutoGen's way.

    Args:
        image: the sandbox image (default: ``settings.image``, ``agent-streams/sandbox:latest``).
        container_name: the container's name (default: ``agent-streams-code-exec-<uuid>``).
        timeout: wall-clock seconds for one ``execute_code_blocks`` call (at least 1).
        work_dir: where the code's files appear (default: a temporary directory, removed on
            ``stop()``).
        auto_remove: must stay True. stop_container: must stay True.
        functions: must be empty; functions_module: checked as in AutoGen.
        delete_tmp_files: leave the code files out of ``work_dir``.
        network: give the container a network (default: ``settings.allow_network``, false).
        settings: every other limit (memory, CPU, pids, output and file caps).

    Raises:
        ValueError: an option this sandbox refuses (see the module docstring).
    """

    def __init__(
        self,
        image: str | None = None,
        container_name: str | None = None,
        *,
        timeout: float = 60,
        work_dir: Path | str | None = None,
        bind_dir: Path | str | None = None,
        auto_remove: bool = True,
        stop_container: bool = True,
        device_requests: Sequence[object] | None = None,
        functions: Sequence[object] = (),
        functions_module: str = "functions",
        extra_volumes: dict[str, dict[str, str]] | None = None,
        extra_hosts: dict[str, str] | None = None,
        init_command: str | None = None,
        delete_tmp_files: bool = False,
        network: bool | None = None,
        settings: ExecutorSettings | None = None,
    ) -> None:
        self._timeout = check_timeout(timeout)
        check_functions(functions, functions_module)
        mounts = "no host path enters the sandbox; work_dir's files are copied in and back"
        check_unset({"bind_dir": bind_dir, "extra_volumes": extra_volumes}, mounts)
        check_unset(
            {"extra_hosts": extra_hosts, "device_requests": device_requests},
            "the sandbox has no network unless network=True, and no devices",
        )
        check_unset({"init_command": init_command}, "run it as the first code block instead")
        if not auto_remove or not stop_container:
            option = "auto_remove=False" if not auto_remove else "stop_container=False"
            raise refuse(option, "a sandbox container never outlives its executor")
        base = settings or ExecutorSettings()
        network = base.allow_network if network is None else network
        self._settings = base.model_copy(
            update={
                "image": image or base.image,
                "timeout_s": self._timeout,
                "max_timeout_s": max(base.max_timeout_s, self._timeout),
                "allow_network": network,
                "warm_spares": 0,
            }
        )
        self.container_name = container_name or f"agent-streams-code-exec-{uuid.uuid4()}"
        self._network = network
        self._delete_tmp_files = delete_tmp_files
        self._work_dir = HostWorkDir(work_dir)
        self._sandbox: DockerSandboxExecutor | None = None
        self._containers: SandboxContainers | None = None
        self._lock = asyncio.Lock()

    @property
    def timeout(self) -> float:
        """Wall-clock seconds for one ``execute_code_blocks`` call."""
        return self._timeout

    @property
    def work_dir(self) -> Path:
        """Where the code's files appear on this machine."""
        return self._work_dir.path

    @property
    def image(self) -> str:
        """The sandbox image."""
        return self._settings.image

    @property
    def network(self) -> bool:
        """Whether the container gets a network (``network=``, else ``EXECUTOR_ALLOW_NETWORK``)."""
        return self._network

    async def start(self) -> None:
        """Connect to the engine and start the container, with ``work_dir``'s files in it."""
        async with self._lock:
            if self._sandbox is not None:
                return
            await asyncio.to_thread(self._work_dir.open)
            api = await connect(self._settings)
            containers = SandboxContainers(api, self._settings, NAMESPACE)
            sandbox = DockerSandboxExecutor(
                containers, self.container_name, network=self._network, name=self.container_name
            )
            self._containers, self._sandbox = containers, sandbox
            try:
                await sandbox.start()
                await self._copy_in(sandbox)
            except BaseException:
                await self._release()
                raise

    async def execute_code_blocks(
        self, code_blocks: Sequence[CodeBlock], cancellation_token: CancellationTokenLike
    ) -> CodeResult:
        """Run ``code_blocks`` in order in the container, stopping at the first failure.

        Starts the container first if needed. The result's ``code_file`` is the code's file in
        ``work_dir``; ``files`` are what the run created or changed (also written there).
        """
        if not code_blocks:
            raise ValueError("No code blocks to execute.")
        await self.start()
        sandbox = self._sandbox
        if sandbox is None:
            raise RuntimeError("the executor was stopped while starting")
        notes = await self._copy_in(sandbox)
        result = await sandbox.execute_code_blocks(code_blocks, cancellation_token)
        if not sandbox.started:  # the sandbox was lost: the next one starts empty
            self._work_dir.forget_sandbox()
        result = await asyncio.to_thread(
            self._work_dir.apply,
            result,
            code_blocks,
            self._settings.sandbox_workdir,
            code=not self._delete_tmp_files,
        )
        return _with_notes(result, notes)

    async def restart(self) -> None:
        """A fresh container (nothing of the old one's processes or files) with ``work_dir``."""
        await self._stop_sandbox()
        await self.start()

    async def stop(self) -> None:
        """Remove the container; a temporary ``work_dir`` is deleted with it."""
        await self._stop_sandbox()
        await asyncio.to_thread(self._work_dir.close)

    async def _stop_sandbox(self) -> None:
        async with self._lock:
            await self._release()

    async def _copy_in(self, sandbox: DockerSandboxExecutor) -> list[str]:
        limits = sandbox.limits
        files, notes = await asyncio.to_thread(
            self._work_dir.pending, limits.max_file_bytes, limits.max_run_bytes
        )
        if files:
            await sandbox.put_files(files)
        return notes

    async def _release(self) -> None:
        sandbox, containers = self._sandbox, self._containers
        self._sandbox = self._containers = None
        self._work_dir.forget_sandbox()
        try:
            if sandbox is not None:
                await sandbox.stop()
        finally:
            if containers is not None:
                await containers.sweep()
                await asyncio.to_thread(containers.api.close)


def _with_notes(result: CodeResult, notes: list[str]) -> CodeResult:
    if not notes:
        return result
    text = "".join(f"Note: {note}\n" for note in notes)
    return dataclasses.replace(result, output=text + result.output, notes=(*notes, *result.notes))
