"""One agent instance at a time across replicas: a lock per ``AgentId`` in Redis.

A worker takes its agent's lock (SET NX PX ``claim_idle_ms``) before handling and the heartbeat
renews it while held. The lock is kept ``_LINGER_S`` after the agent's queue runs dry: the
agent's next message (an RPC loop, a conversation's next turn, a burst) then costs no SET NX and
no release round trip, and another replica waits at most that much longer for it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from .._ids import AgentId
from .._tasks import TaskSet, cancel_and_wait
from . import scripts as lua
from .transient import TRANSIENT, Backoff, cause

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from ..keys import Keys

__all__ = ["AgentLocks"]

log = structlog.get_logger("agent_streams")
_LINGER_S = 0.05  # an idle agent's lock is released this long after its last message


class AgentLocks:
    """The Redis locks one consumer holds for its agents.

    Args:
        redis: the runtime's client.
        keys: names the locks.
        ttl_ms: a lock's lifetime unless renewed (``claim_idle_ms``: a dead replica's lock
            expires when its entries become reclaimable).
        local_lock: the agent's in-process lock (a lingering lock is released under it, never
            while a worker for the agent runs).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        ttl_ms: int,
        local_lock: Callable[[AgentId], asyncio.Lock],
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_ms = ttl_ms
        self._local_lock = local_lock
        self._release_script = redis.register_script(lua.RELEASE_LOCK)
        self._renew_script = redis.register_script(lua.RENEW_LOCK)
        self._held: dict[AgentId, str] = {}
        self._timers: dict[AgentId, asyncio.TimerHandle] = {}
        self._tasks = TaskSet()

    def keep(self, agent_id: AgentId) -> bool:
        """Whether ``agent_id``'s lock is still held (lingering from its last message); if so,
        it is kept: no round trip, no coroutine (this runs once per burst of messages)."""
        timer = self._timers.pop(agent_id, None)
        if timer is not None:
            timer.cancel()
        return agent_id in self._held

    async def acquire(self, agent_id: AgentId) -> None:
        """Take ``agent_id``'s lock; waits, with backoff, while another replica holds it."""
        if self.keep(agent_id):
            return
        key = self._keys.lock(agent_id.type, agent_id.key)
        token = uuid.uuid4().hex
        backoff = Backoff(0.005, 0.25)
        while True:
            try:
                if await self._redis.set(key, token, nx=True, px=self._ttl_ms):
                    self._held[agent_id] = token
                    return
                await backoff.wait()  # held by another replica
            except TRANSIENT as exc:
                await backoff.retry("lock", exc, agent=str(agent_id))

    def linger(self, agent_id: AgentId, busy: Callable[[AgentId], bool]) -> None:
        """Release ``agent_id``'s lock ``_LINGER_S`` from now unless it is taken again or
        ``busy(agent_id)`` says messages wait for it."""
        self._timers[agent_id] = asyncio.get_running_loop().call_later(
            _LINGER_S, self._release_idle, agent_id, busy
        )

    def _release_idle(self, agent_id: AgentId, busy: Callable[[AgentId], bool]) -> None:
        self._timers.pop(agent_id, None)

        async def release() -> None:
            async with self._local_lock(agent_id):
                if agent_id not in self._timers and not busy(agent_id):
                    await self.release(agent_id)

        self._tasks.spawn(release())

    async def release(self, agent_id: AgentId) -> None:
        token = self._held.pop(agent_id, None)
        if token is None:
            return
        try:
            await self._release_script(
                keys=[self._keys.lock(agent_id.type, agent_id.key)], args=[token]
            )
        except TRANSIENT as exc:
            log.warning(
                "redis_unreachable",
                during="unlock",
                agent=str(agent_id),
                error=cause(exc),
                action=f"the lock expires within {self._ttl_ms} ms",
            )

    async def renew_in(self, pipe: Any) -> None:
        """Queue the renewal of every lock held on ``pipe`` (the heartbeat's pipeline)."""
        for agent_id, token in self._held.items():
            await self._renew_script(
                keys=[self._keys.lock(agent_id.type, agent_id.key)],
                args=[token, self._ttl_ms],
                client=pipe,
            )

    async def release_all(self) -> None:
        """At stop: no lingering, no release in flight, every lock released."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await cancel_and_wait(self._tasks)
        for agent_id in list(self._held):
            await self.release(agent_id)
