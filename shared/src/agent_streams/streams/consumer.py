"""One consumer group (= one agent type) in one process: read, mailboxes, dispatch, reclaim.

Delivery is at-least-once: an entry is acknowledged (``acks``) only after its handler
returned. Entries are queued per ``AgentId`` (a mailbox) and one worker drains each mailbox
holding the agent's lock (``locks``), so one agent instance handles one message at a time, even
across replicas. A failing step of a delivery (the handler, or a transient Redis fault around
it) is retried with backoff, each retry counted as a delivery, and after ``max_deliveries`` the
entry is dead-lettered (``failures``); bad input is answered and dead-lettered at once
(retrying cannot fix it). Entries this process holds are kept alive by a heartbeat (XCLAIM
JUSTID resets their idle time), so a long handler is not reclaimed mid-run; entries left by a
consumer that died are reclaimed by a live one after ``claim_idle_ms``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import ResponseError

from .._cancellation import RunningHandlers
from .._ids import AgentId, TopicId
from .._tasks import TaskSet, cancel_and_wait, supervise
from ..exceptions import BadMessageError, InvalidMessage, UnknownMessageType
from .acks import AckBatcher
from .delivery import Deliverer, Item
from .fastpath import stream_entries
from .locks import AgentLocks
from .reclaim import Reclaimer
from .transient import TRANSIENT, Backoff, cause
from .wire import parse_entry

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .._registry import AgentRegistry
    from ..keys import Keys
    from .failures import FailureRecorder
    from .fastpath import FastRedis
    from .hooks import RuntimeHooks
    from .rpc import Rpc
    from .settings import RuntimeSettings

__all__ = ["GroupConsumer"]

log = structlog.get_logger("agent_streams")
_ID_CACHE = 4096  # AgentIds / TopicIds kept for reuse, per consumer
_YIELD_BELOW = 8  # read batches smaller than this let their handlers start before reading on


@dataclass(slots=True)
class _Mailbox:
    items: deque[Item] = field(default_factory=deque)
    worker: asyncio.Task[None] | None = None


class GroupConsumer:
    """The consumer of one agent type's group on its streams, in this process.

    Args:
        agent_type: the agent type (= the consumer group).
        streams: stream key -> topic type ("" for the agent type's inbox).
        redis: the runtime's client; ``fast`` its hot-path commands.
        keys: the namespace's key names; ``settings`` the delivery settings.
        registry: the agent instances, their local locks and message types.
        rpc: expiry checks and replies of requests.
        failures: where bad input and dead letters go.
        running: the tokens of running handlers (for cancels).
        hooks: told of every delivery (traces, metrics), when given.
    """

    def __init__(
        self,
        agent_type: str,
        streams: dict[str, str],
        *,
        redis: aioredis.Redis,
        fast: FastRedis,
        keys: Keys,
        settings: RuntimeSettings,
        registry: AgentRegistry,
        rpc: Rpc,
        failures: FailureRecorder,
        running: RunningHandlers,
        hooks: RuntimeHooks | None = None,
    ) -> None:
        self._redis = redis
        self._fast = fast
        self._keys = keys
        self._s = settings
        self._registry = registry
        self._rpc = rpc
        self._failures = failures
        self._running = running
        self.agent_type = agent_type
        self.group = agent_type
        # stream key -> topic type (None for the agent type's direct-message inbox)
        self.streams: dict[str, str | None] = {k: (v or None) for k, v in streams.items()}
        self._mailboxes: dict[AgentId, _Mailbox] = {}
        self._agent_ids: dict[str, AgentId] = {}  # key -> AgentId of this type (bounded)
        self._topic_ids: dict[tuple[str, str], TopicId] = {}
        self._replies = keys.reply("")  # every reply stream's name starts with this
        self._inflight: dict[tuple[str, str], float] = {}  # (stream, entry id) -> since
        self._capacity = asyncio.Event()
        self._capacity.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._acks = AckBatcher(fast, self.group, settings.read_batch, self._acked)
        self._locks = AgentLocks(redis, keys, settings.claim_idle_ms, registry.lock)
        self._reclaimer = Reclaimer(
            self.group,
            redis=redis,
            settings=settings,
            streams=self.streams,
            held=self._inflight,
            locks=self._locks,
            failures=failures,
            acks=self._acks,
            accept=self._accept,
        )
        self._deliverer = Deliverer(
            self.group,
            redis=redis,
            settings=settings,
            registry=registry,
            rpc=rpc,
            failures=failures,
            acks=self._acks,
            running=running,
            let_go=self._acked,
        )
        self._deliverer.hooks = hooks
        self._tasks = TaskSet()
        self._reader: asyncio.Task[None] | None = None
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------------------
    async def ensure_groups(self) -> None:
        # Announce which types this agent type takes on each topic, so that a consumer of
        # another agent type on the same topic can tell "someone else's message" (skip it,
        # as autogen does) from a type nobody handles (bad input: answer it).
        names = self._registry.handled_type_names(self.agent_type)
        for topic in self.streams.values():
            if topic is not None and names:
                await self._redis.sadd(self._keys.topic_types(topic), *names)
        for stream in self.streams:
            try:
                await self._redis.xgroup_create(
                    stream, self.group, id=self._s.group_start_id, mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def add_stream(self, stream: str, topic_type: str | None) -> None:
        self.streams[stream] = topic_type

    def start(self) -> None:
        self._reader = self._spawn(supervise("read", self._read_loop))
        self._spawn(supervise("ack", self._acks.run))
        self._spawn(supervise("heartbeat", self._reclaimer.heartbeat))
        self._spawn(supervise("reclaim", self._reclaimer.reclaim))

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro)

    async def stop(self, grace_s: float) -> None:
        """Stop reading, let queued and running handlers finish within ``grace_s``, cancel the
        rest (their entries stay pending and a live replica reclaims them), flush acks."""
        self._stopping = True
        if self._reader is not None:
            self._reader.cancel()
        workers = [m.worker for m in self._mailboxes.values() if m.worker is not None]
        if workers:
            _done, pending = await asyncio.wait(workers, timeout=grace_s)
            await cancel_and_wait(pending)
        await self._acks.stop()
        await cancel_and_wait(self._tasks)
        await self._locks.release_all()

    @property
    def idle(self) -> bool:
        return not self._inflight and not self._acks.pending

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def drained(self) -> bool:
        """Whether the group has nothing left on its streams: no entry undelivered (lag), none
        delivered and not acknowledged (pending), whichever replica holds it."""
        for stream in self.streams:
            for group in await self._redis.xinfo_groups(stream):
                if group["name"].decode() == self.group and (group["pending"] or group.get("lag")):
                    return False
        return True

    # -- reading --------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        backoff = Backoff()
        while not self._stopping:
            room = self._s.max_inflight - len(self._inflight)
            if room <= 0:
                self._capacity.clear()
                await self._capacity.wait()
                continue
            try:
                streams = list(self.streams)
                (raw,) = await self._fast.execute(
                    [
                        [
                            "XREADGROUP",
                            "GROUP",
                            self.group,
                            self._s.consumer_name,
                            "COUNT",
                            min(room, self._s.read_batch),
                            "BLOCK",
                            self._s.read_block_ms,
                            "STREAMS",
                            *streams,
                            *[">"] * len(streams),
                        ]
                    ]
                )
                if isinstance(raw, Exception):
                    raise raw
                response = stream_entries(raw)
                backoff.reset()
            except ResponseError as exc:
                # NOGROUP: Redis lost the group (restart without persistence, or deleted);
                # UNBLOCKED: the stream was deleted while we waited on it.
                if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                    raise
                log.warning("consumer_group_missing", group=self.group, action="recreating")
                await self.ensure_groups()
                continue
            except TRANSIENT as exc:
                await backoff.retry("read", exc, group=self.group)
                continue
            accepted = 0
            for stream_raw, entries in response or ():
                stream = stream_raw.decode() if isinstance(stream_raw, bytes) else stream_raw
                for entry_id_raw, fields in entries:
                    entry_id = entry_id_raw.decode()
                    accepted += 1
                    if fields is None:  # trimmed while pending
                        self._acks.queue(stream, entry_id)
                        continue
                    self._accept(stream, entry_id, fields, 1)
            if 0 < accepted < _YIELD_BELOW:
                # A request or two: their handlers run (and a reply goes out) before this loop
                # spends its turn sending the next XREADGROUP. A big batch reads on at once.
                await asyncio.sleep(0)

    def _accept(
        self, stream: str, entry_id: str, fields: dict[bytes, bytes], delivery: int
    ) -> None:
        self._inflight[(stream, entry_id)] = time.monotonic()
        self._idle.clear()
        try:
            env = parse_entry(stream, entry_id, fields, max_body_bytes=self._s.max_body_bytes)
            message = self._registry.messages.decode(env.type, env.body, env.version)
            # The reply goes wherever reply_to says: only this namespace's reply streams, or
            # an entry could make a service write into a topic or outside the namespace.
            replies = self._replies
            if env.reply_to is not None and not env.reply_to.startswith(replies):
                raise InvalidMessage(
                    f"field 'reply_to' must name a reply stream ({replies}<runtime id>), "
                    f"got {env.reply_to[:200]!r}"
                )
            if env.source is None and self.streams.get(stream) is not None:
                raise InvalidMessage("missing field 'source' (the topic source / session id)")
        except BadMessageError as exc:
            self._spawn(self._reject(stream, entry_id, fields, exc))
            return
        topic = self.streams.get(stream)
        if topic is not None and env.source is not None:  # a topic entry has one (see above)
            agent_id = self._agent_id(env.source)
            if env.sender == agent_id:  # a publisher never receives its own publish
                self._acks.queue(stream, entry_id)
                return
        else:
            agent_id = self._agent_id(env.key or "default")
        mailbox = self._mailboxes.get(agent_id)
        if mailbox is None:
            mailbox = self._mailboxes[agent_id] = _Mailbox()
        mailbox.items.append(Item(env, delivery, message))
        if mailbox.worker is None:
            mailbox.worker = self._spawn(self._drain(agent_id, mailbox))

    def _agent_id(self, key: str) -> AgentId:
        agent_id = self._agent_ids.get(key)
        if agent_id is None:  # (AgentId validates its parts: ~1.4 us, for an immutable value)
            if len(self._agent_ids) >= _ID_CACHE:
                self._agent_ids.clear()
            agent_id = self._agent_ids[key] = AgentId(self.agent_type, key)
        return agent_id

    def _topic_id(self, topic: str, source: str) -> TopicId:
        topic_id = self._topic_ids.get((topic, source))
        if topic_id is None:
            if len(self._topic_ids) >= _ID_CACHE:
                self._topic_ids.clear()
            topic_id = self._topic_ids[(topic, source)] = TopicId(topic, source)
        return topic_id

    async def _reject(
        self, stream: str, entry_id: str, fields: dict[bytes, bytes], exc: BadMessageError
    ) -> None:
        try:
            await self._answer_bad_input(stream, entry_id, fields, exc)
        except TRANSIENT as fault:
            log.warning(
                "bad_input_not_answered",
                stream=stream,
                entry=entry_id,
                error=cause(fault),
                action="left pending for reclaim",
            )
            self._abandon(stream, entry_id)

    async def _answer_bad_input(
        self, stream: str, entry_id: str, fields: dict[bytes, bytes], exc: BadMessageError
    ) -> None:
        topic = self.streams.get(stream)
        if isinstance(exc, UnknownMessageType) and topic is not None:
            name = fields.get(b"type", b"").decode(errors="replace")
            if name and await self._redis.sismember(self._keys.topic_types(topic), name):
                # Another agent type on this topic handles it: not ours, not bad input.
                log.debug("skipped_foreign_type", group=self.group, type=name)
                self._acks.queue(stream, entry_id)
                return
        await self._failures.bad_input(stream, entry_id, self.group, fields, exc)
        self._acks.queue(stream, entry_id)

    # -- handling -------------------------------------------------------------------------
    async def _drain(self, agent_id: AgentId, mailbox: _Mailbox) -> None:
        try:
            async with self._registry.lock(agent_id):
                if not self._locks.keep(agent_id):
                    await self._locks.acquire(agent_id)
                try:
                    self._deliverer.log_handled = log.is_enabled_for(logging.INFO)
                    worker = asyncio.current_task()
                    while mailbox.items:
                        item = mailbox.items[0]
                        topic = self.streams.get(item.envelope.stream)
                        source = item.envelope.source or ""
                        topic_id = self._topic_id(topic, source) if topic else None
                        try:
                            await self._deliverer.handle(agent_id, item, worker, topic_id)
                        except Exception:
                            # Not transient, not the handler's: Redis refused a command
                            # (NOPERM, WRONGTYPE...). The entry stays pending; a reclaim
                            # redelivers it later, counted, instead of a hot loop here.
                            log.exception(
                                "delivery_abandoned",
                                agent=str(agent_id),
                                id=item.envelope.message_id,
                                attempt=item.delivery,
                                action="left pending for reclaim",
                            )
                            self._abandon(item.envelope.stream, item.envelope.entry_id)
                        mailbox.items.popleft()
                    self._acks.wake()  # nothing queued here: acknowledge what was handled
                finally:
                    if self._stopping:
                        await self._locks.release(agent_id)
                    else:
                        self._locks.linger(agent_id, self._mailboxes.__contains__)
        finally:
            mailbox.worker = None
            if mailbox.items and not self._stopping:
                mailbox.worker = self._spawn(self._drain(agent_id, mailbox))
            elif not mailbox.items:
                self._mailboxes.pop(agent_id, None)

    def _abandon(self, stream: str, entry_id: str) -> None:
        """Stop holding an entry without acknowledging it: it stays pending in Redis, and a
        reclaim (any replica's) redelivers it after ``claim_idle_ms``, counted."""
        self._acked(stream, [entry_id])

    def _acked(self, stream: str, entry_ids: list[str]) -> None:
        for entry_id in entry_ids:
            self._inflight.pop((stream, entry_id), None)
        if len(self._inflight) < self._s.max_inflight:
            self._capacity.set()
        if self.idle:
            self._idle.set()
