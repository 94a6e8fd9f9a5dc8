"""AgentRegistry: what both runtimes share about agents, so their semantics cannot drift apart.

Factories, subscriptions, live instances (created lazily, evicted when idle) and one message at
a time per ``AgentId`` (its local lock), plus the known message types.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import structlog

from ._agent import BaseAgent, instantiate
from ._context import MessageContext, reset_current_context, set_current_context
from ._ids import AgentId, AgentType, TopicId
from ._runtime import AgentRuntime
from ._serialization import MessageRegistry, type_name
from ._subscription import TypeSubscription
from .exceptions import UndeliverableException

__all__ = ["AgentRegistry"]

log = structlog.get_logger("agent_streams")


class AgentRegistry:
    """Factories, subscriptions, live instances and one-at-a-time delivery per ``AgentId``.

    Shared by both runtimes so that routing and instance semantics cannot drift apart.
    """

    def __init__(self, runtime: AgentRuntime) -> None:
        self._runtime = runtime
        self.factories: dict[str, Callable[[], Any]] = {}
        self.classes: dict[str, type[BaseAgent] | None] = {}
        self.subscriptions: list[TypeSubscription] = []
        self.instances: dict[AgentId, BaseAgent] = {}
        self._last_used: dict[AgentId, float] = {}
        self._locks: dict[AgentId, asyncio.Lock] = {}
        self.messages = MessageRegistry()

    def add_factory(
        self,
        agent_type: str,
        factory: Callable[[], Any],
        expected_class: type[BaseAgent] | None,
    ) -> AgentType:
        if agent_type in self.factories:
            raise ValueError(f"agent type {agent_type!r} is already registered")
        AgentId(agent_type, "default")  # validates the name
        self.factories[agent_type] = factory
        self.classes[agent_type] = expected_class
        if expected_class is not None:
            for cls in expected_class.message_types:
                self.messages.register(cls)
        return AgentType(agent_type)

    def handled_type_names(self, agent_type: str) -> list[str]:
        """Wire names of the message types the agent type's handlers take."""
        cls = self.classes.get(agent_type)
        handled = getattr(cls, "_handlers", None)
        types = (
            list(handled) if isinstance(handled, dict) else list(getattr(cls, "message_types", ()))
        )
        return [type_name(t) for t in types if t is not type(None)]

    def add_subscription(self, subscription: TypeSubscription) -> bool:
        if subscription in self.subscriptions:
            return False
        self.subscriptions.append(subscription)
        return True

    def recipients(self, topic_id: TopicId, sender: AgentId | None) -> list[AgentId]:
        """Agents a publish reaches; the sender itself never receives its own publish."""
        out: list[AgentId] = []
        for sub in self.subscriptions:
            if sub.is_match(topic_id):
                agent_id = sub.map_to_agent(topic_id)
                if agent_id != sender and agent_id not in out:
                    out.append(agent_id)
        return out

    def subscribed_types(self, topic_type: str) -> list[str]:
        return [s.agent_type for s in self.subscriptions if s.topic_type == topic_type]

    async def get_instance(self, agent_id: AgentId) -> BaseAgent:
        agent = self.instances.get(agent_id)
        if agent is None:
            factory = self.factories.get(agent_id.type)
            if factory is None:
                raise UndeliverableException(f"no agent type {agent_id.type!r} is registered")
            agent = await instantiate(self._runtime, agent_id, factory)
            expected = self.classes.get(agent_id.type)
            if expected is not None and not isinstance(agent, expected):
                raise TypeError(f"factory for {agent_id.type!r} did not return {expected!r}")
            self.instances[agent_id] = agent
        return agent

    def lock(self, agent_id: AgentId) -> asyncio.Lock:
        lock = self._locks.get(agent_id)
        if lock is None:
            lock = self._locks[agent_id] = asyncio.Lock()
        return lock

    async def deliver(self, agent_id: AgentId, message: Any, ctx: MessageContext) -> Any:
        """Run the agent's handler with ``ctx`` as the current context. The caller holds the
        agent's lock (one message at a time per AgentId)."""
        agent = await self.get_instance(agent_id)
        self._last_used[agent_id] = time.monotonic()
        token = set_current_context(agent_id, ctx)
        try:
            return await agent.on_message(message, ctx)
        finally:
            reset_current_context(token)

    async def evict_idle(self, max_idle_s: float) -> int:
        """Close and forget instances idle for ``max_idle_s``: a long-running service would
        otherwise keep one per session forever. State that must outlive an instance belongs in
        Redis, not in the instance (a replica's death loses the instance anyway)."""
        cutoff = time.monotonic() - max_idle_s
        evicted = 0
        for agent_id, used in list(self._last_used.items()):
            lock = self._locks.get(agent_id)
            if used > cutoff or (lock is not None and lock.locked()):
                continue
            agent = self.instances.pop(agent_id, None)
            self._last_used.pop(agent_id, None)
            self._locks.pop(agent_id, None)
            if agent is not None:
                evicted += 1
                try:
                    await agent.close()
                except Exception:
                    log.exception("agent_close_failed", agent=str(agent_id))
        return evicted

    async def evict_idle_forever(self, max_idle_s: float) -> None:
        """``evict_idle`` every quarter of ``max_idle_s`` (a runtime's background loop)."""
        while True:
            await asyncio.sleep(max(max_idle_s / 4, 0.05))
            evicted = await self.evict_idle(max_idle_s)
            if evicted:
                log.debug("agents_evicted", count=evicted, live=len(self.instances))

    async def close_all(self) -> None:
        for agent in list(self.instances.values()):
            try:
                await agent.close()
            except Exception:
                log.exception("agent_close_failed", agent=str(agent.id))
        self.instances.clear()
