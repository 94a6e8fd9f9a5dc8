"""BaseAgent: identity, access to the runtime, and ``register`` as in autogen-core."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

from ._cancellation import CancellationToken
from ._context import MessageContext
from ._ids import AgentId, AgentType, TopicId
from ._runtime import AgentRuntime
from ._subscription import class_subscriptions
from .exceptions import RuntimeStateError

__all__ = ["Agent", "BaseAgent"]

A = TypeVar("A", bound="BaseAgent")

_instantiating: ContextVar[tuple[AgentRuntime, AgentId] | None] = ContextVar(
    "agent_streams_instantiating", default=None
)


class BaseAgent:
    """An agent instance. The runtime creates it with the registered factory, lazily, once per
    ``AgentId``; ``self.id`` and ``self.runtime`` are bound while the factory runs."""

    message_types: ClassVar[tuple[type[Any], ...]] = ()

    def __init__(self, description: str) -> None:
        bound = _instantiating.get()
        if bound is None:
            raise RuntimeStateError(
                "agents are created by the runtime: pass a factory to Agent.register(), "
                "do not instantiate them directly"
            )
        self._runtime, self._id = bound
        self._description = description

    @property
    def id(self) -> AgentId:
        return self._id

    @property
    def runtime(self) -> AgentRuntime:
        return self._runtime

    @property
    def description(self) -> str:
        return self._description

    async def on_message(self, message: Any, ctx: MessageContext) -> Any:
        raise NotImplementedError

    async def send_message(
        self,
        message: Any,
        recipient: AgentId,
        *,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        return await self._runtime.send_message(
            message,
            recipient,
            sender=self._id,
            cancellation_token=cancellation_token,
            message_id=message_id,
            timeout=timeout,
        )

    async def publish_message(
        self,
        message: Any,
        topic_id: TopicId,
        *,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> None:
        await self._runtime.publish_message(
            message,
            topic_id,
            sender=self._id,
            cancellation_token=cancellation_token,
            message_id=message_id,
        )

    async def close(self) -> None:
        """Called when the runtime stops; release what the agent holds."""

    @classmethod
    async def register(
        cls: type[A],
        runtime: AgentRuntime,
        type: str,
        factory: Callable[[], A | Awaitable[A]],
        *,
        skip_class_subscriptions: bool = False,
    ) -> AgentType:
        """Register ``factory`` for agent ``type`` on ``runtime`` with the class's subscriptions
        (``@default_subscription``, ``@type_subscription``) and its message types."""
        agent_type = await runtime.register_factory(type, factory, expected_class=cls)
        for message_type in cls.message_types:
            runtime.register_message_type(message_type)
        if not skip_class_subscriptions:
            for subscription in class_subscriptions(cls, type):
                await runtime.add_subscription(subscription)
        return agent_type


Agent = BaseAgent


async def instantiate(
    runtime: AgentRuntime,
    agent_id: AgentId,
    factory: Callable[[], Any],
) -> BaseAgent:
    token = _instantiating.set((runtime, agent_id))
    try:
        agent = factory()
        if isinstance(agent, Awaitable):
            agent = await agent
    finally:
        _instantiating.reset(token)
    if not isinstance(agent, BaseAgent):
        raise TypeError(f"factory for {agent_id.type!r} returned {type(agent)!r}, not an agent")
    return agent
