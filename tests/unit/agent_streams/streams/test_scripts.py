"""streams/scripts.py: the Lua scripts run on Redis itself (one atomic round trip each)."""

from __future__ import annotations

import redis.asyncio as aioredis

from agent_streams.keys import Keys
from agent_streams.streams import scripts


async def _publish(
    r: aioredis.Redis, keys: list[str], limit: int, *entries: dict[str, str], session_max: int = 0
) -> list[object]:
    args: list[object] = [10, limit, session_max, 60, "jobs"]
    for fields in entries:
        args.append(2 * len(fields))
        for item in fields.items():
            args.extend(item)
    result: list[object] = await r.eval(scripts.PUBLISH, len(keys), *keys, *args)  # type: ignore[misc]
    return result


async def test_publish_appends_mirrors_to_the_session_and_refuses_past_the_limit(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    stream, session = keys.topic("jobs"), keys.session("s1")
    await redis_client.xgroup_create(stream, "idle-group", id="0", mkstream=True)
    backlog, *ids = await _publish(
        redis_client, [stream, session], 2, *({"n": str(i)} for i in range(3)), session_max=100
    )
    assert backlog == 0
    assert ids[2] == 0
    assert all(isinstance(i, bytes) for i in ids[:2])
    assert await redis_client.xlen(stream) == 2
    mirrored = await redis_client.xrange(session)
    assert [f[b"topic"] for _id, f in mirrored] == [b"jobs", b"jobs"]
    assert 0 < await redis_client.ttl(session) <= 60
    again, refused = await _publish(redis_client, [stream], 2, {"n": "4"})
    assert (again, refused) == (2, 0)  # the group's backlog (lag) counts
    no_limit = await _publish(redis_client, [stream], 0, {"n": "5"})
    assert no_limit[1] != 0


async def test_publish_trims_the_stream_to_about_its_maxlen(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    stream = keys.topic("jobs")
    for _ in range(10):
        await _publish(redis_client, [stream], 0, *({"n": str(i)} for i in range(50)))
    assert await redis_client.xlen(stream) < 500  # MAXLEN ~ 10 trims by whole nodes


async def test_a_lock_is_released_or_renewed_only_with_its_token(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    key = keys.lock("agent", "k")
    await redis_client.set(key, "mine", px=1000)
    assert await redis_client.eval(scripts.RENEW_LOCK, 1, key, "theirs", 60_000) == 0  # type: ignore[misc]
    assert await redis_client.pttl(key) <= 1000
    assert await redis_client.eval(scripts.RENEW_LOCK, 1, key, "mine", 60_000) == 1  # type: ignore[misc]
    assert await redis_client.pttl(key) > 1000
    assert await redis_client.eval(scripts.RELEASE_LOCK, 1, key, "theirs") == 0  # type: ignore[misc]
    assert await redis_client.exists(key)
    assert await redis_client.eval(scripts.RELEASE_LOCK, 1, key, "mine") == 1  # type: ignore[misc]
    assert not await redis_client.exists(key)
