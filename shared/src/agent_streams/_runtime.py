"""The AgentRuntime protocol: what agents and clients call on either runtime."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ._cancellation import CancellationToken
from ._ids import AgentId, AgentType, TopicId
from ._subscription import TypeSubscription

__all__ = ["AgentRuntime"]


@runtime_checkable
class AgentRuntime(Protocol):
    """What agents and clients call. ``InProcessRuntime`` and ``RedisStreamsRuntime`` are the two
    implementations; one contract test suite runs against both. (``expected_class`` is the
    agent class; typed loosely so that this protocol and ``BaseAgent``, which uses it, do not
    import each other.)"""

    async def send_message(
        self,
        message: Any,
        recipient: AgentId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Any: ...

    async def publish_message(
        self,
        message: Any,
        topic_id: TopicId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> None: ...

    async def register_factory(
        self,
        type: str | AgentType,
        agent_factory: Callable[[], Any],
        *,
        expected_class: type[Any] | None = None,
    ) -> AgentType: ...

    async def add_subscription(self, subscription: TypeSubscription) -> None: ...

    async def cancel_message(self, message_id: str) -> None:
        """Cancel the handling of message ``message_id`` (its handlers' tokens), wherever it
        runs; best effort."""
        ...

    def register_message_type(self, cls: type[Any]) -> None: ...

    def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def stop_when_idle(self) -> None: ...
