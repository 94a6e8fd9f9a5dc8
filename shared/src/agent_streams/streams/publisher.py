"""The batched publisher: every publish waiting at one moment goes out in one write.

Publishes (``publish_message``, ``send_message``'s request) queue here; the first one made
while nothing is queued or in flight goes out from its caller's task at once, and those made
meanwhile go out together behind it, one EVALSHA of the publish script per stream and session
(automatic batching: packing and parsing per command, not per message, is what bounds a
publisher's rate). One write is in flight at a time, so publishes keep their order.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from ..exceptions import QueueFullError, RuntimeStateError
from . import scripts as lua
from .fastpath import new_message_id
from .transient import TRANSIENT, cause
from .wire import build_fields

if TYPE_CHECKING:
    from .._ids import AgentId, TopicId
    from .._serialization import MessageRegistry
    from ..keys import Keys
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
        fast: sends the batches (and loads the script again when Redis lost it).
        keys: names a topic's stream and a session's log.
        settings: stream bounds, queue limit, session log bounds.
        messages: encodes published messages.
    """

    def __init__(
        self, fast: FastRedis, keys: Keys, settings: RuntimeSettings, messages: MessageRegistry
    ) -> None:
        self._fast = fast
        self._keys = keys
        self._settings = settings
        self._messages = messages
        # What SCRIPT LOAD answers (a content hash, not a security measure).
        self._sha = hashlib.sha1(lua.PUBLISH.encode(), usedforsecurity=False).hexdigest()
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

    def publish(
        self, message: Any, topic_id: TopicId, sender: AgentId | None, message_id: str | None
    ) -> Coroutine[Any, Any, str]:
        """``RedisStreamsRuntime.publish_message``: ``message`` onto its topic's stream (and the
        session's log); await the write it returns (no coroutine frame of its own on the hot
        path). Control messages (a class with ``__agent_streams_control__ = True``, e.g.
        ``CancelTask``) skip the queue limit: a user can always cancel."""
        name, body, version = self._messages.encode(message)
        fields = build_fields(
            name,
            body,
            version,
            message_id or new_message_id(),
            source=topic_id.source,
            sender=sender,
        )
        session = self._keys.session(topic_id.source) if self._settings.session_log else None
        control = getattr(type(message), "__agent_streams_control__", False) is True
        return self.write(
            self._keys.topic(topic_id.type), session, topic_id.type, fields, control=control
        )

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
            (loaded,) = await self._fast.execute([["SCRIPT", "LOAD", lua.PUBLISH]])
            if isinstance(loaded, Exception):
                raise loaded
            self._sha = loaded.decode()
            self._writes[:0] = missing
