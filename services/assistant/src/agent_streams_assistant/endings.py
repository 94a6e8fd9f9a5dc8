"""How a task ends: recorded once, announced at least once, and deadlines that fire anywhere.

Every ending is a ``TaskResult`` on topic ``outcomes`` (source = session). An ending that stops
the task from outside the normal loop (``cancelled``, ``deadline``) also sends ``CancelTask``
on topic ``code``, so that the executor kills code still running for the session.

``Endings.end`` records the ending first-writer-wins in the store, then publishes it, then
marks it announced. A replica that dies between the record and the mark leaves an ending that
the next handler or sweeper to look at the session publishes (``Endings.flush``). Message ids
are derived from the task id (``<task>.result``, ``<task>.cancel``), so a repeat is
recognisable.

``DeadlineSweeper`` runs in every replica: each sweep claims the sessions whose deadline
passed (each goes to one replica, for a lease) and ends them as ``deadline``. A task whose
executor never answers still ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from agent_streams import AgentId, AgentRuntime, TopicId
from agent_streams.exceptions import RuntimeStateError
from agent_streams.messages import CODE_TOPIC, OUTCOMES_TOPIC, CancelTask, TaskResult
from agent_streams.streams.transient import TRANSIENT, cause

from .session import Ending, SessionStore

__all__ = ["DeadlineSweeper", "Endings"]

_EXPECTED: tuple[type[BaseException], ...] = (*TRANSIENT, RuntimeStateError)

log = structlog.get_logger("agent_streams_assistant")

_STOPS_CODE = frozenset({"cancelled", "deadline"})


class Endings:
    """Ends sessions of one agent type: record once, publish, mark announced."""

    def __init__(self, store: SessionStore, runtime: AgentRuntime, agent_type: str) -> None:
        self._store = store
        self._runtime = runtime
        self._agent_type = agent_type

    async def end(self, session: str, task_id: str, result: TaskResult) -> bool:
        """End ``session`` with ``result`` unless it has ended already; True if this did."""
        ending = Ending(task_id=task_id, result=result)
        if not await self._store.finish(session, ending):
            await self.flush(session)
            return False
        log.info(
            "task_ended",
            session=session,
            status=result.status,
            turns=result.turns,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            artifacts=len(result.artifacts),
            error=result.error,
        )
        await self._announce(session, ending)
        return True

    async def flush(self, session: str) -> bool:
        """True when ``session`` has ended; publishes its ending if nobody did yet."""
        found = await self._store.ending(session)
        if found is None:
            return False
        ending, announced = found
        if not announced:
            await self._announce(session, ending)
        return True

    async def _announce(self, session: str, ending: Ending) -> None:
        sender = AgentId(self._agent_type, session)
        if ending.result.status in _STOPS_CODE:
            await self._runtime.publish_message(
                CancelTask(reason=ending.result.error or ending.result.status),
                TopicId(CODE_TOPIC, session),
                sender=sender,
                message_id=f"{ending.task_id}.cancel",
            )
        await self._runtime.publish_message(
            ending.result,
            TopicId(OUTCOMES_TOPIC, session),
            sender=sender,
            message_id=f"{ending.task_id}.result",
        )
        await self._store.mark_announced(session)


class DeadlineSweeper:
    """Ends the sessions whose deadline passed, every ``interval_s``, until ``stop`` is set.

    Run one per replica (``await sweeper.run(stop)`` in a task). A due session is claimed for
    ``lease_s``: if this replica dies before ending it, another one does after the lease.
    """

    def __init__(
        self,
        store: SessionStore,
        endings: Endings,
        *,
        interval_s: float = 1.0,
        lease_s: float = 30.0,
    ) -> None:
        self._store = store
        self._endings = endings
        self._interval_s = interval_s
        self._lease_s = lease_s

    async def run(self, stop: asyncio.Event) -> None:
        while True:
            # Wait first: the runtime this publishes through may still be starting.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_s)
            if stop.is_set():
                return
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except _EXPECTED as exc:  # Redis away, runtime stopping
                log.warning("deadline_sweep_failed", error=cause(exc), action="next interval")
            except Exception:  # a bug or a refused command: its traceback, then go on
                log.exception("deadline_sweep_failed", action="next interval")

    async def sweep(self) -> int:
        """One pass; returns how many sessions this replica ended."""
        ended = 0
        for session in await self._store.claim_due(time.time(), self._lease_s):
            if await self._endings.flush(session):
                await self._store.drop_deadline(session)
                continue
            state = await self._store.load(session)
            if state is None:  # no task was ever stored under this deadline
                await self._store.drop_deadline(session)
                continue
            result = state.result(
                "deadline",
                answer=state.last_reply,
                error=f"the task's deadline ({state.timeout_s:g} s) passed "
                + (
                    f"while waiting for the executor to run turn {state.awaiting_turn}"
                    if state.awaiting_turn is not None
                    else "before the model answered"
                ),
            )
            if await self._endings.end(session, state.task_id, result):
                ended += 1
        return ended
