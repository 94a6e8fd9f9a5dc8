"""Acknowledgements, batched: one XACK per stream, one round trip, for many handled entries.

Acks go out when a worker has no queued message left (``wake``), when a read batch's worth is
waiting, or ``_DELAY_S`` after the first, so a burst does not cost one round trip per message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from .transient import TRANSIENT, Backoff, cause

if TYPE_CHECKING:
    from .fastpath import FastRedis

__all__ = ["AckBatcher"]

log = structlog.get_logger("agent_streams")
_DELAY_S = 0.005  # the longest an ack waits for company (a long queue of slow handlers)


class AckBatcher:
    """The acks of one consumer group.

    Args:
        fast: sends the XACKs.
        group: the consumer group.
        batch: this many queued acks go out at once (the read batch).
        done: called with (stream, entry ids) once they are acknowledged, or let go of (an ack
            Redis refused, or one that failed at stop: the entries stay pending and a reclaim
            redelivers them).
    """

    def __init__(
        self,
        fast: FastRedis,
        group: str,
        batch: int,
        done: Callable[[str, list[str]], None],
    ) -> None:
        self._fast = fast
        self._group = group
        self._batch = batch
        self._done = done
        self._acks: dict[str, list[str]] = {}
        self._queued = 0
        self._timer: asyncio.TimerHandle | None = None
        self._event = asyncio.Event()
        self._stopping = False

    @property
    def pending(self) -> bool:
        """Acks are queued, not sent yet."""
        return self._queued > 0

    def queue(self, stream: str, entry_id: str) -> None:
        self._acks.setdefault(stream, []).append(entry_id)
        self._queued += 1
        if self._queued >= self._batch:
            self._event.set()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(_DELAY_S, self._event.set)

    def wake(self) -> None:
        """Send what is queued now (a worker ran out of messages)."""
        if self._queued:
            self._event.set()

    async def run(self) -> None:
        while True:
            await self._event.wait()
            self._event.clear()
            await self.flush()

    async def stop(self) -> None:
        """Send what is queued, once (no retry: an entry left pending is redelivered)."""
        self._stopping = True
        await self.flush()

    async def flush(self) -> None:
        """Acknowledge what was handled, one XACK per stream in one round trip. A transient
        fault is retried with backoff (an ack is idempotent); a command Redis refuses (NOPERM
        under an ACL user, say) is logged and its entries' slots are freed all the same: they
        stay pending in Redis and a reclaim redelivers them (at-least-once)."""
        acks, self._acks, self._queued = self._acks, {}, 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not acks:
            return
        commands = [["XACK", stream, self._group, *ids] for stream, ids in acks.items()]
        backoff = Backoff(0.05, 2.0)
        while True:
            try:
                results = await self._fast.execute(commands)
                break
            except TRANSIENT as exc:
                # Retried until it goes through (an ack is idempotent; letting go of a handled
                # entry would have it redelivered and handled again), except at stop.
                if self._stopping:
                    log.warning(
                        "ack_failed",
                        group=self._group,
                        entries=sum(len(ids) for ids in acks.values()),
                        error=cause(exc),
                        attempt=backoff.attempt + 1,
                        action="left pending for reclaim",
                    )
                    results = [exc] * len(commands)
                    break
                await backoff.retry("ack", exc, group=self._group)
        for (stream, ids), result in zip(acks.items(), results, strict=True):
            if isinstance(result, Exception) and not isinstance(result, TRANSIENT):
                log.error(
                    "ack_refused",
                    group=self._group,
                    stream=stream,
                    entries=len(ids),
                    error=cause(result),
                    action="left pending for reclaim",
                )
            self._done(stream, ids)
