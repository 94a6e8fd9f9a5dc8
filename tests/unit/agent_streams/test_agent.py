"""_agent.py: agents are made by the runtime, and register their type with its subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from agent_streams import InProcessRuntime, TopicId
from agent_streams._agent import BaseAgent, instantiate
from agent_streams._context import MessageContext
from agent_streams._ids import AgentId
from agent_streams._subscription import type_subscription
from agent_streams.exceptions import RuntimeStateError


@dataclass
class Note:
    text: str = ""


@type_subscription("notes")
class Recorder(BaseAgent):
    message_types = (Note,)

    got: list[tuple[AgentId, Any, MessageContext]] = []

    def __init__(self) -> None:
        super().__init__("records notes")

    async def on_message(self, message: Any, ctx: MessageContext) -> Any:
        Recorder.got.append((self.id, message, ctx))


def test_an_agent_made_outside_the_runtime_is_refused() -> None:
    with pytest.raises(RuntimeStateError, match="factory"):
        Recorder()


async def test_the_factory_runs_with_the_id_and_runtime_bound() -> None:
    runtime = InProcessRuntime()
    agent = await instantiate(runtime, AgentId("rec", "k1"), Recorder)
    assert (agent.id, agent.runtime, agent.description) == (
        AgentId("rec", "k1"),
        runtime,
        "records notes",
    )

    async def async_factory() -> Recorder:
        return Recorder()

    assert isinstance(await instantiate(runtime, AgentId("rec", "k2"), async_factory), Recorder)
    with pytest.raises(TypeError, match="not an agent"):
        await instantiate(runtime, AgentId("rec", "k3"), lambda: object())


async def test_register_subscribes_the_class_and_knows_its_message_types() -> None:
    Recorder.got = []
    runtime = InProcessRuntime()
    await Recorder.register(runtime, "rec", Recorder)
    assert "Note" in runtime._registry.messages
    runtime.start()
    await runtime.publish_message(Note("hi"), TopicId("notes", "s1"))
    await runtime.stop_when_idle()
    [(agent_id, message, ctx)] = Recorder.got
    assert (agent_id, message) == (AgentId("rec", "s1"), Note("hi"))
    assert ctx.topic_id == TopicId("notes", "s1")


async def test_skip_class_subscriptions_leaves_the_topics_alone() -> None:
    runtime = InProcessRuntime()
    await Recorder.register(runtime, "rec", Recorder, skip_class_subscriptions=True)
    runtime.start()
    await runtime.publish_message(Note(), TopicId("notes", "s1"))
    await runtime.stop_when_idle()
    assert runtime._registry.subscriptions == []
    assert runtime._registry.instances == {}  # nothing delivered, so no instance made
