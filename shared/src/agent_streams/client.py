"""The Python client: submit a task, follow its session live, save its artifacts.

::

    async with AgentStreamsClient(RuntimeSettings()) as client:
        session = await client.submit("Plot y = x^2 and save it as plot.png", files=["data.csv"])
        async for event in client.follow(session):
            print(event.type, event.message)
        result = await client.wait(session, timeout=60)
        paths = await client.save_artifacts(result, "out", session=session)

A task is a ``TaskRequest`` published on the ``tasks`` topic with the session id as topic
source; everything that happens in the session is read back from the session's log stream
(see ``session_log``). Input files up to ``INLINE_FILE_BYTES`` travel inline (base64); larger
ones are stored as content-addressed blobs first and referenced by digest. Operator queries
(``status``, ``dead_letters``, ``retry_dead_letter``) are delegated to ``admin.Admin``.

Errors (see ``exceptions``): ``QueueFullError`` when the task queue is at its limit,
``RedisUnavailableError``, ``UnknownSessionError``, ``TaskRejectedError``, ``ArtifactError``;
``wait`` raises the builtin ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncGenerator, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from pydantic import ValidationError

from ._ids import TopicId
from .admin import Admin, DeadLetter, SystemStatus
from .artifacts import ArtifactStore
from .connection import redis_client
from .exceptions import (
    ClientError,
    RedisUnavailableError,
    TaskRejectedError,
    UnknownSessionError,
)
from .files import INLINE_FILE_BYTES, MAX_FILE_BYTES, input_file, save_artifacts
from .keys import Keys, validate_name
from .messages import (
    TASKS_TOPIC,
    ArtifactRef,
    CancelTask,
    ExecutionOptions,
    ExecutionResult,
    TaskRequest,
    TaskResult,
)
from .session_log import ErrorEvent, SessionEvent, decode_log_entry
from .streams.runtime import RedisStreamsRuntime
from .streams.settings import RuntimeSettings
from .streams.transient import REDIS_DOWN as _REDIS_DOWN

__all__ = ["INLINE_FILE_BYTES", "MAX_FILE_BYTES", "AgentStreamsClient", "new_session_id"]

_RECONNECT_S = 10.0


def new_session_id() -> str:
    """A fresh session id that sorts by time, e.g. ``20250101-120000-3f9a1c``."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


