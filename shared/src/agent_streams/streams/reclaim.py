"""Entries held too long: the heartbeat keeps this consumer's alive, the reclaim takes over
those a dead (or stuck) consumer left pending after ``claim_idle_ms``, each counted as a
delivery, and dead-letters an entry delivered more than ``max_deliveries`` times."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import ResponseError

from .transient import TRANSIENT, cause

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .acks import AckBatcher
    from .failures import FailureRecorder
    from .locks import AgentLocks
    from .settings import RuntimeSettings

__all__ = ["Reclaimer"]

log = structlog.get_logger("agent_streams")


class Reclaimer:
    """Heartbeat and reclaim for one consumer group in this process.

    Args:
        group: the consumer group.
        streams: the group's streams (the consumer's map, read live: streams are added).
        held: the entries this consumer holds, (stream, entry id) -> since (read live).
        accept: takes a reclaimed entry in as the consumer takes a read one.
    """

    def __init__(
        self,
        group: str,
        *,
        redis: aioredis.Redis,
        settings: RuntimeSettings,
        streams: dict[str, str | None],
        held: dict[tuple[str, str], float],
        locks: AgentLocks,
        failures: FailureRecorder,
        acks: AckBatcher,
        accept: Callable[[str, str, dict[bytes, bytes], int], None],
    ) -> None:
        self._group = group
        self._redis = redis
        self._s = settings
        self._streams = streams
        self._held = held
        self._locks = locks
        self._failures = failures
        self._acks = acks
        self._accept = accept

    async def heartbeat(self) -> None:
        """Every ``heartbeat_ms``: reset the idle time of the entries held here (XCLAIM
        JUSTID) and renew the agent locks, so a long handler is not reclaimed mid-run."""
        while True:
            await asyncio.sleep(self._s.heartbeat_ms / 1000)
            cutoff = time.monotonic() - self._s.heartbeat_ms / 1000 / 2
            by_stream: dict[str, list[Any]] = {}
            for (stream, entry_id), since in list(self._held.items()):
                if since <= cutoff:
                    by_stream.setdefault(stream, []).append(entry_id)
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for stream, ids in by_stream.items():
                        pipe.xclaim(stream, self._group, self._s.consumer_name, 0, ids, justid=True)
                    await self._locks.renew_in(pipe)
                    await pipe.execute()
            except TRANSIENT as exc:
                log.warning("redis_unreachable", during="heartbeat", error=cause(exc))

    async def reclaim(self) -> None:
        """Every ~``claim_idle_ms / 2``: take over entries idle for ``claim_idle_ms`` (their
        consumer died or let go of them), or dead-letter them past ``max_deliveries``."""
        interval = self._s.claim_idle_ms / 1000 / 2
        while True:
            try:
                for stream in list(self._streams):
                    await self._reclaim(stream)
            except TRANSIENT as exc:
                log.warning("redis_unreachable", during="reclaim", error=cause(exc))
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
            await asyncio.sleep(interval * (0.75 + random.random() / 2))

    async def _reclaim(self, stream: str) -> None:
        idle = self._s.claim_idle_ms
        start = "-"
        while True:
            rows: Any = await self._redis.xpending_range(
                stream, self._group, min=start, max="+", count=100, idle=idle
            )
            for row in rows:
                entry_id = row["message_id"].decode()
                if (stream, entry_id) in self._held:
                    continue
                claimed: Any = await self._redis.xclaim(
                    stream, self._group, self._s.consumer_name, idle, [entry_id]
                )
                if not claimed:
                    continue  # another replica got it first
                _id, fields = claimed[0]
                delivery = int(row["times_delivered"]) + 1
                log.warning(
                    "reclaimed",
                    stream=stream,
                    id=entry_id,
                    from_consumer=row["consumer"],
                    attempt=delivery,
                )
                if fields is None:
                    await self._redis.xack(stream, self._group, entry_id)
                elif delivery > self._s.max_deliveries:
                    await self._failures.dead_letter(
                        stream,
                        entry_id,
                        self._group,
                        f"gave up after {delivery - 1} deliveries: consumers stopped responding",
                        fields=fields,
                    )
                    self._held[(stream, entry_id)] = time.monotonic()
                    self._acks.queue(stream, entry_id)
                else:
                    self._accept(stream, entry_id, fields, delivery)
            if len(rows) < 100:
                return
            last = rows[-1]["message_id"].decode()
            ms, seq = last.split("-")
            start = f"{ms}-{int(seq) + 1}"
