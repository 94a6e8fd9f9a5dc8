"""_ids.py: agent and topic identities, validated, equal by value, printable as autogen's."""

from __future__ import annotations

import pytest

from agent_streams._ids import AgentId, AgentType, TopicId


def test_an_agent_id_reads_back_from_its_text() -> None:
    agent_id = AgentId(AgentType("executor"), "session-1")
    assert agent_id.type == "executor"
    assert str(agent_id) == "executor/session-1"
    assert AgentId.from_str(str(agent_id)) == agent_id
    assert AgentId.from_str("executor/a/b") == AgentId("executor", "a/b")  # the key may hold "/"


@pytest.mark.parametrize(
    "make",
    [
        lambda: AgentId("bad:type", "k"),
        lambda: AgentId("t", ""),
        lambda: AgentId("t", "has space"),
        lambda: AgentId.from_str("no-slash"),
        lambda: TopicId("topic", "a:b"),
        lambda: TopicId("x" * 201, "s"),
    ],
)
def test_names_that_would_break_the_key_layout_are_refused(make: object) -> None:
    with pytest.raises(ValueError, match="invalid"):
        make()  # type: ignore[operator]


def test_topic_ids_are_equal_and_hash_by_value_across_subclasses() -> None:
    class Sub(TopicId):
        __slots__ = ()

    assert TopicId("t", "s") == Sub("t", "s")
    assert len({TopicId("t", "s"), Sub("t", "s"), TopicId("t", "other")}) == 2
    assert str(TopicId("tasks", "s1")) == "tasks/s1"
    assert TopicId("t", "s").__eq__("t/s") is NotImplemented
