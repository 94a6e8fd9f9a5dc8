"""The runtime's hot paths to Redis, cheaper than redis-py's general ones.

* ``FastRedis.execute``: several commands packed by hiredis (C) into one write, replies read
  in order, on a connection kept between uses. redis-py's asyncio client packs in Python
  (~10 us per published message with its fields, 7x hiredis), a pipeline object costs more
  than the few commands it carries, and taking a connection from the pool and giving it back
  costs about as much as the round trip: measured here, one XREAD round trip took ~75 us of
  CPU through ``Redis.xread``, ~23 us on a kept connection.
* ``new_message_id``: 32 hex characters from ``os.urandom``, drawn 4 KiB at a time:
  ``uuid.uuid4()`` is one ``getrandom`` system call per message (~3.5 us here).
* ``runtime_redis``: the runtime's own client, its pool sized for the handlers and loops, with
  no socket timeout (see below), TCP keepalive and user timeout.

Why no socket timeout: redis-py wraps every command's send in ``asyncio.wait_for`` while a
``socket_timeout`` is set (one extra task and two event-loop turns per command on Python 3.11)
and every read in a timeout context; that was 12-15 % of the runtime's CPU. A dead peer is
found by the kernel instead: keepalive probes after ``_KEEPIDLE_S`` of silence (a blocked
XREADGROUP included) and ``TCP_USER_TIMEOUT`` when sent data stays unacknowledged, so a
connection to a vanished Redis fails within ~25 s rather than hanging; a Redis that restarts or
refuses connections fails at once, as before. Blocking reads (XREADGROUP / XREAD with BLOCK)
return on their own after their block time.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from hiredis import pack_command  # a dependency: redis[hiredis]
from redis.exceptions import ResponseError

from ..connection import redis_client

if TYPE_CHECKING:
    from .settings import RuntimeSettings

__all__ = ["FastRedis", "connection_options", "new_message_id", "runtime_redis", "stream_entries"]

_KEEPIDLE_S = 10
_KEEPINTVL_S = 5
_KEEPCNT = 3
_USER_TIMEOUT_MS = 25_000


def connection_options() -> dict[str, Any]:
    """Keyword arguments for the runtime's own connection pool (see the module docstring)."""
    keepalive: dict[int, int] = {}
    idle = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
    for option, value in (
        (idle, _KEEPIDLE_S),
        (getattr(socket, "TCP_KEEPINTVL", None), _KEEPINTVL_S),
        (getattr(socket, "TCP_KEEPCNT", None), _KEEPCNT),
        (getattr(socket, "TCP_USER_TIMEOUT", None), _USER_TIMEOUT_MS),
    ):
        if option is not None:
            keepalive[option] = value
    return {
        "socket_timeout": None,
        "socket_connect_timeout": 5.0,
        "socket_keepalive": True,
        "socket_keepalive_options": keepalive,
    }


def runtime_redis(settings: RuntimeSettings) -> aioredis.Redis:
    """The runtime's own client for ``settings.redis_url`` (any URL ``connection`` takes,
    Sentinel included). RESP2 pinned: reply shapes must not change with the client library's
    default. The pool is sized for ``max_inflight`` handlers plus the background loops
    (redis-py's default of 100 raised MaxConnectionsError under load); a blocking pool would
    cost ~0.2 ms per ``send_message`` round trip."""
    return redis_client(
        settings.redis_url,
        max_connections=settings.max_connections,
        protocol=2,
        health_check_interval=30,
        **connection_options(),
    )


class FastRedis:
    """Runs packed commands on connections taken from ``redis``'s pool and kept between uses.

    A redis-py pool's ``get_connection`` / ``release`` pair (an asyncio lock, observability
    hooks, a dirty-connection check) cost about as much CPU as the round trip itself; the
    runtime's hot paths (publishing, replies, acks, its blocking reads) reuse connections from
    here instead. A connection goes back to the idle list only in step: redis-py disconnects
    one that fails or is cancelled mid-command, and it reconnects on its next use.
    """

    def __init__(self, redis: aioredis.Redis, *, keep: int = 64) -> None:
        self._pool = redis.connection_pool
        self._idle: list[Any] = []
        self._keep = keep
        self._closed = False

    async def execute(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Run ``commands`` in one write and round trip; a command's server error is returned
        in its place (as a pipeline with ``raise_on_error=False`` does). Connection errors are
        retried by the connection's own ``Retry``, as redis-py's commands are."""
        packed = [pack_command(tuple(command)) for command in commands]
        conn = self._idle.pop() if self._idle else await self._pool.get_connection()  # type: ignore[no-untyped-call]
        try:

            async def attempt() -> list[Any]:
                await conn.send_packed_command(packed)
                out: list[Any] = []
                for _ in packed:
                    try:
                        out.append(await conn.read_response())
                    except ResponseError as exc:  # read in full: the connection stays in step
                        out.append(exc)
                return out

            async def failed(_error: Exception) -> None:
                await conn.disconnect()

            result: list[Any] = await conn.retry.call_with_retry(attempt, failed)
            return result
        finally:
            if self._closed or len(self._idle) >= self._keep:
                await self._pool.release(conn)
            else:
                self._idle.append(conn)

    async def close(self) -> None:
        """Hand the kept connections back to the pool (before the pool is closed)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._pool.release(conn)


def stream_entries(response: Any) -> list[tuple[bytes, list[tuple[bytes, Any]]]]:
    """An XREAD / XREADGROUP reply (RESP2) as redis-py gives it: ``[(stream, [(entry id,
    {field: value} or None for an entry deleted while pending), ...]), ...]``."""
    out: list[tuple[bytes, list[tuple[bytes, Any]]]] = []
    for stream, entries in response or ():
        parsed: list[tuple[bytes, Any]] = []
        for entry_id, flat in entries:
            fields = None if flat is None else dict(zip(flat[::2], flat[1::2], strict=True))
            parsed.append((entry_id, fields))
        out.append((stream, parsed))
    return out


_ID_BYTES = 16
_pool = b""
_offset = 0
_id_lock = threading.Lock()  # runtimes on event loops in several threads share the block


def new_message_id() -> str:
    """A random 128-bit id as 32 hex characters (what ``uuid.uuid4().hex`` gives, minus the
    version bits), from ``os.urandom`` drawn in blocks."""
    global _pool, _offset
    with _id_lock:
        if _offset + _ID_BYTES > len(_pool):
            _pool, _offset = os.urandom(4096), 0
        start, _offset = _offset, _offset + _ID_BYTES
        return _pool[start:_offset].hex()


def _forget_pool() -> None:  # a forked child must not hand out its parent's next ids
    global _pool, _offset
    _pool, _offset = b"", 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
