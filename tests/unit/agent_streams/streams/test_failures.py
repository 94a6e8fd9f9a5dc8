"""streams/failures.py: one record for the errors stream, the dead letters and the session log,
written (on a real Redis, by the recorder) and read back by the same code."""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis.asyncio as aioredis
from structlog.testing import capture_logs

from agent_streams._serialization import MessageRegistry
from agent_streams.exceptions import UnknownMessageType
from agent_streams.keys import Keys
from agent_streams.session_log import ErrorEvent, decode_log_entry
from agent_streams.streams.failures import (
    ERROR_TYPE,
    DeadLetter,
    FailureRecorder,
    decode_dead_letter,
)
from agent_streams.streams.settings import RuntimeSettings


@dataclass
class Job:
    n: int


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


async def test_the_recorder_writes_the_three_entries_and_tells_the_listeners(
    redis_client: aioredis.Redis, keys: Keys, settings: RuntimeSettings
) -> None:
    messages = MessageRegistry()
    messages.register(Job)
    recorder = FailureRecorder(redis_client, keys, settings, messages)
    told: list[DeadLetter] = []

    async def listener(letter: DeadLetter) -> None:
        told.append(letter)

    async def broken(letter: DeadLetter) -> None:
        raise RuntimeError("listener bug")

    recorder.add_listener(broken)
    recorder.add_listener(listener)
    raw = {b"type": b"Job", b"body": b'{"n": 3}', b"source": b"s-1", b"id": b"m-3"}
    with capture_logs() as logs:
        await recorder.dead_letter("ns:topic:jobs", "5-0", "worker", "handler failed", fields=raw)
    [(_error_id, error)] = await redis_client.xrange(keys.errors)
    [(dead_id, dead)] = await redis_client.xrange(keys.dead_letters)
    [(_id, session)] = await redis_client.xrange(keys.session("s-1"))
    assert error[b"code"] == b"handler_failed"
    assert decode_dead_letter(dead_id, dead).fields["id"] == "m-3"
    assert session[b"type"] == ERROR_TYPE.encode()
    [letter] = told  # the broken listener did not stop the next one
    assert (letter.entry_id, letter.message) == (dead_id.decode(), Job(3))
    [failed] = [e for e in logs if e["event"] == "dead_letter_listener_failed"]
    assert failed["exc_info"] is True


async def test_bad_input_is_recorded_with_its_code_and_no_decoded_message(
    redis_client: aioredis.Redis, keys: Keys, settings: RuntimeSettings
) -> None:
    recorder = FailureRecorder(redis_client, keys, settings, MessageRegistry())
    told: list[DeadLetter] = []

    async def listener(letter: DeadLetter) -> None:
        told.append(letter)

    recorder.add_listener(listener)
    raw = {b"type": b"Nope", b"body": b"{}", b"source": b"s-2"}
    await recorder.bad_input("ns:topic:jobs", "6-0", "worker", raw, UnknownMessageType("Nope?"))
    [(_id, error)] = await redis_client.xrange(keys.errors)
    assert (error[b"code"], error[b"id"]) == (b"unknown_type", b"6-0")
    [letter] = told
    assert letter.message is None
