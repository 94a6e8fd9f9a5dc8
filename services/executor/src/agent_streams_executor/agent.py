"""The Executor agents: run a session's code in its sandbox, answer with the result.

One ``Executor`` instance per session (the topic source is the agent key)::

    code     ExecutionRequest  input files in, blocks run, artifacts stored, result published
    code     CancelTask        the session is over: this replica's sandbox for it goes
    results  ExecutionResult   published with the session as the topic source

A session's files carry over between its turns whichever replica takes them: a file manifest
per session in Redis, recorded after every run and restored into a sandbox that lacks it (see
``session_files.py``). Its reads and writes ride in the pipelines that set and clear the
running mark, so a turn on a warm, up-to-date sandbox costs no extra round trip.

Safe to re-run: the result is stored under ``Keys.done("executor", message_id)`` before it is
published, so a redelivered request (the replica died after running it) is answered from the
store instead of running the code again.

Cancellation must not wait: the runtime hands one session's messages to its ``Executor`` one at
a time, so a ``CancelTask`` queued behind a running request would arrive only after the code
finished. A second agent type, ``ExecutorCanceller`` (its own consumer group on the code topic),
takes the ``CancelTask`` at once, looks up which request the session is running
(``Keys.state("executor", session, "running")``, written by whichever replica runs it) and
publishes that message id on the runtime's cancel channel. The replica running it cancels the
handler's token, which kills the code (see ``channel.py``). Register the canceller on a runtime
of its own (``main.py`` does): a runtime keeps one cancellation token per message id, and both
agent types handle every message of the code topic.

A request the executors give up on (dead-lettered: its handler failed ``max_deliveries`` times,
or the replicas holding it kept dying) is still answered: ``answer_dead_letters`` publishes an
``ExecutionResult`` (exit code 1, the reason) for it, so the assistant takes its next turn now
instead of waiting for the task's deadline.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog
from redis.asyncio.client import Pipeline

from agent_streams import MessageContext, RoutedAgent, TopicId, message_handler, type_subscription
from agent_streams.artifacts import ArtifactStore
from agent_streams.keys import Keys
from agent_streams.messages import (
    CODE_TOPIC,
    RESULTS_TOPIC,
    ArtifactRef,
    CancelTask,
    ExecutionRequest,
    ExecutionResult,
)
from agent_streams.streams import DeadLetter, RedisStreamsRuntime
from agent_streams.telemetry import span

from .executors.base import CodeResult
from .executors.pool import ExecutorPool
from .extraction import from_specs
from .metrics import EXECUTION_SECONDS, EXECUTIONS
from .results import artifact_refs, to_execution_result
from .session_files import SessionFiles

__all__ = [
    "AGENT_TYPE",
    "CANCELLER_TYPE",
    "Executor",
    "ExecutorCanceller",
    "RunRegistry",
    "answer_dead_letters",
    "gave_up_result",
]

AGENT_TYPE = "executor"
CANCELLER_TYPE = "executor-cancel"

log = structlog.get_logger("agent_streams_executor")


@dataclass(frozen=True, slots=True)
class RunRegistry:
    """What Redis knows about the executor's runs: running request per session, stored results."""

    redis: aioredis.Redis
    keys: Keys
    result_ttl_s: int

    async def stored_result(self, message_id: str) -> ExecutionResult | None:
        raw = await self.redis.get(self.keys.done(AGENT_TYPE, message_id))
        return None if raw is None else ExecutionResult.model_validate_json(raw)

    async def store_result(self, message_id: str, result: ExecutionResult) -> None:
        key = self.keys.done(AGENT_TYPE, message_id)
        await self.redis.set(key, result.model_dump_json(), ex=self.result_ttl_s)

    async def count_run(self, message_id: str) -> int:
        """Count one run of a request's code (``done:executor:<id>.runs``): a request is run
        again only when no result was stored (the replica died mid-run); the chaos suite reads
        these counters. Returns the count so far."""
        key = self.keys.done(AGENT_TYPE, f"{message_id}.runs")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.result_ttl_s)
            count, _ = await pipe.execute()
        return int(count)

    async def mark_running(self, session: str, message_id: str, ttl_s: float) -> None:
        key = self.keys.state(AGENT_TYPE, session, "running")
        await self.redis.set(key, message_id, ex=max(1, int(ttl_s)))

    def mark_running_in(self, pipe: Pipeline, session: str, message_id: str, ttl_s: float) -> None:
        """As :meth:`mark_running`, queued on ``pipe``."""
        pipe.set(self.keys.state(AGENT_TYPE, session, "running"), message_id, ex=max(1, int(ttl_s)))

    async def clear_running(self, session: str) -> None:
        await self.redis.delete(self.keys.state(AGENT_TYPE, session, "running"))

    def clear_running_in(self, pipe: Pipeline, session: str) -> None:
        """As :meth:`clear_running`, queued on ``pipe``."""
        pipe.delete(self.keys.state(AGENT_TYPE, session, "running"))

    async def running(self, session: str) -> str | None:
        raw = await self.redis.get(self.keys.state(AGENT_TYPE, session, "running"))
        return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)


