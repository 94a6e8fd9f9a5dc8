"""agent_streams.connection: which URLs mean Sentinel and how they are read; a plain URL still
gives redis-py's own pool. (The failover itself: tests/integration/test_sentinel_failover.py.)"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from agent_streams.connection import (
    SentinelTarget,
    connection_pool,
    is_sentinel_url,
    parse_sentinel_url,
)


def test_a_sentinel_url_lists_sentinels_master_db_and_credentials() -> None:
    url = (
        "redis+sentinel://executor:s3cret%21@10.0.0.1:26379,10.0.0.2,sentinel-3:26380"
        "/agents-master/2?sentinel_password=sp&sentinel_username=su"
    )

    assert is_sentinel_url(url)
    assert parse_sentinel_url(url) == SentinelTarget(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26379), ("sentinel-3", 26380)),
        master="agents-master",
        db=2,
        username="executor",
        password="s3cret!",
        sentinel_username="su",
        sentinel_password="sp",
        ssl=False,
    )


def test_tls_and_defaults() -> None:
    target = parse_sentinel_url("rediss+sentinel://h:1/m")

    assert target == SentinelTarget(sentinels=(("h", 1),), master="m", ssl=True)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://h:1", "the path must be /master-name"),
        ("redis+sentinel://h:1/m/0/x", "the path must be /master-name"),
        ("redis+sentinel://h:x/m", "bad port"),
        ("redis+sentinel:///m", "no sentinel"),
        ("redis+sentinel://h:1/m/zero", "not a number"),
        ("redis://h:1/0", "not a Sentinel URL"),
    ],
)
def test_a_bad_sentinel_url_is_refused_with_its_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_sentinel_url(url)


async def test_plain_urls_keep_redis_pys_pool() -> None:
    assert not is_sentinel_url("redis://127.0.0.1:6379/0")
    pool = connection_pool("redis://127.0.0.1:6379/3", protocol=2)
    try:
        assert type(pool) is aioredis.ConnectionPool
        assert pool.connection_kwargs["db"] == 3
    finally:
        await pool.aclose()
