"""CancellationToken, as in autogen-core: handlers link their awaitables to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["CancellationToken", "RunningHandlers"]


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


class RunningHandlers:
    """The tokens of the handlers running in this process, by message id: what
    ``runtime.cancel_message(message_id)`` cancels. Several agent types in one process may
    handle the same message: one token each."""

    def __init__(self) -> None:
        self._tokens: dict[str, set[CancellationToken]] = {}

    def add(self, message_id: str, token: CancellationToken) -> None:
        self._tokens.setdefault(message_id, set()).add(token)

    def discard(self, message_id: str, token: CancellationToken) -> None:
        held = self._tokens.get(message_id)
        if held is not None:
            held.discard(token)
            if not held:
                del self._tokens[message_id]

    def cancel(self, message_id: str) -> int:
        """Cancel the handlers of ``message_id`` running here; returns how many."""
        tokens = list(self._tokens.get(message_id, ()))
        for token in tokens:
            token.cancel()
        return len(tokens)
