"""The real Executor agents on the real Redis runtime (local backend: no Docker needed here).

Request -> result with artifacts; a redelivered request is answered from the stored result, not
re-run; missing input files are a clear result; a ``CancelTask`` kills the running code at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent_streams import TopicId
from agent_streams.artifacts import ArtifactStore
from agent_streams.keys import Keys
from agent_streams.messages import (
    CODE_TOPIC,
    CancelTask,
    CodeBlockSpec,
    ExecutionOptions,
    ExecutionRequest,
    ExecutionResult,
    InputFile,
)
from agent_streams.service import know_contract
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from agent_streams_executor.agent import (
    AGENT_TYPE,
    CANCELLER_TYPE,
    Executor,
    ExecutorCanceller,
    RunRegistry,
    answer_dead_letters,
)
from agent_streams_executor.executors.local import LocalExecutorPool
from agent_streams_executor.settings import ExecutorSettings
from tests.integration._recorder import results_recorder

pytestmark = pytest.mark.redis

WAIT_S = 30.0


@dataclass
class Results:
    seen: list[ExecutionResult] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, result: ExecutionResult) -> None:
        self.seen.append(result)
        self.arrived.set()

    async def next(self) -> ExecutionResult:
        await asyncio.wait_for(self.arrived.wait(), WAIT_S)
        self.arrived.clear()
        return self.seen[-1]


@dataclass
class Harness:
    runtime: RedisStreamsRuntime
    client: RedisStreamsRuntime
    results: Results
    store: ArtifactStore
    pool: LocalExecutorPool
    runs: RunRegistry

    async def request(self, session: str, code: str, *, message_id: str, **kw: object) -> None:
        blocks = [CodeBlockSpec(code=code)]
        message = ExecutionRequest(turn=1, code_blocks=blocks, **kw)  # type: ignore[arg-type]
        await self.client.publish_message(
            message, TopicId(CODE_TOPIC, session), message_id=message_id
        )


async def poll_until(predicate: Callable[[], object], timeout_s: float = WAIT_S) -> None:
    """A bounded poll, for states nothing announces (a file appears, a process is gone)."""
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def start_harness(
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    *,
    pool_class: type[LocalExecutorPool] = LocalExecutorPool,
    **runtime_settings: Any,
) -> AsyncIterator[Harness]:
    """The executor wired as main.py wires it (canceller, dead-letter answers) plus a client
    runtime that records the results; ``runtime_settings`` override the runtimes' settings."""

    def settings(name: str) -> RuntimeSettings:
        return RuntimeSettings(
            redis_url=redis_url,
            namespace=namespace,
            consumer_name=name,
            read_block_ms=100,
            retry_backoff_ms=10,
            drain_grace_s=5,
            **runtime_settings,
        )

    results = Results()

    executor_settings = ExecutorSettings(
        backend="local", local_root_dir=tmp_path / "sessions", timeout_s=20
    )
    runtime = RedisStreamsRuntime(settings("executor-1"))
    store = ArtifactStore(runtime.redis, runtime.keys, ttl_s=600)
    runs = RunRegistry(runtime.redis, runtime.keys, result_ttl_s=600)
    pool = pool_class(executor_settings)
    await pool.start()
    await Executor.register(runtime, AGENT_TYPE, lambda: Executor(pool, store, runs))
    answer_dead_letters(runtime, runs)
    canceller = RedisStreamsRuntime(settings("executor-1-cancel"))  # as main.py does
    know_contract(canceller)
    await ExecutorCanceller.register(canceller, CANCELLER_TYPE, lambda: ExecutorCanceller(runs))
    client = RedisStreamsRuntime(settings("client"))
    recorder = results_recorder(results.add)
    await recorder.register(client, "recorder", recorder)
    try:
        for started in (runtime, canceller, client):
            started.start()
            await started.ready()
        yield Harness(runtime, client, results, store, pool, runs)
    finally:
        for stopped in (client, canceller, runtime):
            await stopped.stop()
        await pool.aclose()


