"""Request / reply between processes: ``send_message``, replies, expiry, remote cancel.

A request goes to the recipient type's inbox stream with ``reply_to`` naming this runtime's
reply stream, which one loop reads for every caller of this process. On timeout or
cancellation the caller broadcasts the request's id on the cancel channel (and leaves a mark
for a handler that has not started yet): whichever process runs the handler cancels its
``CancellationToken``, and a request whose caller is gone is skipped instead of handled.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, NamedTuple

import structlog

from .._cancellation import CancellationToken, RunningHandlers
from .._ids import AgentId
from ..exceptions import CantHandleException, RemoteHandlerError, UnknownMessageType
from .fastpath import new_message_id, stream_entries
from .transient import TRANSIENT, cause
from .wire import Envelope, build_fields

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .._serialization import MessageRegistry
    from ..keys import Keys
    from .fastpath import FastRedis
    from .publisher import Publisher
    from .settings import RuntimeSettings

__all__ = ["Rpc", "SendOptions"]

log = structlog.get_logger("agent_streams")
_CANCELS_KEPT = 10_000  # cancels heard for requests not started yet, newest kept


class SendOptions(NamedTuple):
    """``send_message``'s keyword arguments, passed on as one value."""

    sender: AgentId | None
    cancellation_token: CancellationToken | None
    message_id: str | None
    timeout: float | None


class Rpc:
    """The request / reply side of one runtime (see the module docstring)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        fast: FastRedis,
        keys: Keys,
        settings: RuntimeSettings,
        messages: MessageRegistry,
        publisher: Publisher,
        running: RunningHandlers,
    ) -> None:
        self._redis = redis
        self._fast = fast
        self._keys = keys
        self._settings = settings
        self._messages = messages
        self._publisher = publisher
        self._running = running
        self._runtime_id = uuid.uuid4().hex  # names this runtime's reply stream
        self._waiters: dict[str, asyncio.Future[tuple[str, dict[bytes, bytes]]]] = {}
        self._cancels_heard: OrderedDict[str, None] = OrderedDict()  # newest last, bounded
        self._listening_since_ms = math.inf
        self._sent_requests = False  # only then is there a reply stream to delete at stop
        self._pubsub: Any = None

    async def listen(self) -> Any:
        """Subscribe to the cancel channel; returns the coroutine that runs the subscription."""
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(**{self._keys.cancel_channel: self._on_cancel})
        # Cancels of requests sent from now on reach _on_cancel. The margin covers SUBSCRIBE
        # still in flight and a Redis clock (entry ids) up to 1 s ahead of this host's.
        self._listening_since_ms = time.time() * 1000 + 1000
        return self._pubsub.run()

    def fail_waiters(self, error: Exception) -> None:
        """Callers still waiting get ``error`` (the runtime stops)."""
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(error)

    async def close(self) -> None:
        """Close the subscription; delete this runtime's reply stream if it made one."""
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._sent_requests:  # a publish-only process (the client) may not DEL (Redis ACL)
            try:
                await self._redis.delete(self._keys.reply(self._runtime_id))
            except TRANSIENT as exc:
                log.warning(
                    "reply_stream_not_deleted",
                    error=cause(exc),
                    action=f"it expires within {self._settings.reply_ttl_s} s",
                )

    async def send(self, message: Any, recipient: AgentId, options: SendOptions) -> Any:
        """``RedisStreamsRuntime.send_message``: the request, the wait, the reply decoded."""
        sender, cancellation_token, message_id, timeout = options
        mid = message_id or new_message_id()
        name, body, version = self._messages.encode(message)
        deadline = int((time.time() + timeout) * 1000) if timeout else None
        fields = build_fields(
            name,
            body,
            version,
            mid,
            sender=sender,
            key=recipient.key,
            reply_to=self._keys.reply(self._runtime_id),
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
            await self._publisher.write(self._keys.inbox(recipient.type), None, "", fields)
            if timeout is not None:  # (asyncio.wait_for costs one more event-loop turn)
                timer = asyncio.get_running_loop().call_later(timeout, _expire, waiter)
            status, reply = await waiter
        except TimeoutError:
            await self._cancel(mid, mark=True)
            raise TimeoutError(f"no reply from {recipient} within {timeout} s") from None
        except asyncio.CancelledError:
            await asyncio.shield(self._cancel(mid, mark=True))
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
            return self._messages.decode(reply_type, reply[b"body"], int(reply.get(b"v", b"1")))
        except UnknownMessageType as exc:
            raise UnknownMessageType(
                f"the reply from {recipient} is a {reply_type!r}, which this process does not "
                f"know: call runtime.register_message_type({reply_type}) before send_message "
                "(the handler has run)"
            ) from exc

    async def cancel_message(self, message_id: str) -> None:
        """Cancel the handlers of message ``message_id`` running now, in whichever process:
        their ``CancellationToken`` is cancelled (the cancel channel). A Redis fault is logged,
        not raised: a cancel is best effort."""
        await self._cancel(message_id, mark=False)

    async def _cancel(self, message_id: str, *, mark: bool) -> None:
        """``mark``: also leave a mark (``reply_ttl_s``) so that a request of this process not
        started yet is skipped when it is (needs SET on ``cancelled:*``: a requester's grant)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                if mark:
                    pipe.set(self._keys.cancelled(message_id), 1, ex=self._settings.reply_ttl_s)
                pipe.publish(self._keys.cancel_channel, message_id)
                await pipe.execute()
        except TRANSIENT as exc:
            log.warning("cancel_not_sent", id=message_id, error=cause(exc))

    async def _on_cancel(self, message: dict[str, Any]) -> None:
        message_id = message["data"].decode()
        self._running.cancel(message_id)
        self._cancels_heard[message_id] = None  # for a request whose handler has not started
        if len(self._cancels_heard) > _CANCELS_KEPT:
            self._cancels_heard.popitem(last=False)

    async def expired(self, env: Envelope, delivery: int = 1) -> bool:
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
        marked = bool(await self._redis.exists(self._keys.cancelled(env.message_id)))
        return marked or env.message_id in self._cancels_heard  # heard during the round trip

    async def reply(
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
            name, body, version = self._messages.encode(result)
            fields |= {"status": "ok", "type": name, "body": body, "v": str(version)}
        else:
            fields |= {"status": "error", "error_type": type(error).__name__, "error": str(error)}
        xadd: list[Any] = ["XADD", env.reply_to, "MAXLEN", "~", 10_000, "*"]
        for item in fields.items():
            xadd += item
        commands = [xadd, ["EXPIRE", env.reply_to, self._settings.reply_ttl_s]]
        if ack_group is not None:
            commands.append(["XACK", env.stream, ack_group, env.entry_id])
        for result in await self._fast.execute(commands):
            if isinstance(result, Exception):
                raise result

    async def run_replies(self) -> None:
        """Read this runtime's reply stream and hand each reply to its waiting caller."""
        stream = self._keys.reply(self._runtime_id)
        last = "0"
        while True:
            try:
                (raw,) = await self._fast.execute(
                    [["XREAD", "COUNT", 500, "BLOCK", 1000, "STREAMS", stream, last]]
                )
                if isinstance(raw, Exception):
                    raise raw
            except TRANSIENT as exc:
                log.warning("redis_unreachable", during="replies", error=cause(exc))
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


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