@type_subscription(CODE_TOPIC)
class Executor(RoutedAgent):
    """Runs a session's code blocks in that session's sandbox.

    Args:
        pool: the sandboxes, one per session (Docker, or local where there is no Docker).
        artifacts: where input files come from and produced files go.
        runs: stored results and running requests.
        files: the sessions' file manifests (default: over ``artifacts``).
    """

    def __init__(
        self,
        pool: ExecutorPool,
        artifacts: ArtifactStore,
        runs: RunRegistry,
        files: SessionFiles | None = None,
    ) -> None:
        super().__init__("Runs code blocks in a locked-down sandbox per session.")
        self._pool, self._artifacts, self._runs = pool, artifacts, runs
        self._files = files or SessionFiles(artifacts, AGENT_TYPE)

    @property
    def session(self) -> str:
        return self.id.key

    @message_handler
    async def on_request(self, message: ExecutionRequest, ctx: MessageContext) -> None:
        reply = await self._runs.stored_result(ctx.message_id)
        if reply is None:
            await self._runs.count_run(ctx.message_id)
            reply = await self._execute(message, ctx)
            await self._runs.store_result(ctx.message_id, reply)
        else:
            log.info("execution_replayed", session=self.session, request=ctx.message_id)
        await self.publish_message(
            reply, TopicId(RESULTS_TOPIC, self.session), message_id=f"{ctx.message_id}.result"
        )

    @message_handler
    async def on_cancel(self, message: CancelTask, ctx: MessageContext) -> None:
        # Queued behind this session's run, so the code is already over (the canceller stopped
        # it): what is left is the sandbox, which the ended session no longer needs.
        await self._pool.close_session(self.session)
        log.info("session_closed", session=self.session, reason=message.reason[:200])

    async def _execute(self, message: ExecutionRequest, ctx: MessageContext) -> ExecutionResult:
        started = time.perf_counter()
        timeout_s = self._pool.settings.clamp_timeout(message.options.timeout_s)
        with span("execute", tracer="agent_streams_executor") as current:
            files, problems = await self._artifacts.materialise(message.files)
            if problems:
                text = "Input files could not be placed, nothing was run:\n" + "\n".join(problems)
                result, refs = CodeResult(1, text, stderr=text), list[ArtifactRef]()
            else:
                result, refs = await self._run(message, ctx, files, timeout_s)
            current.set_attribute("process.exit.code", result.exit_code)
            current.set_attribute("agent_streams.turn", message.turn)
        elapsed_s = time.perf_counter() - started
        EXECUTIONS.labels(str(result.exit_code)).inc()
        EXECUTION_SECONDS.observe(elapsed_s)
        log.info(
            "code_executed",
            session=self.session,
            turn=message.turn,
            blocks=len(message.code_blocks),
            code_bytes=sum(len(block.code) for block in message.code_blocks),
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            artifacts=len(refs),
            artifact_bytes=sum(ref.size for ref in refs if ref.stored),
            duration_ms=round(elapsed_s * 1000, 1),
        )
        return to_execution_result(
            result, turn=message.turn, request_id=ctx.message_id, artifacts=refs
        )

    async def _run(
        self,
        message: ExecutionRequest,
        ctx: MessageContext,
        inputs: Mapping[str, bytes],
        timeout_s: float,
    ) -> tuple[CodeResult, list[ArtifactRef]]:
        """Run with the session's files in place; the manifest and the running mark in the
        same pipelines (one before, one after)."""
        turn = await self._files.turn(self.session, inputs)
        redis = self._runs.redis
        async with redis.pipeline(transaction=False) as pipe:
            self._runs.mark_running_in(pipe, self.session, ctx.message_id, timeout_s + 60)
            read = turn.queue_read(pipe)
            read(await pipe.execute())
        try:
            result = await self._pool.run(
                self.session,
                from_specs(message.code_blocks),
                ctx.cancellation_token,
                timeout_s=timeout_s,
                network=message.options.network,
                sync=turn,
            )
            refs = await artifact_refs(self._artifacts, result.files)
        except BaseException:
            await self._runs.clear_running(self.session)
            raise
        async with redis.pipeline(transaction=False) as pipe:
            self._runs.clear_running_in(pipe, self.session)
            recorded = turn.queue_record(pipe, result, refs)
            recorded(await pipe.execute())
        if turn.notes:
            result = dataclasses.replace(result, notes=(*result.notes, *turn.notes))
        return result, refs


