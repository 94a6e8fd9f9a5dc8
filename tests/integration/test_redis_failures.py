"""Failure handling of the Redis Streams runtime on a real Redis: retries and dead letters, bad
input, one-at-a-time across replicas, a Redis restart, a backlog past the pool.

Bounded streams and the queue limit: tests/unit/agent_streams/streams/test_publisher.py;
idle agent instances: tests/unit/agent_streams/streams/test_runtime.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict
from structlog.testing import capture_logs

from agent_streams import (
    MessageContext,
    RoutedAgent,
    TopicId,
    message_handler,
    type_subscription,
)
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings

pytestmark = pytest.mark.redis


class Job(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    n: int
    fail: bool = False
    hold_s: float = 0.0


@dataclass
class Seen:
    """What the test agents observed, shared by every replica in this process."""

    handled: list[tuple[str, int, int]]  # (agent key, n, delivery)
    event: asyncio.Event
    want: int
    active: dict[str, int]
    max_active: int = 0

    def record(self, key: str, n: int, delivery: int) -> None:
        self.handled.append((key, n, delivery))
        if len(self.handled) >= self.want:
            self.event.set()


def make_agent(seen: Seen) -> type[RoutedAgent]:
    @type_subscription("jobs")
    class JobAgent(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("test agent")

        @message_handler
        async def on_job(self, message: Job, ctx: MessageContext) -> None:
            key = self.id.key
            seen.active[key] = seen.active.get(key, 0) + 1
            seen.max_active = max(seen.max_active, seen.active[key])
            try:
                if message.hold_s:
                    await asyncio.sleep(message.hold_s)
                if message.fail:
                    raise ValueError(f"job {message.n} always fails")
                seen.record(key, message.n, ctx.delivery)
            finally:
                seen.active[key] -= 1

    return JobAgent


def settings(url: str, ns: str, name: str, **kw: Any) -> RuntimeSettings:
    base: dict[str, Any] = {"claim_idle_ms": 2000, "heartbeat_ms": 500, "retry_backoff_ms": 10}
    return RuntimeSettings(redis_url=url, namespace=ns, consumer_name=name, **(base | kw))


async def replica(seen: Seen, url: str, ns: str, name: str, **kw: Any) -> RedisStreamsRuntime:
    rt = RedisStreamsRuntime(settings(url, ns, name, **kw))
    agent_cls = make_agent(seen)
    await agent_cls.register(rt, "jobs-agent", agent_cls)
    rt.start()
    await rt.ready()
    return rt


@pytest.fixture
def seen() -> Seen:
    return Seen([], asyncio.Event(), 1, {})


async def test_failing_handler_is_retried_then_dead_lettered_with_the_error(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, seen: Seen
) -> None:
    rt = await replica(seen, redis_url, namespace, "r1", max_deliveries=3)
    await rt.publish_message(Job(n=1, fail=True), TopicId("jobs", "s1"))
    await rt.publish_message(Job(n=2), TopicId("jobs", "s1"))
    await asyncio.wait_for(seen.event.wait(), 20)  # the next message still gets through
    assert seen.handled == [("s1", 2, 1)]
    dead = await redis_client.xrange(f"{namespace}:dead-letters")
    assert len(dead) == 1
    fields = {k.decode(): v.decode() for k, v in dead[0][1].items()}
    assert fields["code"] == "handler_failed"
    assert "failed 3 times" in fields["error"]
    assert "job 1 always fails" in fields["error"]
    assert json.loads(fields["fields"])["type"] == "Job"
    info = await redis_client.xpending(f"{namespace}:topic:jobs", "jobs-agent")
    assert info["pending"] == 0
    await rt.stop()


BAD_INPUTS: list[tuple[str, dict[str, str | bytes], str]] = [
    ("unknown type", {"type": "NoSuchThing", "body": "{}", "source": "s"}, "unknown_type"),
    ("bad json", {"type": "Job", "body": "{not json", "source": "s"}, "invalid_message"),
    ("schema violation", {"type": "Job", "body": '{"n": "x"}', "source": "s"}, "invalid_message"),
    ("extra field", {"type": "Job", "body": '{"n": 1, "z": 2}', "source": "s"}, "invalid_message"),
    ("missing type", {"body": '{"n": 1}', "source": "s"}, "invalid_message"),
    ("missing body", {"type": "Job", "source": "s"}, "invalid_message"),
    ("missing source", {"type": "Job", "body": '{"n": 1}'}, "invalid_message"),
    (
        "oversized body",
        {"type": "Job", "body": '{"n": 1, "p": "' + "x" * 5000 + '"}', "source": "s"},
        "invalid_message",
    ),
    (
        "invalid utf-8",
        {"type": "Job", "body": b'{"n": 1}\xff\xfe', "source": "s"},
        "invalid_message",
    ),
    (
        "newer version",
        {"type": "Job", "body": '{"n": 1}', "source": "s", "v": "9"},
        "unsupported_version",
    ),
    ("bad source", {"type": "Job", "body": '{"n": 1}', "source": "a b:c"}, "invalid_message"),
    (
        "forged sender",
        {"type": "Job", "body": '{"n": 1}', "source": "s", "sender": "nokey"},
        "invalid_message",
    ),
    (
        "unknown field",
        {"type": "Job", "body": '{"n": 1}', "source": "s", "colour": "red"},
        "invalid_message",
    ),
]


async def test_bad_input_is_answered_on_the_errors_stream_and_dead_lettered(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, seen: Seen
) -> None:
    rt = await replica(seen, redis_url, namespace, "r1", max_body_bytes=4096)
    stream = f"{namespace}:topic:jobs"
    entry_ids = [await redis_client.xadd(stream, fields) for _n, fields, _c in BAD_INPUTS]  # type: ignore[arg-type]
    await redis_client.xadd(stream, {"type": "Job", "body": '{"n": 7}', "source": "s"})
    await asyncio.wait_for(seen.event.wait(), 20)  # the consumer went on
    assert seen.handled == [("s", 7, 1)]
    errors = await _wait_len(redis_client, f"{namespace}:errors", len(BAD_INPUTS))
    by_entry = {e[1][b"entry"]: e[1] for e in errors}
    errors = [(i, by_entry[i]) for i in entry_ids]
    codes = [err[b"code"].decode() for _i, err in errors]
    assert codes == [code for _n, _f, code in BAD_INPUTS], list(
        zip([n for n, _f, _c in BAD_INPUTS], codes, strict=True)
    )
    for (_id, err), (name, _f, _c) in zip(errors, BAD_INPUTS, strict=True):
        assert err[b"error"], name
    assert await redis_client.xlen(f"{namespace}:dead-letters") == len(BAD_INPUTS)
    # The submitter of a bad message for a valid session sees the error in that session's log.
    log = await redis_client.xrange(f"{namespace}:session:s")
    assert any(fields[b"type"] == b"Error" for _id, fields in log)
    await rt.stop()


async def _wait_len(client: aioredis.Redis, key: str, n: int) -> list[Any]:
    for _ in range(500):
        rows = await client.xrange(key)
        if len(rows) >= n:
            return rows
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{key} has fewer than {n} entries")


async def test_one_agent_instance_handles_one_message_at_a_time_across_replicas(
    redis_url: str, namespace: str, seen: Seen
) -> None:
    seen.want = 40
    a = await replica(seen, redis_url, namespace, "a", read_batch=2)
    b = await replica(seen, redis_url, namespace, "b", read_batch=2)
    await asyncio.gather(
        *(a.publish_message(Job(n=i, hold_s=0.01), TopicId("jobs", f"k{i % 2}")) for i in range(40))
    )
    await asyncio.wait_for(seen.event.wait(), 30)
    assert seen.max_active == 1
    assert len(seen.handled) == 40
    await asyncio.gather(a.stop(), b.stop())


# -- a Redis of our own, restarted mid-test -------------------------------------------------


class OwnRedis:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is needed for the restart test (apt-get install redis-server)"
            )
        self.binary = binary
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.dir = Path(tempfile.mkdtemp(prefix="agent-streams-restart-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = aioredis.Redis(port=self.port, protocol=2)
        for _ in range(500):
            try:
                await client.ping()
                break
            except (ConnectionError, OSError, aioredis.ConnectionError):
                await asyncio.sleep(0.02)
        await client.aclose()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
async def own_redis() -> AsyncIterator[OwnRedis]:
    server = OwnRedis()
    await server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


async def test_an_ack_redis_refuses_frees_its_slot_and_is_logged(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, seen: Seen
) -> None:
    """XACK refused (an ACL user without it): the entries are let go of all the same (they
    stay pending for a reclaim), so the consumer's capacity does not shrink for good."""
    user, password = f"{namespace}-noack", uuid.uuid4().hex
    await redis_client.execute_command(
        "ACL", "SETUSER", user, "on", f">{password}", "~*", "&*", "+@all", "-xack"
    )
    try:
        parsed = urlparse(redis_url)
        url = parsed._replace(netloc=f"{user}:{password}@{parsed.hostname}:{parsed.port}").geturl()
        seen.want = 2
        with capture_logs() as logs:
            rt = await replica(seen, url, namespace, "r1", max_inflight=1, max_connections=65)
            await rt.publish_message(Job(n=1), TopicId("jobs", "a"))
            await rt.publish_message(Job(n=2), TopicId("jobs", "b"))
            await asyncio.wait_for(seen.event.wait(), 20)  # one slot: the first one was freed
            await rt.stop()
        assert sorted(n for _k, n, _d in seen.handled) == [1, 2]
        refused = [e for e in logs if e["event"] == "ack_refused"]
        assert refused, logs
        assert all("NoPermissionError" in e["error"] for e in refused)
        assert all(e["log_level"] == "error" for e in refused)
    finally:
        await redis_client.execute_command("ACL", "DELUSER", user)


