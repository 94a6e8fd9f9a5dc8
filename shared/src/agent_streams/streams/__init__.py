"""The Redis Streams runtime (see ``runtime.RedisStreamsRuntime``)."""

from .runtime import RedisStreamsRuntime
from .settings import RuntimeSettings

__all__ = ["RedisStreamsRuntime", "RuntimeSettings"]
