"""streams/delivery.py: one delivery run to its end: a failing handler is retried with backoff,
each retry counted in Redis and logged with its cause, and dead-lettered after max_deliveries;
a request's handler error is the caller's reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from agent_streams import InProcessRuntime
from agent_streams._agent import BaseAgent
from agent_streams._cancellation import RunningHandlers
from agent_streams._context import MessageContext
from agent_streams._ids import AgentId
from agent_streams._registry import AgentRegistry
from agent_streams.keys import Keys
from agent_streams.streams.acks import AckBatcher
from agent_streams.streams.delivery import Deliverer, Item
from agent_streams.streams.failures import DeadLetter, FailureRecorder
from agent_streams.streams.fastpath import FastRedis
from agent_streams.streams.publisher import Publisher
from agent_streams.streams.rpc import Rpc
from agent_streams.streams.settings import RuntimeSettings
from agent_streams.streams.wire import build_fields, parse_entry


@dataclass
class Job:
    fail_times: int


class Worker(BaseAgent):
    message_types = (Job,)
    attempts: list[int] = []

    def __init__(self) -> None:
        super().__init__("fails as told")

    async def on_message(self, message: Any, ctx: MessageContext) -> Any:
        Worker.attempts.append(ctx.delivery)
        if ctx.delivery <= message.fail_times:
            raise ValueError(f"attempt {ctx.delivery} failed")
        return "done"


@dataclass
class Parts:
    deliverer: Deliverer
    acks: AckBatcher
    failures: FailureRecorder
    let_go: list[tuple[str, list[str]]]


@pytest.fixture
def parts(
    redis_client: aioredis.Redis, fast: FastRedis, keys: Keys, settings: RuntimeSettings
) -> Parts:
    Worker.attempts = []
    registry = AgentRegistry(InProcessRuntime())
    registry.add_factory("worker", Worker, Worker)
    messages = registry.messages
    running = RunningHandlers()
    publisher = Publisher(fast, keys, settings, messages)
    rpc = Rpc(redis_client, fast, keys, settings, messages, publisher, running)
    failures = FailureRecorder(redis_client, keys, settings, messages)
    acks = AckBatcher(fast, "worker", 100, lambda s, ids: None)
    let_go: list[tuple[str, list[str]]] = []
    deliverer = Deliverer(
        "worker",
        redis=redis_client,
        settings=settings,
        registry=registry,
        rpc=rpc,
        failures=failures,
        acks=acks,
        running=running,
        let_go=lambda s, ids: let_go.append((s, ids)),
    )
    return Parts(deliverer, acks, failures, let_go)


async def _read(redis_client: aioredis.Redis, keys: Keys, job: Job, **extra: Any) -> Item:
    stream = keys.inbox("worker")
    await redis_client.xgroup_create(stream, "worker", id="0", mkstream=True)
    fields = build_fields("Job", f'{{"fail_times":{job.fail_times}}}'.encode(), 1, "m-1", **extra)
    await redis_client.xadd(stream, fields)  # type: ignore[arg-type]
    [(_s, [(entry_id, raw)])] = await redis_client.xreadgroup("worker", "c1", {stream: ">"})
    env = parse_entry(stream, entry_id.decode(), raw, max_body_bytes=10_000)
    return Item(env, 1, job)


async def test_a_failing_handler_is_retried_each_retry_counted_in_redis_and_logged(
    parts: Parts, redis_client: aioredis.Redis, keys: Keys
) -> None:
    item = await _read(redis_client, keys, Job(fail_times=2))
    with capture_logs() as logs:
        await parts.deliverer.handle(AgentId("worker", "k"), item, None, None)
    assert Worker.attempts == [1, 2, 3]
    assert item.delivery == 3
    [row] = await redis_client.xpending_range(keys.inbox("worker"), "worker", "-", "+", 10)
    assert row["times_delivered"] == 3  # each retry XCLAIMed: a crash cannot reset the count
    failed = [e for e in logs if e["event"] == "delivery_failed"]
    assert [(e["attempt"], e["step"], e["log_level"]) for e in failed] == [
        (1, "handle", "warning"),
        (2, "handle", "warning"),
    ]
    assert failed[0]["error"] == "ValueError: attempt 1 failed"
    assert parts.acks.pending  # handled: its ack is queued


async def test_a_handler_that_always_fails_is_dead_lettered_after_max_deliveries(
    parts: Parts, redis_client: aioredis.Redis, keys: Keys, settings: RuntimeSettings
) -> None:
    letters: list[DeadLetter] = []

    async def listener(letter: DeadLetter) -> None:
        letters.append(letter)

    parts.failures.add_listener(listener)
    item = await _read(redis_client, keys, Job(fail_times=99), source="s1")
    with capture_logs() as logs:
        await parts.deliverer.handle(AgentId("worker", "k"), item, None, None)
    assert Worker.attempts == list(range(1, settings.max_deliveries + 1))
    [letter] = letters
    assert letter.error == f"handler failed {settings.max_deliveries} times: ValueError: " + (
        f"attempt {settings.max_deliveries} failed"
    )
    assert letter.message == Job(fail_times=99)
    assert [e["action"] for e in logs if e["event"] == "delivery_failed"][-1] == "dead-lettering"
    assert parts.acks.pending  # off the group once the dead letter is written


async def test_a_requests_handler_error_is_replied_with_the_ack_not_retried(
    parts: Parts, redis_client: aioredis.Redis, keys: Keys
) -> None:
    reply_to = keys.reply("caller")
    item = await _read(redis_client, keys, Job(fail_times=1), key="k", reply_to=reply_to)
    await parts.deliverer.handle(AgentId("worker", "k"), item, None, None)
    assert Worker.attempts == [1]  # the caller decides whether to retry
    [(_id, reply)] = await redis_client.xrange(reply_to)
    assert (reply[b"status"], reply[b"error"]) == (b"error", b"attempt 1 failed")
    assert parts.let_go == [(keys.inbox("worker"), [item.envelope.entry_id])]
    assert (await redis_client.xpending(keys.inbox("worker"), "worker"))["pending"] == 0
