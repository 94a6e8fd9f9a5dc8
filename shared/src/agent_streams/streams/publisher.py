"""The batched publisher: every publish waiting at one moment goes out in one write.

Publishes (``publish_message``, ``send_message``'s request) queue here; the first one made
while nothing is queued or in flight goes out from its caller's task at once, and those made
meanwhile go out together behind it, one EVALSHA of the publish script per stream and session
(automatic batching: packing and parsing per command, not per message, is what bounds a
publisher's rate). One write is in flight at a time, so publishes keep their order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from ..exceptions import QueueFullError, RuntimeStateError
from . import scripts as lua
from .transient import TRANSIENT, cause

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .fastpath import FastRedis
    from .hooks import RuntimeHooks
    from .settings import RuntimeSettings

__all__ = ["Publisher"]

log = structlog.get_logger("agent_streams")


@dataclass(slots=True)
class _Write:
    stream: str
    session: str | None
    topic: str
    fields: dict[str, str | bytes]
    future: asyncio.Future[str]
    queue_limit: int


class Publisher:
    """Batched XADDs through the publish script (``scripts.PUBLISH``): bounded streams, the
    queue limit and the session log in the same call.

    Args:
        redis: loads the script again when Redis lost it.
        fast: sends the batches.
        settings: stream bounds, queue limit, session log bounds.
    """

    def __init__(self, redis: aioredis.Redis, fast: FastRedis, settings: RuntimeSettings) -> None:
        self._redis = redis
        self._fast = fast
        self._settings = settings
        self._sha = redis.register_script(lua.PUBLISH).sha
        self._writes: list[_Write] = []
        self._write_event: asyncio.Event | None = None
        self._flush_lock = asyncio.Lock()  # one write in flight at a time: publishes keep order
        self.accepting = False
        """Whether writes are taken (the runtime opens and closes it)."""
        self.hooks: RuntimeHooks | None = None
        """Told of every write (``hooks.RuntimeHooks.publishing``); set by the runtime."""

    def open(self) -> None:
        self._write_event = asyncio.Event()
        self.accepting = True

    @property
    def busy(self) -> bool:
        """Writes are queued or in flight."""
        return bool(self._writes) or self._flush_lock.locked()

    async def write(
        self,
        stream: str,
        session: str | None,
        topic: str,
        fields: dict[str, str | bytes],
        *,
        control: bool = False,
    ) -> str:
        """Append ``fields`` to ``stream`` (and to ``session``'s log); returns the entry id.
        ``control``: not subject to the queue limit. Raises ``QueueFullError`` past it."""
        if self.hooks is not None:
            with self.hooks.publishing(topic or stream, fields):
                return await self._write(stream, session, topic, fields, control)
        return await self._write(stream, session, topic, fields, control)

    async def _write(
        self,
        stream: str,
        session: str | None,
        topic: str,
        fields: dict[str, str | bytes],
        control: bool,
    ) -> str:
        if not self.accepting or self._write_event is None:
            raise RuntimeStateError("the runtime is not running: call start() first")
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        limit = 0 if control else self._settings.queue_limit
        write = _Write(stream, session, topic, fields, future, limit)
        if not self._writes and not self._flush_lock.locked():
            # Nothing queued, nothing in flight: this write goes out from the caller's task at
            # once, two event-loop turns sooner than through the write loop (a send_message
            # round trip, a handler's publish). Writes made meanwhile queue up behind it.
            async with self._flush_lock:
                await self._send_batch([write])
            if self._writes:  # a write re-queued (NOSCRIPT), or queued behind this one
                self._write_event.set()
            return await future
        self._writes.append(write)
        self._write_event.set()
        return await future

    async def run(self) -> None:
        """Send what queues up, batch by batch (the runtime supervises this loop)."""
        assert self._write_event is not None
        while True:
            await self._write_event.wait()
            self._write_event.clear()
            await self.flush()

    async def flush(self) -> None:
        """Send every queued write now."""
        async with self._flush_lock:
            while self._writes:
                batch, self._writes = self._writes[:1000], self._writes[1000:]
                await self._send_batch(batch)

    async def _send_batch(self, batch: list[_Write]) -> None:
        """Every publish waiting now goes out in one write (automatic batching), with one
        EVALSHA per stream and session: packing and parsing per command, not per message, is
        what bounds a publisher's rate."""
        groups: dict[tuple[str, str | None, str, int], list[_Write]] = {}
        for w in batch:
            groups.setdefault((w.stream, w.session, w.topic, w.queue_limit), []).append(w)
        s = self._settings
        commands: list[list[Any]] = []
        for (stream, session, topic, limit), writes in groups.items():
            keys = [stream, session] if session else [stream]
            # EVALSHA itself: redis-py's Script object checks SCRIPT EXISTS first.
            command: list[Any] = [
                "EVALSHA",
                self._sha,
                len(keys),
                *keys,
                s.stream_maxlen,
                limit,
                s.session_log_maxlen if session else 0,
                s.session_ttl_s,
                topic,
            ]
            for w in writes:
                command.append(2 * len(w.fields))
                for item in w.fields.items():
                    command += item
            commands.append(command)
        results: list[Any] = []
        for attempt in range(8):
            try:
                results = await self._fast.execute(commands)
                break
            except TRANSIENT as exc:
                log.warning(
                    "redis_unreachable", during="publish", error=cause(exc), attempt=attempt + 1
                )
                await asyncio.sleep(min(0.1 * 2**attempt, 3.0))
        else:
            for w in batch:
                if not w.future.done():
                    w.future.set_exception(RedisConnectionError("Redis unreachable"))
            return
        missing: list[_Write] = []
        for ((stream, _session, _topic, limit), writes), result in zip(
            groups.items(), results, strict=True
        ):
            if isinstance(result, NoScriptError):
                missing.extend(writes)
            elif isinstance(result, Exception):
                for w in writes:
                    if not w.future.done():
                        w.future.set_exception(result)
            else:
                backlog, *entry_ids = result
                for w, entry_id in zip(writes, entry_ids, strict=True):
                    if w.future.done():
                        continue
                    if entry_id == 0:
                        w.future.set_exception(QueueFullError(stream, int(backlog), limit))
                    else:
                        w.future.set_result(entry_id.decode())
        if missing:  # Redis lost its script cache (restart, SCRIPT FLUSH): load, send again
            self._sha = await self._redis.script_load(lua.PUBLISH)
            self._writes[:0] = missing
