"""Test doubles for the Assistant's unit tests, named as fakes: the model
(``ScriptedFakeChatClient`` from the assistant package) and an executor that answers from a
script, on the in-process runtime. ``Recorder`` collects what the Assistant publishes and
lets tests wait on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from agent_streams import (
    InProcessRuntime,
    MessageContext,
    RoutedAgent,
    TopicId,
    message_handler,
    type_subscription,
)
from agent_streams.messages import (
    RESULTS_TOPIC,
    TASKS_TOPIC,
    ArtifactRef,
    AssistantTurn,
    CancelTask,
    ExecutionRequest,
    ExecutionResult,
    TaskRequest,
    TaskResult,
)
from agent_streams_assistant.agent import AGENT_TYPE, Assistant, AssistantConfig
from agent_streams_assistant.endings import DeadlineSweeper, Endings
from agent_streams_assistant.fake import Reply, ScriptedFakeChatClient
from agent_streams_assistant.models import ChatCompletionClient
from agent_streams_assistant.session import MemorySessionStore

# What the fake executor does with an ExecutionRequest: a result to publish, or None (silence).
Run = Callable[[ExecutionRequest], ExecutionResult | None]

WAIT_S = 10.0


FAKE_DESCRIPTION = "prices.csv (3 bytes, comma-separated, 1 rows x 2 columns), columns: ..."
"""What the fake executor answers a turn-0 request (the input files' description) with."""


def code_reply(code: str, text: str = "Here is the script:") -> str:
    return f"{text}\n\n```python\n{code}\n```\n"


def ran(
    exit_code: int = 0,
    output: str = "",
    *,
    stderr: str = "",
    artifacts: Sequence[str] = (),
    timed_out: bool = False,
) -> Callable[[ExecutionRequest], ExecutionResult]:
    """A fake run's outcome, for the request it answers."""

    def run(request: ExecutionRequest) -> ExecutionResult:
        return ExecutionResult(
            turn=request.turn,
            request_id=f"fake-{request.turn}",
            exit_code=exit_code,
            output=output or stderr,
            stdout=output,
            stderr=stderr,
            timed_out=timed_out,
            artifacts=[
                ArtifactRef(name=name, size=3, digest=f"{i:064x}")
                for i, name in enumerate(artifacts, 1)
            ],
        )

    return run


def silent(request: ExecutionRequest) -> None:
    return None


@dataclass
class Recorder:
    """Everything published on the topics the Assistant writes, per kind."""

    results: list[TaskResult] = field(default_factory=list)
    turns: list[AssistantTurn] = field(default_factory=list)
    described: list[ExecutionRequest] = field(default_factory=list)
    """Turn-0 requests: the Assistant asking for its input files' description."""
    requests: list[ExecutionRequest] = field(default_factory=list)
    cancels: list[CancelTask] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    requested: asyncio.Event = field(default_factory=asyncio.Event)

    async def result(self) -> TaskResult:
        await asyncio.wait_for(self.ended.wait(), WAIT_S)
        return self.results[0]


@type_subscription("outcomes")
@type_subscription("events")
class RecorderAgent(RoutedAgent):
    def __init__(self, record: Recorder) -> None:
        super().__init__("records the Assistant's output for tests")
        self._record = record

    @message_handler
    async def on_result(self, message: TaskResult, ctx: MessageContext) -> None:
        self._record.results.append(message)
        self._record.ended.set()

    @message_handler
    async def on_turn(self, message: AssistantTurn, ctx: MessageContext) -> None:
        self._record.turns.append(message)


@type_subscription("code")
class FakeExecutor(RoutedAgent):
    """Answers each ExecutionRequest with the next scripted run (the last one repeats);
    ``duplicate`` publishes every result twice with one message id (a redelivery)."""

    def __init__(self, record: Recorder, runs: list[Run], duplicate: bool) -> None:
        super().__init__("a fake executor")
        self._record = record
        self._runs = runs
        self._duplicate = duplicate

    @message_handler
    async def on_request(self, message: ExecutionRequest, ctx: MessageContext) -> None:
        if message.turn == 0:  # the input files' description: answered, not a scripted run
            self._record.described.append(message)
            result: ExecutionResult | None = ExecutionResult(
                turn=0, request_id="fake-0", exit_code=0, output=FAKE_DESCRIPTION
            )
        else:
            self._record.requests.append(message)
            self._record.requested.set()
            run = self._runs[min(len(self._record.requests), len(self._runs)) - 1]
            result = run(message)
        if result is None:
            return
        for _ in range(2 if self._duplicate else 1):
            await self.publish_message(
                result,
                TopicId(RESULTS_TOPIC, self.id.key),
                message_id=f"result-of-{ctx.message_id}",
            )

    @message_handler
    async def on_cancel(self, message: CancelTask, ctx: MessageContext) -> None:
        self._record.cancels.append(message)


@dataclass
class Harness:
    runtime: InProcessRuntime
    store: MemorySessionStore
    model: ScriptedFakeChatClient
    record: Recorder

    async def submit(
        self, task: TaskRequest, session: str = "s1", *, message_id: str = "task-1"
    ) -> None:
        await self.runtime.publish_message(
            task, TopicId(TASKS_TOPIC, session), message_id=message_id
        )

    async def cancel(self, session: str = "s1", reason: str = "user pressed ^C") -> None:
        await self.runtime.publish_message(CancelTask(reason=reason), TopicId(TASKS_TOPIC, session))


@asynccontextmanager
async def harness(
    replies: Sequence[Reply],
    runs: Sequence[Run] = (silent,),
    *,
    config: AssistantConfig | None = None,
    duplicate_results: bool = False,
    model_latency_s: float = 0.0,
    model: ChatCompletionClient | None = None,
) -> AsyncIterator[Harness]:
    """Assistant + fake executor + recorder on an in-process runtime, with a deadline
    sweeper every 20 ms; stops everything on exit."""
    runtime = InProcessRuntime()
    store = MemorySessionStore()
    scripted = ScriptedFakeChatClient(replies, latency_s=model_latency_s)
    client: ChatCompletionClient = model or scripted
    record = Recorder()
    endings = Endings(store, runtime, AGENT_TYPE)
    await Assistant.register(runtime, AGENT_TYPE, lambda: Assistant(client, store, endings, config))
    await FakeExecutor.register(
        runtime, "executor", lambda: FakeExecutor(record, list(runs), duplicate_results)
    )
    await RecorderAgent.register(runtime, "recorder", lambda: RecorderAgent(record))
    stop = asyncio.Event()
    runtime.start()
    sweeping = asyncio.create_task(DeadlineSweeper(store, endings, interval_s=0.02).run(stop))
    try:
        yield Harness(runtime, store, scripted, record)
    finally:
        stop.set()
        await sweeping
        await runtime.stop()
