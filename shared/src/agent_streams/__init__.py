"""agent-streams: autogen-core style agents as independent services over Redis Streams.

The public surface follows autogen-core's names, so the quickstart's agents port by changing
their imports::

    from agent_streams import (
        DefaultTopicId, MessageContext, RoutedAgent, default_subscription, message_handler,
    )
"""

from ._agent import Agent, BaseAgent
from ._cancellation import CancellationToken
from ._context import MessageContext
from ._default_topic import DefaultTopicId
from ._ids import AgentId, AgentType, TopicId
from ._routed_agent import RoutedAgent, event, message_handler, rpc
from ._runtime import AgentRuntime
from ._subscription import (
    DefaultSubscription,
    TypeSubscription,
    default_subscription,
    type_subscription,
)
from .exceptions import (
    AgentStreamsError,
    BadMessageError,
    CantHandleException,
    QueueFullError,
    RemoteHandlerError,
    UndeliverableException,
)
from .inprocess import InProcessRuntime, SingleThreadedAgentRuntime

__all__ = [
    "Agent",
    "AgentId",
    "AgentRuntime",
    "AgentStreamsError",
    "AgentType",
    "BadMessageError",
    "BaseAgent",
    "CancellationToken",
    "CantHandleException",
    "DefaultSubscription",
    "DefaultTopicId",
    "InProcessRuntime",
    "MessageContext",
    "QueueFullError",
    "RedisStreamsRuntime",
    "RemoteHandlerError",
    "RoutedAgent",
    "SingleThreadedAgentRuntime",
    "TopicId",
    "TypeSubscription",
    "UndeliverableException",
    "default_subscription",
    "event",
    "message_handler",
    "rpc",
    "type_subscription",
]


def __getattr__(name: str) -> object:
    # The Redis runtime pulls in redis-py; import it only when asked for.
    if name == "RedisStreamsRuntime":
        from .streams.runtime import RedisStreamsRuntime

        return RedisStreamsRuntime
    raise AttributeError(name)
