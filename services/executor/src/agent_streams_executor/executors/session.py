"""One session's executor over a sandbox that is started on first use and replaced when lost.

Both backends are this class with their own :meth:`SandboxExecutor._launch`: the Docker one
starts a container, the local one a runner process. The sandbox persists between runs, so files
and installed state carry over from one turn to the next; runs of one session are serialised.
A sandbox that dies or stops answering is thrown away and the run's result says so (exit 124
when it was past the timeout, else 1); the next run starts a fresh one.

A run may bring the work dir up to date first (``sync``, a :class:`WorkdirSync`): under the
same lock and on the same sandbox as the run, it gets the sandbox's :class:`WorkdirState` (what
the work dir holds of the session's file manifest; empty for a new sandbox) and a writer. The
Executor agent uses it to restore a session's files from Redis on any replica
(``agent_streams_executor.session_files``); this module knows nothing of Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from agent_streams.telemetry import span
from agent_streams_executor.executors.base import (
    EXIT_TIMEOUT,
    CancellationTokenLike,
    CodeBlock,
    CodeExecutor,
    CodeResult,
    ExecutorError,
    SandboxLostError,
)
from agent_streams_executor.executors.channel import RunLimits, RunnerClient
from agent_streams_executor.metrics import SANDBOX_START_SECONDS

__all__ = ["Sandbox", "SandboxExecutor", "WorkdirState", "WorkdirSync", "WorkdirWriter"]

_TRACER = "agent_streams_executor"


@dataclass(slots=True)
class WorkdirState:
    """What one sandbox's work dir holds of its session's file manifest.

    ``generation`` is the manifest generation the work dir was last brought up to (None: never,
    e.g. a new sandbox); ``files`` maps the manifest's names this work dir holds (or was told it
    cannot have) to their digests. A new sandbox starts with a new, empty state.
    """

    generation: int | None = None
    files: dict[str, str] = field(default_factory=dict)


WorkdirWriter = Callable[
    [Mapping[str, bytes], Sequence[str]], Awaitable[tuple[list[str], set[str]]]
]
"""``write(files, delete)``: delete, then write, in the sandbox; (errors, names that failed)."""


class WorkdirSync(Protocol):
    """Brings a sandbox's work dir up to date right before a run; returns notes for the result."""

    async def __call__(self, state: WorkdirState, write: WorkdirWriter) -> list[str]: ...


class Sandbox(Protocol):
    """A started sandbox: a runner to talk to, and a way to destroy it."""

    @property
    def client(self) -> RunnerClient: ...

    async def destroy(self) -> None:
        """Kill the sandbox and everything in it; safe to call twice."""
        ...


class SandboxExecutor(CodeExecutor, ABC):
    """A :class:`CodeExecutor` for one session, over a lazily started sandbox."""

    def __init__(
        self,
        *,
        timeout_s: float,
        limits: RunLimits,
        network: bool = False,
        request_timeout_s: float = 60.0,
    ) -> None:
        self.timeout_s = timeout_s
        self.limits = limits
        self.network = network
        self.last_used = time.monotonic()
        self._request_timeout_s = request_timeout_s
        self._sandbox: Sandbox | None = None
        self._lock = asyncio.Lock()
        self._stopped = False
        self.workdir = WorkdirState()

    @abstractmethod
    async def _launch(self) -> Sandbox:
        """Start a sandbox, its runner ready; raise :class:`SandboxStartError` if it cannot."""

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @property
    def started(self) -> bool:
        return self._sandbox is not None

    async def start(self) -> None:
        """Start the sandbox now rather than on the first run."""
        async with self._lock:
            await self._ensure()

    async def execute_code_blocks(
        self,
        code_blocks: Sequence[CodeBlock],
        cancellation_token: CancellationTokenLike,
        *,
        timeout_s: float | None = None,
        sync: WorkdirSync | None = None,
    ) -> CodeResult:
        """Run ``code_blocks`` in order, stopping at the first failure.

        ``timeout_s`` (default: the executor's) is one wall-clock budget for all the blocks.
        ``sync`` runs first, on the same sandbox; its notes are added to the result's.
        """
        budget = timeout_s or self.timeout_s
        limits = dataclasses.replace(
            self.limits, rlimits={**self.limits.rlimits, "cpu": math.ceil(budget) + 1}
        )  # CPU seconds: a backstop behind the wall clock
        async with self._lock:
            self.last_used = time.monotonic()
            try:
                sandbox = await self._ensure()
                notes: list[str] = []
                if sync is not None:
                    notes = await sync(self.workdir, self._writer(sandbox))
                blocks = {"agent_streams.blocks": len(code_blocks)}
                with span("run", tracer=_TRACER, attributes=blocks) as run:
                    result = await sandbox.client.run(
                        code_blocks,
                        timeout_s=budget,
                        limits=limits,
                        cancellation_token=cancellation_token,
                    )
                    run.set_attribute("process.exit.code", result.exit_code)
                return dataclasses.replace(result, notes=(*notes, *result.notes))
            except SandboxLostError as exc:
                await self._discard()
                return _lost(exc)
            finally:
                self.last_used = time.monotonic()

    async def put_files(self, files: Mapping[str, bytes]) -> None:
        """Write input files (plain names) into the work dir before the next run."""
        if not files:
            return
        async with self._lock:
            sandbox = await self._ensure()
            try:
                errors = await sandbox.client.put(files, self._request_timeout_s)
            except SandboxLostError:
                await self._discard()
                raise
        if errors:
            raise ExecutorError("could not write input files: " + "; ".join(errors))

    async def restart(self) -> None:
        """Throw the sandbox away; the next run starts a fresh one with an empty work dir."""
        await self._discard()

    async def stop(self) -> None:
        """Destroy the sandbox now, even mid-run (that run then reports a lost sandbox)."""
        self._stopped = True
        await self._discard()

    async def stop_if_idle(self, idle_s: float) -> bool:
        """Stop when unused for ``idle_s`` and not running; True when it was stopped."""
        if self._lock.locked() or time.monotonic() - self.last_used < idle_s:
            return False
        async with self._lock:  # uncontended: taken without yielding, so no run slips in
            await self.stop()
        return True

    async def _ensure(self) -> Sandbox:
        if self._stopped:
            raise ExecutorError("this executor was stopped")
        if self._sandbox is None:
            started = time.perf_counter()
            with span("sandbox start", tracer=_TRACER):
                self._sandbox = await self._launch()
            SANDBOX_START_SECONDS.observe(time.perf_counter() - started)
        return self._sandbox

    def _writer(self, sandbox: Sandbox) -> WorkdirWriter:
        async def write(
            files: Mapping[str, bytes], delete: Sequence[str]
        ) -> tuple[list[str], set[str]]:
            return await sandbox.client.write(files, self._request_timeout_s, delete=delete)

        return write

    async def _discard(self) -> None:
        sandbox, self._sandbox = self._sandbox, None
        self.workdir = WorkdirState()  # the next sandbox holds none of the session's files
        if sandbox is not None:
            await asyncio.shield(sandbox.destroy())


def _lost(exc: SandboxLostError) -> CodeResult:
    if exc.timed_out:
        text = (
            f"Timeout: {exc}; the sandbox was replaced and what this run did to the session's "
            "files is lost (exit code 124)"
        )
        return CodeResult(EXIT_TIMEOUT, text, stderr=text, timed_out=True)
    text = (
        f"The sandbox was lost ({exc}); a fresh one starts with the next run, and what this "
        "run did to the session's files is lost"
    )
    return CodeResult(1, text, stderr=text)
