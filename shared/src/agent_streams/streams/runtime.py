"""RedisStreamsRuntime: the production runtime, over Redis Streams.

Topic type -> one stream; subscription (topic type -> agent type) -> one consumer group named
after the agent type; replicas of an agent type are consumers in that group and share the work.
``send_message`` goes to the recipient type's inbox stream and the reply comes back on this
runtime's reply stream; a timeout or cancellation is broadcast on the cancel channel and reaches
the handler's ``CancellationToken`` in whichever process runs it. Every key name comes from
``agent_streams.keys``. See ``consumer`` for delivery, heartbeat, reclaim and dead-lettering.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._agent import BaseAgent
from .._cancellation import CancellationToken
from .._ids import AgentId, AgentType, TopicId
from .._runtime import AgentRegistry
from .._subscription import TypeSubscription
from ..connection import connection_pool
from ..exceptions import (
    BadMessageError,
    CantHandleException,
    QueueFullError,
    RemoteHandlerError,
    RuntimeStateError,
    UnknownMessageType,
)
from ..keys import Keys
from . import scripts as lua
from .consumer import GroupConsumer, cancel_and_wait, supervise
from .fastpath import FastRedis, connection_options, new_message_id, stream_entries
from .settings import RuntimeSettings
from .wire import Envelope, build_fields, parse_entry

__all__ = ["RedisStreamsRuntime"]

log = structlog.get_logger("agent_streams")
_TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


@dataclass(slots=True)
class _Scripts:
    publish: Any
    release: Any
    renew: Any


@dataclass(slots=True)
class _Write:
    stream: str
    session: str | None
    topic: str
    fields: dict[str, str | bytes]
    future: asyncio.Future[str]
    queue_limit: int


class RedisStreamsRuntime:
    """An ``AgentRuntime`` whose agents run in any number of processes sharing one Redis.

    Args:
        settings: connection, namespace and delivery settings (``RuntimeSettings()`` reads the
            environment).
        redis: an existing ``redis.asyncio.Redis`` (bytes responses) to use instead of
            connecting from ``settings.redis_url``; the caller then closes it.
    """

    def __init__(
        self, settings: RuntimeSettings | None = None, *, redis: aioredis.Redis | None = None
    ) -> None:
        self.settings = settings or RuntimeSettings()
        self.keys = Keys(self.settings.namespace)
        self._own_redis = redis is None
        # RESP2 pinned: reply shapes must not change with the client library's default. The
        # pool is sized for max_inflight handlers plus the background loops (redis-py's default
        # of 100 raised MaxConnectionsError under load); a blocking pool would cost ~0.2 ms per
        # send_message round trip. No socket timeout, TCP keepalive instead: see ``fastpath``.
        self.redis: aioredis.Redis = redis or aioredis.Redis.from_pool(  # owns it: closes it
            connection_pool(  # redis://, rediss://, unix://, redis+sentinel://
                self.settings.redis_url,
                max_connections=self.settings.max_connections,
                protocol=2,
                health_check_interval=30,
                **connection_options(),
            )
        )
        self.fast = FastRedis(self.redis)  # the hot paths' commands (see fastpath)
        self.registry = AgentRegistry(self)
        self.scripts = _Scripts(
            publish=self.redis.register_script(lua.PUBLISH),
            release=self.redis.register_script(lua.RELEASE_LOCK),
            renew=self.redis.register_script(lua.RENEW_LOCK),
        )
        self.runtime_id = uuid.uuid4().hex
        self.tokens: dict[str, set[CancellationToken]] = {}
        self._cancels_heard: OrderedDict[str, None] = OrderedDict()  # newest last, bounded
        self._listening_since_ms = math.inf
        self._consumers: dict[str, GroupConsumer] = {}
        self._waiters: dict[str, asyncio.Future[tuple[str, dict[bytes, bytes]]]] = {}
        self._sent_requests = False  # only then is there a reply stream to delete at stop
        self._writes: list[_Write] = []
        self._write_event: asyncio.Event | None = None
        self._flush_lock = asyncio.Lock()  # one write in flight at a time: publishes keep order
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._stopped = False
        self._closed = False  # set once draining is over: handlers may publish while draining
        self._pubsub: Any = None
        self._dead_letter_listeners: list[Callable[[DeadLetter], Awaitable[None]]] = []

    # -- registration ---------------------------------------------------------------------
    async def register_factory(
        self,
        type: str | AgentType,
        agent_factory: Callable[[], Any],
        *,
        expected_class: type[BaseAgent] | None = None,
    ) -> AgentType:
        name = type.type if isinstance(type, AgentType) else type
        agent_type = self.registry.add_factory(name, agent_factory, expected_class)
        consumer = GroupConsumer(self, name, {self.keys.inbox(name): ""})
        self._consumers[name] = consumer
        if self._started:
            await consumer.ensure_groups()
            consumer.start()
        return agent_type

    async def add_subscription(self, subscription: TypeSubscription) -> None:
        if not self.registry.add_subscription(subscription):
            return
        consumer = self._consumers.get(subscription.agent_type)
        if consumer is None:
            return  # the agent type lives in another process: routing is by Redis groups
        consumer.add_stream(self.keys.topic(subscription.topic_type), subscription.topic_type)
        if self._started:
            await consumer.ensure_groups()

    def register_message_type(self, cls: type[Any]) -> None:
        self.registry.messages.register(cls)

    async def try_get_underlying_agent_instance(self, agent_id: AgentId) -> BaseAgent:
        return await self.registry.get_instance(agent_id)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start consuming in the background (autogen-core's ``runtime.start()``)."""
        if self._started:
            raise RuntimeStateError("runtime already started")
        self._started = True
        self._write_event = asyncio.Event()
        self._spawn(supervise("write", self._write_loop))
        self._ready = asyncio.get_running_loop().create_task(self._boot())

    async def _boot(self) -> None:
        for consumer in self._consumers.values():
            await consumer.ensure_groups()
            consumer.start()
        self._spawn(supervise("replies", self._reply_loop))
        if self.settings.agent_idle_evict_s:
            self._spawn(supervise("evict", self._evict_loop))
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(**{self.keys.cancel_channel: self._on_cancel})
        # Cancels of requests sent from now on reach _on_cancel. The margin covers SUBSCRIBE
        # still in flight and a Redis clock (entry ids) up to 1 s ahead of this host's.
        self._listening_since_ms = time.time() * 1000 + 1000
        self._spawn(self._pubsub.run())

    async def _evict_loop(self) -> None:
        idle_s = self.settings.agent_idle_evict_s
        while True:
            await asyncio.sleep(max(idle_s / 4, 0.05))
            evicted = await self.registry.evict_idle(idle_s)
            if evicted:
                log.debug("agents_evicted", count=evicted, live=len(self.registry.instances))

    @property
    def started(self) -> bool:
        return self._started

    async def ready(self) -> None:
        """Wait until consumer groups exist and listeners run (``start()`` is synchronous)."""
        if not self._started:
            raise RuntimeStateError("call runtime.start() first")
        await asyncio.shield(self._ready)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        """Stop reading, drain in-flight handlers within ``drain_grace_s``, then close."""
        if self._stopped:
            return
        self._stopped = True
        if self._started:
            await asyncio.gather(self._ready, return_exceptions=True)
            await asyncio.gather(
                *(c.stop(self.settings.drain_grace_s) for c in self._consumers.values())
            )
            await self._flush_writes()
        self._closed = True
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(RuntimeStateError("runtime stopped"))
        await cancel_and_wait(self._tasks)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self.registry.close_all()
        if self._sent_requests:  # a publish-only process (the client) may not DEL (Redis ACL)
            with contextlib.suppress(*_TRANSIENT):
                await self.redis.delete(self.keys.reply(self.runtime_id))
        await self.fast.close()
        if self._own_redis:
            await self.redis.aclose()

    async def stop_when_idle(self) -> None:
        """Stop once every stream this process consumes is drained (nothing undelivered,
        nothing pending) and no handler runs here."""
        await self.ready()
        while True:
            await asyncio.gather(*(c.wait_idle(0.2) for c in self._consumers.values()))
            locally_idle = (
                all(c.idle for c in self._consumers.values())
                and not self._writes
                and not self._flush_lock.locked()
            )
            if locally_idle and await self._groups_drained():
                break
            await asyncio.sleep(0.05)
        await self.stop()

    async def _groups_drained(self) -> bool:
        for consumer in self._consumers.values():
            for stream in consumer.streams:
                for group in await self.redis.xinfo_groups(stream):
                    if group["name"].decode() != consumer.group:
                        continue
                    if group["pending"] or group.get("lag"):
                        return False
        return True

    # -- publishing -----------------------------------------------------------------------
    async def publish_message(
        self,
        message: Any,
        topic_id: TopicId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> None:
        """Append ``message`` to the topic's stream; raises ``QueueFullError`` past the limit.

        Control messages (a class with ``__agent_streams_control__ = True``, e.g. ``CancelTask``)
        skip the queue limit: a user can always cancel, even while the queue is full.
        """
        name, body, version = self.registry.messages.encode(message)
        fields = build_fields(
            name,
            body,
            version,
            message_id or new_message_id(),
            source=topic_id.source,
            sender=sender,
        )
        session = self.keys.session(topic_id.source) if self.settings.session_log else None
        control = getattr(type(message), "__agent_streams_control__", False) is True
        await self._write(
            self.keys.topic(topic_id.type), session, topic_id.type, fields, control=control
        )

    async def _write(
        self,
        stream: str,
        session: str | None,
        topic: str,
        fields: dict[str, str | bytes],
        *,
        control: bool = False,
    ) -> str:
        if not self._started or self._closed or self._write_event is None:
            raise RuntimeStateError("the runtime is not running: call start() first")
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        limit = 0 if control else self.settings.queue_limit
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

    async def _write_loop(self) -> None:
        assert self._write_event is not None
        while True:
            await self._write_event.wait()
            self._write_event.clear()
            await self._flush_writes()

    async def _flush_writes(self) -> None:
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
        s = self.settings
        commands: list[list[Any]] = []
        for (stream, session, topic, limit), writes in groups.items():
            keys = [stream, session] if session else [stream]
            # EVALSHA itself: redis-py's Script object checks SCRIPT EXISTS first.
            command: list[Any] = [
                "EVALSHA",
                self.scripts.publish.sha,
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
                results = await self.fast.execute(commands)
                break
            except _TRANSIENT as exc:
                log.warning(
                    "redis_unreachable", during="publish", error=str(exc), attempt=attempt + 1
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
            await self.redis.script_load(lua.PUBLISH)
            self._writes[:0] = missing

    # -- request / reply ------------------------------------------------------------------
    async def send_message(
        self,
        message: Any,
        recipient: AgentId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send to one agent (any process) and wait for its handler's return value.

        Raises ``TimeoutError`` after ``timeout`` seconds, ``CantHandleException`` when the agent
        has no handler for the type and ``RemoteHandlerError`` when the handler raised; on
        timeout or cancellation the remote handler is cancelled too.
        """
        await self.ready()
        mid = message_id or new_message_id()
        name, body, version = self.registry.messages.encode(message)
        deadline = int((time.time() + timeout) * 1000) if timeout else None
        fields = build_fields(
            name,
            body,
            version,
            mid,
            sender=sender,
            key=recipient.key,
            reply_to=self.keys.reply(self.runtime_id),
            deadline_ms=deadline,
        )
        waiter: asyncio.Future[tuple[str, dict[bytes, bytes]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters[mid] = waiter
        self._sent_requests = True
        if cancellation_token is not None:
            cancellation_token.link_future(waiter)
        timer: asyncio.TimerHandle | None = None
        try:
            await self._write(self.keys.inbox(recipient.type), None, "", fields)
            if timeout is not None:  # (asyncio.wait_for costs one more event-loop turn)
                timer = asyncio.get_running_loop().call_later(timeout, _expire, waiter)
            status, reply = await waiter
        except TimeoutError:
            await self._cancel_remote(mid)
            raise TimeoutError(f"no reply from {recipient} within {timeout} s") from None
        except asyncio.CancelledError:
            await asyncio.shield(self._cancel_remote(mid))
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self._waiters.pop(mid, None)
        if status == "error":
            error_type = reply.get(b"error_type", b"Exception").decode()
            text = reply.get(b"error", b"").decode()
            if error_type == CantHandleException.__name__:
                raise CantHandleException(text)
            raise RemoteHandlerError(error_type, text)
        reply_type = reply[b"type"].decode()
        try:
            return self.registry.messages.decode(
                reply_type, reply[b"body"], int(reply.get(b"v", b"1"))
            )
        except UnknownMessageType as exc:
            raise UnknownMessageType(
                f"the reply from {recipient} is a {reply_type!r}, which this process does not "
                f"know: call runtime.register_message_type({reply_type}) before send_message "
                "(the handler has run)"
            ) from exc

    async def _cancel_remote(self, message_id: str) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self.keys.cancelled(message_id), 1, ex=self.settings.reply_ttl_s)
                pipe.publish(self.keys.cancel_channel, message_id)
                await pipe.execute()
        except _TRANSIENT as exc:
            log.warning("cancel_not_sent", id=message_id, error=str(exc))

    async def _on_cancel(self, message: dict[str, Any]) -> None:
        message_id = message["data"].decode()
        for token in list(self.tokens.get(message_id, ())):
            token.cancel()
        self._cancels_heard[message_id] = None  # for a request whose handler has not started
        if len(self._cancels_heard) > 10_000:
            self._cancels_heard.popitem(last=False)

    async def rpc_expired(self, env: Envelope, delivery: int = 1) -> bool:
        """Whether a request's caller gave up (deadline passed, cancelled) before its handler
        started. A cancel published while this process listened came through ``_on_cancel``, so
        only a redelivered request, or one older than the subscription, costs a round trip for
        the cancellation marker (with a lost pub/sub connection a cancel can go unheard: the
        handler then runs for a caller that is gone, as a cancel during the handler would)."""
        if env.deadline_ms is not None and env.deadline_ms < time.time() * 1000:
            return True
        if env.message_id in self._cancels_heard:
            return True
        sent_ms = int(env.entry_id.partition("-")[0])
        if delivery == 1 and sent_ms > self._listening_since_ms:
            return False
        marked = bool(await self.redis.exists(self.keys.cancelled(env.message_id)))
        return marked or env.message_id in self._cancels_heard  # heard during the round trip

    async def send_reply(
        self,
        env: Envelope,
        *,
        result: Any = None,
        error: BaseException | None = None,
        ack_group: str | None = None,
    ) -> None:
        """Answer a request on its caller's reply stream; with ``ack_group``, acknowledge the
        request's entry for that group in the same round trip."""
        assert env.reply_to is not None
        fields: dict[str, str | bytes] = {"id": env.message_id}
        if error is None:
            name, body, version = self.registry.messages.encode(result)
            fields |= {"status": "ok", "type": name, "body": body, "v": str(version)}
        else:
            fields |= {"status": "error", "error_type": type(error).__name__, "error": str(error)}
        xadd: list[Any] = ["XADD", env.reply_to, "MAXLEN", "~", 10_000, "*"]
        for item in fields.items():
            xadd += item
        commands = [xadd, ["EXPIRE", env.reply_to, self.settings.reply_ttl_s]]
        if ack_group is not None:
            commands.append(["XACK", env.stream, ack_group, env.entry_id])
        for result in await self.fast.execute(commands):
            if isinstance(result, Exception):
                raise result

    async def _reply_loop(self) -> None:
        stream = self.keys.reply(self.runtime_id)
        last = "0"
        while True:
            try:
                (raw,) = await self.fast.execute(
                    [["XREAD", "COUNT", 500, "BLOCK", 1000, "STREAMS", stream, last]]
                )
                if isinstance(raw, Exception):
                    raise raw
            except _TRANSIENT as exc:
                log.warning("redis_unreachable", during="replies", error=str(exc))
                await asyncio.sleep(0.5)
                continue
            for _stream, entries in stream_entries(raw):
                for entry_id, fields in entries:
                    last = entry_id.decode()
                    waiter = self._waiters.get(fields.get(b"id", b"").decode())
                    if waiter is not None and not waiter.done():
                        waiter.set_result((fields.get(b"status", b"ok").decode(), fields))
                # The callers run on before this loop spends its turn on the next XREAD.
                await asyncio.sleep(0)

    # -- errors and dead letters ----------------------------------------------------------
    async def report_bad_input(
        self,
        stream: str,
        entry_id: str,
        group: str,
        fields: dict[bytes, bytes],
        exc: BadMessageError,
    ) -> None:
        """Bad input: an error event the submitter can read (errors stream, and the session's
        log when the entry names a valid session) plus a dead-letter entry."""
        log.warning(
            "bad_input", stream=stream, entry=entry_id, group=group, code=exc.code, error=str(exc)
        )
        error = {
            "stream": stream,
            "entry": entry_id,
            "group": group,
            "code": exc.code,
            "error": str(exc),
            "type": _field(fields, b"type"),
            "source": _field(fields, b"source"),
            "id": _field(fields, b"id") or entry_id,
        }
        await self._record_failure(error, fields)

    def add_dead_letter_listener(self, listener: Callable[[DeadLetter], Awaitable[None]]) -> None:
        """Call ``listener`` after this runtime dead-letters an entry (it is on the dead-letter
        stream by then), so that the agent type that gave up can tell whoever waits for an
        answer. A listener's error is logged, never raised."""
        self._dead_letter_listeners.append(listener)

    async def dead_letter(
        self, env: Envelope, group: str, exc: BaseException, attempts: int
    ) -> None:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        await self.dead_letter_raw(
            env.stream,
            env.entry_id,
            group,
            None,
            f"handler failed {attempts} times: {text}",
            env=env,
        )

    async def dead_letter_raw(
        self,
        stream: str,
        entry_id: str,
        group: str,
        fields: dict[bytes, bytes] | None,
        reason: str,
        *,
        env: Envelope | None = None,
    ) -> None:
        if fields is None and env is not None:
            fields = {b"type": env.type.encode(), b"body": env.body, b"id": env.message_id.encode()}
            if env.source:
                fields[b"source"] = env.source.encode()
        fields = fields or {}
        error = {
            "stream": stream,
            "entry": entry_id,
            "group": group,
            "code": "handler_failed",
            "error": reason,
            "type": _field(fields, b"type"),
            "source": _field(fields, b"source"),
            "id": _field(fields, b"id") or entry_id,
        }
        await self._record_failure(error, fields)

    async def _tell_dead_letter(self, error: dict[str, str], fields: dict[bytes, bytes]) -> None:
        message: Any = None
        with contextlib.suppress(BadMessageError):  # bad input: the listeners get no message
            env = parse_entry(
                error["stream"],
                error["entry"],
                fields,
                max_body_bytes=self.settings.max_body_bytes,
            )
            message = self.registry.messages.decode(env.type, env.body, env.version)
        dead = DeadLetter(
            stream=error["stream"],
            entry_id=error["entry"],
            group=error["group"],
            type=error["type"],
            message_id=error["id"],
            source=error["source"] or None,
            reason=error["error"],
            message=message,
        )
        for listener in self._dead_letter_listeners:
            try:
                await listener(dead)
            except Exception as exc:  # a listener must not undo the dead letter
                log.error("dead_letter_listener_failed", id=dead.message_id, error=repr(exc))

    async def _record_failure(self, error: dict[str, str], fields: dict[bytes, bytes]) -> None:
        original = {
            k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()
        }
        dead = {**error, "fields": json.dumps(original)}
        maxlen = self.settings.stream_maxlen
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(self.keys.errors, error, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
            pipe.xadd(self.keys.dead_letters, dead, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
            source = error["source"]
            if source and self.settings.session_log and _valid_name(source):
                body = json.dumps(
                    {k: error[k] for k in ("code", "error", "stream", "entry", "type")}
                )
                pipe.xadd(
                    self.keys.session(source),
                    {"type": "Error", "body": body, "source": source, "topic": "errors"},
                    maxlen=self.settings.session_log_maxlen,
                    approximate=True,
                )
            await pipe.execute()
        if self._dead_letter_listeners:
            await self._tell_dead_letter(error, fields)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry this runtime gave up on (see ``add_dead_letter_listener``)."""

    stream: str
    entry_id: str
    group: str
    """The consumer group (agent type) that gave up."""
    type: str
    message_id: str
    source: str | None
    reason: str
    message: Any
    """The decoded message, or None when the entry was not a valid known message."""


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _field(fields: dict[bytes, bytes], name: bytes) -> str:
    return fields.get(name, b"").decode(errors="replace")


def _valid_name(value: str) -> bool:
    try:
        TopicId("x", value)
    except ValueError:
        return False
    return True
