"""_default_topic.py: DefaultTopicId takes the handled message's source (its session)."""

from __future__ import annotations

from agent_streams._context import MessageContext, reset_current_context, set_current_context
from agent_streams._default_topic import DefaultTopicId
from agent_streams._ids import AgentId, TopicId


def test_outside_a_handler_the_source_is_default() -> None:
    assert DefaultTopicId() == TopicId("default", "default")
    assert DefaultTopicId("results", "s9") == TopicId("results", "s9")


def test_inside_a_handler_the_source_is_the_handled_messages() -> None:
    ctx = MessageContext(sender=None, topic_id=TopicId("tasks", "session-7"), is_rpc=False)
    token = set_current_context(AgentId("a", "session-7"), ctx)
    try:
        assert DefaultTopicId() == TopicId("default", "session-7")
        assert DefaultTopicId("results") == TopicId("results", "session-7")
    finally:
        reset_current_context(token)
    rpc = MessageContext(sender=None, topic_id=None, is_rpc=True)  # send_message: no topic
    token = set_current_context(AgentId("a", "k"), rpc)
    try:
        assert DefaultTopicId() == TopicId("default", "default")
    finally:
        reset_current_context(token)
