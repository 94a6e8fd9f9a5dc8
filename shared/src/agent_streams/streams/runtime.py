"""RedisStreamsRuntime: the production runtime, over Redis Streams.

Topic type -> one stream; subscription (topic type -> agent type) -> one consumer group named
after the agent type; replicas of an agent type are consumers in that group and share the work.
This module is registration and lifecycle; the parts, each given only what it needs:

    publisher   batched writes (publishes and requests), bounded streams, the queue limit
    rpc         send_message, replies, expiry, remote cancel
    consumer    one agent type's group: read, mailboxes, dispatch, reclaim
                (acks: batched XACKs; locks: one agent instance at a time across replicas)
    failures    bad input and dead letters: errors stream, dead letters, session log, listeners

Every key name comes from ``agent_streams.keys``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

import redis.asyncio as aioredis

from .._agent import BaseAgent
from .._cancellation import CancellationToken, RunningHandlers
from .._ids import AgentId, AgentType, TopicId
from .._registry import AgentRegistry
from .._subscription import TypeSubscription
from .._tasks import TaskSet, cancel_and_wait, supervise
from ..exceptions import RuntimeStateError
from ..keys import Keys
from .consumer import GroupConsumer
from .failures import FailureRecorder, Listener
from .fastpath import FastRedis, runtime_redis
from .hooks import RuntimeHooks
from .publisher import Publisher
from .rpc import Rpc, SendOptions
from .settings import RuntimeSettings

__all__ = ["RedisStreamsRuntime"]


class RedisStreamsRuntime:
    """An ``AgentRuntime`` whose agents run in any number of processes sharing one Redis.

    Args:
        settings: connection, namespace and delivery settings (``RuntimeSettings()`` reads the
            environment).
        redis: an existing ``redis.asyncio.Redis`` (bytes responses) to use instead of
            connecting from ``settings.redis_url``; the caller then closes it.
        hooks: told of every publish and delivery (traces, metrics: ``hooks.RuntimeHooks``,
            made by ``agent_streams.telemetry``); None (the default) costs nothing.
    """

    def __init__(
        self,
        settings: RuntimeSettings | None = None,
        *,
        redis: aioredis.Redis | None = None,
        hooks: RuntimeHooks | None = None,
    ) -> None:
        self.settings = settings = settings or RuntimeSettings()
        self.keys = keys = Keys(settings.namespace)
        self._own_redis = redis is None
        self.redis = redis = redis or runtime_redis(settings)  # owns it: closes it
        self.registry = AgentRegistry(self)
        messages = self.registry.messages
        self._fast = fast = FastRedis(redis)  # the hot paths' commands (see fastpath)
        self._running = running = RunningHandlers()
        self._publisher = Publisher(fast, keys, settings, messages)
        self._publisher.hooks = self._hooks = hooks
        self._rpc = Rpc(redis, fast, keys, settings, messages, self._publisher, running)
        self._failures = FailureRecorder(redis, keys, settings, messages)
        self._consumers: dict[str, GroupConsumer] = {}
        self._tasks = TaskSet()
        self._started = False
        self._stopped = False

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
        consumer = GroupConsumer(
            name,
            {self.keys.inbox(name): ""},
            redis=self.redis,
            fast=self._fast,
            keys=self.keys,
            settings=self.settings,
            registry=self.registry,
            rpc=self._rpc,
            failures=self._failures,
            running=self._running,
            hooks=self._hooks,
        )
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

    def add_dead_letter_listener(self, listener: Listener) -> None:
        """Call ``listener`` after this runtime dead-letters an entry (it is on the dead-letter
        stream by then), so that the agent type that gave up can tell whoever waits for an
        answer. A listener's error is logged with its traceback, never raised."""
        self._failures.add_listener(listener)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start consuming in the background (autogen-core's ``runtime.start()``)."""
        if self._started:
            raise RuntimeStateError("runtime already started")
        self._started = True
        self._publisher.open()
        self._tasks.spawn(supervise("write", self._publisher.run))
        self._ready = asyncio.get_running_loop().create_task(self._boot())

    async def _boot(self) -> None:
        for consumer in self._consumers.values():
            await consumer.ensure_groups()
            consumer.start()
        self._tasks.spawn(supervise("replies", self._rpc.run_replies))
        if self.settings.agent_idle_evict_s:
            evict = partial(self.registry.evict_idle_forever, self.settings.agent_idle_evict_s)
            self._tasks.spawn(supervise("evict", evict))
        self._tasks.spawn(await self._rpc.listen())

    @property
    def started(self) -> bool:
        return self._started

    async def ready(self) -> None:
        """Wait until consumer groups exist and listeners run (``start()`` is synchronous)."""
        if not self._started:
            raise RuntimeStateError("call runtime.start() first")
        await asyncio.shield(self._ready)

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
            await self._publisher.flush()
        self._publisher.accepting = False  # handlers could publish while draining; now closed
        self._rpc.fail_waiters(RuntimeStateError("runtime stopped"))
        await cancel_and_wait(self._tasks)
        await self._rpc.close()
        await self.registry.close_all()
        await self._fast.close()
        if self._own_redis:
            await self.redis.aclose()

    async def stop_when_idle(self) -> None:
        """Stop once every stream this process consumes is drained (nothing undelivered,
        nothing pending) and no handler runs here."""
        await self.ready()
        while True:
            await asyncio.gather(*(c.wait_idle(0.2) for c in self._consumers.values()))
            locally_idle = all(c.idle for c in self._consumers.values())
            if locally_idle and not self._publisher.busy and await self._drained():
                break
            await asyncio.sleep(0.05)
        await self.stop()

    async def _drained(self) -> bool:
        for consumer in self._consumers.values():
            if not await consumer.drained():
                return False
        return True

    # -- messaging ------------------------------------------------------------------------
    async def publish_message(
        self,
        message: Any,
        topic_id: TopicId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> None:
        """Append ``message`` to the topic's stream; raises ``QueueFullError`` past the limit
        (not for a control message such as ``CancelTask``: a user can always cancel)."""
        await self._publisher.publish(message, topic_id, sender, message_id)

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
        options = SendOptions(sender, cancellation_token, message_id, timeout)
        return await self._rpc.send(message, recipient, options)

    async def cancel_message(self, message_id: str) -> None:
        """Cancel the handlers of message ``message_id`` running now, in whichever process
        (their ``CancellationToken``). Best effort: a Redis fault is logged, not raised."""
        await self._rpc.cancel_message(message_id)
