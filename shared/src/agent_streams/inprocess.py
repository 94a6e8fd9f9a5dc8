"""The in-process runtime: deterministic, no Redis; for unit tests and one-process demos.

Published messages are delivered in publish order; one agent instance handles one message at a
time; ``send_message`` calls the handler directly and returns its result, and raises what the
Redis runtime raises: ``RemoteHandlerError`` for a handler's exception (the original is its
``__cause__``), ``CantHandleException`` for a type the agent has no handler for. A handler that
raises on a published message is logged (the Redis runtime retries and dead-letters instead).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from ._agent import BaseAgent
from ._cancellation import CancellationToken, RunningHandlers
from ._context import MessageContext
from ._ids import AgentId, AgentType, TopicId
from ._registry import AgentRegistry
from ._subscription import TypeSubscription
from .exceptions import (
    CantHandleException,
    RemoteHandlerError,
    RuntimeStateError,
    UndeliverableException,
)

__all__ = ["InProcessRuntime", "SingleThreadedAgentRuntime"]

log = structlog.get_logger("agent_streams")


@dataclass(slots=True)
class _Publish:
    message: Any
    topic_id: TopicId
    sender: AgentId | None
    token: CancellationToken
    message_id: str


class InProcessRuntime:
    """autogen-core's ``SingleThreadedAgentRuntime``, in shape and in semantics."""

    def __init__(self) -> None:
        self._registry = AgentRegistry(self)
        self._queue: asyncio.Queue[_Publish] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.unhandled_errors: list[BaseException] = []
        self._running = RunningHandlers()

    # -- registration -------------------------------------------------------------------
    async def register_factory(
        self,
        type: str | AgentType,
        agent_factory: Callable[[], Any],
        *,
        expected_class: type[BaseAgent] | None = None,
    ) -> AgentType:
        name = type.type if isinstance(type, AgentType) else type
        return self._registry.add_factory(name, agent_factory, expected_class)

    async def add_subscription(self, subscription: TypeSubscription) -> None:
        self._registry.add_subscription(subscription)

    def register_message_type(self, cls: type[Any]) -> None:
        self._registry.messages.register(cls)

    async def try_get_underlying_agent_instance(self, agent_id: AgentId) -> BaseAgent:
        return await self._registry.get_instance(agent_id)

    # -- messaging ------------------------------------------------------------------------
    async def send_message(
        self,
        message: Any,
        recipient: AgentId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        if recipient.type not in self._registry.factories:
            raise UndeliverableException(f"no agent type {recipient.type!r} is registered")
        token = cancellation_token or CancellationToken()
        ctx = MessageContext(
            sender=sender,
            topic_id=None,
            is_rpc=True,
            cancellation_token=token,
            message_id=message_id or uuid.uuid4().hex,
        )

        async def call() -> Any:
            async with self._registry.lock(recipient):
                self._running.add(ctx.message_id, token)
                try:
                    return await self._registry.deliver(recipient, message, ctx)
                except CantHandleException:
                    raise
                except Exception as exc:
                    # What the Redis runtime raises too: one contract for both runtimes.
                    raise RemoteHandlerError(type(exc).__name__, str(exc)) from exc
                finally:
                    self._running.discard(ctx.message_id, token)

        task = asyncio.ensure_future(call())
        token.link_future(task)
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            token.cancel()
            raise TimeoutError(f"no reply from {recipient} within {timeout} s") from None
        except asyncio.CancelledError:
            token.cancel()
            raise

    async def publish_message(
        self,
        message: Any,
        topic_id: TopicId,
        *,
        sender: AgentId | None = None,
        cancellation_token: CancellationToken | None = None,
        message_id: str | None = None,
    ) -> None:
        self._idle.clear()
        await self._queue.put(
            _Publish(
                message,
                topic_id,
                sender,
                cancellation_token or CancellationToken(),
                message_id or uuid.uuid4().hex,
            )
        )

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._loop_task is not None:
            raise RuntimeStateError("runtime already started")
        self._loop_task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            for agent_id in self._registry.recipients(item.topic_id, item.sender):
                ctx = MessageContext(
                    sender=item.sender,
                    topic_id=item.topic_id,
                    is_rpc=False,
                    cancellation_token=item.token,
                    message_id=item.message_id,
                )
                task = asyncio.get_running_loop().create_task(
                    self._deliver(agent_id, item.message, ctx)
                )
                self._tasks.add(task)
                task.add_done_callback(self._task_done)
            self._queue.task_done()
            self._check_idle()

    async def _deliver(self, agent_id: AgentId, message: Any, ctx: MessageContext) -> None:
        async with self._registry.lock(agent_id):
            self._running.add(ctx.message_id, ctx.cancellation_token)
            try:
                await self._registry.deliver(agent_id, message, ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.unhandled_errors.append(exc)
                log.exception("handler_failed", agent=str(agent_id), type=type(message).__name__)
            finally:
                self._running.discard(ctx.message_id, ctx.cancellation_token)

    async def cancel_message(self, message_id: str) -> None:
        """Cancel the handlers of message ``message_id`` running now (their tokens)."""
        self._running.cancel(message_id)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._check_idle()

    def _check_idle(self) -> None:
        if not self._tasks and self._queue.empty() and self._queue._unfinished_tasks == 0:  # type: ignore[attr-defined]
            self._idle.set()

    async def stop_when_idle(self) -> None:
        """Wait until every published message has been handled (including what handlers
        published meanwhile), then stop."""
        while True:
            await self._idle.wait()
            await asyncio.sleep(0)  # let done-callbacks of just-finished tasks run
            if self._idle.is_set() and not self._tasks and self._queue.empty():
                break
        await self.stop()

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._registry.close_all()


SingleThreadedAgentRuntime = InProcessRuntime
