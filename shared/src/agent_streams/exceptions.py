"""The errors agent-streams raises::

    AgentStreamsError
    ├── CantHandleException        no handler for this message type on the recipient
    ├── UndeliverableException     nobody is registered to receive it
    ├── QueueFullError             publish refused: the topic's backlog is at its limit
    ├── RemoteHandlerError         send_message: the remote handler raised (type + text kept)
    ├── RuntimeStateError          used before start() / after stop()
    ├── BadMessageError            an entry that cannot become a message (never crashes a consumer)
    │   ├── UnknownMessageType
    │   ├── UnsupportedVersion     sent by a newer schema than this consumer knows
    │   └── InvalidMessage         bad JSON, schema violation, oversized body, missing fields
    └── ClientError                the client (``AgentStreamsClient``, the CLI) could not do it
        ├── RedisUnavailableError  Redis did not answer (refused, unreachable, timed out)
        ├── UnknownSessionError    no log for that session (never submitted, or expired)
        ├── TaskRejectedError      the task itself was rejected as bad input: no result will come
        ├── ArtifactError          some artifacts could not be saved (missing, corrupt, unsafe)
        └── DeadLetterNotFound     no dead-letter entry with that id

Timeouts of ``send_message`` raise the builtin ``TimeoutError``; cancellation raises
``asyncio.CancelledError``. redis-py errors are translated where they cross the runtime's edge.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AgentStreamsError",
    "ArtifactError",
    "BadMessageError",
    "CantHandleException",
    "ClientError",
    "DeadLetterNotFound",
    "InvalidMessage",
    "QueueFullError",
    "RedisUnavailableError",
    "RemoteHandlerError",
    "RuntimeStateError",
    "TaskRejectedError",
    "UndeliverableException",
    "UnknownMessageType",
    "UnknownSessionError",
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


class ClientError(AgentStreamsError):
    """The client could not do what was asked; the message is one line a user can act on."""


class RedisUnavailableError(ClientError):
    """Redis did not answer at the configured URL."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Redis unreachable at {url}: {reason}")
        self.url = url


class UnknownSessionError(ClientError):
    """There is no log for this session: it was never submitted here, or it has expired."""

    def __init__(self, session: str, namespace: str) -> None:
        super().__init__(
            f"unknown session {session!r} in namespace {namespace!r} "
            "(never submitted, or its log expired)"
        )
        self.session = session


class TaskRejectedError(ClientError):
    """The task request itself was rejected (bad input, or its handler kept failing)."""

    def __init__(self, session: str, code: str, error: str) -> None:
        super().__init__(f"task {session} rejected ({code}): {error}")
        self.session = session
        self.code = code
        self.error = error


class ArtifactError(ClientError):
    """Some artifacts could not be saved. The others were: ``saved`` lists them."""

    def __init__(self, problems: list[str], saved: list[Path]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.saved = saved


class DeadLetterNotFound(ClientError):
    """No entry with that id on the dead-letter stream (already retried, or trimmed)."""

    def __init__(self, entry_id: str) -> None:
        super().__init__(f"no dead letter {entry_id!r} (already retried, or trimmed)")
        self.entry_id = entry_id