async def test_redis_restart_without_persistence_heals_the_group_and_reconnects(
    own_redis: OwnRedis, namespace: str, seen: Seen
) -> None:
    rt = await replica(seen, own_redis.url, namespace, "r1", read_block_ms=200)
    await rt.publish_message(Job(n=1), TopicId("jobs", "s"))
    await asyncio.wait_for(seen.event.wait(), 10)
    own_redis.stop()  # everything is gone: streams, groups
    await own_redis.start()
    seen.event.clear()
    seen.want = 2
    for _ in range(100):  # the publisher retries with backoff while Redis comes back
        try:
            await rt.publish_message(Job(n=2), TopicId("jobs", "s"))
            break
        except (ConnectionError, OSError, aioredis.ConnectionError):
            await asyncio.sleep(0.1)
    await asyncio.wait_for(seen.event.wait(), 20)
    assert [n for _k, n, _d in seen.handled] == [1, 2]
    await rt.stop()


async def test_a_backlog_bigger_than_the_pool_is_handled_without_running_out(
    redis_url: str, namespace: str, seen: Seen
) -> None:
    """200 queued messages for 200 agents, a pool of 96 connections: max_inflight bounds the
    handlers running at once below the pool, so none fails with MaxConnectionsError."""
    with pytest.raises(ValueError, match="max_connections"):
        settings(redis_url, namespace, "r0", max_inflight=32, max_connections=40)  # too small
    seen.want = 200
    rt = await replica(seen, redis_url, namespace, "r1", max_inflight=32, max_connections=96)
    await asyncio.gather(
        *(rt.publish_message(Job(n=i, hold_s=0.05), TopicId("jobs", f"k{i}")) for i in range(200))
    )
    await asyncio.wait_for(seen.event.wait(), 60)
    assert len(seen.handled) == 200
    await rt.stop()