@type_subscription(CODE_TOPIC)
class ExecutorCanceller(RoutedAgent):
    """Stops a session's running code as soon as its ``CancelTask`` arrives (any replica)."""

    def __init__(self, runs: RunRegistry) -> None:
        super().__init__("Stops a session's running code when the session is cancelled.")
        self._runs = runs

    @message_handler
    async def on_cancel(self, message: CancelTask, ctx: MessageContext) -> None:
        running = await self._runs.running(self.id.key)
        if running is not None:
            await self.runtime.cancel_message(running)
        log.info("cancel_forwarded", session=self.id.key, running=running)

    @message_handler
    async def on_request(self, message: ExecutionRequest, ctx: MessageContext) -> None:
        """Requests are the ``Executor``'s; this group only acknowledges them."""


def gave_up_result(dead: DeadLetter) -> ExecutionResult | None:
    """The answer to an ``ExecutionRequest`` the executors gave up on (None for anything else:
    other agent types' dead letters, bad input, the canceller's group)."""
    if dead.group != AGENT_TYPE or not dead.source:
        return None
    if not isinstance(dead.message, ExecutionRequest):
        return None
    text = (
        f"The executor gave up on this code ({dead.reason}); it may not have run to the end. "
        "If the code itself can crash or exhaust the sandbox (memory, output, processes), "
        "change it; otherwise running it again may work."
    )
    return ExecutionResult(
        turn=dead.message.turn, request_id=dead.message_id, exit_code=1, output=text, stderr=text
    )


def answer_dead_letters(runtime: RedisStreamsRuntime, runs: RunRegistry) -> None:
    """Answer every ``ExecutionRequest`` this runtime dead-letters (see the module docstring);
    the answer is stored like a run's result, so a late redelivery gets the same one."""

    async def answer(dead: DeadLetter) -> None:
        result = gave_up_result(dead)
        if result is None or dead.source is None:
            return
        await runs.store_result(dead.message_id, result)
        await runtime.publish_message(
            result, TopicId(RESULTS_TOPIC, dead.source), message_id=f"{dead.message_id}.result"
        )
        log.warning("request_given_up", session=dead.source, request=dead.message_id)

    runtime.add_dead_letter_listener(answer)
