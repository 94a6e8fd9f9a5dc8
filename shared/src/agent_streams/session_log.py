"""A session's log, read back as typed events: what ``follow`` and ``replay`` yield.

The runtime mirrors every message published with topic source ``S`` into the stream
``{ns}:session:S`` (the same fields plus ``topic``), and writes an ``Error`` entry there when
input naming that session was rejected or dead-lettered. So one stream, read in order, is the
whole conversation::

    topic     type            message
    tasks     TaskRequest     the user's task
    events    AssistantTurn   each model reply, as it happens
    code      ExecutionRequest
    results   ExecutionResult
    outcomes  TaskResult      the end (whatever the ending)
    tasks     CancelTask
    errors    Error           bad input or a dead letter that names this session

An entry this client cannot decode (a newer schema, a type it does not know) becomes an
``OtherEvent`` instead of stopping the follower.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from ._serialization import MessageRegistry
from .exceptions import BadMessageError
from .messages import (
    CONTRACT_MESSAGES,
    TASKS_TOPIC,
    AssistantTurn,
    CancelTask,
    ExecutionRequest,
    ExecutionResult,
    TaskRequest,
    TaskResult,
)
from .streams.failures import ERROR_TYPE

__all__ = [
    "ERROR_TYPE",
    "ErrorEvent",
    "OtherEvent",
    "SessionEvent",
    "SessionMessage",
    "decode_log_entry",
]


class ErrorEvent(BaseModel):
    """Input naming this session was rejected (bad JSON, unknown type, schema violation...) or
    given up on after repeated handler failures (``code`` = ``handler_failed``).

    Attributes:
        code: machine-readable reason (``invalid_message``, ``unknown_type``, ...).
        error: the human-readable explanation.
        stream: the stream the bad entry was on.
        entry: its entry id there.
        type: the ``type`` field the entry carried (may be empty or wrong).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: str
    error: str
    stream: str = ""
    entry: str = ""
    type: str = ""

    @property
    def rejects_task(self) -> bool:
        """True when it is the task itself that will not run: no ``TaskResult`` will follow."""
        return self.type == TaskRequest.__name__ and self.stream.endswith(f":topic:{TASKS_TOPIC}")


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """An entry this client could not turn into a known message; ``reason`` says why."""

    type: str
    body: str
    reason: str


SessionMessage = (
    TaskRequest
    | AssistantTurn
    | ExecutionRequest
    | ExecutionResult
    | TaskResult
    | CancelTask
    | ErrorEvent
    | OtherEvent
)


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """One entry of a session's log.

    Attributes:
        session: the session id (topic source).
        entry_id: the entry's id in the session log (pass it as ``after`` to resume there).
        topic: the topic it was published on (``errors`` for ``Error`` entries).
        type: the wire type name.
        message: the decoded message.
        message_id: the message's stable id, when the entry carries one.
        sender: ``agent_type/key`` of the publisher; ``None`` for a client or ``redis-cli``.
    """

    session: str
    entry_id: str
    topic: str
    type: str
    message: SessionMessage
    message_id: str | None = None
    sender: str | None = None

    @property
    def timestamp(self) -> datetime:
        """When Redis appended the entry (from the entry id's millisecond part)."""
        millis = int(self.entry_id.split("-", 1)[0])
        return datetime.fromtimestamp(millis / 1000, tz=UTC)

    @property
    def is_final(self) -> bool:
        """The task ended: a ``TaskResult``, or an error saying the task itself was rejected."""
        if isinstance(self.message, TaskResult):
            return True
        return isinstance(self.message, ErrorEvent) and self.message.rejects_task


_registry = MessageRegistry()
for _cls in CONTRACT_MESSAGES:
    _registry.register(_cls)


def decode_log_entry(session: str, entry_id: str, fields: dict[bytes, bytes]) -> SessionEvent:
    """Turn one raw session-log entry into a ``SessionEvent``; never raises on bad content."""

    def text(name: bytes) -> str | None:
        raw = fields.get(name)
        return None if raw is None else raw.decode(errors="replace")

    type_ = text(b"type") or ""
    body = fields.get(b"body", b"")
    version_text = text(b"v") or "1"
    message: SessionMessage
    try:
        if type_ == ERROR_TYPE:
            message = ErrorEvent.model_validate_json(body)
        else:
            version = int(version_text) if version_text.isdigit() else 1
            decoded = _registry.decode(type_, body, version)
            message = (
                decoded
                if isinstance(decoded, _KNOWN)
                else _other(type_, body, "not a session message type")
            )
    except (BadMessageError, ValidationError) as exc:
        message = _other(type_, body, str(exc).splitlines()[0])
    return SessionEvent(
        session=session,
        entry_id=entry_id,
        topic=text(b"topic") or "",
        type=type_,
        message=message,
        message_id=text(b"id"),
        sender=text(b"sender"),
    )


_KNOWN = (TaskRequest, AssistantTurn, ExecutionRequest, ExecutionResult, TaskResult, CancelTask)


def _other(type_: str, body: bytes, reason: str) -> OtherEvent:
    return OtherEvent(type=type_, body=body.decode(errors="replace"), reason=reason)
