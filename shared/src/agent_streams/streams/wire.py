"""The stream entry format: a flat field map a person can write with ``redis-cli XADD``.

    type      message type name (required), e.g. ``TaskRequest``
    body      the message as JSON (required)
    source    topic source = session id (required on topic streams)
    v         schema version (optional, default 1)
    id        message id (optional: the entry id is used; keep it on redelivery/replay)
    sender    ``agent_type/key`` of the publisher (optional)
    key       recipient agent key (direct messages only)
    reply_to  stream for the reply (direct messages only)
    deadline  epoch milliseconds after which a direct message is not handled
    traceparent, tracestate
              W3C trace context (optional): the span the message was published in, so
              that one task is one trace across processes (``agent_streams.telemetry``)

Example::

    XADD agents:topic:tasks '*' type TaskRequest source demo-1 body '{"prompt":"print 2+2"}'
"""

from __future__ import annotations

from dataclasses import dataclass

from .._ids import AgentId
from .._serialization import NONE_TYPE
from ..exceptions import InvalidMessage
from ..keys import validate_name

__all__ = ["Envelope", "build_fields", "parse_entry"]


@dataclass(slots=True)
class Envelope:
    stream: str
    entry_id: str
    type: str
    body: bytes
    version: int
    source: str | None
    message_id: str
    sender: AgentId | None
    key: str | None
    reply_to: str | None
    deadline_ms: int | None
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def session(self) -> str | None:
        return self.source or self.key


def _text(fields: dict[bytes, bytes], name: bytes) -> str | None:
    raw = fields.get(name)
    if raw is None:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise InvalidMessage(f"field {name.decode()!r} is not valid UTF-8") from None


_KNOWN_FIELDS = frozenset(
    f.encode() for f in ("type", "body", "source", "v", "id", "sender", "key", "reply_to")
) | {b"deadline", b"topic", b"traceparent", b"tracestate"}
_senders: dict[str, AgentId] = {}  # sender text -> AgentId (immutable), bounded below


def parse_entry(
    stream: str, entry_id: str, fields: dict[bytes, bytes], *, max_body_bytes: int
) -> Envelope:
    """Checks the entry's shape (not the body's schema); raises ``InvalidMessage``."""
    if not _KNOWN_FIELDS.issuperset(fields):
        unknown = sorted(f.decode(errors="replace") for f in fields if f not in _KNOWN_FIELDS)
        raise InvalidMessage(
            f"unknown fields {unknown}; expected type, body, source[, v, id, sender]"
        )
    type_ = _text(fields, b"type")
    if not type_:
        raise InvalidMessage("missing field 'type' (the message type name, e.g. TaskRequest)")
    body = fields.get(b"body")
    if body is None:
        raise InvalidMessage("missing field 'body' (the message as JSON)")
    if len(body) > max_body_bytes:
        raise InvalidMessage(f"body is {len(body)} bytes, over the {max_body_bytes}-byte limit")
    try:
        body.decode()
    except UnicodeDecodeError:
        raise InvalidMessage("body is not valid UTF-8 JSON") from None
    get = fields.get
    version_text = _text(fields, b"v") if b"v" in fields else "1"
    if version_text == "1":
        version = 1
    elif version_text and version_text.isdigit():
        version = int(version_text)
    else:
        version_text = version_text or "1"  # an empty v means the default, as before
        if not version_text.isdigit():
            raise InvalidMessage(f"field 'v' must be a positive integer, got {version_text!r}")
        version = int(version_text)
    sender_text = _text(fields, b"sender") if b"sender" in fields else None
    try:
        source = _text(fields, b"source") if b"source" in fields else None
        if source is not None:
            validate_name(source, "source")
        key = _text(fields, b"key") if b"key" in fields else None
        if key is not None:
            validate_name(key, "key")
        sender = _sender(sender_text) if sender_text else None
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    deadline_text = _text(fields, b"deadline") if b"deadline" in fields else None
    message_id = _text(fields, b"id") if b"id" in fields else None
    return Envelope(
        stream=stream,
        entry_id=entry_id,
        type=type_,
        body=body,
        version=version,
        source=source,
        message_id=message_id or entry_id,
        sender=sender,
        key=key,
        reply_to=_text(fields, b"reply_to") if get(b"reply_to") is not None else None,
        deadline_ms=int(deadline_text) if deadline_text and deadline_text.isdigit() else None,
        traceparent=_text(fields, b"traceparent") if b"traceparent" in fields else None,
        tracestate=_text(fields, b"tracestate") if b"tracestate" in fields else None,
    )


def _sender(text: str) -> AgentId:
    sender = _senders.get(text)
    if sender is None:
        sender = AgentId.from_str(text)
        if len(_senders) >= 4096:
            _senders.clear()
        _senders[text] = sender
    return sender


def build_fields(
    type_name: str,
    body: bytes,
    version: int,
    message_id: str,
    *,
    source: str | None = None,
    sender: AgentId | None = None,
    key: str | None = None,
    reply_to: str | None = None,
    deadline_ms: int | None = None,
) -> dict[str, str | bytes]:
    fields: dict[str, str | bytes] = {"type": type_name, "body": body, "id": message_id}
    if version != 1:
        fields["v"] = str(version)
    if source is not None:
        fields["source"] = source
    if sender is not None:
        fields["sender"] = str(sender)
    if key is not None:
        fields["key"] = key
    if reply_to is not None:
        fields["reply_to"] = reply_to
    if deadline_ms is not None:
        fields["deadline"] = str(deadline_ms)
    return fields


__all__ += ["NONE_TYPE"]
