"""Cancelling a running handler on the Redis Streams runtime, on a real Redis.

Handlers run in their agent's worker task (no task of their own per message): the caller's
cancellation cancels that task while the handler runs and is then taken back, so the worker goes
on with the agent's next queued message; a shutdown's cancellation is not taken back. These
tests pin that: several cancelled handlers in a row in one worker, a handler that swallows its
cancellation, ``asyncio.timeout`` inside a handler after that, every entry acknowledged; and a
handler still running when the drain grace ends is cancelled and its entry left pending for
another replica (at-least-once).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent_streams import AgentId, CancellationToken, MessageContext, RoutedAgent, message_handler
from agent_streams.keys import Keys
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings

pytestmark = pytest.mark.redis
GUARD_S = 20.0  # a bound on waiting for another task, never a timing assertion


@dataclass
class Hang:
    label: str


@dataclass
class Swallow:
    label: str


@dataclass
class Timed:
    label: str


@dataclass
class Echo:
    label: str


class Record:
    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []
        self._changed = asyncio.Event()

    def add(self, item: tuple[Any, ...]) -> None:
        self.items.append(item)
        self._changed.set()

    async def wait_for(self, item: tuple[Any, ...]) -> None:
        async with asyncio.timeout(GUARD_S):
            while item not in self.items:
                self._changed.clear()
                await self._changed.wait()


class Service(RoutedAgent):
    def __init__(self, record: Record) -> None:
        super().__init__("hangs, swallows a cancel, uses asyncio.timeout, echoes")
        self._record = record

    @message_handler
    async def hang(self, message: Hang, ctx: MessageContext) -> None:
        self._record.add(("started", message.label))
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self._record.add(("cancelled", message.label, ctx.cancellation_token.is_cancelled()))
            raise

    @message_handler
    async def swallow(self, message: Swallow, ctx: MessageContext) -> Echo:
        self._record.add(("started", message.label))
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self._record.add(("swallowed", message.label))
        return Echo("late")

    @message_handler
    async def timed(self, message: Timed, ctx: MessageContext) -> Echo:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.Event().wait()
        except TimeoutError:
            return Echo("timeout raised TimeoutError")
        return Echo("not reached")

    @message_handler
    async def echo(self, message: Echo, ctx: MessageContext) -> Echo:
        self._record.add(("echoed", message.label))
        return Echo(f"echo:{message.label}")


def _settings(redis_url: str, namespace: str, **kw: Any) -> RuntimeSettings:
    return RuntimeSettings(redis_url=redis_url, namespace=namespace, read_block_ms=100, **kw)


async def _pending(client: aioredis.Redis, namespace: str) -> int:
    groups = await client.xinfo_groups(Keys(namespace).inbox("service"))
    return sum(int(g["pending"]) for g in groups)


async def _until(check: Callable[[], Any]) -> None:
    deadline = time.monotonic() + GUARD_S
    while not await check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_cancelled_handlers_in_a_row_leave_the_worker_usable(
    redis_url: str, namespace: str, redis_client: aioredis.Redis
) -> None:
    record = Record()
    service = RedisStreamsRuntime(_settings(redis_url, namespace))
    await Service.register(service, "service", lambda: Service(record))
    caller = RedisStreamsRuntime(_settings(redis_url, namespace))
    for cls in (Hang, Swallow, Timed, Echo):
        caller.register_message_type(cls)
    service.start()
    caller.start()
    await service.ready()
    await caller.ready()
    agent = AgentId("service", "k")
    try:
        # "b" is queued behind "a": one worker runs both, and takes back both cancels.
        tokens = {label: CancellationToken() for label in "abc"}
        calls = {
            "a": asyncio.ensure_future(
                caller.send_message(Hang("a"), agent, cancellation_token=tokens["a"])
            )
        }
        await record.wait_for(("started", "a"))
        calls["b"] = asyncio.ensure_future(
            caller.send_message(Hang("b"), agent, cancellation_token=tokens["b"])
        )
        calls["c"] = asyncio.ensure_future(
            caller.send_message(Swallow("c"), agent, cancellation_token=tokens["c"])
        )
        await _until(lambda: _pending_at_least(redis_client, namespace, 3))
        for label in "abc":
            if label != "a":
                await record.wait_for(("started", label))
            tokens[label].cancel()
            with pytest.raises(asyncio.CancelledError):
                await calls[label]
        await record.wait_for(("swallowed", "c"))
        assert ("cancelled", "a", True) in record.items
        assert ("cancelled", "b", True) in record.items

        reply = await caller.send_message(Timed("t"), agent, timeout=GUARD_S)
        assert reply == Echo("timeout raised TimeoutError")
        assert await caller.send_message(Echo("x"), agent, timeout=GUARD_S) == Echo("echo:x")
        await _until(lambda: _pending_is_zero(redis_client, namespace))
    finally:
        await caller.stop()
        await service.stop()


async def _pending_at_least(client: aioredis.Redis, namespace: str, n: int) -> bool:
    return await _pending(client, namespace) >= n


async def _pending_is_zero(client: aioredis.Redis, namespace: str) -> bool:
    return await _pending(client, namespace) == 0


async def test_stop_cancels_a_handler_past_the_grace_and_leaves_its_entries_pending(
    redis_url: str, namespace: str, redis_client: aioredis.Redis
) -> None:
    record = Record()
    service = RedisStreamsRuntime(_settings(redis_url, namespace, drain_grace_s=0.1))
    await Service.register(service, "service", lambda: Service(record))
    caller = RedisStreamsRuntime(_settings(redis_url, namespace))
    caller.register_message_type(Hang)
    caller.register_message_type(Echo)
    service.start()
    caller.start()
    await service.ready()
    await caller.ready()
    agent = AgentId("service", "k")
    calls = [asyncio.ensure_future(caller.send_message(Hang("s"), agent, timeout=GUARD_S))]
    try:
        await record.wait_for(("started", "s"))
        calls.append(asyncio.ensure_future(caller.send_message(Echo("queued"), agent)))
        await _until(lambda: _pending_at_least(redis_client, namespace, 2))
        await service.stop()
        # cancelled by the shutdown, not by the caller: the token was not cancelled, the worker
        # stopped there (the queued request was not handled) and both entries stay pending
        # for another replica
        assert ("cancelled", "s", False) in record.items
        assert ("echoed", "queued") not in record.items
        assert await _pending(redis_client, namespace) == 2
    finally:
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        await caller.stop()
        await service.stop()
