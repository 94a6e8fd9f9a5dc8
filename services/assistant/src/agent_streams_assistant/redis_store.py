"""``RedisSessionStore``: sessions in Redis, so any Assistant replica can take the next turn.

Keys (all from ``agent_streams.keys.Keys``; ``A`` is the agent type, ``S`` the session)::

    {ns}:state:A:S:state       string  SessionState JSON (turn, deadline, usage, artifacts, outbox)
    {ns}:state:A:S:history     list    one LLM message JSON per entry, in order
    {ns}:state:A:S:ending      string  Ending JSON, written once (SET NX): the first ending wins
    {ns}:state:A:S:announced   string  "1" once the ending was published
    {ns}:deadlines:A           zset    session -> deadline (epoch seconds), swept by replicas

Every session key expires ``ttl_s`` after its last write, so finished sessions clean up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from pydantic import TypeAdapter

from agent_streams.keys import Keys

from .models import LLMMessage
from .session import Ending, SessionState

__all__ = ["RedisSessionStore"]

_MESSAGE: TypeAdapter[LLMMessage] = TypeAdapter(LLMMessage)

# Hand each due session to one caller: move its score to now + lease, atomically.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do
    redis.call('ZADD', KEYS[1], ARGV[2], member)
end
return due
"""


class RedisSessionStore:
    """A ``SessionStore`` on Redis (see the module docstring for the keys).

    Args:
        redis: a ``redis.asyncio.Redis`` with bytes responses (the runtime's ``redis``).
        keys: the namespace's key builder (the runtime's ``keys``).
        agent_type: whose state this is (``assistant``).
        ttl_s: how long a session's keys outlive its last write.
    """

    def __init__(
        self, redis: aioredis.Redis, keys: Keys, *, agent_type: str = "assistant", ttl_s: int
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._agent_type = agent_type
        self._ttl_s = ttl_s
        self._claim: Any = redis.register_script(_CLAIM_DUE)

    def _key(self, session: str, name: str) -> str:
        return self._keys.state(self._agent_type, session, name)

    @property
    def _deadlines(self) -> str:
        return self._keys.deadlines(self._agent_type)

    async def create(
        self, session: str, state: SessionState, history: Sequence[LLMMessage]
    ) -> None:
        history_key = self._key(session, "history")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(history_key)
            if history:
                pipe.rpush(history_key, *(_MESSAGE.dump_json(m) for m in history))
            pipe.expire(history_key, self._ttl_s)
            pipe.set(self._key(session, "state"), state.model_dump_json(), ex=self._ttl_s)
            pipe.zadd(self._deadlines, {session: state.deadline})
            await pipe.execute()

    async def load(self, session: str) -> SessionState | None:
        raw = await self._redis.get(self._key(session, "state"))
        return None if raw is None else SessionState.model_validate_json(raw)

    async def history(self, session: str) -> list[LLMMessage]:
        rows = await self._redis.lrange(self._key(session, "history"), 0, -1)
        return [_MESSAGE.validate_json(row) for row in rows]

    async def save(
        self, session: str, state: SessionState, append: Sequence[LLMMessage] = ()
    ) -> None:
        history_key = self._key(session, "history")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(session, "state"), state.model_dump_json(), ex=self._ttl_s)
            if append:
                pipe.rpush(history_key, *(_MESSAGE.dump_json(m) for m in append))
            pipe.expire(history_key, self._ttl_s)
            await pipe.execute()

    async def finish(self, session: str, ending: Ending) -> bool:
        won = await self._redis.set(
            self._key(session, "ending"), ending.model_dump_json(), nx=True, ex=self._ttl_s
        )
        if won:
            await self._redis.zrem(self._deadlines, session)
        return bool(won)

    async def ending(self, session: str) -> tuple[Ending, bool] | None:
        raw, announced = await self._redis.mget(
            [self._key(session, "ending"), self._key(session, "announced")]
        )
        if raw is None:
            return None
        return Ending.model_validate_json(raw), announced is not None

    async def mark_announced(self, session: str) -> None:
        await self._redis.set(self._key(session, "announced"), b"1", ex=self._ttl_s)

    async def claim_due(self, now: float, lease_s: float, limit: int = 100) -> list[str]:
        rows = await self._claim(keys=[self._deadlines], args=[now, now + lease_s, limit])
        return [row.decode() if isinstance(row, bytes) else str(row) for row in rows]

    async def drop_deadline(self, session: str) -> None:
        await self._redis.zrem(self._deadlines, session)
