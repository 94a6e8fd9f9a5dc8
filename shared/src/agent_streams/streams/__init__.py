"""The Redis Streams runtime (see ``runtime.RedisStreamsRuntime``)."""

from .runtime import DeadLetter, RedisStreamsRuntime
from .settings import RuntimeSettings

__all__ = ["DeadLetter", "RedisStreamsRuntime", "RuntimeSettings"]
