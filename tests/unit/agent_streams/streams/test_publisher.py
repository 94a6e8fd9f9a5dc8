"""streams/publisher.py: batched, ordered publishes; bounded streams; the queue limit; a lost
script cache. (The queue-limit test moved here from tests/integration/test_redis_failures.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from agent_streams._ids import AgentId, TopicId
from agent_streams._serialization import MessageRegistry
from agent_streams.exceptions import QueueFullError, RuntimeStateError
from agent_streams.keys import Keys
from agent_streams.messages import CancelTask
from agent_streams.streams.fastpath import FastRedis
from agent_streams.streams.publisher import Publisher
from agent_streams.streams.settings import RuntimeSettings


@dataclass
class Job:
    n: int


def _publisher(fast: FastRedis, keys: Keys, settings: RuntimeSettings) -> Publisher:
    return Publisher(fast, keys, settings, MessageRegistry())


@pytest.fixture
async def publisher(
    redis_client: aioredis.Redis, fast: FastRedis, keys: Keys, settings: RuntimeSettings
) -> AsyncIterator[Publisher]:
    publisher = _publisher(fast, keys, settings)
    publisher.open()
    loop = asyncio.get_running_loop().create_task(publisher.run())
    yield publisher
    loop.cancel()


async def test_a_publish_is_an_entry_on_the_topic_and_in_the_session_log(
    publisher: Publisher, redis_client: aioredis.Redis, keys: Keys
) -> None:
    await publisher.publish(Job(1), TopicId("jobs", "s1"), AgentId("a", "s1"), "m-1")
    [(_id, fields)] = await redis_client.xrange(keys.topic("jobs"))
    assert fields == {
        b"type": b"Job",
        b"body": b'{"n":1}',
        b"id": b"m-1",
        b"source": b"s1",
        b"sender": b"a/s1",
    }
    [(_id, logged)] = await redis_client.xrange(keys.session("s1"))
    assert logged == fields | {b"topic": b"jobs"}


async def test_concurrent_publishes_keep_their_order(
    publisher: Publisher, redis_client: aioredis.Redis, keys: Keys
) -> None:
    await asyncio.gather(
        *(publisher.publish(Job(i), TopicId("jobs", "s"), None, None) for i in range(300))
    )
    bodies = [f[b"body"] for _id, f in await redis_client.xrange(keys.topic("jobs"))]
    assert bodies == [f'{{"n":{i}}}'.encode() for i in range(300)]
    assert not publisher.busy


async def test_a_full_queue_refuses_publishes_but_not_a_cancel_and_streams_are_trimmed(
    redis_client: aioredis.Redis, fast: FastRedis, keys: Keys, redis_url: str
) -> None:
    def bounded(queue_limit: int) -> RuntimeSettings:
        return RuntimeSettings(
            redis_url=redis_url,
            namespace=keys.namespace,
            stream_maxlen=200,
            queue_limit=queue_limit,
        )

    limited = _publisher(fast, keys, bounded(50))
    limited.open()
    stream = keys.topic("jobs")
    # A consumer group that is not reading (its service is down): the backlog grows.
    await redis_client.xgroup_create(stream, "slow-agent", id="0", mkstream=True)
    for i in range(50):
        await limited.publish(Job(i), TopicId("jobs", "s"), None, None)
    with pytest.raises(QueueFullError) as info:
        await limited.publish(Job(50), TopicId("jobs", "s"), None, None)
    assert "queue full" in str(info.value)
    assert info.value.backlog == 50
    assert await redis_client.xlen(stream) == 50  # refused, not accepted and lost
    await limited.publish(CancelTask(), TopicId("jobs", "s"), None, None)  # control: accepted
    assert await redis_client.xlen(stream) == 51
    await redis_client.xgroup_destroy(stream, "slow-agent")
    unlimited = _publisher(fast, keys, bounded(0))
    unlimited.open()
    loop = asyncio.get_running_loop().create_task(unlimited.run())
    try:
        await asyncio.gather(
            *(unlimited.publish(Job(i), TopicId("jobs", "t"), None, None) for i in range(2000))
        )
    finally:
        loop.cancel()
    assert await redis_client.xlen(stream) <= 200 + 100  # MAXLEN ~ trims by whole nodes


async def test_a_lost_script_cache_is_loaded_again(
    publisher: Publisher, redis_client: aioredis.Redis, keys: Keys
) -> None:
    await redis_client.script_flush()
    await publisher.publish(Job(1), TopicId("jobs", "s"), None, None)
    assert await redis_client.xlen(keys.topic("jobs")) == 1


async def test_a_closed_publisher_refuses_writes(
    redis_client: aioredis.Redis, fast: FastRedis, keys: Keys, settings: RuntimeSettings
) -> None:
    publisher = _publisher(fast, keys, settings)
    with pytest.raises(RuntimeStateError, match="start"):
        await publisher.publish(Job(1), TopicId("jobs", "s"), None, None)
