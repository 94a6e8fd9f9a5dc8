"""Sessions -> executors: one sandbox per session, reaped when idle, all stopped on close.

:class:`ExecutorPool` is what the Executor agent talks to: ``run(session, blocks, token,
timeout_s=, network=, files=, sync=)`` clamps the task's wishes to the operator's settings,
finds or starts the session's sandbox, writes the input files, brings the work dir up to date
(``sync``) and runs the blocks. Idle sessions are reaped after ``idle_timeout_s`` (their
sandbox's files go with them; the Executor agent restores them from the session's file
manifest in Redis when the session comes back); past ``max_sessions`` the least recently used
idle one is evicted first. Backends subclass it with ``_new_executor``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import TracebackType

from agent_streams_executor.executors.base import CancellationTokenLike, CodeBlock, CodeResult
from agent_streams_executor.executors.session import SandboxExecutor, WorkdirSync
from agent_streams_executor.settings import ExecutorSettings

__all__ = ["ExecutorPool"]

log = logging.getLogger(__name__)


class ExecutorPool(ABC):
    """Per-session executors of one backend, with idle reaping and a capacity."""

    def __init__(self, settings: ExecutorSettings) -> None:
        self.settings = settings
        self._sessions: dict[str, SandboxExecutor] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @abstractmethod
    def _new_executor(self, session: str, network: bool) -> SandboxExecutor:
        """A new (not yet started) executor for ``session``."""

    async def _on_start(self) -> None:
        """Backend start-up (the Docker pool removes orphans and starts spares here)."""
        return None

    async def _on_close(self) -> None:
        """Backend shutdown, after every session was stopped."""
        return None

    async def _forget(self, executor: SandboxExecutor) -> None:
        """After a session's executor was stopped for good (the local pool deletes its dir)."""
        return None

    async def start(self) -> None:
        await self._on_start()
        self._reaper = asyncio.create_task(self._reap_forever(), name="executor-reaper")

    async def __aenter__(self) -> ExecutorPool:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def sessions(self) -> list[str]:
        return list(self._sessions)

    def sandbox_counts(self) -> dict[str, int]:
        """Sandboxes now: ``busy`` (running code, or starting), ``idle`` (a session's, waiting),
        ``spare`` (started ahead, no session yet). Safe to call from another thread (the
        metrics endpoint's): it reads a copy."""
        executors = list(self._sessions.values())
        busy = sum(1 for executor in executors if executor.busy)
        idle = sum(1 for executor in executors if executor.started and not executor.busy)
        return {"busy": busy, "idle": idle, "spare": self._spare_count()}

    def _spare_count(self) -> int:
        """Sandboxes started ahead and not handed to a session yet (the Docker pool's)."""
        return 0

    async def executor(self, session: str, *, network: bool = False) -> SandboxExecutor:
        """The session's executor, created (not started) if needed.

        ``network`` is granted only when the operator allows it; a session whose network wish
        changes gets a new sandbox.
        """
        network = network and self.settings.allow_network
        async with self._lock:
            if self._closed:
                raise RuntimeError("the executor pool is closed")
            current = self._sessions.get(session)
            if current is not None and current.network == network:
                return current
            if current is not None:
                await self._drop(session)
            await self._make_room()
            executor = self._new_executor(session, network)
            self._sessions[session] = executor
            return executor

    async def run(
        self,
        session: str,
        code_blocks: Sequence[CodeBlock],
        cancellation_token: CancellationTokenLike,
        *,
        timeout_s: float | None = None,
        network: bool = False,
        files: Mapping[str, bytes] | None = None,
        sync: WorkdirSync | None = None,
    ) -> CodeResult:
        """Run ``code_blocks`` in ``session``'s sandbox, within the operator's limits.

        ``files`` are written first; ``sync`` runs right before the blocks, on the same sandbox
        (see :class:`~agent_streams_executor.executors.session.WorkdirSync`).
        """
        executor = await self.executor(session, network=network)
        await executor.put_files(files or {})
        result = await executor.execute_code_blocks(
            code_blocks,
            cancellation_token,
            timeout_s=self.settings.clamp_timeout(timeout_s),
            sync=sync,
        )
        if network and not executor.network:
            note = "network access was asked for, but this executor's operator does not allow it"
            result = _with_note(result, note)
        return result

    async def close_session(self, session: str) -> None:
        async with self._lock:
            await self._drop(session)

    async def reap_idle(self) -> int:
        """Stop the sessions idle for ``idle_timeout_s``; how many were stopped."""
        reaped = 0
        for session, executor in list(self._sessions.items()):
            if await executor.stop_if_idle(self.settings.idle_timeout_s):
                async with self._lock:
                    if self._sessions.get(session) is executor:
                        del self._sessions[session]
                await self._forget(executor)
                reaped += 1
        return reaped

    async def aclose(self) -> None:
        """Stop every session's sandbox (mid-run ones too), then the backend."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        async with self._lock:
            executors, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(executor.stop() for executor in executors))
        await asyncio.gather(*(self._forget(executor) for executor in executors))
        await self._on_close()

    async def _reap_forever(self) -> None:
        interval = min(30.0, self.settings.idle_timeout_s / 4)
        while True:
            await asyncio.sleep(interval)  # a timer, not a poll for an event
            try:
                reaped = await self.reap_idle()
            except Exception:
                log.exception("reaping idle sandboxes failed; trying again next round")
                continue
            if reaped:
                log.info("reaped %d idle sandbox(es)", reaped)

    async def _make_room(self) -> None:
        if len(self._sessions) < self.settings.max_sessions:
            return
        idle = [(ex.last_used, s) for s, ex in self._sessions.items() if not ex.busy]
        if idle:
            await self._drop(min(idle)[1])
        else:
            log.warning("all %d sessions are busy: starting one more", len(self._sessions))

    async def _drop(self, session: str) -> None:
        executor = self._sessions.pop(session, None)
        if executor is not None:
            await executor.stop()
            await self._forget(executor)


def _with_note(result: CodeResult, note: str) -> CodeResult:
    import dataclasses

    return dataclasses.replace(
        result, output=f"Note: {note}\n{result.output}", notes=(*result.notes, note)
    )
