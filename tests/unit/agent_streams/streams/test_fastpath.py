"""streams/fastpath.py: packed commands on kept connections, reply parsing, message ids."""

from __future__ import annotations

import re

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from agent_streams.keys import Keys
from agent_streams.streams.fastpath import (
    FastRedis,
    connection_options,
    new_message_id,
    runtime_redis,
    stream_entries,
)
from agent_streams.streams.settings import RuntimeSettings


async def test_a_server_error_comes_back_in_its_place_and_the_connection_stays_in_step(
    fast: FastRedis, redis_client: aioredis.Redis, keys: Keys
) -> None:
    key = keys.state("a", "k", "x")
    out = await fast.execute([["SET", key, "v"], ["XLEN", key], ["GET", key]])
    assert out[0] is True or out[0] == b"OK"
    assert isinstance(out[1], ResponseError)
    assert "WRONGTYPE" in str(out[1])
    assert out[2] == b"v"
    assert await fast.execute([["GET", key]]) == [b"v"]  # the kept connection reads in step


async def test_connections_are_kept_between_uses_and_handed_back_at_close(
    redis_client: aioredis.Redis,
) -> None:
    pool = redis_client.connection_pool
    fast = FastRedis(redis_client, keep=1)
    await fast.execute([["PING"]])
    in_use = len(pool._in_use_connections)  # type: ignore[attr-defined]
    assert in_use == 1  # kept, not released
    await fast.execute([["PING"]])
    assert len(pool._in_use_connections) == in_use  # type: ignore[attr-defined]  # reused
    await fast.close()
    assert len(pool._in_use_connections) == 0  # type: ignore[attr-defined]


async def test_stream_entries_parses_xreadgroup_with_an_entry_deleted_while_pending(
    fast: FastRedis, redis_client: aioredis.Redis, keys: Keys
) -> None:
    stream = keys.topic("t")
    await redis_client.xgroup_create(stream, "g", id="0", mkstream=True)
    kept = await redis_client.xadd(stream, {"a": "1"})
    gone = await redis_client.xadd(stream, {"b": "2"})
    await redis_client.xreadgroup("g", "c", {stream: ">"})
    await redis_client.xdel(stream, gone)
    (raw,) = await fast.execute([["XREADGROUP", "GROUP", "g", "c", "STREAMS", stream, "0"]])
    [(name, entries)] = stream_entries(raw)
    assert name == stream.encode()
    assert entries == [(kept, {b"a": b"1"}), (gone, None)]
    assert stream_entries(None) == []


def test_message_ids_are_128_random_bits_as_hex_and_not_repeated() -> None:
    ids = {new_message_id() for _ in range(1000)}  # crosses a 4 KiB block
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


async def test_the_runtimes_client_has_no_socket_timeout_and_a_sized_pool(redis_url: str) -> None:
    options = connection_options()
    assert options["socket_timeout"] is None
    assert options["socket_keepalive"] is True
    client = runtime_redis(
        RuntimeSettings(redis_url=redis_url, max_inflight=100, max_connections=200)
    )
    try:
        pool = client.connection_pool
        assert pool.max_connections == 200
        assert pool.connection_kwargs["protocol"] == 2
        assert pool.connection_kwargs["socket_timeout"] is None
        assert await client.ping()
    finally:
        await client.aclose()
