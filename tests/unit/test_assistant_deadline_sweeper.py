"""DeadlineSweeper.run: a failing sweep is logged (transient: a warning with its cause; anything
else: with its traceback) and the sweeper goes on."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from agent_streams import InProcessRuntime
from agent_streams_assistant.endings import DeadlineSweeper, Endings


class FakeFailingStore:
    """A session store whose deadline query fails with each error in turn, then stops the
    sweeper (the only method the sweeper reaches before failing)."""

    def __init__(self, errors: list[Exception], stop: asyncio.Event) -> None:
        self._errors = errors
        self._stop = stop

    async def claim_due(self, now: float, lease_s: float, limit: int = 100) -> list[str]:
        error = self._errors.pop(0)
        if not self._errors:
            self._stop.set()
        raise error


async def test_a_failing_sweep_is_logged_with_its_cause_or_traceback() -> None:
    stop = asyncio.Event()
    store: Any = FakeFailingStore([RedisConnectionError("gone"), KeyError("bug")], stop)
    sweeper = DeadlineSweeper(store, Endings(store, InProcessRuntime(), "assistant"), interval_s=0)
    with capture_logs() as logs:
        await asyncio.wait_for(sweeper.run(stop), 10)
    transient, bug = [e for e in logs if e["event"] == "deadline_sweep_failed"]
    assert transient["log_level"] == "warning"
    assert transient["error"] == "ConnectionError: gone"
    assert bug["log_level"] == "error"
    assert bug["exc_info"] is True
