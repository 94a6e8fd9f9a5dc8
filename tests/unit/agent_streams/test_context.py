"""_context.py: the message being handled, per task (what DefaultTopicId and logging read)."""

from __future__ import annotations

import asyncio

from agent_streams._context import (
    MessageContext,
    current_context,
    current_handling,
    reset_current_context,
    set_current_context,
)
from agent_streams._ids import AgentId, TopicId


def _ctx(source: str) -> MessageContext:
    return MessageContext(sender=None, topic_id=TopicId("t", source), is_rpc=False)


async def test_the_context_is_set_per_task_and_reset_after() -> None:
    assert current_context() is None
    agent = AgentId("a", "k")
    outer = _ctx("outer")
    token = set_current_context(agent, outer)
    seen: list[MessageContext | None] = []

    async def other_handler() -> None:
        inner_token = set_current_context(agent, _ctx("inner"))
        seen.append(current_context())
        reset_current_context(inner_token)

    await asyncio.get_running_loop().create_task(other_handler())  # its own copy of the context
    assert current_handling() == (agent, outer)
    reset_current_context(token)
    assert current_context() is None
    assert seen[0] is not None
    assert seen[0].topic_id == TopicId("t", "inner")


def test_a_context_starts_as_a_first_delivery_with_a_token_of_its_own() -> None:
    a, b = _ctx("s"), _ctx("s")
    assert a.delivery == 1
    assert a.cancellation_token is not b.cancellation_token
