"""The message registry: stable names, versions, and what goes on the wire."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from agent_streams._serialization import MessageRegistry
from agent_streams.exceptions import InvalidMessage, UnknownMessageType, UnsupportedVersion
from agent_streams.messages import TaskRequest


@dataclass
class Message:
    content: str


def test_unset_fields_stay_unset_so_the_receivers_defaults_apply() -> None:
    registry = MessageRegistry()
    name, body, version = registry.encode(TaskRequest(prompt="hi"))
    assert (name, version) == ("TaskRequest", 1)
    assert json.loads(body) == {"prompt": "hi"}
    decoded = registry.decode(name, body)
    assert "max_turns" not in decoded.model_fields_set
    _, body, _ = registry.encode(TaskRequest(prompt="hi", max_turns=3))
    assert registry.decode(name, body).model_fields_set == {"prompt", "max_turns"}


def test_dataclasses_round_trip_by_class_name() -> None:
    registry = MessageRegistry()
    name, body, _ = registry.encode(Message("x"))
    assert name == "Message"
    assert registry.decode(name, body) == Message("x")


def test_bad_bodies_raise_clear_errors() -> None:
    registry = MessageRegistry()
    registry.register(TaskRequest)
    with pytest.raises(UnknownMessageType, match="unknown message type 'Nope'"):
        registry.decode("Nope", b"{}")
    with pytest.raises(UnsupportedVersion, match="newer than this consumer supports"):
        registry.decode("TaskRequest", b'{"prompt": "x"}', version=2)
    with pytest.raises(InvalidMessage, match="prompt"):
        registry.decode("TaskRequest", b"{}")


def test_two_classes_may_not_share_a_wire_name() -> None:
    registry = MessageRegistry()
    registry.register(Message)
    other = type("Message", (), {})
    with pytest.raises(ValueError, match="share the wire name"):
        registry.register(other)
