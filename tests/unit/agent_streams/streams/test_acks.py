"""streams/acks.py: handled entries acknowledged in batches; a refused or failed ack frees its
entries' slots (they stay pending for a reclaim) and says so."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from structlog.testing import capture_logs

from agent_streams.keys import Keys
from agent_streams.streams.acks import AckBatcher
from agent_streams.streams.fastpath import FastRedis


async def _pending(redis_client: aioredis.Redis, stream: str, n: int) -> list[str]:
    await redis_client.xgroup_create(stream, "g", id="0", mkstream=True)
    ids = [(await redis_client.xadd(stream, {"n": str(i)})).decode() for i in range(n)]
    await redis_client.xreadgroup("g", "c1", {stream: ">"})
    return ids


async def test_queued_acks_go_out_together_and_are_reported_done(
    fast: FastRedis, redis_client: aioredis.Redis, keys: Keys
) -> None:
    stream = keys.topic("t")
    ids = await _pending(redis_client, stream, 5)
    done: list[tuple[str, list[str]]] = []
    sent = asyncio.Event()

    def on_done(stream: str, entry_ids: list[str]) -> None:
        done.append((stream, entry_ids))
        sent.set()

    acks = AckBatcher(fast, "g", batch=5, done=on_done)
    sender = asyncio.get_running_loop().create_task(acks.run())
    try:
        for entry_id in ids[:4]:
            acks.queue(stream, entry_id)
        assert acks.pending
        await asyncio.wait_for(sent.wait(), 5)  # the short delay sends the four together
        sent.clear()
        assert done == [(stream, ids[:4])]
        assert (await redis_client.xpending(stream, "g"))["pending"] == 1
        acks.queue(stream, ids[4])
        acks.wake()
        await asyncio.wait_for(sent.wait(), 5)
    finally:
        sender.cancel()
    assert (await redis_client.xpending(stream, "g"))["pending"] == 0
    assert not acks.pending


async def test_an_ack_redis_refuses_frees_its_entries_and_is_logged_as_an_error(
    fast: FastRedis, redis_client: aioredis.Redis, keys: Keys
) -> None:
    stream = keys.topic("t")
    ids = await _pending(redis_client, stream, 2)
    wrong = keys.state("a", "k", "not-a-stream")
    await redis_client.set(wrong, "x")
    done: list[tuple[str, list[str]]] = []
    acks = AckBatcher(fast, "g", batch=100, done=lambda s, i: done.append((s, i)))
    acks.queue(wrong, "1-0")  # WRONGTYPE: refused, as NOPERM would be
    acks.queue(stream, ids[0])
    with capture_logs() as logs:
        await acks.flush()
    assert done == [(wrong, ["1-0"]), (stream, [ids[0]])]
    [refused] = [e for e in logs if e["event"] == "ack_refused"]
    assert refused["log_level"] == "error"
    assert "WRONGTYPE" in refused["error"]
    assert (await redis_client.xpending(stream, "g"))["pending"] == 1


async def test_at_stop_an_ack_that_cannot_reach_redis_is_let_go_once_and_logged(
    redis_client: aioredis.Redis,
) -> None:
    # Nothing listens on port 1; no client-side retries, so the test does not wait on them.
    gone = aioredis.Redis(host="127.0.0.1", port=1, protocol=2, retry=Retry(NoBackoff(), 0))
    fast = FastRedis(gone)
    done: list[tuple[str, list[str]]] = []
    acks = AckBatcher(fast, "g", batch=100, done=lambda s, i: done.append((s, i)))
    acks.queue("ns:topic:t", "1-0")
    with capture_logs() as logs:
        async with asyncio.timeout(10):
            await acks.stop()
    assert done == [("ns:topic:t", ["1-0"])]
    [failed] = [e for e in logs if e["event"] == "ack_failed"]
    assert failed["action"] == "left pending for reclaim"
    assert "ConnectionError" in failed["error"]
    await fast.close()
    await gone.aclose()
