"""How long to wait before retrying a model request: exponential backoff, jitter, a deadline.

Kept apart from the HTTP client so the arithmetic is plain and testable: the client asks
``next_delay`` after each retryable failure and gives up when it answers ``None``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """The retry budget of one request.

    Attempt ``n`` (0-based) is followed by a wait of ``min(max_s, initial_s * 2**n)``, with
    "equal jitter" (half fixed, half random) so replicas that failed together do not retry
    together. A server's ``Retry-After`` replaces the computed wait. No retry is allowed past
    ``max_retries`` retries or when the wait would end after the deadline.
    """

    max_retries: int
    initial_s: float
    max_s: float
    deadline_s: float
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    retries: int = 0
    _deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self._deadline = self.clock() + self.deadline_s

    def remaining_s(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self._deadline - self.clock())

    def next_delay(self, retry_after_s: float | None = None) -> float | None:
        """The wait before the next attempt, or ``None`` when the budget is spent."""
        if self.retries >= self.max_retries:
            return None
        if retry_after_s is not None:
            delay = max(0.0, retry_after_s)
        else:
            base = min(self.max_s, self.initial_s * (2**self.retries))
            delay = base / 2 + self.rng.uniform(0, base / 2)
        if delay >= self.remaining_s():
            return None
        self.retries += 1
        return delay
