"""Background tasks in one process: spawn them, supervise loops, cancel them and wait.

Every task the runtimes start goes through ``TaskSet.spawn``: a reference is kept until it ends (the
event loop keeps only weak ones), and an exception it ends with is logged with its traceback
at once instead of surfacing, maybe, as "Task exception was never retrieved" at exit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

import structlog

__all__ = ["TaskSet", "cancel_and_wait", "supervise"]

log = structlog.get_logger("agent_streams")


class TaskSet(set["asyncio.Task[Any]"]):
    """The tasks one component started and has not seen end (the event loop keeps only weak
    references to tasks)."""

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start ``coro`` as a task held here until it ends; its exception is logged."""
        task = asyncio.get_running_loop().create_task(coro)
        self.add(task)
        # One done callback (each is one more event-loop callback per task, and a mailbox
        # worker is a task per burst of messages).
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved: asyncio will not report it again
        if exc is not None:
            log.error("task_failed", task=task.get_coro().__qualname__, exc_info=exc)  # type: ignore[union-attr]


async def supervise(name: str, loop_fn: Callable[[], Awaitable[None]]) -> None:
    """Run a background loop forever: an unexpected error is logged and the loop restarted
    (after a pause), so a consumer never silently stops reading."""
    while True:
        try:
            await loop_fn()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background_loop_failed", loop=name, action="restarting in 1 s")
            await asyncio.sleep(1.0)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until all are done, cancelling again when a cancel was lost.

    On Python 3.11 ``asyncio.wait_for``, which redis-py wraps every command send in when a
    ``socket_timeout`` is set (its default), drops a cancellation that lands just as the send
    completes (CPython gh-86296, fixed in 3.12): one ``cancel()`` may not stop a task that talks
    to Redis, and a plain ``gather`` after it can wait forever.
    """
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.1)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" at exit
