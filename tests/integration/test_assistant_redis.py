"""The real Assistant agent on real Redis: session state shared by replicas, redelivery,
deadlines swept by several replicas, cancellation. The model is the scripted fake and the
executor a small fake agent (named as such): no LLM or sandbox is needed here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent_streams import MessageContext, RoutedAgent, TopicId, message_handler, type_subscription
from agent_streams.keys import Keys
from agent_streams.messages import (
    RESULTS_TOPIC,
    TASKS_TOPIC,
    AssistantTurn,
    CancelTask,
    ExecutionRequest,
    ExecutionResult,
    TaskRequest,
    TaskResult,
)
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from agent_streams_assistant.agent import AGENT_TYPE, Assistant
from agent_streams_assistant.endings import DeadlineSweeper, Endings
from agent_streams_assistant.fake import Reply, ScriptedFakeChatClient
from agent_streams_assistant.models import (
    CancellationTokenLike,
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from agent_streams_assistant.redis_store import RedisSessionStore
from agent_streams_assistant.session import SessionState

pytestmark = pytest.mark.redis

WAIT_S = 30.0
SESSION = "sess-1"
CODE = "Here it is:\n\n```python\nprint(6 * 7)\n```\n"


def exit_with(code: int, output: str) -> Callable[[ExecutionRequest], ExecutionResult]:
    def run(request: ExecutionRequest) -> ExecutionResult:
        return ExecutionResult(
            turn=request.turn, request_id=f"fake-{request.turn}", exit_code=code, output=output
        )

    return run


@dataclass
class Seen:
    """What the fake executor and the recorder saw, with events to wait on."""

    requests: list[ExecutionRequest] = field(default_factory=list)
    cancels: list[CancelTask] = field(default_factory=list)
    results: list[TaskResult] = field(default_factory=list)
    turns: list[AssistantTurn] = field(default_factory=list)
    requested: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    runs: list[Callable[[ExecutionRequest], ExecutionResult]] = field(default_factory=list)

    async def result(self) -> TaskResult:
        await asyncio.wait_for(self.ended.wait(), WAIT_S)
        return self.results[0]


def probe_classes(seen: Seen) -> tuple[type[RoutedAgent], type[RoutedAgent]]:
    @type_subscription("code")
    class FakeExecutor(RoutedAgent):
        """Answers with ``seen.runs`` in order (silent once they run out)."""

        def __init__(self) -> None:
            super().__init__("a fake executor")

        @message_handler
        async def on_request(self, message: ExecutionRequest, ctx: MessageContext) -> None:
            seen.requests.append(message)
            seen.requested.set()
            if len(seen.requests) <= len(seen.runs):
                result = seen.runs[len(seen.requests) - 1](message)
                await self.publish_message(result, TopicId(RESULTS_TOPIC, self.id.key))

        @message_handler
        async def on_cancel(self, message: CancelTask, ctx: MessageContext) -> None:
            seen.cancels.append(message)
            seen.cancelled.set()

    @type_subscription("outcomes")
    @type_subscription("events")
    class Recorder(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("records what the assistant publishes")

        @message_handler
        async def on_result(self, message: TaskResult, ctx: MessageContext) -> None:
            seen.results.append(message)
            seen.ended.set()

        @message_handler
        async def on_turn(self, message: AssistantTurn, ctx: MessageContext) -> None:
            seen.turns.append(message)

    return FakeExecutor, Recorder


class HangingFakeModel:
    """A fake model that never answers (until its handler is cancelled)."""

    def __init__(self) -> None:
        self.called = asyncio.Event()

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationTokenLike | None = None,
    ) -> CreateResult:
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        pass


@dataclass
class Replica:
    runtime: RedisStreamsRuntime
    model: ScriptedFakeChatClient
    stop: asyncio.Event
    sweeping: asyncio.Task[None]

    async def close(self) -> None:
        self.stop.set()
        await self.sweeping
        await self.runtime.stop()


StartReplica = Callable[..., Awaitable[Replica]]


def runtime_settings(redis_url: str, namespace: str, name: str, **kw: Any) -> RuntimeSettings:
    kw.setdefault("read_block_ms", 100)
    kw.setdefault("retry_backoff_ms", 10)
    kw.setdefault("drain_grace_s", 5)
    return RuntimeSettings(redis_url=redis_url, namespace=namespace, consumer_name=name, **kw)


@pytest.fixture
async def start_replica(redis_url: str, namespace: str) -> AsyncIterator[StartReplica]:
    """Start an Assistant replica (agent + deadline sweeper) on its own runtime."""
    replicas: list[Replica] = []

    async def start(name: str, replies: Sequence[Reply], **kw: Any) -> Replica:
        client: ChatCompletionClient | None = kw.pop("model", None)
        runtime = RedisStreamsRuntime(runtime_settings(redis_url, namespace, name, **kw))
        store = RedisSessionStore(runtime.redis, runtime.keys, ttl_s=600)
        model = ScriptedFakeChatClient(replies)
        endings = Endings(store, runtime, AGENT_TYPE)
        used = client or model
        await Assistant.register(runtime, AGENT_TYPE, lambda: Assistant(used, store, endings))
        runtime.start()
        await runtime.ready()
        stop = asyncio.Event()
        sweeper = DeadlineSweeper(store, endings, interval_s=0.05)
        replica = Replica(runtime, model, stop, asyncio.create_task(sweeper.run(stop)))
        replicas.append(replica)
        return replica

    yield start
    for replica in replicas:
        if not replica.stop.is_set():
            await replica.close()


@pytest.fixture
async def probe(
    redis_url: str, namespace: str, redis_client: aioredis.Redis
) -> AsyncIterator[tuple[RedisStreamsRuntime, Seen]]:
    """The fake executor and the recorder, on a runtime of their own (the 'client side')."""
    seen = Seen()
    runtime = RedisStreamsRuntime(runtime_settings(redis_url, namespace, "probe"))
    executor_cls, recorder_cls = probe_classes(seen)
    await executor_cls.register(runtime, "executor", executor_cls)
    await recorder_cls.register(runtime, "recorder", recorder_cls)
    runtime.start()
    await runtime.ready()
    yield runtime, seen
    await runtime.stop()


async def outcomes_in_stream(redis: aioredis.Redis, keys: Keys) -> int:
    entries = await redis.xrange(keys.topic("outcomes"))
    return sum(1 for _id, fields in entries if fields[b"source"] == SESSION.encode())


async def test_code_error_fix_answer_with_state_in_redis(
    start_replica: StartReplica,
    probe: tuple[RedisStreamsRuntime, Seen],
    redis_client: aioredis.Redis,
    namespace: str,
) -> None:
    client, seen = probe
    seen.runs = [exit_with(1, "NameError: name 'x' is not defined"), exit_with(0, "42")]
    replica = await start_replica("a", [CODE, CODE, "The answer is 42."])
    await client.publish_message(TaskRequest(prompt="6 * 7?"), TopicId(TASKS_TOPIC, SESSION))
    result = await seen.result()

    assert result.status == "completed"
    assert result.answer == "The answer is 42."
    assert result.turns == 3
    assert [t.turn for t in seen.turns] == [1, 2, 3]
    assert "exit code 1, the error was:" in replica.model.calls[1][-1].content
    keys = Keys(namespace)
    history = await redis_client.lrange(keys.state(AGENT_TYPE, SESSION, "history"), 0, -1)
    assert len(history) == 7  # system, task, then (reply, feedback) x2, final reply
    assert await redis_client.exists(keys.state(AGENT_TYPE, SESSION, "ending")) == 1
    assert await redis_client.zscore(keys.deadlines(AGENT_TYPE), SESSION) is None
    assert await redis_client.ttl(keys.state(AGENT_TYPE, SESSION, "state")) > 0


async def test_a_second_replica_continues_the_session(
    start_replica: StartReplica, probe: tuple[RedisStreamsRuntime, Seen]
) -> None:
    client, seen = probe  # the executor stays silent: the test answers by hand
    first = await start_replica("first", [CODE])
    await client.publish_message(TaskRequest(prompt="6 * 7?"), TopicId(TASKS_TOPIC, SESSION))
    await asyncio.wait_for(seen.requested.wait(), WAIT_S)
    await first.close()

    second = await start_replica("second", ["It is 42."])
    result = ExecutionResult(turn=1, request_id="r1", exit_code=0, output="42")
    await client.publish_message(result, TopicId(RESULTS_TOPIC, SESSION))
    final = await seen.result()

    assert final.status == "completed"
    assert final.turns == 2
    assert len(first.model.calls) == 1
    [conversation] = second.model.calls  # the whole history came from Redis
    assert isinstance(conversation[0], SystemMessage)
    assert conversation[1] == UserMessage(content="6 * 7?", source="user")
    assert conversation[2].content == CODE
    assert conversation[3].content.startswith("exit code 0, the script ran. Output:\n42")


async def test_a_replica_killed_mid_turn_loses_nothing(
    start_replica: StartReplica, probe: tuple[RedisStreamsRuntime, Seen]
) -> None:
    client, seen = probe
    fast = {"claim_idle_ms": 400, "heartbeat_ms": 100}
    hanging = HangingFakeModel()
    doomed = await start_replica("doomed", [], model=hanging, **fast)
    await client.publish_message(TaskRequest(prompt="6 * 7?"), TopicId(TASKS_TOPIC, SESSION))
    await asyncio.wait_for(hanging.called.wait(), WAIT_S)  # the model call is under way
    doomed.runtime.settings.drain_grace_s = 0  # "kill": in-flight work is abandoned
    await doomed.close()

    survivor = await start_replica("survivor", ["42, from the survivor."], **fast)
    final = await seen.result()  # the survivor reclaims the pending TaskRequest

    assert final.status == "completed"
    assert final.answer == "42, from the survivor."
    assert final.turns == 1
    assert len(survivor.model.calls[0]) == 2  # same history, nothing doubled


async def test_redelivered_task_request_adds_no_turn(
    start_replica: StartReplica,
    probe: tuple[RedisStreamsRuntime, Seen],
    redis_client: aioredis.Redis,
    namespace: str,
) -> None:
    client, seen = probe
    seen.runs = [exit_with(0, "42")]
    replica = await start_replica("a", [CODE, "42"])
    task = TaskRequest(prompt="6 * 7?")
    for _ in range(2):
        await client.publish_message(task, TopicId(TASKS_TOPIC, SESSION), message_id="task-1")
    result = await seen.result()

    assert result.turns == 2
    assert len(replica.model.calls) == 2
    assert len(seen.requests) == 1
    assert await outcomes_in_stream(redis_client, Keys(namespace)) == 1


async def test_deadline_swept_once_by_several_replicas(
    start_replica: StartReplica,
    probe: tuple[RedisStreamsRuntime, Seen],
    redis_client: aioredis.Redis,
    namespace: str,
) -> None:
    client, seen = probe  # the executor never answers
    await start_replica("a", [CODE])
    await start_replica("b", [CODE])
    task = TaskRequest(prompt="6 * 7?", timeout_s=0.5)
    await client.publish_message(task, TopicId(TASKS_TOPIC, SESSION))
    result = await seen.result()

    assert result.status == "deadline"
    assert result.turns == 1
    assert result.error is not None
    assert "waiting for the executor" in result.error
    assert await outcomes_in_stream(redis_client, Keys(namespace)) == 1
    cancels = await redis_client.xrange(Keys(namespace).topic("code"))
    assert [f[b"type"] for _id, f in cancels] == [b"ExecutionRequest", b"CancelTask"]


async def test_cancel_over_redis_reaches_the_executor(
    start_replica: StartReplica, probe: tuple[RedisStreamsRuntime, Seen]
) -> None:
    client, seen = probe
    await start_replica("a", [CODE])
    await client.publish_message(TaskRequest(prompt="6 * 7?"), TopicId(TASKS_TOPIC, SESSION))
    await asyncio.wait_for(seen.requested.wait(), WAIT_S)
    await client.publish_message(CancelTask(reason="stop"), TopicId(TASKS_TOPIC, SESSION))
    result = await seen.result()

    assert result.status == "cancelled"
    assert result.error == "stop"
    await asyncio.wait_for(seen.cancelled.wait(), WAIT_S)  # forwarded to the executor
    assert seen.cancels == [CancelTask(reason="stop")]


async def test_claim_due_hands_each_session_to_one_sweeper(
    redis_client: aioredis.Redis, namespace: str
) -> None:
    keys = Keys(namespace)
    stores = [RedisSessionStore(redis_client, keys, ttl_s=60) for _ in range(2)]
    now = time.time()
    for i in range(6):
        state = SessionState(task_id=f"t{i}", max_turns=1, deadline=now - 1, timeout_s=1)
        await stores[0].create(f"s{i}", state, [])

    a, b = await asyncio.gather(stores[0].claim_due(now, 30), stores[1].claim_due(now, 30))
    assert sorted(a + b) == [f"s{i}" for i in range(6)]
    assert not set(a) & set(b)
    assert await stores[1].claim_due(now + 29, 30) == []  # leased
    assert len(await stores[1].claim_due(now + 31, 30)) == 6  # lease over: due again
