"""streams/wire.py: the entry format a person writes with redis-cli XADD, checked field by field."""

from __future__ import annotations

import pytest

from agent_streams._ids import AgentId
from agent_streams.exceptions import InvalidMessage
from agent_streams.streams.wire import Envelope, build_fields, parse_entry


def _parse(**fields: str | bytes) -> Envelope:
    raw = {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}
    return parse_entry("ns:topic:t", "1-0", raw, max_body_bytes=64)


def test_what_build_fields_writes_parses_back() -> None:
    fields = build_fields(
        "Task",
        b'{"a":1}',
        3,
        "m-1",
        source="s1",
        sender=AgentId("client", "k"),
        reply_to="ns:reply:r",
        deadline_ms=1234,
    )
    env = _parse(**fields)
    assert (env.type, env.body, env.version, env.message_id) == ("Task", b'{"a":1}', 3, "m-1")
    assert env.sender == AgentId("client", "k")
    assert (env.reply_to, env.deadline_ms, env.session) == ("ns:reply:r", 1234, "s1")
    assert "v" not in build_fields("Task", b"{}", 1, "m")  # the default version is left out


def test_a_minimal_hand_written_entry_takes_the_defaults() -> None:
    env = _parse(type="Task", body="{}", source="s1")
    assert (env.version, env.message_id, env.sender, env.key) == (1, "1-0", None, None)
    assert _parse(type="Task", body="{}", v="").version == 1


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"type": "T", "body": "{}", "colour": "red"}, "unknown fields \\['colour'\\]"),
        ({"body": "{}"}, "missing field 'type'"),
        ({"type": "T"}, "missing field 'body'"),
        ({"type": "T", "body": "x" * 65}, "over the 64-byte limit"),
        ({"type": "T", "body": b"\xff"}, "not valid UTF-8"),
        ({"type": b"\xff", "body": "{}"}, "'type' is not valid UTF-8"),
        ({"type": "T", "body": "{}", "v": "two"}, "'v' must be a positive integer"),
        ({"type": "T", "body": "{}", "source": "a b"}, "invalid source"),
        ({"type": "T", "body": "{}", "sender": "nokey"}, "invalid agent id"),
    ],
)
def test_bad_entries_are_refused_with_what_is_wrong(fields: dict[str, str], error: str) -> None:
    with pytest.raises(InvalidMessage, match=error):
        _parse(**fields)
