"""streams/rpc.py: a request on the recipient's inbox, its reply on the caller's reply stream
(carrying the request's XACK), errors as the caller's exceptions, timeouts cancelling the
remote handler, and requests whose caller is gone recognised before they run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent_streams._cancellation import CancellationToken, RunningHandlers
from agent_streams._ids import AgentId
from agent_streams._serialization import MessageRegistry
from agent_streams._tasks import TaskSet, cancel_and_wait
from agent_streams.exceptions import CantHandleException, RemoteHandlerError
from agent_streams.keys import Keys
from agent_streams.streams.fastpath import FastRedis
from agent_streams.streams.publisher import Publisher
from agent_streams.streams.rpc import Rpc, SendOptions
from agent_streams.streams.settings import RuntimeSettings
from agent_streams.streams.wire import Envelope, parse_entry


@dataclass
class Ask:
    q: str


@dataclass
class Answer:
    a: str


@dataclass
class Side:
    rpc: Rpc
    running: RunningHandlers
    tasks: TaskSet


@pytest.fixture
async def side(
    redis_client: aioredis.Redis, fast: FastRedis, keys: Keys, settings: RuntimeSettings
) -> AsyncIterator[Any]:
    """Makes the request / reply side of one runtime: its publisher, reply reader, listener."""
    made: list[Side] = []

    async def make() -> Side:
        messages = MessageRegistry()
        for cls in (Ask, Answer):
            messages.register(cls)
        publisher = Publisher(fast, keys, settings, messages)
        publisher.open()
        running = RunningHandlers()
        rpc = Rpc(redis_client, fast, keys, settings, messages, publisher, running)
        tasks = TaskSet()
        tasks.spawn(publisher.run())
        tasks.spawn(rpc.run_replies())
        tasks.spawn(await rpc.listen())
        made.append(Side(rpc, running, tasks))
        return made[-1]

    yield make
    for s in made:
        await cancel_and_wait(s.tasks)
        await s.rpc.close()


async def _request(redis_client: aioredis.Redis, keys: Keys) -> Envelope:
    """The request the callee's consumer would read from its inbox (the test's group)."""
    inbox = keys.inbox("callee")
    while True:  # XREADGROUP BLOCK: waits for the request, no polling
        got = await redis_client.xreadgroup("callee", "c1", {inbox: ">"}, count=1, block=1000)
        if got:
            [(_stream, [(entry_id, fields)])] = got
            return parse_entry(inbox, entry_id.decode(), fields, max_body_bytes=10_000)


async def test_a_reply_reaches_its_caller_and_acknowledges_the_request(
    side: Any, redis_client: aioredis.Redis, keys: Keys
) -> None:
    caller, callee = await side(), await side()
    await redis_client.xgroup_create(keys.inbox("callee"), "callee", id="0", mkstream=True)
    options = SendOptions(AgentId("asker", "k"), None, "m-1", 30.0)
    call = asyncio.get_running_loop().create_task(
        caller.rpc.send(Ask("?"), AgentId("callee", "k9"), options)
    )
    env = await _request(redis_client, keys)
    assert (env.message_id, env.key, env.type) == ("m-1", "k9", "Ask")
    assert env.sender == AgentId("asker", "k")
    assert env.reply_to is not None
    assert env.deadline_ms is not None
    assert env.deadline_ms > time.time() * 1000
    await callee.rpc.reply(env, result=Answer("!"), ack_group="callee")
    assert await asyncio.wait_for(call, 5) == Answer("!")
    assert (await redis_client.xpending(keys.inbox("callee"), "callee"))["pending"] == 0


@pytest.mark.parametrize(
    ("error", "raised"),
    [(ValueError("bad q"), RemoteHandlerError), (CantHandleException("no"), CantHandleException)],
)
async def test_a_handlers_error_is_raised_to_the_caller(
    side: Any,
    redis_client: aioredis.Redis,
    keys: Keys,
    error: Exception,
    raised: type[Exception],
) -> None:
    caller, callee = await side(), await side()
    await redis_client.xgroup_create(keys.inbox("callee"), "callee", id="0", mkstream=True)
    options = SendOptions(None, None, None, None)
    call = asyncio.get_running_loop().create_task(
        caller.rpc.send(Ask("?"), AgentId("callee", "k"), options)
    )
    await callee.rpc.reply(await _request(redis_client, keys), error=error)
    with pytest.raises(raised, match=str(error)):
        await asyncio.wait_for(call, 5)


async def test_a_timeout_cancels_the_running_handler_and_marks_the_request(
    side: Any, redis_client: aioredis.Redis, keys: Keys
) -> None:
    caller, callee = await side(), await side()
    await redis_client.xgroup_create(keys.inbox("callee"), "callee", id="0", mkstream=True)
    token = CancellationToken()
    cancelled = asyncio.Event()
    token.add_callback(cancelled.set)
    callee.running.add("m-2", token)  # the handler of m-2 runs in the callee's process
    with pytest.raises(TimeoutError, match=r"within 0\.2 s"):
        await caller.rpc.send(Ask("?"), AgentId("callee", "k"), SendOptions(None, None, "m-2", 0.2))
    await asyncio.wait_for(cancelled.wait(), 5)  # the cancel channel reached it
    assert await redis_client.exists(keys.cancelled("m-2"))
    env = await _request(redis_client, keys)
    assert await callee.rpc.expired(env, delivery=2)  # redelivered: the mark is read


async def test_a_request_past_its_deadline_or_cancelled_while_queued_is_expired(
    side: Any, keys: Keys
) -> None:
    callee = await side()

    def envelope(message_id: str, deadline_ms: int | None) -> Envelope:
        now_ms = int(time.time() * 1000)
        return Envelope(
            keys.inbox("callee"), f"{now_ms + 5000}-0", "Ask", b"{}", 1, None, message_id,
            None, "k", keys.reply("r"), deadline_ms,
        )  # fmt: skip

    assert await callee.rpc.expired(envelope("m-3", int(time.time() * 1000) - 1))
    assert not await callee.rpc.expired(envelope("m-4", None))
    heard = asyncio.Event()
    token = CancellationToken()
    token.add_callback(heard.set)
    callee.running.add("m-4", token)  # (a handler of m-4 elsewhere: tells when it is heard)
    await callee.rpc.cancel_message("m-4")  # the request itself has not started here yet
    await asyncio.wait_for(heard.wait(), 5)
    assert await callee.rpc.expired(envelope("m-4", None))
