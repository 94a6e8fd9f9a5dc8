"""The errors agent-streams raises::

    AgentStreamsError
    ├── CantHandleException        no handler for this message type on the recipient
    ├── UndeliverableException     nobody is registered to receive it
    ├── QueueFullError             publish refused: the topic's backlog is at its limit
    ├── RemoteHandlerError         send_message: the remote handler raised (type + text kept)
    ├── RuntimeStateError          used before start() / after stop()
    └── BadMessageError            an entry that cannot become a message (never crashes a consumer)
        ├── UnknownMessageType
        ├── UnsupportedVersion     sent by a newer schema than this consumer knows
        └── InvalidMessage         bad JSON, schema violation, oversized body, missing fields

Timeouts of ``send_message`` raise the builtin ``TimeoutError``; cancellation raises
``asyncio.CancelledError``. redis-py errors are translated where they cross the runtime's edge.
"""

from __future__ import annotations

__all__ = [
    "AgentStreamsError",
    "BadMessageError",
    "CantHandleException",
    "InvalidMessage",
    "QueueFullError",
    "RemoteHandlerError",
    "RuntimeStateError",
    "UndeliverableException",
    "UnknownMessageType",
    "UnsupportedVersion",
]


class AgentStreamsError(Exception):
    """Base of every agent-streams error."""


class CantHandleException(AgentStreamsError):
    """The recipient has no handler for this message type."""


class UndeliverableException(AgentStreamsError):
    """No registered agent can receive this message."""


class QueueFullError(AgentStreamsError):
    """A publish was refused because a consumer group's backlog is at the configured limit."""

    def __init__(self, stream: str, backlog: int, limit: int) -> None:
        super().__init__(
            f"queue full: {stream} has {backlog} undelivered or unacknowledged entries "
            f"(limit {limit}); retry later or raise AGENT_STREAMS_QUEUE_LIMIT"
        )
        self.stream = stream
        self.backlog = backlog
        self.limit = limit


class RemoteHandlerError(AgentStreamsError):
    """The handler of a ``send_message`` raised; ``error_type`` is the remote class name."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.remote_message = message


class RuntimeStateError(AgentStreamsError):
    """The runtime is not in a state for this call (not started, already stopped)."""


class BadMessageError(AgentStreamsError):
    """A stream entry that cannot be turned into a message. ``code`` is machine-readable."""

    code = "bad_message"


class UnknownMessageType(BadMessageError):
    code = "unknown_type"


class UnsupportedVersion(BadMessageError):
    code = "unsupported_version"


class InvalidMessage(BadMessageError):
    code = "invalid_message"
