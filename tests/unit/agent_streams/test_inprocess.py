"""inprocess.py: the in-process runtime's own ways (its shared semantics with the Redis runtime
are tests/contract): publish order, a failing handler logged and kept, stop_when_idle."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from structlog.testing import capture_logs

from agent_streams import (
    AgentId,
    InProcessRuntime,
    MessageContext,
    RemoteHandlerError,
    RoutedAgent,
    SingleThreadedAgentRuntime,
    TopicId,
    message_handler,
    type_subscription,
)
from agent_streams.exceptions import RuntimeStateError


class Step(BaseModel):
    n: int


order: list[int] = []


@type_subscription("steps")
class Stepper(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("records steps")

    @message_handler
    async def on_step(self, message: Step, ctx: MessageContext) -> int:
        if message.n < 0:
            raise ValueError("negative step")
        order.append(message.n)
        if message.n < 3:  # a cascade: each step publishes the next
            await self.publish_message(Step(n=message.n + 10), TopicId("steps", "other"))
        return message.n


async def test_publishes_are_handled_in_order_and_stop_when_idle_waits_for_cascades() -> None:
    order.clear()
    runtime = InProcessRuntime()
    await Stepper.register(runtime, "stepper", Stepper)
    runtime.start()
    for n in range(3):
        await runtime.publish_message(Step(n=n), TopicId("steps", "s"))
    await runtime.stop_when_idle()
    assert order[:3] == [0, 1, 2]
    assert sorted(order[3:]) == [10, 11, 12]
    assert SingleThreadedAgentRuntime is InProcessRuntime


async def test_a_failing_handler_is_logged_and_kept_and_raises_to_a_sender() -> None:
    runtime = InProcessRuntime()
    await Stepper.register(runtime, "stepper", Stepper)
    runtime.start()
    with capture_logs() as logs:
        await runtime.publish_message(Step(n=-1), TopicId("steps", "s"))
        await runtime.stop_when_idle()
    assert [type(e) for e in runtime.unhandled_errors] == [ValueError]
    assert any(e["log_level"] == "error" for e in logs), logs
    runtime.start()
    with pytest.raises(RemoteHandlerError, match="negative step") as info:
        await runtime.send_message(Step(n=-2), AgentId("stepper", "k"))
    assert isinstance(info.value.__cause__, ValueError)
    assert await runtime.send_message(Step(n=7), AgentId("stepper", "k")) == 7
    await runtime.stop()


async def test_publishes_made_before_start_wait_for_it_and_start_runs_once() -> None:
    order.clear()
    runtime = InProcessRuntime()
    await Stepper.register(runtime, "stepper", Stepper)
    await runtime.publish_message(Step(n=5), TopicId("steps", "s"))  # queued, as autogen does
    assert order == []
    runtime.start()
    with pytest.raises(RuntimeStateError, match="already started"):
        runtime.start()
    await runtime.stop_when_idle()
    assert order == [5]
