"""streams/locks.py: one agent instance at a time across replicas, a lock per AgentId in Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from agent_streams._ids import AgentId
from agent_streams.keys import Keys
from agent_streams.streams import locks as locks_module
from agent_streams.streams.locks import AgentLocks


def _replica(redis_client: aioredis.Redis, keys: Keys) -> AgentLocks:
    local: dict[AgentId, asyncio.Lock] = {}
    return AgentLocks(redis_client, keys, 5_000, lambda a: local.setdefault(a, asyncio.Lock()))


async def test_a_second_replica_waits_until_the_first_releases(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    agent = AgentId("worker", "s1")
    first, second = _replica(redis_client, keys), _replica(redis_client, keys)
    await first.acquire(agent)
    waiting = asyncio.get_running_loop().create_task(second.acquire(agent))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(waiting), 0.2)  # held by the first: waits
    await first.release(agent)
    await asyncio.wait_for(waiting, 5)
    assert second.keep(agent)
    assert not first.keep(agent)
    await second.release_all()
    assert not await redis_client.exists(keys.lock("worker", "s1"))


async def test_a_lingering_lock_is_kept_for_the_next_message_else_released(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    agent = AgentId("worker", "s1")
    locks = _replica(redis_client, keys)
    await locks.acquire(agent)
    locks.linger(agent, lambda _a: False)
    assert locks.keep(agent)  # the next message came in time: no round trip
    locks.linger(agent, lambda _a: True)  # messages wait for it: kept
    await asyncio.sleep(locks_module._LINGER_S * 3)  # past the linger timer
    await asyncio.gather(*locks._tasks)
    assert await redis_client.exists(keys.lock("worker", "s1"))
    locks.linger(agent, lambda _a: False)  # idle now: released
    await asyncio.sleep(locks_module._LINGER_S * 3)
    await asyncio.gather(*locks._tasks)
    assert not await redis_client.exists(keys.lock("worker", "s1"))
    assert not locks.keep(agent)


async def test_the_heartbeat_renews_held_locks_and_a_stolen_lock_is_not_released(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    agent = AgentId("worker", "s1")
    key = keys.lock("worker", "s1")
    locks = _replica(redis_client, keys)
    await locks.acquire(agent)
    await redis_client.pexpire(key, 100)
    async with redis_client.pipeline(transaction=False) as pipe:
        await locks.renew_in(pipe)
        await pipe.execute()
    assert await redis_client.pttl(key) > 1000
    await redis_client.set(key, "another-replica")  # expired and taken meanwhile
    await locks.release(agent)
    assert await redis_client.get(key) == b"another-replica"
