"""The context a handler receives with each message."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, field

from ._cancellation import CancellationToken
from ._ids import AgentId, TopicId

__all__ = ["MessageContext", "current_context"]


@dataclass(slots=True)
class MessageContext:
    """What the runtime knows about the message being handled.

    Attributes:
        sender: the agent that sent or published it; ``None`` for a client or ``redis-cli``.
        topic_id: the topic it was published to; ``None`` for a direct ``send_message``.
        is_rpc: true for ``send_message`` (the handler's return value is the reply).
        cancellation_token: cancelled when the sender cancels or times out, or on shutdown.
        message_id: stable id of the message (same on every redelivery): key effects by it.
        delivery: 1 on first delivery, more when the message is redelivered after a failure.
    """

    sender: AgentId | None
    topic_id: TopicId | None
    is_rpc: bool
    cancellation_token: CancellationToken = field(default_factory=CancellationToken)
    message_id: str = ""
    delivery: int = 1


_current: ContextVar[MessageContext | None] = ContextVar("agent_streams_context", default=None)


def current_context() -> MessageContext | None:
    return _current.get()


def set_current_context(ctx: MessageContext | None) -> Token[MessageContext | None]:
    return _current.set(ctx)


def reset_current_context(token: Token[MessageContext | None]) -> None:
    _current.reset(token)
