"""streams/runtime.py: registration and lifecycle of the Redis runtime (what the parts do is
tested in their own files; both runtimes' shared semantics in tests/contract). The idle-eviction
test moved here from tests/integration/test_redis_failures.py."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from _worker import Job, Worker, jobs

from agent_streams import AgentId
from agent_streams._runtime import AgentRuntime
from agent_streams.exceptions import RuntimeStateError
from agent_streams.keys import Keys
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings


async def test_the_lifecycle_is_checked_and_stop_closes_only_its_own_client(
    settings: RuntimeSettings, redis_client: aioredis.Redis
) -> None:
    runtime = RedisStreamsRuntime(settings)
    assert isinstance(runtime, AgentRuntime)
    with pytest.raises(RuntimeStateError, match="start"):
        await runtime.ready()
    with pytest.raises(RuntimeStateError, match="start"):
        await runtime.publish_message(Job(n=1), jobs("s"))
    runtime.start()
    with pytest.raises(RuntimeStateError, match="already started"):
        runtime.start()
    await runtime.ready()
    assert runtime.started
    await runtime.stop()
    await runtime.stop()  # a second stop does nothing
    with pytest.raises(RuntimeStateError):
        await runtime.publish_message(Job(n=1), jobs("s"))
    assert runtime.redis.connection_pool._in_use_connections == set()  # type: ignore[attr-defined]
    borrowed = RedisStreamsRuntime(settings, redis=redis_client)
    borrowed.start()
    await borrowed.ready()
    await borrowed.stop()
    assert await redis_client.ping()  # the caller's client stays open


async def test_an_agent_type_registered_after_start_gets_its_groups_and_is_served(
    settings: RuntimeSettings, redis_client: aioredis.Redis, keys: Keys
) -> None:
    Worker.reset()
    runtime = RedisStreamsRuntime(settings)
    runtime.start()
    await runtime.ready()
    try:
        await Worker.register(runtime, "worker", Worker)
        groups = await redis_client.xinfo_groups(keys.topic("jobs"))
        assert [g["name"] for g in groups] == [b"worker"]
        assert await redis_client.smembers(keys.topic_types("jobs")) == {b"Job"}
        await runtime.publish_message(Job(n=3), jobs("s1"))
        assert await asyncio.wait_for(Worker.handled.get(), 5) == ("s1", 3)
        assert await runtime.send_message(Job(n=4), AgentId("worker", "k"), timeout=5) == 8
    finally:
        await runtime.stop()


async def test_stop_when_idle_returns_once_every_group_has_handled_its_backlog(
    settings: RuntimeSettings, redis_client: aioredis.Redis, keys: Keys
) -> None:
    Worker.reset()
    publisher = RedisStreamsRuntime(settings)
    publisher.start()
    runtime = RedisStreamsRuntime(settings)
    await Worker.register(runtime, "worker", Worker)
    runtime.start()
    await runtime.ready()
    for n in range(20):
        await publisher.publish_message(Job(n=n), jobs(f"s{n % 3}"))
    await asyncio.wait_for(runtime.stop_when_idle(), 10)
    assert Worker.handled.qsize() == 20
    [group] = await redis_client.xinfo_groups(keys.topic("jobs"))
    assert (group["pending"], group["lag"]) == (0, 0)
    await publisher.stop()


async def test_idle_agent_instances_are_closed_and_forgotten(
    settings: RuntimeSettings,
) -> None:
    Worker.reset()
    runtime = RedisStreamsRuntime(settings.model_copy(update={"agent_idle_evict_s": 0.2}))
    await Worker.register(runtime, "worker", Worker)
    runtime.start()
    try:
        for i in range(3):
            await runtime.publish_message(Job(n=i), jobs(f"session-{i}"))
        for _ in range(3):
            await asyncio.wait_for(Worker.handled.get(), 5)
        closed = {await asyncio.wait_for(Worker.closed.get(), 5) for _ in range(3)}
        assert closed == {"session-0", "session-1", "session-2"}  # the runtime's sweep
        assert not runtime.registry.instances
        await runtime.publish_message(Job(n=9), jobs("session-0"))  # comes back on demand
        assert await asyncio.wait_for(Worker.handled.get(), 5) == ("session-0", 9)
    finally:
        await runtime.stop()
