"""One logging pipeline: stdlib records and structlog lines come out as the same JSON, and a
line logged while a handler runs names its session, agent and message id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog

from agent_streams import (
    InProcessRuntime,
    MessageContext,
    RoutedAgent,
    TopicId,
    message_handler,
    type_subscription,
)
from agent_streams.logging import configure_logging

EXECUTOR_LOGGER = "agent_streams_executor.executors.docker"  # a module logging through stdlib


@dataclass
class Ping:
    n: int


@type_subscription("pings")
class Chatty(RoutedAgent):
    def __init__(self) -> None:
        super().__init__("logs through both APIs")

    @message_handler
    async def on_ping(self, message: Ping, ctx: MessageContext) -> None:
        logging.getLogger(EXECUTOR_LOGGER).warning("sandbox %s is slow", "abc")
        structlog.get_logger("test").info("structured", n=message.n)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger(EXECUTOR_LOGGER).exception("run failed")


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """configure_logging for one test; the previous set-up back afterwards. Loggers are not
    cached meanwhile (a cached logger would keep this test's stderr)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    configure_logging("INFO", json=True, service="svc", stream=out)
    structlog.configure(cache_logger_on_first_use=False)
    yield out
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


async def test_stdlib_and_structlog_lines_are_one_json_with_the_message_context(
    output: io.StringIO,
) -> None:
    runtime = InProcessRuntime()
    await Chatty.register(runtime, "chatty", Chatty)
    runtime.start()
    await runtime.publish_message(Ping(1), TopicId("pings", "sess-1"), message_id="m-1")
    await runtime.stop_when_idle()
    logging.getLogger(EXECUTOR_LOGGER).warning("outside any handler")

    lines: list[dict[str, Any]] = [json.loads(line) for line in output.getvalue().splitlines()]
    by_event = {line["event"]: line for line in lines}
    stdlib, structured = by_event["sandbox abc is slow"], by_event["structured"]
    assert stdlib["logger"] == EXECUTOR_LOGGER
    assert stdlib["level"] == "warning"
    assert structured["level"] == "info"
    assert structured["n"] == 1
    for line in (stdlib, structured, by_event["run failed"]):
        assert line["service"] == "svc"
        assert line["session"] == "sess-1"
        assert line["agent"] == "chatty/sess-1"
        assert line["message_id"] == "m-1"
        assert "timestamp" in line
    assert "ValueError: boom" in by_event["run failed"]["exception"]
    outside = by_event["outside any handler"]
    assert "session" not in outside
    assert "message_id" not in outside
