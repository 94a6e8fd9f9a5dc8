"""streams/failures.py: one record for the errors stream, the dead letters and the session log,
written and read back by the same code."""

from __future__ import annotations

import json

from agent_streams.session_log import ErrorEvent, decode_log_entry
from agent_streams.streams.failures import ERROR_TYPE, DeadLetter, decode_dead_letter

RAW = {b"type": b"TaskRequest", b"body": b'{"prompt": "x"}', b"source": b"s-1", b"id": b"m-1"}


def letter(raw: dict[bytes, bytes] = RAW) -> DeadLetter:
    return DeadLetter.of_entry(
        "ns:topic:tasks", "1-0", "assistant", "handler_failed", "handler failed 5 times", raw
    )


def test_a_dead_letter_reads_back_as_it_was_written() -> None:
    written = letter()
    fields = {k.encode(): v.encode() for k, v in written.dead_letter_entry().items()}
    read = decode_dead_letter(b"9-0", fields)
    assert (read.stream, read.entry, read.group, read.code) == (
        "ns:topic:tasks",
        "1-0",
        "assistant",
        "handler_failed",
    )
    assert (read.type, read.source, read.message_id, read.entry_id) == (
        "TaskRequest",
        "s-1",
        "m-1",
        "9-0",
    )
    assert read.fields == {k.decode(): v.decode() for k, v in RAW.items()}
    assert read.reason == "handler failed 5 times"


def test_the_errors_entry_is_the_dead_letter_without_the_original_fields() -> None:
    written = letter()
    assert written.dead_letter_entry() == {
        **written.error_entry(),
        "fields": json.dumps(written.fields),
    }


def test_an_entry_without_an_id_is_named_by_its_entry_id() -> None:
    assert letter({b"type": b"Job"}).message_id == "1-0"


def test_the_session_entry_reads_back_as_an_error_event() -> None:
    session = letter().session_entry()
    assert session is not None
    assert session["type"] == ERROR_TYPE
    event = decode_log_entry("s-1", "5-0", {k.encode(): v.encode() for k, v in session.items()})
    assert event.message == ErrorEvent(
        code="handler_failed",
        error="handler failed 5 times",
        stream="ns:topic:tasks",
        entry="1-0",
        type="TaskRequest",
    )
    assert event.is_final  # the task itself was given up on: no TaskResult will follow


def test_no_session_entry_for_a_missing_or_invalid_session() -> None:
    assert letter({b"type": b"Job"}).session_entry() is None
    assert letter({b"type": b"Job", b"source": b"a b:c"}).session_entry() is None


def test_damaged_original_fields_read_as_none() -> None:
    read = decode_dead_letter("9-0", {b"stream": b"s", b"fields": b"{not json"})
    assert read.fields == {}
