"""Fault injection: the Redis connection dropped at each step of a delivery.

The runtime under test reaches Redis through a ``FaultProxy`` (a real TCP proxy) that drops
its connection when it sends a given command: the read (XREADGROUP), the caller check
(EXISTS), the handler's own Redis call, the reply (XADD on the caller's reply stream), a
publish (EVALSHA), the ack (XACK) and the retry's claim (XCLAIM). For each step: no hot loop
(the handler runs at most ``max_deliveries`` times), no lost entry (handled, or
dead-lettered, and nothing left pending), bounded retries, and one log line per fault that
names its cause.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
import structlog
from pydantic import BaseModel, ConfigDict
from structlog.testing import capture_logs

from agent_streams import (
    AgentId,
    MessageContext,
    RoutedAgent,
    TopicId,
    message_handler,
    type_subscription,
)
from agent_streams.streams import DeadLetter, RedisStreamsRuntime, RuntimeSettings
from tests.integration._fault_proxy import FaultProxy

pytestmark = pytest.mark.redis

MAX_DELIVERIES = 4


class Job(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    n: int
    fail_first: bool = False  # the first delivery raises (a handler bug), later ones succeed
    touch_redis: bool = False  # the handler makes a Redis call of its own (INCRBY)
    follow_up: bool = False  # the handler publishes a Job on topic "done"


class Pong(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    n: int


@dataclass
class Runs:
    """What the agent under test saw; ``done`` is set by the first successful run."""

    namespace: str
    deliveries: list[int] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    too_many: asyncio.Event = field(default_factory=asyncio.Event)


def agent_class(runs: Runs) -> type[RoutedAgent]:
    @type_subscription("jobs")
    class FaultyAgent(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("fault-injection target")

        async def _work(self, message: Job, ctx: MessageContext) -> None:
            runs.deliveries.append(ctx.delivery)
            if len(runs.deliveries) > MAX_DELIVERIES:
                runs.too_many.set()
            if message.fail_first and ctx.delivery == 1:
                raise ValueError("first delivery fails")
            if message.touch_redis:
                redis: aioredis.Redis = self.runtime.redis  # type: ignore[attr-defined]
                await redis.incr(f"{runs.namespace}:touched")
            if message.follow_up:
                await self.publish_message(Job(n=message.n), TopicId("done", ctx.topic_id.source))  # type: ignore[union-attr]
            runs.done.set()

        @message_handler
        async def on_job(self, message: Job, ctx: MessageContext) -> None:
            await self._work(message, ctx)

        @message_handler
        async def on_ping(self, message: Pong, ctx: MessageContext) -> Pong:
            await self._work(Job(n=message.n), ctx)
            return Pong(n=message.n + 1)

    return FaultyAgent


def settings(url: str, namespace: str, name: str) -> RuntimeSettings:
    # Heartbeats and reclaims stay out of the way (they would XCLAIM too); short backoff.
    return RuntimeSettings(
        redis_url=url,
        namespace=namespace,
        consumer_name=name,
        max_deliveries=MAX_DELIVERIES,
        retry_backoff_ms=5,
        read_block_ms=100,
        claim_idle_ms=60_000,
        heartbeat_ms=30_000,
    )


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[FaultProxy]:
    p = FaultProxy(redis_url)
    await p.start()
    yield p
    await p.close()


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        structlog.get_logger("agent_streams").warning("capture_probe")
        assert captured, "structlog capture is not active"
        captured.clear()
        yield captured


@dataclass
class Rig:
    runtime: RedisStreamsRuntime  # through the proxy: the one whose faults are injected
    client: RedisStreamsRuntime  # straight to Redis: publishes and calls
    runs: Runs
    dead: list[DeadLetter]
    dead_event: asyncio.Event


@pytest.fixture
async def rig(redis_url: str, namespace: str, proxy: FaultProxy) -> AsyncIterator[Rig]:
    runs = Runs(namespace)
    runtime = RedisStreamsRuntime(settings(proxy.url, namespace, "under-test"))
    cls = agent_class(runs)
    await cls.register(runtime, "faulty", cls)
    dead: list[DeadLetter] = []
    dead_event = asyncio.Event()

    async def on_dead(letter: DeadLetter) -> None:
        dead.append(letter)
        dead_event.set()

    runtime.add_dead_letter_listener(on_dead)
    client = RedisStreamsRuntime(settings(redis_url, namespace, "client"))
    client.register_message_type(Job)
    client.register_message_type(Pong)
    yield Rig(runtime, client, runs, dead, dead_event)
    await runtime.stop()
    await client.stop()


async def start(rig: Rig) -> None:
    rig.runtime.start()
    rig.client.start()
    await rig.runtime.ready()
    await rig.client.ready()


async def until(*events: asyncio.Event) -> None:
    """Wait for the first of ``events`` (30 s: a hang fails the test instead of stalling it)."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        done, _ = await asyncio.wait(waits, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    assert done, "nothing happened within 30 s"