class AgentStreamsClient:
    """Submit tasks and follow sessions on one deployment (Redis URL + namespace).

    Use as ``async with``; entering checks that Redis answers (``RedisUnavailableError``).

    Args:
        settings: connection and namespace; ``RuntimeSettings()`` reads ``AGENT_STREAMS_*``
            (and ``REDIS_URL``) from the environment.
    """

    def __init__(self, settings: RuntimeSettings | None = None) -> None:
        self.settings = settings or RuntimeSettings()
        self.keys = Keys(self.settings.namespace)
        self._redis: aioredis.Redis | None = None
        self._runtime: RedisStreamsRuntime | None = None
        self._runtime_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._redis = redis_client(self.settings.redis_url, protocol=2, socket_connect_timeout=5)
        try:
            with self._translate():
                await self._redis.ping()
        except BaseException:
            await self._redis.aclose()
            self._redis = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the publisher (if one was started) and close the connection pool."""
        if self._runtime is not None:
            runtime, self._runtime = self._runtime, None
            await runtime.stop()
        if self._redis is not None:
            redis, self._redis = self._redis, None
            await redis.aclose()

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise ClientError("use the client as `async with AgentStreamsClient(...)`")
        return self._redis

    @property
    def artifacts(self) -> ArtifactStore:
        """The deployment's blob store (input files up, artifacts down)."""
        return ArtifactStore(
            self.redis, self.keys, ttl_s=self.settings.session_ttl_s, max_file_bytes=MAX_FILE_BYTES
        )

    @property
    def admin(self) -> Admin:
        return Admin(self.redis, self.keys, stream_maxlen=self.settings.stream_maxlen)

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except _REDIS_DOWN as exc:
            raise RedisUnavailableError(_redact(self.settings.redis_url), str(exc)) from exc

    async def _publisher(self) -> RedisStreamsRuntime:
        # The runtime is the one place that knows the publish format (queue limit check,
        # trimming, the session-log mirror), so the client publishes through one.
        async with self._runtime_lock:
            if self._runtime is None:
                runtime = RedisStreamsRuntime(self.settings, redis=self.redis)
                runtime.start()
                self._runtime = runtime
                with self._translate():
                    await runtime.ready()
            return self._runtime

    async def _publish(self, message: TaskRequest | CancelTask, session: str) -> None:
        runtime = await self._publisher()
        with self._translate():
            await runtime.publish_message(message, TopicId(TASKS_TOPIC, session))

    # -- tasks ----------------------------------------------------------------------------
    async def submit(
        self,
        prompt: str,
        *,
        files: Sequence[str | os.PathLike[str]] = (),
        system_prompt: str | None = None,
        max_turns: int | None = None,
        timeout_s: float = 900.0,
        network: bool = False,
        session: str | None = None,
    ) -> str:
        """Publish a task and return its session id.

        Args:
            prompt: what to do.
            files: local files placed in the session's work dir before code runs.
            system_prompt: replaces the assistant's default system prompt.
            max_turns: model replies before the task ends as ``max_turns``; ``None`` leaves
                it to the assistant's setting (``AGENT_STREAMS_ASSISTANT_MAX_TURNS``).
            timeout_s: the task's deadline; it ends as ``deadline`` past it.
            network: ask for network access in the sandbox (the operator may refuse).
            session: reuse a session id (e.g. to continue a conversation); default: a new one.

        Raises:
            QueueFullError: the task queue is at its limit; retry later.
            ClientError: an unreadable input file or invalid options.
        """
        session = session or new_session_id()
        try:
            validate_name(session, "session id")
        except ValueError as exc:
            raise ClientError(str(exc)) from None
        with self._translate():
            inputs = [await input_file(self.artifacts, Path(p)) for p in files]
        names = [f.name for f in inputs]
        if len(set(names)) != len(names):
            raise ClientError(f"two input files share a name: {sorted(names)}")
        try:
            # Fields left out (not defaulted) so the assistant's own settings apply.
            limits = {"max_turns": max_turns} if max_turns is not None else {}
            request = TaskRequest(
                prompt=prompt,
                system_prompt=system_prompt,
                timeout_s=timeout_s,
                execution=ExecutionOptions(network=network),
                files=inputs,
                **limits,
            )
        except ValidationError as exc:
            raise ClientError(f"invalid task: {_summary(exc)}") from None
        await self._publish(request, session)
        return session

    async def cancel(self, session: str, reason: str = "cancelled by user") -> None:
        """Ask the assistant to end the session as ``cancelled`` (and the executor to kill
        running code). The ``CancelTask`` and the final ``TaskResult`` show up in ``follow``."""
        await self._require_session(session)
        await self._publish(CancelTask(reason=reason), session)

    # -- reading a session ----------------------------------------------------------------
    async def _require_session(self, session: str) -> str:
        try:
            key = self.keys.session(validate_name(session, "session id"))
        except ValueError as exc:
            raise UnknownSessionError(session, self.keys.namespace) from exc
        with self._translate():
            if not await self.redis.exists(key):
                raise UnknownSessionError(session, self.keys.namespace)
        return key

    async def log_position(self, session: str) -> str:
        """The id of the session log's last entry (``0-0`` when empty): pass it as ``after``
        to follow only what comes next, e.g. when submitting again to an existing session."""
        with self._translate():
            rows = await self.redis.xrevrange(self.keys.session(session), count=1)
        return _text(rows[0][0]) if rows else "0-0"

    async def follow(
        self, session: str, *, from_start: bool = True, after: str | None = None
    ) -> AsyncGenerator[SessionEvent, None]:
        """Yield the session's events as they happen; stop after the ``TaskResult`` (or an
        error saying the task itself was rejected).

        Args:
            session: the session id.
            from_start: replay what already happened first (else only new events).
            after: start after this session-log entry id (overrides ``from_start``).

        Raises:
            UnknownSessionError: no log for this session.
        """
        key = await self._require_session(session)
        cursor = after or ("0-0" if from_start else await self.log_position(session))
        block_ms = max(self.settings.read_block_ms, 1000)
        down_since: float | None = None
        while True:
            try:
                response = await self.redis.xread({key: cursor}, block=block_ms, count=200)
                _reraise_lost_cancel()
                down_since = None
            except _REDIS_DOWN as exc:
                # Ride out a short Redis restart; the cursor makes the resume exact.
                now = time.monotonic()
                down_since = down_since or now
                if now - down_since > _RECONNECT_S:
                    raise RedisUnavailableError(_redact(self.settings.redis_url), str(exc)) from exc
                await asyncio.sleep(0.5)
                continue
            for entry_id, fields in _stream_entries(response):
                cursor = _text(entry_id)
                event = decode_log_entry(session, cursor, fields)
                yield event
                if event.is_final:
                    return

    async def wait(
        self, session: str, timeout: float | None = None, *, after: str | None = None
    ) -> TaskResult:
        """Wait for the session's ``TaskResult``.

        Raises:
            TimeoutError: none within ``timeout`` seconds.
            TaskRejectedError: the task itself was rejected; no result will come.
            UnknownSessionError: no log for this session.
        """
        try:
            async with asyncio.timeout(timeout):
                async with contextlib.aclosing(self.follow(session, after=after)) as events:
                    async for event in events:
                        final = self._final(event)
                        if final is not None:
                            return final
        except TimeoutError:
            raise TimeoutError(f"no result for session {session} within {timeout} s") from None
        raise ClientError(f"the log of session {session} ended without a result")

    @staticmethod
    def _final(event: SessionEvent) -> TaskResult | None:
        """The result carried by a final event; raises for a rejected task."""
        if isinstance(event.message, TaskResult):
            return event.message
        if isinstance(event.message, ErrorEvent) and event.message.rejects_task:
            raise TaskRejectedError(event.session, event.message.code, event.message.error)
        return None

    async def replay(self, session: str) -> list[SessionEvent]:
        """The whole conversation so far, from the session's log, oldest first."""
        key = await self._require_session(session)
        events: list[SessionEvent] = []
        start = "-"
        while True:
            with self._translate():
                rows = _entries(await self.redis.xrange(key, start, "+", count=1000))
            for entry_id, fields in rows:
                events.append(decode_log_entry(session, _text(entry_id), fields))
            if len(rows) < 1000:
                return events
            start = "(" + _text(rows[-1][0])

    # -- artifacts ----------------------------------------------------------------------
    async def save_artifacts(
        self,
        result: TaskResult | ExecutionResult | Sequence[ArtifactRef],
        out_dir: str | os.PathLike[str],
        *,
        session: str,
    ) -> list[Path]:
        """Fetch the result's artifacts and write them to ``out_dir/<session>/<name>``.

        Each blob is checked against its sha256; a name that would leave the session's folder
        (absolute, ``..``) is refused. Everything that can be saved is.

        Returns:
            The paths written.

        Raises:
            ArtifactError: some artifacts were not saved (``.problems`` says why, ``.saved``
                lists the ones that were): not stored (over the size cap), expired, corrupt,
                or an unsafe name.
        """
        refs = result if isinstance(result, Sequence) else result.artifacts
        with self._translate():
            return await save_artifacts(self.artifacts, refs, Path(out_dir), session)

    # -- operator queries -----------------------------------------------------------------
    async def status(self) -> SystemStatus:
        """Per stream: length; per consumer group: lag, pending, consumers and their idle time;
        plus the error and dead-letter counts."""
        with self._translate():
            return await self.admin.status()

    async def dead_letters(self, count: int = 20) -> list[DeadLetter]:
        """The newest ``count`` dead letters, newest first."""
        with self._translate():
            return await self.admin.dead_letters(count)

    async def dead_letter(self, entry_id: str) -> DeadLetter:
        with self._translate():
            return await self.admin.dead_letter(entry_id)

    async def retry_dead_letter(self, entry_id: str) -> str:
        """Put a dead letter back on its original stream; returns the new entry id."""
        with self._translate():
            return await self.admin.retry_dead_letter(entry_id)


def _reraise_lost_cancel() -> None:
    """Honour a cancellation that an awaited call swallowed.

    On Python 3.11, ``asyncio.wait_for`` (which redis-py wraps around every command it sends
    while a ``socket_timeout`` is set, its default) drops a cancel that lands as the send
    completes (CPython gh-86296, fixed in 3.12): Ctrl-C, or an ``asyncio.timeout`` around
    ``follow``, would then never stop it. The task still counts the request, so look.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def _summary(exc: ValidationError) -> str:
    errs = exc.errors(include_url=False)
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in errs)


def _entries(raw: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """XRANGE rows (redis-py types them loosely); a trimmed entry has no fields."""
    return [(entry_id, fields or {}) for entry_id, fields in raw or ()]


def _stream_entries(response: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """The entries of an XREAD response over one stream."""
    return [row for _stream, rows in response or () for row in _entries(rows)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
