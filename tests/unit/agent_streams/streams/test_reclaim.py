"""streams/reclaim.py: entries a dead consumer left are taken over (counted as a delivery) or,
past max_deliveries, dead-lettered; the heartbeat keeps this consumer's own entries alive."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from agent_streams._serialization import MessageRegistry
from agent_streams._tasks import TaskSet, cancel_and_wait
from agent_streams.keys import Keys
from agent_streams.streams.acks import AckBatcher
from agent_streams.streams.failures import DeadLetter, FailureRecorder
from agent_streams.streams.fastpath import FastRedis
from agent_streams.streams.locks import AgentLocks
from agent_streams.streams.reclaim import Reclaimer
from agent_streams.streams.settings import RuntimeSettings


class _SignallingLocks(AgentLocks):
    """Real locks that say when the heartbeat has queued a renewal."""

    renewed: asyncio.Event

    async def renew_in(self, pipe: Any) -> None:
        self.renewed.set()
        await super().renew_in(pipe)


async def _left_by_a_dead_consumer(
    redis_client: aioredis.Redis, stream: str, deliveries: int
) -> str:
    await redis_client.xgroup_create(stream, "g", id="0", mkstream=True)
    entry_id = (await redis_client.xadd(stream, {"type": "Job", "body": "{}"})).decode()
    await redis_client.xreadgroup("g", "dead", {stream: ">"})
    # As if "dead" had held it for 10 s after `deliveries` deliveries.
    await redis_client.execute_command(
        "XCLAIM", stream, "g", "dead", 0, entry_id, "IDLE", 10_000, "RETRYCOUNT", deliveries
    )
    return entry_id


def _reclaimer(
    redis_client: aioredis.Redis,
    fast: FastRedis,
    keys: Keys,
    settings: RuntimeSettings,
    stream: str,
    accepted: list[tuple[str, int]],
    event: asyncio.Event,
) -> tuple[Reclaimer, dict[tuple[str, str], float], FailureRecorder, AckBatcher]:
    held: dict[tuple[str, str], float] = {}
    failures = FailureRecorder(redis_client, keys, settings, MessageRegistry())
    acks = AckBatcher(fast, "g", 100, lambda s, ids: None)
    locks = _SignallingLocks(redis_client, keys, settings.claim_idle_ms, lambda a: asyncio.Lock())
    locks.renewed = asyncio.Event()

    def accept(stream: str, entry_id: str, fields: dict[bytes, bytes], delivery: int) -> None:
        accepted.append((entry_id, delivery))
        event.set()

    reclaimer = Reclaimer(
        "g",
        redis=redis_client,
        settings=settings,
        streams={stream: None},
        held=held,
        locks=locks,
        failures=failures,
        acks=acks,
        accept=accept,
    )
    return reclaimer, held, failures, acks


async def test_an_entry_left_idle_is_taken_over_and_counted(
    redis_client: aioredis.Redis, fast: FastRedis, keys: Keys, settings: RuntimeSettings
) -> None:
    stream = keys.inbox("worker")
    entry_id = await _left_by_a_dead_consumer(redis_client, stream, deliveries=1)
    accepted: list[tuple[str, int]] = []
    event = asyncio.Event()
    reclaimer, *_ = _reclaimer(redis_client, fast, keys, settings, stream, accepted, event)
    tasks = TaskSet()
    tasks.spawn(reclaimer.reclaim())
    await asyncio.wait_for(event.wait(), 5)
    await cancel_and_wait(tasks)
    assert accepted == [(entry_id, 2)]
    [row] = await redis_client.xpending_range(stream, "g", "-", "+", 10)
    assert row["consumer"] == b"c1"  # ours now


async def test_an_entry_past_max_deliveries_is_dead_lettered_not_handled(
    redis_client: aioredis.Redis, fast: FastRedis, keys: Keys, settings: RuntimeSettings
) -> None:
    stream = keys.inbox("worker")
    entry_id = await _left_by_a_dead_consumer(redis_client, stream, settings.max_deliveries)
    accepted: list[tuple[str, int]] = []
    event = asyncio.Event()
    reclaimer, held, failures, acks = _reclaimer(
        redis_client, fast, keys, settings, stream, accepted, event
    )
    letters: list[DeadLetter] = []

    async def listener(letter: DeadLetter) -> None:
        letters.append(letter)
        event.set()

    failures.add_listener(listener)
    tasks = TaskSet()
    tasks.spawn(reclaimer.reclaim())
    await asyncio.wait_for(event.wait(), 5)
    await cancel_and_wait(tasks)
    assert accepted == []
    [letter] = letters
    assert letter.entry == entry_id
    assert "gave up after 5 deliveries" in letter.error
    assert (stream, entry_id) in held  # held until its ack goes out
    assert acks.pending


async def test_the_heartbeat_keeps_this_consumers_entries_from_going_idle(
    redis_client: aioredis.Redis, fast: FastRedis, keys: Keys, settings: RuntimeSettings
) -> None:
    stream = keys.inbox("worker")
    await redis_client.xgroup_create(stream, "g", id="0", mkstream=True)
    entry_id = (await redis_client.xadd(stream, {"n": "1"})).decode()
    await redis_client.xreadgroup("g", "c1", {stream: ">"})
    await redis_client.execute_command(
        "XCLAIM", stream, "g", "c1", 0, entry_id, "IDLE", 10_000, "RETRYCOUNT", 1
    )
    reclaimer, held, *_ = _reclaimer(
        redis_client, fast, keys, settings, stream, [], asyncio.Event()
    )
    held[(stream, entry_id)] = 0.0  # held here for long
    locks: Any = reclaimer._locks
    tasks = TaskSet()
    tasks.spawn(reclaimer.heartbeat())
    for _ in range(2):  # the second renewal is queued after the first beat went out
        locks.renewed.clear()
        await asyncio.wait_for(locks.renewed.wait(), 5)
    await cancel_and_wait(tasks)
    [row] = await redis_client.xpending_range(stream, "g", "-", "+", 10)
    assert row["time_since_delivered"] < 5_000
    assert row["times_delivered"] == 1  # JUSTID: not counted as a delivery