@pytest.fixture
async def harness(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[Harness]:
    async with start_harness(redis_url, namespace, tmp_path) as started:
        yield started


async def test_a_request_is_answered_with_its_result_and_artifacts(harness: Harness) -> None:
    await harness.request(
        "s1", "print(6 * 7)\nopen('out.csv', 'w').write('a,b\\n1,2\\n')", message_id="task-1.1.code"
    )
    result = await harness.results.next()
    assert (result.exit_code, result.output, result.request_id) == (0, "42\n", "task-1.1.code")
    [ref] = result.artifacts
    assert (ref.name, ref.media_type) == ("out.csv", "text/csv")
    assert await harness.store.get(ref.digest) == b"a,b\n1,2\n"


async def test_a_redelivered_request_is_answered_from_the_store_not_rerun(
    harness: Harness,
) -> None:
    code = (
        "import os\n"
        "n = len(open('runs.txt').readlines()) if os.path.exists('runs.txt') else 0\n"
        "open('runs.txt', 'a').write('run\\n')\nprint(n + 1)"
    )
    await harness.request("s2", code, message_id="task-2.1.code")
    first = await harness.results.next()
    await harness.request("s2", code, message_id="task-2.1.code")  # the same message again
    again = await harness.results.next()
    assert first.output == again.output == "1\n"
    await harness.request("s2", code, message_id="task-2.2.code")  # a new request does run
    assert (await harness.results.next()).output == "2\n"


async def test_missing_input_files_are_a_clear_result(harness: Harness) -> None:
    missing = InputFile(name="data.csv", digest="f" * 64)
    await harness.request("s3", "print('ran')", message_id="task-3.1.code", files=[missing])
    result = await harness.results.next()
    assert result.exit_code == 1
    assert "Input files could not be placed" in result.output
    assert "data.csv" in result.output
    assert "ran" not in result.output


async def test_input_files_reach_the_code(harness: Harness) -> None:
    uploaded = await harness.store.input_file("data.csv", b"x\n3\n4\n")
    code = "print(sum(int(v) for v in open('data.csv').read().split()[1:]))"
    await harness.request("s4", code, message_id="task-4.1.code", files=[uploaded])
    assert (await harness.results.next()).output == "7\n"


async def test_cancel_task_kills_the_running_code_at_once(
    harness: Harness, tmp_path: Path, redis_client: aioredis.Redis, namespace: str
) -> None:
    pid_file = tmp_path / "pid"
    code = (
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\nprint('finished')"
    )
    await harness.request(
        "s5", code, message_id="task-5.1.code", options=ExecutionOptions(timeout_s=60)
    )
    await poll_until(lambda: pid_file.exists() and pid_file.read_text())
    running = Keys(namespace).state(AGENT_TYPE, "s5", "running")
    assert await redis_client.get(running) == b"task-5.1.code"
    started = time.monotonic()
    await harness.client.publish_message(CancelTask(), TopicId(CODE_TOPIC, "s5"))
    pid = int(pid_file.read_text())

    def dead() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    await poll_until(dead, timeout_s=10)
    assert time.monotonic() - started < 10  # not the 60 s the code wanted
    await poll_until(lambda: "s5" not in harness.pool.sessions, timeout_s=10)
    assert harness.results.seen == []  # a cancelled run publishes nothing


class BrokenPool(LocalExecutorPool):
    """Failure injection: every run raises, as when the sandbox engine keeps failing."""

    async def run(self, *args: object, **kwargs: object) -> Any:
        raise RuntimeError("the sandbox engine is gone")


async def test_a_request_given_up_on_is_still_answered(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    """Dead-lettered after max_deliveries: the assistant gets an ExecutionResult saying so
    (exit code 1, the reason) instead of waiting for the task's deadline."""
    async with start_harness(
        redis_url, namespace, tmp_path, pool_class=BrokenPool, max_deliveries=2
    ) as harness:
        request = ExecutionRequest(turn=3, code_blocks=[CodeBlockSpec(code="print(1)")])
        await harness.client.publish_message(
            request, TopicId(CODE_TOPIC, "gone-1"), message_id="task-9.3.code"
        )
        result = await harness.results.next()
        assert (result.turn, result.request_id, result.exit_code) == (3, "task-9.3.code", 1)
        assert "The executor gave up on this code (handler failed 2 times" in result.output
        assert "the sandbox engine is gone" in result.stderr
        [(_, dead)] = await redis_client.xrange(Keys(namespace).dead_letters)
        assert dead[b"id"] == b"task-9.3.code"
        # stored like a run's result: a late redelivery is answered the same way
        stored = await harness.runs.stored_result("task-9.3.code")
        assert stored == result
