"""Decoding session-log entries into events: known messages, errors, and what is not known."""

from __future__ import annotations

import json

from agent_streams.messages import TaskRequest, TaskResult
from agent_streams.session_log import ErrorEvent, OtherEvent, decode_log_entry


def entry(**fields: str) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in fields.items()}


def test_a_contract_message_decodes_with_its_metadata() -> None:
    event = decode_log_entry(
        "s1",
        "1700000000123-0",
        entry(type="TaskRequest", body='{"prompt": "hi"}', topic="tasks", id="m1"),
    )
    assert event.message == TaskRequest(prompt="hi")
    assert (event.topic, event.message_id, event.sender) == ("tasks", "m1", None)
    assert event.timestamp.timestamp() == 1700000000.123
    assert not event.is_final


def test_a_task_result_is_final() -> None:
    event = decode_log_entry(
        "s1", "1-0", entry(type="TaskResult", body='{"status": "completed"}', topic="outcomes")
    )
    assert event.message == TaskResult(status="completed")
    assert event.is_final


def test_an_error_about_the_task_request_is_final_other_errors_are_not() -> None:
    rejected = {
        "code": "invalid_message",
        "error": "TaskRequest: prompt: Field required",
        "stream": "agents:topic:tasks",
        "entry": "5-0",
        "type": "TaskRequest",
    }
    event = decode_log_entry("s1", "6-0", entry(type="Error", body=json.dumps(rejected)))
    assert isinstance(event.message, ErrorEvent)
    assert event.message.code == "invalid_message"
    assert event.is_final
    other = {**rejected, "stream": "agents:topic:results", "type": "ExecutionResult"}
    event = decode_log_entry("s1", "7-0", entry(type="Error", body=json.dumps(other)))
    assert not event.is_final


def test_what_cannot_be_decoded_becomes_an_other_event_not_an_exception() -> None:
    unknown = decode_log_entry("s1", "1-0", entry(type="Telemetry", body="{}"))
    assert isinstance(unknown.message, OtherEvent)
    assert "unknown message type 'Telemetry'" in unknown.message.reason
    newer = decode_log_entry("s1", "2-0", entry(type="TaskRequest", body="{}", v="9"))
    assert isinstance(newer.message, OtherEvent)
    assert "newer" in newer.message.reason
    broken = decode_log_entry("s1", "3-0", entry(type="TaskResult", body="{"))
    assert isinstance(broken.message, OtherEvent)
    assert broken.message.body == "{"
    builtin = decode_log_entry("s1", "4-0", entry(type="str", body='"x"'))
    assert isinstance(builtin.message, OtherEvent)
