"""The Docker executor: a locked-down sandbox container per session, with a warm runner inside.

Each container runs ``runner.py`` as its PID 1 (through the image's entrypoint), started with
``python -c``: the image needs nothing of ours. The executor talks to it over the container's
attach stream (stdin in, multiplexed stdout/stderr out) on the Docker API socket, so a block
costs one round trip and a ``fork()`` instead of a ``docker exec`` (~60-90 ms) and an
interpreter start; numpy/pandas/matplotlib are imported once per container.

The containers themselves (lock-down, start, removal, no leaks): see ``containers.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from agent_streams_executor.executors.base import SandboxLostError, SandboxStartError
from agent_streams_executor.executors.containers import (
    SandboxContainer,
    SandboxContainers,
    connect,
)
from agent_streams_executor.executors.pool import ExecutorPool
from agent_streams_executor.executors.session import SandboxExecutor
from agent_streams_executor.settings import ExecutorSettings

__all__ = ["DockerExecutorPool", "DockerSandboxExecutor"]

log = logging.getLogger(__name__)


SpareSource = Callable[[], Coroutine[Any, Any, "SandboxContainer | None"]]


class DockerSandboxExecutor(SandboxExecutor):
    """One session's container (started on first use, reused by every later run).

    ``name`` names the container; ``spare`` hands out a container started ahead (the pool's).
    """

    def __init__(
        self,
        containers: SandboxContainers,
        session: str,
        *,
        network: bool = False,
        spare: SpareSource | None = None,
        name: str | None = None,
    ) -> None:
        settings = containers.settings
        super().__init__(
            timeout_s=settings.timeout_s,
            limits=settings.run_limits(local=False),
            network=network,
            request_timeout_s=settings.start_timeout_s,
        )
        self._containers, self.session, self._spare = containers, session, spare
        self._name = name

    async def _launch(self) -> SandboxContainer:
        if self._spare is not None and not self.network and self._name is None:
            spare = await self._spare()
            if spare is not None:
                return spare
        return await self._containers.launch(
            session=self.session, network=self.network, name=self._name
        )


class DockerExecutorPool(ExecutorPool):
    """Docker executors, one container per session, plus ``warm_spares`` started ahead."""

    def __init__(self, settings: ExecutorSettings, *, namespace: str = "agents") -> None:
        super().__init__(settings)
        self.namespace = namespace
        self._containers: SandboxContainers | None = None
        self._spares: list[SandboxContainer] = []
        self._filling: set[asyncio.Task[None]] = set()

    @property
    def containers(self) -> SandboxContainers:
        if self._containers is None:
            raise RuntimeError("start() the pool first")
        return self._containers

    async def _on_start(self) -> None:
        api = await connect(self.settings)
        self._containers = SandboxContainers(api, self.settings, self.namespace)
        removed = await self._containers.remove_orphans()
        if removed:
            log.warning("removed %d orphaned sandbox container(s)", removed)
        self._fill()

    def _new_executor(self, session: str, network: bool) -> DockerSandboxExecutor:
        return DockerSandboxExecutor(
            self.containers, session, network=network, spare=self._take_spare
        )

    def _spare_count(self) -> int:
        return len(self._spares)

    async def wait_for_spares(self) -> None:
        """Wait until the spares being started are up (or failed to start)."""
        while self._filling:
            await asyncio.gather(*self._filling, return_exceptions=True)

    async def _take_spare(self) -> SandboxContainer | None:
        spare = self._spares.pop(0) if self._spares else None
        self._fill()
        if spare is not None:
            try:
                await spare.client.ping(self.settings.timeout_grace_s)
            except SandboxLostError:
                await spare.destroy()
                return None
        return spare

    def _fill(self) -> None:
        if self._closed or len(self._spares) + len(self._filling) >= self.settings.warm_spares:
            return
        task = asyncio.create_task(self._start_spare(), name="sandbox-spare")
        self._filling.add(task)
        task.add_done_callback(self._filling.discard)

    async def _start_spare(self) -> None:
        try:
            spare = await self.containers.launch(session="(spare)", network=False)
        except (SandboxStartError, OSError, TimeoutError) as exc:
            log.warning("could not start a spare sandbox: %s", exc)
            return
        if self._closed:
            await spare.destroy()
        else:
            self._spares.append(spare)

    async def _on_close(self) -> None:
        for task in list(self._filling):
            task.cancel()
        await asyncio.gather(*self._filling, return_exceptions=True)
        spares, self._spares = self._spares, []
        await asyncio.gather(*(spare.destroy() for spare in spares), return_exceptions=True)
        if self._containers is not None:
            await self._containers.sweep()
            await asyncio.to_thread(self._containers.api.close)
