"""One delivery, run to its end: handled (replied or acknowledged), cancelled, skipped, or
dead-lettered.

The steps: count a redelivery in Redis (XCLAIM), check that a request's caller still waits,
run the handler, send the reply (carrying the entry's XACK) or queue the ack. A failing step
(the handler raising, or a transient Redis fault in any step) is logged once with its cause,
backed off from and counted as a delivery; after ``max_deliveries`` the entry is
dead-lettered. Only the failing step runs again: a handler that returned is not re-run because
its reply was lost. A fault retrying cannot fix (Redis refusing a command) is raised to the
consumer, which leaves the entry pending for a reclaim.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from .._cancellation import CancellationToken, RunningHandlers
from .._context import MessageContext, reset_current_context, set_current_context
from .._ids import AgentId, TopicId
from .transient import TRANSIENT, cause
from .wire import Envelope

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .._registry import AgentRegistry
    from .acks import AckBatcher
    from .failures import FailureRecorder
    from .hooks import RuntimeHooks
    from .rpc import Rpc
    from .settings import RuntimeSettings

__all__ = ["Deliverer", "Item"]

log = structlog.get_logger("agent_streams")


@dataclass(frozen=True, slots=True)
class _Failed:
    """A handler's exception, as a value (a handler may return an exception object)."""

    error: Exception


_CANCELLED: Any = object()  # what _run_handler returns when the token cancelled the handler
_STEP_FAILED = {  # the dead letter's reason, per failing step of a delivery
    "claim": "counting the redelivery failed",
    "expiry": "checking the caller failed",
    "handle": "handler failed",
    "reply": "sending the reply failed",
}


@dataclass(slots=True)
class Item:
    """One delivery of an entry: its envelope, decoded message and delivery count."""

    envelope: Envelope
    delivery: int
    message: Any = None


@dataclass(slots=True)
class _Running:
    """The worker task running a handler, for its cancellation token."""

    task: asyncio.Task[Any] | None
    active: bool = False  # inside the handler now
    requested: bool = False  # the token cancelled the task; to be taken back (uncancel)

    def cancel_soon(self) -> None:
        # A token may be cancelled from any thread: the cancel itself happens on the loop.
        if self.task is not None:
            self.task.get_loop().call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        if self.active and not self.requested and self.task is not None:
            self.requested = True
            self.task.cancel()


