"""A Redis Sentinel failover in the middle of a run: the services, the client and the runtime
reach Redis through a ``redis+sentinel://`` URL (agent_streams.connection), the master is
killed with SIGKILL while tasks run, the sentinels promote the replica, and every task still
ends, each once.

Real processes on loopback ports (tests/integration/_sentinel.py: master, replica, three
sentinels); the real Assistant (scripted FAKE model) and the real Executor with its canceller
(local backend), each on its own runtime, as in the services' main(). ``SENTINEL_TASKS`` tasks
(default 500) of one code turn each are submitted and replicated (``WAIT``) before the kill, a
third of them have ended when it comes.

What Redis itself can lose: replication is asynchronous, so writes the old master acknowledged
in its last moment and had not yet sent to the replica are gone after the failover (the
"un-replicated tail"). The test measures it (the replica's offset behind the master's just before
the kill, in bytes) and counts what it did to tasks: a lost hand-over between the services (an
ExecutionRequest, a result) stalls its session until the task's deadline, when the assistant's
deadline sweep ends it with status ``deadline``; nothing is lost silently. Required: every task
ends (none lost), none with two different results (none ended twice).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest
import redis

from agent_streams.artifacts import ArtifactStore
from agent_streams.client import AgentStreamsClient
from agent_streams.connection import redis_client
from agent_streams.keys import Keys
from agent_streams.messages import OUTCOMES_TOPIC
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from agent_streams_assistant.agent import AGENT_TYPE, Assistant
from agent_streams_assistant.endings import DeadlineSweeper, Endings
from agent_streams_assistant.fake import ScriptedFakeChatClient
from agent_streams_assistant.models import LLMMessage
from agent_streams_assistant.redis_store import RedisSessionStore
from agent_streams_executor.agent import AGENT_TYPE as EXECUTOR_TYPE
from agent_streams_executor.agent import (
    CANCELLER_TYPE,
    Executor,
    ExecutorCanceller,
    RunRegistry,
)
from agent_streams_executor.executors.local import LocalExecutorPool
from agent_streams_executor.main import canceller_settings
from agent_streams_executor.settings import ExecutorSettings

from ._sentinel import SentinelDeployment, sentinel_deployment

pytestmark = [pytest.mark.redis, pytest.mark.timeout(900)]


def _healthcheck() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "deploy" / "healthcheck.py"
    spec = importlib.util.spec_from_file_location("agent_streams_healthcheck", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HEALTHCHECK = _healthcheck()

TASKS = int(os.environ.get("SENTINEL_TASKS", "500"))
TASK_DEADLINE_S = 120


def model_reply(conversation: Sequence[LLMMessage]) -> str:
    """The scripted FAKE model: the task's number printed by code, then the answer."""
    task, last = conversation[1].content, conversation[-1].content
    if "ran:" in last or "exit code" in last.lower():
        return "Done."
    n = task.rsplit(" ", 1)[-1]
    return f"Running it:\n\n```python\nprint('ran:', {n})\n```\n"


def settings(d: SentinelDeployment, namespace: str, consumer: str) -> RuntimeSettings:
    return RuntimeSettings(
        redis_url=d.url,
        namespace=namespace,
        consumer_name=consumer,
        read_block_ms=200,
        retry_backoff_ms=50,
        claim_idle_ms=4000,
        heartbeat_ms=1000,
        drain_grace_s=5,
    )


async def outcomes_until_all(
    url: str, keys: Keys, sessions: set[str], seen: dict[str, list[str]], stop_at: int
) -> None:
    """Read the outcomes topic (blocking reads; they ride out the failover) until ``stop_at``
    of ``sessions`` have a result; ``seen``: session -> the result bodies read."""
    cursor = "0-0"
    conn = redis_client(url, protocol=2, socket_connect_timeout=5)
    try:
        while sum(1 for s in sessions if seen.get(s)) < stop_at:
            try:
                rows = await conn.xread({keys.topic(OUTCOMES_TOPIC): cursor}, block=1000)
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
                await asyncio.sleep(0.2)  # the master is gone: the next read finds the new one
                continue
            for _stream, entries in rows:
                for entry_id, fields in entries:
                    cursor = entry_id.decode()
                    source = fields[b"source"].decode()
                    seen.setdefault(source, []).append(fields[b"body"].decode())
    finally:
        await conn.aclose()


