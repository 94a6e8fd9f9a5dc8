"""The streams modules' unit tests run on a real Redis (``tests/conftest.py``: ``REDIS_URL`` or
a ``redis-server`` binary, no Docker engine needed), each in a namespace of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from agent_streams.keys import Keys
from agent_streams.streams.fastpath import FastRedis
from agent_streams.streams.settings import RuntimeSettings

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests here that use a Redis with the ``redis`` marker."""
    for item in items:
        if item.path.is_relative_to(_HERE) and "redis_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.redis)


@pytest.fixture
def settings(redis_url: str, namespace: str) -> RuntimeSettings:
    return RuntimeSettings(
        redis_url=redis_url,
        namespace=namespace,
        consumer_name="c1",
        read_block_ms=100,
        claim_idle_ms=300,
        heartbeat_ms=100,
        retry_backoff_ms=5,
        drain_grace_s=1.0,
    )


@pytest.fixture
def keys(namespace: str) -> Keys:
    return Keys(namespace)


@pytest.fixture
async def fast(redis_client: aioredis.Redis) -> AsyncIterator[FastRedis]:
    fast = FastRedis(redis_client)
    yield fast
    await fast.close()
