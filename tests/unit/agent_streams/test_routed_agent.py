"""``message_handler``, ``event``, ``rpc`` and ``strict`` on the in-process runtime, with the
meaning autogen-core gives them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from structlog.testing import capture_logs

from agent_streams import (
    AgentId,
    CantHandleException,
    InProcessRuntime,
    MessageContext,
    RemoteHandlerError,
    RoutedAgent,
    TopicId,
    event,
    message_handler,
    rpc,
    type_subscription,
)


@dataclass
class Ping:
    n: int


@dataclass
class Pong:
    n: int


@type_subscription("pings")
class Split(RoutedAgent):
    """One ``event`` and one ``rpc`` handler for the same type."""

    seen: list[str] = []

    def __init__(self) -> None:
        super().__init__("event and rpc handlers of one type")

    @event
    async def on_published(self, message: Ping, ctx: MessageContext) -> None:
        Split.seen.append(f"event {message.n}")

    @rpc
    async def on_request(self, message: Ping, ctx: MessageContext) -> Pong:
        Split.seen.append(f"rpc {message.n}")
        return Pong(message.n + 1)


@type_subscription("pings")
class EventsOnly(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("an event handler only")

    @event
    async def on_ping(self, message: Ping, ctx: MessageContext) -> None:
        raise AssertionError("an event handler is never offered a request")


class WrongReturn(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("returns what it did not annotate")

    @message_handler
    async def strict_handler(self, message: Ping, ctx: MessageContext) -> Pong:
        return "not a Pong"  # type: ignore[return-value]

    @message_handler(strict=False)
    async def lenient_handler(self, message: Pong, ctx: MessageContext) -> Ping:
        return "not a Ping"  # type: ignore[return-value]


@pytest.fixture
async def runtime() -> InProcessRuntime:
    rt = InProcessRuntime()
    rt.start()
    return rt


async def test_event_takes_publishes_and_rpc_takes_requests(runtime: InProcessRuntime) -> None:
    Split.seen = []
    await Split.register(runtime, "split", Split)
    await runtime.publish_message(Ping(1), TopicId("pings", "s"))
    reply = await runtime.send_message(Ping(2), AgentId("split", "s"))
    await runtime.stop_when_idle()
    assert reply == Pong(3)
    assert sorted(Split.seen) == ["event 1", "rpc 2"]


async def test_a_request_an_event_handler_would_take_cannot_be_handled(
    runtime: InProcessRuntime,
) -> None:
    await EventsOnly.register(runtime, "events-only", EventsOnly)
    with pytest.raises(CantHandleException):
        await runtime.send_message(Ping(1), AgentId("events-only", "s"))
    await runtime.stop()


async def test_strict_handler_returning_the_wrong_type_raises(runtime: InProcessRuntime) -> None:
    await WrongReturn.register(runtime, "wrong", WrongReturn)
    with pytest.raises(RemoteHandlerError) as raised:
        await runtime.send_message(Ping(1), AgentId("wrong", "s"))
    assert isinstance(raised.value.__cause__, ValueError)
    assert "returns Pong, not str" in str(raised.value.__cause__)
    await runtime.stop()


async def test_lenient_handler_returning_the_wrong_type_warns(runtime: InProcessRuntime) -> None:
    await WrongReturn.register(runtime, "wrong", WrongReturn)
    with capture_logs() as logs:
        reply = await runtime.send_message(Pong(1), AgentId("wrong", "s"))
    assert reply == "not a Ping"
    (line,) = [e for e in logs if e["event"] == "handler_return_mismatch"]
    assert line["log_level"] == "warning"
    assert "returns Ping, not str" in line["error"]
    await runtime.stop()


def test_handlers_are_checked_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="annotate"):

        class _Bad(RoutedAgent):
            @event
            async def on_ping(self, message, ctx: MessageContext) -> None:  # type: ignore[no-untyped-def]
                """No message annotation."""
