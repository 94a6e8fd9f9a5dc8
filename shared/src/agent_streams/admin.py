"""The operator's view of a deployment: queue depth, consumer lag, pending work, dead letters.

Read-only except ``retry_dead_letter``, which puts a dead-lettered entry back on the stream it
came from (its original fields, so the message keeps its id) and removes it from the
dead-letter stream, atomically with respect to other operators retrying the same entry.

Terms, as Redis reports them per consumer group (= agent type):
    lag      entries on the stream not yet delivered to the group (``None``: Redis cannot tell,
             e.g. after entries were deleted from the middle of the stream)
    pending  delivered to a consumer but not acknowledged yet (running, or left by a dead one)
    idle     milliseconds since a consumer last read or claimed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from .exceptions import ClientError, DeadLetterNotFound
from .keys import Keys
from .streams.failures import DeadLetter, decode_dead_letter

__all__ = [
    "Admin",
    "ConsumerStatus",
    "DeadLetter",
    "GroupStatus",
    "StreamStatus",
    "SystemStatus",
]

_KNOWN_TOPICS = ("tasks", "code", "results", "outcomes", "events")


@dataclass(frozen=True, slots=True)
class ConsumerStatus:
    name: str
    pending: int
    idle_ms: int
    inactive_ms: int | None = None  # Redis 7.2+: since the last successful read


@dataclass(frozen=True, slots=True)
class GroupStatus:
    name: str
    pending: int
    lag: int | None
    last_delivered_id: str
    consumers: tuple[ConsumerStatus, ...]


@dataclass(frozen=True, slots=True)
class StreamStatus:
    key: str
    kind: str  # "topic" or "inbox"
    name: str  # the topic type, or the agent type of an inbox
    length: int
    groups: tuple[GroupStatus, ...]


@dataclass(frozen=True, slots=True)
class SystemStatus:
    namespace: str
    streams: tuple[StreamStatus, ...]
    errors: int
    dead_letters: int


class Admin:
    """Operator queries over one namespace. ``redis`` must return bytes (the default)."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, *, stream_maxlen: int) -> None:
        self._redis = redis
        self._keys = keys
        self._maxlen = stream_maxlen

    async def status(self) -> SystemStatus:
        """Every topic and inbox stream of the namespace, with its groups and consumers."""
        found: set[str] = {self._keys.topic(t) for t in _KNOWN_TOPICS}
        for pattern in (self._keys.topic_pattern, self._keys.inbox_pattern):
            async for raw in self._redis.scan_iter(match=pattern, count=500, _type="stream"):
                found.add(raw.decode())
        streams = [await self._stream_status(key) for key in sorted(found)]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self._keys.errors)
            pipe.xlen(self._keys.dead_letters)
            errors, dead = await pipe.execute()
        return SystemStatus(
            namespace=self._keys.namespace,
            streams=tuple(streams),
            errors=int(errors),
            dead_letters=int(dead),
        )

    async def _stream_status(self, key: str) -> StreamStatus:
        topic_prefix = self._keys.topic("")
        kind, name = (
            ("topic", key[len(topic_prefix) :])
            if key.startswith(topic_prefix)
            else ("inbox", key[len(self._keys.inbox("")) :])
        )
        length = int(await self._redis.xlen(key))
        groups: list[GroupStatus] = []
        if length or await self._redis.exists(key):
            for row in await self._redis.xinfo_groups(key):
                group = _text(row["name"])
                consumers = [
                    ConsumerStatus(
                        name=_text(c["name"]),
                        pending=int(c["pending"]),
                        idle_ms=int(c["idle"]),
                        inactive_ms=_int_or_none(c.get("inactive")),
                    )
                    for c in await self._redis.xinfo_consumers(key, group)
                ]
                groups.append(
                    GroupStatus(
                        name=group,
                        pending=int(row["pending"]),
                        lag=_int_or_none(row.get("lag")),
                        last_delivered_id=_text(row["last-delivered-id"]),
                        consumers=tuple(consumers),
                    )
                )
        return StreamStatus(key=key, kind=kind, name=name, length=length, groups=tuple(groups))

    async def dead_letters(self, count: int = 20) -> list[DeadLetter]:
        """The newest ``count`` dead letters, newest first."""
        rows = _entries(await self._redis.xrevrange(self._keys.dead_letters, count=count))
        return [decode_dead_letter(entry_id, fields) for entry_id, fields in rows]

    async def dead_letter(self, entry_id: str) -> DeadLetter:
        rows = _entries(await self._redis.xrange(self._keys.dead_letters, entry_id, entry_id))
        if not rows:
            raise DeadLetterNotFound(entry_id)
        return decode_dead_letter(*rows[0])

    async def retry_dead_letter(self, entry_id: str) -> str:
        """Re-append the entry's original fields to its original stream and delete the dead
        letter; returns the new entry id. Two operators retrying at once: one wins, the other
        gets ``DeadLetterNotFound``."""
        dlq = self._keys.dead_letters
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(dlq)
                    rows = _entries(await pipe.xrange(dlq, entry_id, entry_id))
                    if not rows:
                        raise DeadLetterNotFound(entry_id)
                    letter = decode_dead_letter(*rows[0])
                    if not letter.stream.startswith(f"{self._keys.namespace}:"):
                        raise ClientError(
                            f"dead letter {entry_id} names stream {letter.stream!r}, "
                            f"outside namespace {self._keys.namespace!r}; not retrying"
                        )
                    if not letter.fields:
                        raise ClientError(f"dead letter {entry_id} kept no original fields")
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.xadd(
                        letter.stream,
                        letter.fields,  # type: ignore[arg-type]
                        maxlen=self._maxlen,
                        approximate=True,
                    )
                    pipe.xdel(dlq, entry_id)
                    new_id, _deleted = await pipe.execute()
                    return _text(new_id)
                except WatchError:
                    continue  # the dead-letter stream changed under us: read it again


def _entries(raw: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """XRANGE / XREVRANGE rows (redis-py types them loosely)."""
    return [(entry_id, fields or {}) for entry_id, fields in raw or ()]


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
