"""Transient Redis faults: what counts as one, how it is logged, and how to back off from it.

A transient fault is a lost or refused connection, or a timeout: trying again later may work.
Everything else Redis says (``NOPERM``, ``WRONGTYPE``, a script error) is a fault in this
deployment that retrying cannot fix, and is logged with its traceback instead.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["REDIS_DOWN", "TRANSIENT", "Backoff", "cause"]

log = structlog.get_logger("agent_streams")

REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)
"""What redis-py raises when Redis cannot be reached: the client tells its user so."""

TRANSIENT: tuple[type[BaseException], ...] = (*REDIS_DOWN, OSError)
"""The errors the runtime retries (with backoff, each retry counted and logged); ``OSError``
is a socket error that reached the runtime without redis-py's wrapping."""


def cause(exc: BaseException) -> str:
    """``Type: message``, the form every fault log line and dead letter gives its cause in."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Backoff:
    """Exponential backoff with jitter for one retrying loop; counts the attempts.

    Args:
        first_s: the first pause.
        cap_s: the longest pause.
    """

    def __init__(self, first_s: float = 0.05, cap_s: float = 5.0) -> None:
        self._first_s = first_s
        self._cap_s = cap_s
        self.attempt = 0

    @property
    def next_s(self) -> float:
        """The pause the next ``wait`` takes (without its jitter)."""
        return min(self._first_s * 2.0**self.attempt, self._cap_s)

    async def wait(self) -> None:
        """Count one failed attempt and pause (between 1x and 1.5x the nominal pause: replicas
        that failed together do not retry together)."""
        pause = self.next_s * (1 + random.random() / 2)
        self.attempt += 1
        await asyncio.sleep(pause)

    async def retry(self, during: str, exc: BaseException, **fields: Any) -> None:
        """Log the fault ``exc`` met ``during`` a step (one line: its cause, the attempt, the
        pause), then ``wait``."""
        log.warning(
            "redis_unreachable",
            during=during,
            error=cause(exc),
            attempt=self.attempt + 1,
            retry_s=round(self.next_s, 3),
            **fields,
        )
        await self.wait()

    def reset(self) -> None:
        self.attempt = 0