def fault_lines(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runtime's warnings and errors about a Redis connection failure."""
    return [
        e
        for e in logs
        if e["log_level"] in ("warning", "error") and "Connection" in str(e.get("error", ""))
    ]


async def pending(redis_url: str, namespace: str, stream: str) -> int:
    client = aioredis.Redis.from_url(redis_url)
    try:
        info = await client.xpending(f"{namespace}:{stream}", "faulty")
        return int(info["pending"])
    finally:
        await client.aclose()


async def test_a_reply_that_cannot_be_sent_backs_off_and_ends_as_a_dead_letter(
    rig: Rig, proxy: FaultProxy, logs: list[dict[str, Any]], redis_url: str, namespace: str
) -> None:
    """The fault found in review: a reply lost to a Redis blip re-ran the handler in a tight
    loop, logged nothing and never counted a delivery."""
    rule = proxy.drop("XADD", times=1000, contains=f"{namespace}:reply:".encode())
    await start(rig)
    caller = asyncio.ensure_future(rig.client.send_message(Pong(n=1), AgentId("faulty", "k")))
    await until(rig.dead_event, rig.runs.too_many)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)

    assert not rig.runs.too_many.is_set()
    assert rig.runs.deliveries == [1], "the handler ran once; only its reply was retried"
    assert rule.dropped == MAX_DELIVERIES, "each attempt sent the reply once"
    (letter,) = rig.dead
    assert letter.group == "faulty"
    assert "reply" in letter.reason
    assert "Connection" in letter.reason
    lines = fault_lines(logs)
    assert len(lines) == MAX_DELIVERIES, lines  # one line per fault, the last one the give-up
    assert [line["attempt"] for line in lines] == list(range(1, MAX_DELIVERIES + 1))
    assert all(line["step"] == "reply" for line in lines)
    await rig.runtime.stop()
    assert await pending(redis_url, namespace, "agent:faulty") == 0


@pytest.mark.parametrize("step", ["read", "handle", "reply", "publish", "ack", "claim"])
async def test_a_connection_dropped_twice_at_each_step_is_retried_counted_and_logged(
    step: str,
    rig: Rig,
    proxy: FaultProxy,
    logs: list[dict[str, Any]],
    redis_url: str,
    namespace: str,
) -> None:
    plan = {
        "read": ("XREADGROUP", b"", Job(n=1)),
        "handle": ("INCRBY", b"", Job(n=1, touch_redis=True)),
        "reply": ("XADD", f"{namespace}:reply:".encode(), Pong(n=1)),
        "publish": ("EVALSHA", f"{namespace}:topic:done".encode(), Job(n=1, follow_up=True)),
        "ack": ("XACK", b"", Job(n=1)),
        "claim": ("XCLAIM", b"", Job(n=1, fail_first=True)),
    }
    command, contains, message = plan[step]
    rule = proxy.drop(command, times=2, contains=contains)
    await start(rig)
    if isinstance(message, Pong):
        reply = await rig.client.send_message(message, AgentId("faulty", "k"), timeout=30)
        assert reply == Pong(n=2)
    else:
        await rig.client.publish_message(message, TopicId("jobs", "s1"))
    await until(rig.runs.done, rig.dead_event, rig.runs.too_many)
    await until(rule.fired)
    await asyncio.wait_for(rig.runtime.stop_when_idle(), 30)

    assert rule.dropped == 2
    assert not rig.dead, rig.dead
    assert len(rig.runs.deliveries) <= MAX_DELIVERIES
    expected_runs = {"handle": [1, 2, 3], "claim": [1, 4]}.get(step, [1])
    assert rig.runs.deliveries == expected_runs
    lines = fault_lines(logs)
    assert len(lines) == 2, lines  # one per dropped connection, each with its cause
    stream = "agent:faulty" if step == "reply" else "topic:jobs"
    assert await pending(redis_url, namespace, stream) == 0


async def test_a_handler_whose_redis_calls_always_fail_is_dead_lettered_after_max_deliveries(
    rig: Rig, proxy: FaultProxy, logs: list[dict[str, Any]], redis_url: str, namespace: str
) -> None:
    rule = proxy.drop("INCRBY", times=1000)

    async def broken_listener(letter: DeadLetter) -> None:
        raise KeyError("a bug in a listener")

    rig.runtime.add_dead_letter_listener(broken_listener)  # after the rig's own listener
    await start(rig)
    await rig.client.publish_message(Job(n=1, touch_redis=True), TopicId("jobs", "s1"))
    await until(rig.dead_event, rig.runs.too_many)

    assert rig.runs.deliveries == list(range(1, MAX_DELIVERIES + 1))
    assert rule.dropped == MAX_DELIVERIES
    (letter,) = rig.dead
    assert "Connection" in letter.reason
    assert letter.message == Job(n=1, touch_redis=True)
    assert len(fault_lines(logs)) == MAX_DELIVERIES
    await rig.runtime.stop()
    assert await pending(redis_url, namespace, "topic:jobs") == 0
    (broken,) = [e for e in logs if e["event"] == "dead_letter_listener_failed"]
    assert broken["exc_info"] is True  # its traceback, not a repr


async def test_a_request_whose_caller_check_fails_is_retried_counted_and_logged(
    rig: Rig, proxy: FaultProxy, logs: list[dict[str, Any]], redis_url: str, namespace: str
) -> None:
    """A request queued before the runtime listened for cancels costs a round trip to check
    its caller's cancel mark (EXISTS): that step dropped twice."""
    client = aioredis.Redis.from_url(redis_url)
    await client.xadd(
        f"{namespace}:agent:faulty",
        {
            "type": "Pong",
            "body": '{"n": 1}',
            "id": "queued-request",
            "key": "k",
            "reply_to": f"{namespace}:reply:gone-caller",
        },
    )
    await client.aclose()
    rule = proxy.drop("EXISTS", times=2)
    await start(rig)
    await until(rig.runs.done, rig.dead_event, rig.runs.too_many)
    await asyncio.wait_for(rig.runtime.stop_when_idle(), 30)

    assert rule.dropped == 2
    assert rig.runs.deliveries == [3], "the handler ran once, after two failed checks"
    lines = fault_lines(logs)
    assert [line["step"] for line in lines] == ["expiry", "expiry"]
    assert await pending(redis_url, namespace, "agent:faulty") == 0
