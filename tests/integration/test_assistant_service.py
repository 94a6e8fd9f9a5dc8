"""The ``agent-streams-assistant`` process itself: starts from its environment, ends a task whose
model is down as ``model_error`` (never a hang), and exits cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from agent_streams import MessageContext, RoutedAgent, TopicId, message_handler, type_subscription
from agent_streams.messages import TASKS_TOPIC, TaskRequest, TaskResult
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings

pytestmark = pytest.mark.redis

SERVICE = Path(sys.executable).with_name("agent-streams-assistant")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for_line(stream: asyncio.StreamReader, event: str) -> None:
    while line := await stream.readline():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == event:
            return
    raise AssertionError(f"the service exited before logging {event!r}")


async def test_service_ends_a_task_with_the_model_down_then_stops_on_sigterm(
    redis_url: str, namespace: str
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AGENT_STREAMS"))},
        "AGENT_STREAMS_REDIS_URL": redis_url,
        "AGENT_STREAMS_NAMESPACE": namespace,
        "AGENT_STREAMS_READ_BLOCK_MS": "100",
        "AGENT_STREAMS_MODEL_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
        "AGENT_STREAMS_MODEL_MAX_RETRIES": "0",
        "AGENT_STREAMS_MODEL_TIMEOUT_S": "5",
        "AGENT_STREAMS_ASSISTANT_LOG_JSON": "true",
    }
    process = await asyncio.create_subprocess_exec(
        str(SERVICE), env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    outcome: asyncio.Future[TaskResult] = asyncio.get_running_loop().create_future()

    @type_subscription("outcomes")
    class Outcomes(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("waits for the task's result")

        @message_handler
        async def on_result(self, message: TaskResult, ctx: MessageContext) -> None:
            if not outcome.done():
                outcome.set_result(message)

    client = RedisStreamsRuntime(
        RuntimeSettings(redis_url=redis_url, namespace=namespace, read_block_ms=100)
    )
    await Outcomes.register(client, "outcomes", Outcomes)
    client.start()
    try:
        await asyncio.wait_for(wait_for_line(process.stderr, "service_ready"), 60)
        await client.publish_message(TaskRequest(prompt="2 + 2?"), TopicId(TASKS_TOPIC, "svc-1"))
        result = await asyncio.wait_for(outcome, 60)
        assert result.status == "model_error"
        assert result.error is not None
        assert result.error.startswith("ModelUnavailable:")
        assert "cannot connect" in result.error

        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(wait_for_line(process.stderr, "service_stopped"), 60)
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await client.stop()
