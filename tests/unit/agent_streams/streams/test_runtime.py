"""streams/runtime.py: registration and lifecycle of the Redis runtime (what the parts do is
tested in their own files; both runtimes' shared semantics in tests/contract)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel

from agent_streams import (
    AgentId,
    MessageContext,
    RoutedAgent,
    TopicId,
    message_handler,
    type_subscription,
)
from agent_streams._runtime import AgentRuntime
from agent_streams.exceptions import RuntimeStateError
from agent_streams.keys import Keys
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings


class Job(BaseModel):
    n: int


@type_subscription("jobs")
class Worker(RoutedAgent):
    seen: asyncio.Queue[int]

    def __init__(self) -> None:
        super().__init__("takes jobs")

    @message_handler
    async def on_job(self, message: Job, ctx: MessageContext) -> int:
        Worker.seen.put_nowait(message.n)
        return message.n * 2


async def test_the_lifecycle_is_checked_and_stop_closes_only_its_own_client(
    settings: RuntimeSettings, redis_client: aioredis.Redis
) -> None:
    runtime = RedisStreamsRuntime(settings)
    assert isinstance(runtime, AgentRuntime)
    with pytest.raises(RuntimeStateError, match="start"):
        await runtime.ready()
    with pytest.raises(RuntimeStateError, match="start"):
        await runtime.publish_message(Job(n=1), TopicId("jobs", "s"))
    runtime.start()
    with pytest.raises(RuntimeStateError, match="already started"):
        runtime.start()
    await runtime.ready()
    assert runtime.started
    await runtime.stop()
    await runtime.stop()  # a second stop does nothing
    with pytest.raises(RuntimeStateError):
        await runtime.publish_message(Job(n=1), TopicId("jobs", "s"))
    assert runtime.redis.connection_pool._in_use_connections == set()  # type: ignore[attr-defined]
    borrowed = RedisStreamsRuntime(settings, redis=redis_client)
    borrowed.start()
    await borrowed.ready()
    await borrowed.stop()
    assert await redis_client.ping()  # the caller's client stays open


async def test_an_agent_type_registered_after_start_gets_its_groups_and_is_served(
    settings: RuntimeSettings, redis_client: aioredis.Redis, keys: Keys
) -> None:
    Worker.seen = asyncio.Queue()
    runtime = RedisStreamsRuntime(settings)
    runtime.start()
    await runtime.ready()
    try:
        await Worker.register(runtime, "worker", Worker)
        groups = await redis_client.xinfo_groups(keys.topic("jobs"))
        assert [g["name"] for g in groups] == [b"worker"]
        assert await redis_client.smembers(keys.topic_types("jobs")) == {b"Job"}
        await runtime.publish_message(Job(n=3), TopicId("jobs", "s1"))
        assert await asyncio.wait_for(Worker.seen.get(), 5) == 3
        assert await runtime.send_message(Job(n=4), AgentId("worker", "k"), timeout=5) == 8
    finally:
        await runtime.stop()


async def test_stop_when_idle_returns_once_every_group_has_handled_its_backlog(
    settings: RuntimeSettings, redis_client: aioredis.Redis, keys: Keys
) -> None:
    Worker.seen = asyncio.Queue()
    publisher = RedisStreamsRuntime(settings)
    publisher.start()
    runtime = RedisStreamsRuntime(settings)
    await Worker.register(runtime, "worker", Worker)
    runtime.start()
    await runtime.ready()
    for n in range(20):
        await publisher.publish_message(Job(n=n), TopicId("jobs", f"s{n % 3}"))
    await asyncio.wait_for(runtime.stop_when_idle(), 10)
    assert Worker.seen.qsize() == 20
    [group] = await redis_client.xinfo_groups(keys.topic("jobs"))
    assert (group["pending"], group["lag"]) == (0, 0)
    await publisher.stop()
