"""Failures: what the runtime writes when it rejects an entry or gives up on it, and reads back.

One record, three entries written in one round trip::

    {ns}:errors          the failure (what a submitter watches for bad input)
    {ns}:dead-letters    the failure plus the entry's original fields (JSON), for a retry
    {ns}:session:S       an ``Error`` entry, when the entry named a valid session S

``DeadLetter`` is that record: the runtime hands it to dead-letter listeners (with the decoded
message when there is one), ``admin`` reads it back from the dead-letter stream and
``session_log`` reads the session's ``Error`` entries. Every field name is here, once.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import structlog

from .._ids import TopicId
from ..exceptions import BadMessageError
from .wire import Envelope, parse_entry

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .._serialization import MessageRegistry
    from ..keys import Keys
    from .settings import RuntimeSettings

__all__ = [
    "ERROR_TYPE",
    "DeadLetter",
    "FailureRecorder",
    "decode_dead_letter",
]

log = structlog.get_logger("agent_streams")

ERROR_TYPE = "Error"
"""The ``type`` of the session-log entries that report a failure."""

_SESSION_ERROR_FIELDS = ("code", "error", "stream", "entry", "type")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry the runtime rejected (bad input) or gave up on, with why.

    Attributes:
        stream: the stream the entry was on.
        entry: its entry id there.
        group: the consumer group (agent type) that rejected or gave up on it.
        code: ``handler_failed`` or the bad-input code (``invalid_message``, ...).
        error: the human-readable reason.
        type: the ``type`` field the entry carried (may be empty or wrong).
        source: the topic source (session) it named, "" when none.
        message_id: the message id (the entry id when the entry carried none).
        fields: the entry's original fields, as text.
        entry_id: the dead letter's own id on the dead-letter stream ("" until written).
        message: the decoded message, for dead-letter listeners (None for bad input).
    """

    stream: str
    entry: str
    group: str
    code: str
    error: str
    type: str
    source: str
    message_id: str
    fields: dict[str, str] = field(default_factory=dict)
    entry_id: str = ""
    message: Any = None

    @property
    def reason(self) -> str:
        """The reason given up (``error``), as dead-letter listeners call it."""
        return self.error

    @classmethod
    def of_entry(
        cls, stream: str, entry: str, group: str, code: str, error: str, raw: dict[bytes, bytes]
    ) -> DeadLetter:
        """The record for the raw entry ``raw`` (fields as Redis returned them)."""
        fields = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in raw.items()}
        return cls(
            stream=stream,
            entry=entry,
            group=group,
            code=code,
            error=error,
            type=fields.get("type", ""),
            source=fields.get("source", ""),
            message_id=fields.get("id") or entry,
            fields=fields,
        )

    def error_entry(self) -> dict[str, str]:
        """The fields of its entry on the errors stream."""
        return {
            "stream": self.stream,
            "entry": self.entry,
            "group": self.group,
            "code": self.code,
            "error": self.error,
            "type": self.type,
            "source": self.source,
            "id": self.message_id,
        }

    def dead_letter_entry(self) -> dict[str, str]:
        """The fields of its entry on the dead-letter stream."""
        return {**self.error_entry(), "fields": json.dumps(self.fields)}

    def session_entry(self) -> dict[str, str] | None:
        """Its ``Error`` entry for the session log, or None when it names no valid session."""
        if not self.source or not _valid_source(self.source):
            return None
        body = json.dumps({name: getattr(self, name) for name in _SESSION_ERROR_FIELDS})
        return {"type": ERROR_TYPE, "body": body, "source": self.source, "topic": "errors"}


