"""CancellationToken, as in autogen-core: handlers link their awaitables to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["CancellationToken"]


class CancellationToken:
    """A token that cancels linked futures and runs callbacks once ``cancel()`` is called.

    In the Redis runtime a cancelled ``send_message`` reaches the remote handler's token, in
    whichever process it runs.
    """

    def __init__(self) -> None:
        self._cancelled = False
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def is_cancelled(self) -> bool:
        return self._cancelled

    def add_callback(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if not self._cancelled:
                self._callbacks.append(callback)
                return
        callback()

    def link_future(self, future: asyncio.Future[Any]) -> asyncio.Future[Any]:
        """Cancel ``future`` when this token is cancelled; returns the future."""

        def _cancel() -> None:
            if not future.done():
                future.get_loop().call_soon_threadsafe(future.cancel)

        self.add_callback(_cancel)
        return future
