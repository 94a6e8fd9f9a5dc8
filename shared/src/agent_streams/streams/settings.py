"""Settings of the Redis Streams runtime, from ``AGENT_STREAMS_*`` environment variables."""

from __future__ import annotations

import os
import socket
import uuid

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["RuntimeSettings", "default_consumer_name"]


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class RuntimeSettings(BaseSettings):
    """How a process talks to Redis. Defaults run against a local Redis.

    ``redis_url`` also reads the plain ``REDIS_URL``; ``rediss://`` URLs use TLS.
    """

    model_config = SettingsConfigDict(
        env_prefix="AGENT_STREAMS_", extra="ignore", populate_by_name=True
    )

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("AGENT_STREAMS_REDIS_URL", "REDIS_URL"),
    )
    namespace: str = "agents"
    consumer_name: str = Field(default_factory=default_consumer_name)

    max_connections: int = Field(
        default=1_200, ge=16, description="Redis connections per process, at most"
    )
    read_batch: int = Field(default=256, ge=1, le=10_000)
    # Below redis-py's default 5 s socket timeout: the runtime's own pool has none (see
    # fastpath), but a client passed in as ``redis=`` may, and would time a longer block out.
    read_block_ms: int = Field(default=2_000, ge=10, le=4_000)
    max_inflight: int = Field(default=1_024, ge=1)
    claim_idle_ms: int = Field(default=30_000, ge=100)
    heartbeat_ms: int = Field(default=10_000, ge=20)
    max_deliveries: int = Field(default=5, ge=1)
    retry_backoff_ms: int = Field(default=200, ge=0)

    stream_maxlen: int = Field(default=100_000, ge=10)
    queue_limit: int = Field(default=50_000, ge=0, description="0 disables the check")
    max_body_bytes: int = Field(default=1_048_576, ge=256)

    session_log: bool = True
    session_log_maxlen: int = Field(default=10_000, ge=10)
    session_ttl_s: int = Field(default=7 * 86_400, ge=1)
    reply_ttl_s: int = Field(default=600, ge=1)

    drain_grace_s: float = Field(default=30.0, ge=0)
    agent_idle_evict_s: float = Field(
        default=600.0, ge=0, description="close agent instances idle this long; 0 keeps them"
    )
    group_start_id: str = Field(
        default="0",
        description="where a new consumer group starts: 0 = entries already queued are handled",
    )

    @model_validator(mode="after")
    def _check(self) -> RuntimeSettings:
        if self.heartbeat_ms >= self.claim_idle_ms:
            raise ValueError(
                f"heartbeat_ms ({self.heartbeat_ms}) must be below claim_idle_ms "
                f"({self.claim_idle_ms}), or live handlers get reclaimed mid-run"
            )
        if self.max_connections < self.max_inflight + 64:
            raise ValueError(
                f"max_connections ({self.max_connections}) must be at least max_inflight "
                f"({self.max_inflight}) + 64: every running handler may hold a connection, "
                "and the consumers' own loops need theirs"
            )
        if self.queue_limit and self.queue_limit >= self.stream_maxlen:
            raise ValueError(
                f"queue_limit ({self.queue_limit}) must be below stream_maxlen "
                f"({self.stream_maxlen}), or trimming could drop queued entries"
            )
        return self
