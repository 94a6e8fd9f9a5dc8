"""streams/consumer.py: one agent type's group read, checked and dispatched to mailboxes; bad
entries answered on the errors stream; a lost group recreated; drained only when Redis says so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from _worker import Job, Worker, jobs
from structlog.testing import capture_logs

from agent_streams.keys import Keys
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings


@pytest.fixture
async def runtime(settings: RuntimeSettings) -> AsyncIterator[RedisStreamsRuntime]:
    Worker.reset()
    runtime = RedisStreamsRuntime(settings)
    await Worker.register(runtime, "worker", Worker)
    runtime.start()
    await runtime.ready()
    yield runtime
    await runtime.stop()


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"reply_to": "elsewhere"}, "field 'reply_to' must name a reply stream"),
        ({}, "missing field 'source'"),
    ],
)
async def test_an_entry_that_could_misroute_is_answered_as_bad_input(
    runtime: RedisStreamsRuntime,
    redis_client: aioredis.Redis,
    keys: Keys,
    extra: dict[str, str],
    error: str,
) -> None:
    fields: dict[Any, Any] = {"type": "Job", "body": '{"n": 1}', **extra}
    if extra:
        fields["source"] = "s1"
    await redis_client.xadd(keys.topic("jobs"), fields)
    [[_stream, [(_id, bad)]]] = await redis_client.xread({keys.errors: "0"}, block=5000)
    assert bad[b"code"] == b"invalid_message"
    assert error in bad[b"error"].decode()
    await runtime.publish_message(Job(n=2), jobs("s1"))  # the consumer goes on
    assert await asyncio.wait_for(Worker.handled.get(), 5) == ("s1", 2)


async def test_a_lost_group_is_recreated_and_reading_goes_on(
    runtime: RedisStreamsRuntime, redis_client: aioredis.Redis, keys: Keys
) -> None:
    with capture_logs() as logs:
        await redis_client.xgroup_destroy(keys.topic("jobs"), "worker")
        await redis_client.xgroup_destroy(keys.inbox("worker"), "worker")
        await runtime.publish_message(Job(n=1), jobs("s1"))
        assert await asyncio.wait_for(Worker.handled.get(), 5) == ("s1", 1)
    assert any(e["event"] == "consumer_group_missing" for e in logs)


async def test_drained_only_when_nothing_is_undelivered_or_pending(
    settings: RuntimeSettings, redis_client: aioredis.Redis, keys: Keys
) -> None:
    Worker.reset()
    runtime = RedisStreamsRuntime(settings)
    await Worker.register(runtime, "worker", Worker)
    consumer = runtime._consumers["worker"]
    await consumer.ensure_groups()  # the group exists, nobody reads yet
    assert await consumer.drained()
    await redis_client.xadd(keys.topic("jobs"), {"type": "Job", "body": '{"n":1}', "source": "s"})
    assert not await consumer.drained()  # lag: undelivered
    runtime.start()
    assert await asyncio.wait_for(Worker.handled.get(), 5) == ("s", 1)
    await asyncio.wait_for(runtime.stop_when_idle(), 5)  # it asked consumer.drained()
    [group] = await redis_client.xinfo_groups(keys.topic("jobs"))
    assert (group["pending"], group["lag"]) == (0, 0)
