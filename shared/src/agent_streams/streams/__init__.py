"""The Redis Streams runtime (see ``runtime.RedisStreamsRuntime``)."""

from .failures import DeadLetter
from .runtime import RedisStreamsRuntime
from .settings import RuntimeSettings

__all__ = ["DeadLetter", "RedisStreamsRuntime", "RuntimeSettings"]