async def test_a_sentinel_failover_during_a_run_loses_no_task_and_ends_none_twice(
    tmp_path: Path,
) -> None:
    with sentinel_deployment() as d:
        namespace = f"sentinel-{uuid.uuid4().hex[:8]}"
        keys = Keys(namespace)
        assistant = RedisStreamsRuntime(settings(d, namespace, "a1"))
        store = RedisSessionStore(assistant.redis, assistant.keys, ttl_s=3600)
        model = ScriptedFakeChatClient([model_reply], loop=True)
        endings = Endings(store, assistant, AGENT_TYPE)
        await Assistant.register(assistant, AGENT_TYPE, lambda: Assistant(model, store, endings))
        executor_settings = ExecutorSettings(
            backend="local",
            local_root_dir=tmp_path / "executor",
            warm_spares=0,
            preload_modules=[],
            runtime=settings(d, namespace, "e1"),
        )
        executor = RedisStreamsRuntime(executor_settings.runtime)
        artifacts = ArtifactStore(executor.redis, executor.keys, ttl_s=3600)
        runs = RunRegistry(executor.redis, executor.keys, result_ttl_s=3600)
        pool = LocalExecutorPool(executor_settings)
        await pool.start()
        await Executor.register(executor, EXECUTOR_TYPE, lambda: Executor(pool, artifacts, runs))
        canceller = RedisStreamsRuntime(canceller_settings(executor_settings))
        await ExecutorCanceller.register(canceller, CANCELLER_TYPE, lambda: ExecutorCanceller(runs))
        for rt in (assistant, executor, canceller):
            rt.start()
            await rt.ready()
        stop = asyncio.Event()
        sweeping = asyncio.create_task(DeadlineSweeper(store, endings, interval_s=0.2).run(stop))
        seen: dict[str, list[str]] = {}
        try:
            async with AgentStreamsClient(settings(d, namespace, "client")) as client:
                sessions = [
                    await client.submit(f"task {i}", timeout_s=TASK_DEADLINE_S)
                    for i in range(TASKS)
                ]
            old_master = d.master_port()
            with redis.Redis(port=old_master) as m:
                replicated = m.wait(1, 10_000)  # every submitted task is on the replica too
            assert replicated == 1

            # a third of the tasks end, then the master dies mid-run
            await outcomes_until_all(d.url, keys, set(sessions), seen, TASKS // 3)
            with redis.Redis(port=old_master) as m:
                master_offset = int(m.info("replication")["master_repl_offset"])
            replica_port = next(p for p in d.data_ports if p != old_master)
            with redis.Redis(port=replica_port) as r:
                replica_offset = int(r.info("replication")["slave_repl_offset"])
            ended_at_kill = sum(1 for s in sessions if seen.get(s))
            killed = time.monotonic()
            d.kill(old_master)
            new_master = await asyncio.to_thread(d.wait_for_failover, old_master)
            failover_s = time.monotonic() - killed
            assert new_master == replica_port
            # the services' container probe follows the sentinels to the new master, where
            # this process's runtimes are connected again once they have written there
            probe_url = await asyncio.to_thread(HEALTHCHECK.master_url, d.url)
            assert probe_url == f"redis://127.0.0.1:{new_master}/0"

            await asyncio.wait_for(
                outcomes_until_all(d.url, keys, set(sessions), seen, TASKS),
                TASK_DEADLINE_S + 180,
            )
            assert await asyncio.to_thread(HEALTHCHECK.check, d.url) is None
            # each session's log: its results, by content (a republished ending carries the
            # same body: announcing an ending twice is not ending twice)
            async with AgentStreamsClient(settings(d, namespace, "client")) as client:
                logged: dict[str, set[str]] = defaultdict(set)
                for s in sessions:
                    for event in await client.replay(s):
                        if event.type == "TaskResult":
                            logged[s].add(event.message.model_dump_json())
        finally:
            stop.set()
            await sweeping
            for rt in (assistant, executor, canceller):
                await rt.stop()
            await pool.aclose()

    statuses = Counter(json.loads(seen[s][0])["status"] for s in sessions if seen.get(s))
    lost = [s for s in sessions if not seen.get(s)]
    twice = [s for s in sessions if len({json.loads(b)["status"] for b in seen.get(s, [])}) > 1]
    twice += [s for s in sessions if len(logged.get(s, ())) > 1]
    print(
        f"\nSentinel failover: {TASKS} tasks, master killed (SIGKILL) after {ended_at_kill} "
        f"had ended; new master in {failover_s:.1f} s; replica behind the master by "
        f"{master_offset - replica_offset} bytes just before the kill (the un-replicated "
        f"tail Redis can lose); endings: {dict(statuses)}; lost: {len(lost)}; "
        f"ended twice: {len(twice)}"
    )
    assert lost == []
    assert twice == []
    # a task not completed can only be one a lost hand-over stalled until its deadline
    assert set(statuses) <= {"completed", "deadline"}
