"""``runtime_factory``: every contract test runs once per runtime, ``inprocess`` and ``redis``.

The Redis runtime gets a namespace of its own per test (deleted afterwards, never FLUSHALL) and
short timings so that stopping and draining do not slow the suite down.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent_streams import InProcessRuntime
from agent_streams.keys import Keys
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings


class RuntimeFactory:
    """Makes runtimes of one kind for a test and stops them at teardown.

    ``failures()`` is the runtime-neutral view of "something went wrong out of sight": handler
    errors of published messages (in-process) or entries on the errors / dead-letter streams
    (Redis).
    """

    def __init__(self, kind: str, redis_url: str | None = None) -> None:
        self.kind = kind
        self.redis_url = redis_url
        self.namespace = f"contract-{uuid.uuid4().hex[:12]}"
        self.runtimes: list[Any] = []

    def __call__(self) -> Any:
        runtime: Any
        if self.kind == "inprocess":
            runtime = InProcessRuntime()
        else:
            runtime = RedisStreamsRuntime(
                RuntimeSettings(
                    redis_url=self.redis_url,
                    namespace=self.namespace,
                    read_block_ms=200,
                    drain_grace_s=2.0,
                    retry_backoff_ms=10,
                )
            )
        self.runtimes.append(runtime)
        return runtime

    async def peer(self) -> Any:
        """A started runtime standing for another process on the same bus: the first runtime
        itself in-process; on Redis a second runtime (own registry, own connections) in the
        same namespace."""
        if self.kind == "inprocess":
            return self.runtimes[0]
        runtime = self()
        runtime.start()
        await runtime.ready()
        return runtime

    async def failures(self) -> list[Any]:
        failed: list[Any] = []
        if self.kind == "inprocess":
            for runtime in self.runtimes:
                failed.extend(runtime.unhandled_errors)
            return failed
        keys = Keys(self.namespace)
        client = aioredis.Redis.from_url(self.redis_url or "")
        try:
            for stream in (keys.errors, keys.dead_letters):
                for _id, fields in await client.xrange(stream):
                    failed.append(json.dumps({k.decode(): v.decode() for k, v in fields.items()}))
        finally:
            await client.aclose()
        return failed

    async def close(self) -> None:
        for runtime in self.runtimes:
            await runtime.stop()
        if self.kind == "redis":
            client = aioredis.Redis.from_url(self.redis_url or "")
            try:
                keys = [k async for k in client.scan_iter(match=f"{self.namespace}:*", count=1000)]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()


@pytest.fixture(params=["inprocess", pytest.param("redis", marks=pytest.mark.redis)])
async def runtime_factory(request: pytest.FixtureRequest) -> AsyncIterator[RuntimeFactory]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    factory = RuntimeFactory(request.param, redis_url)
    try:
        yield factory
    finally:
        await factory.close()