class Deliverer:
    """Runs the deliveries of one consumer group (see the module docstring).

    Args:
        group: the consumer group (agent type).
        let_go: called with (stream, entry ids) the consumer stops holding: replied (the reply
            carried the XACK) or left pending for a reclaim.
    """

    def __init__(
        self,
        group: str,
        *,
        redis: aioredis.Redis,
        settings: RuntimeSettings,
        registry: AgentRegistry,
        rpc: Rpc,
        failures: FailureRecorder,
        acks: AckBatcher,
        running: RunningHandlers,
        let_go: Callable[[str, list[str]], None],
    ) -> None:
        self.group = group
        self._redis = redis
        self._s = settings
        self._registry = registry
        self._rpc = rpc
        self._failures = failures
        self._acks = acks
        self._running = running
        self._let_go = let_go
        self.log_handled = False
        """Whether "handled" lines are logged (INFO); the consumer sets it per drain."""
        self.hooks: RuntimeHooks | None = None
        """Told of every delivery (``hooks.RuntimeHooks.delivering``); set by the runtime."""

    async def handle(
        self,
        agent_id: AgentId,
        item: Item,
        worker: asyncio.Task[Any] | None,
        topic_id: TopicId | None,
    ) -> None:
        """Run one delivery to its end: handled (replied / acknowledged), cancelled, skipped,
        or dead-lettered. A failing step (the handler raising, or a transient Redis fault in
        the expiry check, the reply or the retry's claim) is logged once with its cause,
        backed off from and counted as a delivery, up to ``max_deliveries``. Only a step that
        failed runs again: a handler that returned is not re-run because its reply was lost."""
        env = item.envelope
        started = time.perf_counter()
        is_rpc = env.reply_to is not None
        token = CancellationToken()
        ctx = MessageContext(
            sender=env.sender,
            topic_id=topic_id,
            is_rpc=is_rpc,
            cancellation_token=token,
            message_id=env.message_id,
            delivery=item.delivery,
        )
        scope = self.hooks.delivering(self.group, env) if self.hooks is not None else None
        self._running.add(env.message_id, token)
        # Every line logged from here on (any module's) names the session, agent and message.
        handling = set_current_context(agent_id, ctx)
        # The handler runs in this worker's task (a task per message cost two event-loop turns
        # and ~7 us): the token cancels the worker while, and only while, the handler runs.
        running = _Running(worker)
        token.add_callback(running.cancel_soon)
        outcome = "ok"
        finished = False
        claim = False  # whether this attempt must first record itself in Redis (XCLAIM)
        checked = not is_rpc  # whether the request's caller is known to still wait
        handled = False  # the handler returned (its result is in ``result``)
        result: Any = None
        try:
            while True:
                step = "claim"
                fault: BaseException
                try:
                    if claim:
                        # Count the redelivery in Redis too: a crash now cannot reset it.
                        ids: list[Any] = [env.entry_id]
                        await self._redis.xclaim(
                            env.stream, self.group, self._s.consumer_name, 0, ids, justid=False
                        )
                        claim = False
                    step = "expiry"
                    if not checked:
                        if await self._rpc.expired(env, item.delivery):
                            outcome = "skipped_cancelled"
                            self._acks.queue(env.stream, env.entry_id)
                            break
                        checked = True
                    step = "handle"
                    if not handled:
                        ran = await self._run_handler(agent_id, item.message, ctx, token, running)
                        if ran is _CANCELLED:
                            outcome = "cancelled"
                            self._acks.queue(env.stream, env.entry_id)
                            break
                        if isinstance(ran, _Failed):
                            if is_rpc and not isinstance(ran.error, TRANSIENT):
                                # The caller gets the handler's error: retrying is its call.
                                step, outcome = "reply", "error_replied"
                                await self._rpc.reply(env, error=ran.error, ack_group=self.group)
                                self._let_go(env.stream, [env.entry_id])
                                break
                            raise ran.error
                        handled, result = True, ran
                    step = "reply"
                    # A reply carries its entry's XACK in the same write: one round trip.
                    if is_rpc:
                        await self._rpc.reply(env, result=result, ack_group=self.group)
                        self._let_go(env.stream, [env.entry_id])
                    else:
                        self._acks.queue(env.stream, env.entry_id)
                    break
                except Exception as exc:
                    if step != "handle" and not isinstance(exc, TRANSIENT):
                        raise  # a fault retrying cannot fix: _drain logs it with its traceback
                    fault = exc
                last = item.delivery >= self._s.max_deliveries
                pause_s = self._s.retry_backoff_ms / 1000 * 2 ** (item.delivery - 1)
                (log.error if last else log.warning)(
                    "delivery_failed",
                    step=step,
                    attempt=item.delivery,
                    error=cause(fault),
                    action="dead-lettering" if last else f"retrying in {pause_s:.3f} s",
                )
                if last:
                    outcome = "dead_lettered"
                    reason = f"{_STEP_FAILED[step]} {item.delivery} times: {cause(fault)}"
                    try:
                        await self._failures.dead_letter(
                            env.stream, env.entry_id, self.group, reason, env=env
                        )
                    except TRANSIENT as exc:
                        outcome = "abandoned"
                        log.warning(
                            "dead_letter_failed",
                            error=cause(exc),
                            action="left pending for reclaim",
                        )
                        self._let_go(env.stream, [env.entry_id])  # a reclaim redelivers it
                        break
                    self._acks.queue(env.stream, env.entry_id)
                    break
                await asyncio.sleep(pause_s)
                item.delivery += 1
                ctx.delivery = item.delivery
                claim = True
            finished = True
        finally:
            self._running.discard(env.message_id, token)
            if finished:  # (not when the worker was cancelled or a step raised)
                self._log(env, agent_id, item.delivery, outcome, started)
            if scope is not None:
                scope.end(outcome if finished else None, item.delivery)
            reset_current_context(handling)

    async def _run_handler(
        self,
        agent_id: AgentId,
        message: Any,
        ctx: MessageContext,
        token: CancellationToken,
        running: _Running,
    ) -> Any:
        """The handler's result, ``_Failed(error)`` when it raised, ``_CANCELLED`` when its
        token cancelled it."""
        if token.is_cancelled():
            return _CANCELLED
        cancelled = False
        outcome: Any
        running.active = True
        try:
            outcome = await self._registry.deliver(agent_id, message, ctx)
        except asyncio.CancelledError:
            if not running.requested:
                raise  # this worker is being cancelled (stop), not by the token
            cancelled = True
        except Exception as error:
            outcome = _Failed(error)
        finally:
            running.active = False
        if running.requested:  # the token's cancel: taken back, once
            running.requested = False
            if running.task is not None and running.task.uncancel() and cancelled:
                raise asyncio.CancelledError  # stop() cancelled the worker as well
        return _CANCELLED if cancelled else outcome

    def _log(self, env: Envelope, agent_id: AgentId, attempt: int, outcome: str, t0: float) -> None:
        """The canonical line: complete under any structlog set-up (the context processor of
        ``configure_logging`` adds the same session, agent and message_id to other lines)."""
        if not self.log_handled:
            return
        log.info(
            "handled",
            session=env.session,
            agent=str(agent_id),
            message_id=env.message_id,
            stream=env.stream,
            type=env.type,
            attempt=attempt,
            outcome=outcome,
            duration_ms=round((time.perf_counter() - t0) * 1000, 2),
        )

    # -- acks, heartbeat, reclaim -------------------------------------------------------------
