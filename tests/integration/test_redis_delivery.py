"""Delivery semantics of the Redis Streams runtime on a real Redis, across real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent_streams import TopicId
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from tests.integration._worker import Work

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Worker processes (tests/integration/_worker.py) this test started; killed at the end."""

    def __init__(self, redis_url: str, namespace: str) -> None:
        self.redis_url = redis_url
        self.namespace = namespace
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, delay_s: float = 0.0, **settings: Any) -> subprocess.Popen[bytes]:
        env = {**os.environ, **{f"AGENT_STREAMS_{k.upper()}": str(v) for k, v in settings.items()}}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration._worker",
                self.redis_url,
                self.namespace,
                name,
                str(delay_s),
            ],
            cwd=ROOT,
            env=env,
        )
        self.procs[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


@pytest.fixture
def workers(redis_url: str, namespace: str) -> Iterator[Workers]:
    w = Workers(redis_url, namespace)
    yield w
    w.stop_all()


async def wait_until(predicate: Callable[[], Any], timeout: float = 20.0) -> None:
    """Wait for state held by another process (a readiness probe, bounded)."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


async def read_handled(
    client: aioredis.Redis,
    namespace: str,
    count: int,
    timeout: float = 30.0,
    what: str | None = None,
) -> list[dict[str, str]]:
    """Block on the workers' record stream until ``count`` records (of kind ``what``) arrived."""
    out: list[dict[str, str]] = []
    last = "0"
    deadline = time.monotonic() + timeout
    while len(out) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"only {len(out)} of {count} handled")
        resp = await client.xread(
            {f"{namespace}:test:handled": last}, block=int(min(remaining, 1) * 1000)
        )
        for _stream, entries in resp or ():
            for entry_id, fields in entries:
                last = entry_id.decode()
                record = {k.decode(): v.decode() for k, v in fields.items()}
                if what is None or record["what"] == what:
                    out.append(record)
    return out


async def ready_workers(client: aioredis.Redis, namespace: str) -> set[str]:
    rows = await client.xrange(f"{namespace}:test:ready")
    return {fields[b"consumer"].decode() for _id, fields in rows}


def publisher(redis_url: str, namespace: str, **kw: Any) -> RedisStreamsRuntime:
    rt = RedisStreamsRuntime(RuntimeSettings(redis_url=redis_url, namespace=namespace, **kw))
    rt.register_message_type(Work)
    return rt


async def test_two_processes_share_1000_messages_none_lost_none_twice(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, workers: Workers
) -> None:
    # Small reads and a 1 ms handler, so that neither consumer can swallow the whole run alone.
    workers.start("w1", 0.001, read_batch=16)
    workers.start("w2", 0.001, read_batch=16)
    await wait_until(lambda: _both(redis_client, namespace, {"w1", "w2"}))
    pub = publisher(redis_url, namespace)
    pub.start()
    await asyncio.gather(
        *(pub.publish_message(Work(i), TopicId("work", f"s{i % 50}")) for i in range(1000))
    )
    handled = await read_handled(redis_client, namespace, 1000)
    await pub.stop()
    ids = Counter(r["id"] for r in handled)
    assert len(ids) == 1000
    assert max(ids.values()) == 1, "a message was handled twice"
    per_consumer = Counter(r["consumer"] for r in handled)
    assert set(per_consumer) == {"w1", "w2"}, per_consumer
    assert min(per_consumer.values()) > 100, per_consumer


async def _both(client: aioredis.Redis, namespace: str, names: set[str]) -> bool:
    return names <= await ready_workers(client, namespace)


async def test_kill_9_mid_stream_loses_nothing(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, workers: Workers
) -> None:
    fast = {"claim_idle_ms": 1000, "heartbeat_ms": 250}
    victim = workers.start("victim", 0.005, **fast)
    workers.start("survivor", 0.005, **fast)
    stream = f"{namespace}:topic:work"
    await wait_until(lambda: _both(redis_client, namespace, {"victim", "survivor"}))
    pub = publisher(redis_url, namespace)
    pub.start()
    await asyncio.gather(
        *(pub.publish_message(Work(i), TopicId("work", f"s{i % 20}")) for i in range(1000))
    )
    await read_handled(redis_client, namespace, 200)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    # Everything is handled at least once; re-runs are limited to what the victim held.
    deadline = time.monotonic() + 60
    seen: set[str] = set()
    handled: list[dict[str, str]] = []
    while len(seen) < 1000 and time.monotonic() < deadline:
        handled = await read_handled(redis_client, namespace, len(handled) + 1, timeout=30)
        seen = {r["id"] for r in handled}
    await pub.stop()
    assert len(seen) == 1000, f"lost {1000 - len(seen)} messages"
    reruns = len(handled) - len(seen)
    assert reruns <= 256, f"{reruns} re-runs: more than the victim can have held"
    await wait_until(lambda: _no_pending(redis_client, stream))


async def _no_pending(client: aioredis.Redis, stream: str) -> bool:
    info = await client.xpending(stream, "worker")
    return int(info["pending"]) == 0


async def test_long_handler_heartbeats_and_is_not_reclaimed(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, workers: Workers
) -> None:
    from tests.integration._worker import Slow

    fast = {"claim_idle_ms": 600, "heartbeat_ms": 150}
    workers.start("a", **fast)
    workers.start("b", **fast)
    await wait_until(lambda: _both(redis_client, namespace, {"a", "b"}))
    client = publisher(redis_url, namespace)
    client.register_message_type(Slow)
    client.start()
    # 3 s of work: five times the idle time after which a silent entry is reclaimed.
    reply = await client.send_message(Slow(3.0), _agent("worker", "k"), timeout=30)
    await client.stop()
    assert reply == "done"
    records = await read_handled(redis_client, namespace, 2)
    assert [r["what"] for r in records] == ["started", "finished"]


def _agent(type_: str, key: str) -> Any:
    from agent_streams import AgentId

    return AgentId(type_, key)


async def test_send_message_timeout_cancels_remote_handler(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, workers: Workers
) -> None:
    from tests.integration._worker import Slow

    workers.start("w")
    await wait_until(lambda: _both(redis_client, namespace, {"w"}))
    client = publisher(redis_url, namespace)
    client.register_message_type(Slow)
    client.start()
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        await client.send_message(Slow(60), _agent("worker", "k"), timeout=1.0)
    assert time.monotonic() - t0 < 5
    records = await read_handled(redis_client, namespace, 2)
    assert [r["what"] for r in records] == ["started", "cancelled"]
    await client.stop()


async def test_sigterm_drains_in_flight_handler(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, workers: Workers
) -> None:
    from tests.integration._worker import Slow

    proc = workers.start("w", drain_grace_s=10)
    await wait_until(lambda: _both(redis_client, namespace, {"w"}))
    client = publisher(redis_url, namespace)
    client.register_message_type(Slow)
    client.start()
    call = asyncio.create_task(client.send_message(Slow(1.5), _agent("worker", "k"), timeout=20))
    await read_handled(redis_client, namespace, 1, what="started")
    proc.send_signal(signal.SIGTERM)
    assert await call == "done"
    assert await asyncio.to_thread(proc.wait, 15) == 0
    # What the handler published during the drain went out before the process exited.
    assert await redis_client.xlen(f"{namespace}:topic:after-work") == 1
    info = await redis_client.xpending(f"{namespace}:agent:worker", "worker")
    assert int(info["pending"]) == 0
    await client.stop()
