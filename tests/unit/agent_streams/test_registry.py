"""_registry.py: factories, routing, lazy instances, one message at a time, idle eviction."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from structlog.testing import capture_logs

from agent_streams import InProcessRuntime
from agent_streams._agent import BaseAgent
from agent_streams._context import MessageContext, current_handling
from agent_streams._ids import AgentId, TopicId
from agent_streams._registry import AgentRegistry
from agent_streams._subscription import TypeSubscription
from agent_streams.exceptions import UndeliverableException


@dataclass
class Note:
    text: str = ""


class Keeper(BaseAgent):
    message_types = (Note,)
    closed: list[AgentId] = []
    closing = asyncio.Event()

    def __init__(self) -> None:
        super().__init__("keeps notes")

    async def on_message(self, message: Any, ctx: MessageContext) -> Any:
        return current_handling()

    async def close(self) -> None:
        Keeper.closed.append(self.id)
        Keeper.closing.set()
        if self.id.key == "broken":
            raise OSError("close failed")


@pytest.fixture
def registry() -> AgentRegistry:
    Keeper.closed = []
    Keeper.closing = asyncio.Event()
    registry = AgentRegistry(InProcessRuntime())
    registry.add_factory("keeper", Keeper, Keeper)
    return registry


def test_a_type_is_registered_once_with_its_message_types(registry: AgentRegistry) -> None:
    assert "Note" in registry.messages
    assert registry.handled_type_names("keeper") == ["Note"]
    with pytest.raises(ValueError, match="already registered"):
        registry.add_factory("keeper", Keeper, Keeper)
    with pytest.raises(ValueError, match="agent type"):
        registry.add_factory("bad type", Keeper, None)


def test_a_publish_reaches_each_subscriber_once_and_never_its_sender(
    registry: AgentRegistry,
) -> None:
    for sub in (TypeSubscription("t", "keeper"), TypeSubscription("t", "other")):
        assert registry.add_subscription(sub)
    assert not registry.add_subscription(TypeSubscription("t", "keeper"))  # already there
    topic = TopicId("t", "s1")
    assert registry.recipients(topic, None) == [AgentId("keeper", "s1"), AgentId("other", "s1")]
    assert registry.recipients(topic, AgentId("keeper", "s1")) == [AgentId("other", "s1")]
    assert registry.subscribed_types("t") == ["keeper", "other"]


async def test_an_instance_is_made_once_and_handles_with_its_context_set(
    registry: AgentRegistry,
) -> None:
    agent_id = AgentId("keeper", "s1")
    first = await registry.get_instance(agent_id)
    assert await registry.get_instance(agent_id) is first
    ctx = MessageContext(sender=None, topic_id=None, is_rpc=True)
    assert await registry.deliver(agent_id, Note(), ctx) == (agent_id, ctx)
    assert current_handling() is None  # reset after the handler
    with pytest.raises(UndeliverableException, match="nobody"):
        await registry.get_instance(AgentId("nobody", "s1"))

    class Other(BaseAgent):
        pass

    registry.add_factory("liar", Keeper, Other)
    with pytest.raises(TypeError, match="did not return"):
        await registry.get_instance(AgentId("liar", "s1"))


async def test_idle_instances_are_closed_and_forgotten_busy_ones_kept(
    registry: AgentRegistry,
) -> None:
    ctx = MessageContext(sender=None, topic_id=None, is_rpc=False)
    for key in ("idle", "busy", "broken"):
        await registry.deliver(AgentId("keeper", key), Note(), ctx)
    async with registry.lock(AgentId("keeper", "busy")):  # handling a message now
        with capture_logs() as logs:
            assert await registry.evict_idle(0) == 2
    assert set(registry.instances) == {AgentId("keeper", "busy")}
    assert sorted(a.key for a in Keeper.closed) == ["broken", "idle"]
    assert [e["event"] for e in logs] == ["agent_close_failed"]
    assert logs[0]["exc_info"] is True
    assert logs[0]["agent"] == "keeper/broken"
    assert await registry.evict_idle(3600) == 0  # used just now: kept


async def test_the_eviction_loop_sweeps_until_cancelled(registry: AgentRegistry) -> None:
    ctx = MessageContext(sender=None, topic_id=None, is_rpc=False)
    await registry.deliver(AgentId("keeper", "s1"), Note(), ctx)
    loop = asyncio.get_running_loop().create_task(registry.evict_idle_forever(0.2))
    try:
        await asyncio.wait_for(Keeper.closing.wait(), 5)
    finally:
        loop.cancel()
    assert Keeper.closed == [AgentId("keeper", "s1")]
    assert registry.instances == {}
    await registry.deliver(AgentId("keeper", "s1"), Note(), ctx)  # made again on demand
    await registry.close_all()
    assert registry.instances == {}
    assert Keeper.closed == [AgentId("keeper", "s1")] * 2