def decode_dead_letter(entry_id: bytes | str, raw: dict[bytes, bytes]) -> DeadLetter:
    """A dead-letter stream entry read back; a damaged ``fields`` value reads as no fields."""
    f = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in raw.items()}
    original: Any = {}
    with contextlib.suppress(ValueError):
        original = json.loads(f.get("fields", "{}"))
    if not isinstance(original, dict):
        original = {}
    return DeadLetter(
        stream=f.get("stream", ""),
        entry=f.get("entry", ""),
        group=f.get("group", ""),
        code=f.get("code", ""),
        error=f.get("error", ""),
        type=f.get("type", ""),
        source=f.get("source", ""),
        message_id=f.get("id", ""),
        fields={str(k): str(v) for k, v in original.items()},
        entry_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
    )


def _valid_source(value: str) -> bool:
    try:
        TopicId("x", value)
    except ValueError:
        return False
    return True


Listener = Callable[[DeadLetter], Awaitable[None]]


class FailureRecorder:
    """Writes failures (see the module docstring) and tells the dead-letter listeners.

    Args:
        redis: the runtime's client.
        keys: the namespace's key names.
        settings: stream bounds and the session-log switch.
        messages: decodes a dead letter's message for the listeners.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        settings: RuntimeSettings,
        messages: MessageRegistry,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings
        self._messages = messages
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def bad_input(
        self,
        stream: str,
        entry_id: str,
        group: str,
        fields: dict[bytes, bytes],
        exc: BadMessageError,
    ) -> None:
        """Bad input: an error event the submitter can read plus a dead letter."""
        log.warning(
            "bad_input", stream=stream, entry=entry_id, group=group, code=exc.code, error=str(exc)
        )
        letter = DeadLetter.of_entry(stream, entry_id, group, exc.code, str(exc), fields)
        await self._record(letter, fields)

    async def dead_letter(
        self,
        stream: str,
        entry_id: str,
        group: str,
        reason: str,
        *,
        fields: dict[bytes, bytes] | None = None,
        env: Envelope | None = None,
    ) -> None:
        """Give up on an entry: from its raw ``fields``, or its parsed ``env``."""
        if fields is None:
            fields = {}
            if env is not None:
                fields = {b"type": env.type.encode(), b"body": env.body}
                fields[b"id"] = env.message_id.encode()
                if env.source:
                    fields[b"source"] = env.source.encode()
                if env.traceparent:  # a retry of the dead letter continues its trace
                    fields[b"traceparent"] = env.traceparent.encode()
        letter = DeadLetter.of_entry(stream, entry_id, group, "handler_failed", reason, fields)
        await self._record(letter, fields)

    async def _record(self, letter: DeadLetter, raw: dict[bytes, bytes]) -> None:
        s = self._settings
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self._keys.errors,
                letter.error_entry(),  # type: ignore[arg-type]
                maxlen=s.stream_maxlen,
                approximate=True,
            )
            pipe.xadd(
                self._keys.dead_letters,
                letter.dead_letter_entry(),  # type: ignore[arg-type]
                maxlen=s.stream_maxlen,
                approximate=True,
            )
            session = letter.session_entry() if s.session_log else None
            if session is not None:
                pipe.xadd(
                    self._keys.session(letter.source),
                    session,  # type: ignore[arg-type]
                    maxlen=s.session_log_maxlen,
                    approximate=True,
                )
            _error_id, dead_id, *_ = await pipe.execute()
        if self._listeners:
            letter = replace(letter, entry_id=dead_id.decode(), message=self._decode(letter, raw))
            await self._tell(letter)

    def _decode(self, letter: DeadLetter, raw: dict[bytes, bytes]) -> Any:
        with contextlib.suppress(BadMessageError):  # bad input: the listeners get no message
            env = parse_entry(
                letter.stream, letter.entry, raw, max_body_bytes=self._settings.max_body_bytes
            )
            return self._messages.decode(env.type, env.body, env.version)
        return None

    async def _tell(self, letter: DeadLetter) -> None:
        for listener in self._listeners:
            try:
                await listener(letter)
            except Exception:  # a listener must not undo the dead letter
                log.exception("dead_letter_listener_failed", id=letter.message_id)
