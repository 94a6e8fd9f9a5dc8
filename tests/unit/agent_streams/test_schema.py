"""The committed JSON Schemas match the message models, and they validate real messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_streams.messages import CONTRACT_MESSAGES, TaskRequest
from agent_streams.schema import message_schemas

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(message_schemas()))
def test_committed_schema_is_current(name: str) -> None:
    committed = json.loads((SCHEMAS / f"{name}.json").read_text())
    assert committed == message_schemas()[name], (
        f"docs/schemas/{name}.json is stale: run `make schemas`"
    )


def test_every_contract_message_has_a_schema() -> None:
    assert {p.stem for p in SCHEMAS.glob("*.json")} == {c.__name__ for c in CONTRACT_MESSAGES}


def test_schema_rejects_what_the_model_rejects() -> None:
    schema = message_schemas()["TaskRequest"]
    assert schema["additionalProperties"] is False
    assert "prompt" in schema["required"]
    assert schema["x-agent-streams"] == {"type": "TaskRequest", "v": 1}
    with pytest.raises(ValueError, match="prompt"):
        TaskRequest.model_validate_json("{}")
