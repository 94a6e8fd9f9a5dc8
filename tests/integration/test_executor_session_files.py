"""A session's files across Executor replicas: two (or three) real Executor agents, each with
its own pool (local backend) and work dirs, on one real Redis.

Which replica takes a turn is chosen by running only that replica's runtime while the turn's
request is published (a consumer group gives no affinity); its pool, and so its warm sandbox,
outlives the runtime. Covered: files and input files reach any replica, deletions stay,
a warm sandbox that another replica overtook resyncs (same sandbox, not a new one), a reaped
sandbox comes back with its files, files over a cap are reported on both sides, and the common
case (same replica, warm sandbox) never reads the whole manifest.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from agent_streams import TopicId
from agent_streams.artifacts import ArtifactStore
from agent_streams.keys import Keys
from agent_streams.messages import (
    CODE_TOPIC,
    CodeBlockSpec,
    ExecutionRequest,
    ExecutionResult,
    InputFile,
)
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from agent_streams_executor.agent import AGENT_TYPE, Executor, RunRegistry
from agent_streams_executor.executors.local import LocalExecutorPool
from agent_streams_executor.session_files import GENERATION, Manifest, SessionFiles
from agent_streams_executor.settings import ExecutorSettings
from tests.integration._recorder import results_recorder

pytestmark = pytest.mark.redis

WAIT_S = 30.0
FILE_CAP = 4096


class CountingSessionFiles(SessionFiles):
    """A spy: counts full manifest reads (HGETALL), otherwise the real thing."""

    loads = 0

    async def load(self, session: str) -> Manifest:
        CountingSessionFiles.loads += 1
        return await super().load(session)


@dataclass
class Replica:
    name: str
    pool: LocalExecutorPool


@dataclass
class Cluster:
    redis_url: str
    namespace: str
    store: ArtifactStore
    client: RedisStreamsRuntime
    replicas: dict[str, Replica]
    seen: asyncio.Queue[ExecutionResult] = field(default_factory=asyncio.Queue)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def settings(self, name: str) -> RuntimeSettings:
        return RuntimeSettings(
            redis_url=self.redis_url,
            namespace=self.namespace,
            consumer_name=name,
            read_block_ms=50,
            retry_backoff_ms=10,
            drain_grace_s=5,
        )

    async def turn(
        self, replica: str, session: str, code: str, files: list[InputFile] | None = None
    ) -> ExecutionResult:
        """Run ``code`` as the session's next turn on ``replica`` (only it is reading)."""
        pool = self.replicas[replica].pool
        runtime = RedisStreamsRuntime(self.settings(replica))
        store = ArtifactStore(runtime.redis, runtime.keys, ttl_s=600, max_file_bytes=FILE_CAP)
        runs = RunRegistry(runtime.redis, runtime.keys, result_ttl_s=600)
        files_ = CountingSessionFiles(store, AGENT_TYPE)
        await Executor.register(runtime, AGENT_TYPE, lambda: Executor(pool, store, runs, files_))
        runtime.start()
        try:
            await runtime.ready()
            request = ExecutionRequest(
                turn=1, code_blocks=[CodeBlockSpec(code=code)], files=files or []
            )
            message_id = f"{session}.{next(self.ids)}.code"
            await self.client.publish_message(
                request, TopicId(CODE_TOPIC, session), message_id=message_id
            )
            result = await asyncio.wait_for(self.seen.get(), WAIT_S)
            assert result.request_id == message_id
            return result
        finally:
            await runtime.stop()


@pytest.fixture
async def cluster(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[Cluster]:
    replicas = {}
    for name in ("a", "b", "c"):
        settings = ExecutorSettings(
            backend="local",
            local_root_dir=tmp_path / name,
            timeout_s=20,
            warm_spares=0,
            preload_modules=[],
            artifact_max_file_bytes=FILE_CAP,
        )
        replicas[name] = Replica(name, LocalExecutorPool(settings))
        await replicas[name].pool.start()
    client = RedisStreamsRuntime(
        RuntimeSettings(redis_url=redis_url, namespace=namespace, consumer_name="client")
    )
    store = ArtifactStore(redis_client, Keys(namespace), ttl_s=600)
    harness = Cluster(redis_url, namespace, store, client, replicas)
    recorder = results_recorder(harness.seen.put_nowait)
    await recorder.register(client, "recorder", recorder)
    client.start()
    await client.ready()
    CountingSessionFiles.loads = 0
    yield harness
    await client.stop()
    for replica in replicas.values():
        await replica.pool.aclose()


async def test_a_file_written_on_one_replica_is_read_on_another(cluster: Cluster) -> None:
    first = await cluster.turn(
        "a",
        "s1",
        "import os\nos.makedirs('out', exist_ok=True)\n"
        "open('state.txt', 'w').write('from turn 1')\nopen('out/n.txt', 'w').write('42')",
    )
    assert first.exit_code == 0, first.output
    second = await cluster.turn(
        "b", "s1", "print(open('state.txt').read(), open('out/n.txt').read())"
    )
    assert (second.exit_code, second.output) == (0, "from turn 1 42\n")
    assert "Note" not in second.output


async def test_a_deleted_file_stays_deleted_on_every_replica(cluster: Cluster) -> None:
    await cluster.turn("a", "s2", "open('x.txt', 'w').write('x')\nopen('y.txt', 'w').write('y')")
    deleted = await cluster.turn("b", "s2", "import os\nos.remove('x.txt')")
    assert deleted.exit_code == 0, deleted.output
    check = "import os\nprint(sorted(f for f in os.listdir('.') if f.endswith('.txt')))"
    # c has never seen the session; a holds a stale sandbox that still has x.txt
    for replica in ("c", "a"):
        result = await cluster.turn(replica, "s2", check)
        assert result.output == "['y.txt']\n", (replica, result.output)


async def test_a_stale_warm_sandbox_resyncs_after_another_replica_ran_a_turn(
    cluster: Cluster, redis_client: aioredis.Redis
) -> None:
    pid = "import os\nprint(os.getppid())"  # the runner: the same one means the same sandbox
    one = await cluster.turn(
        "a", "s3", pid + "\nopen('a.txt', 'w').write('v1')\nopen('b.txt', 'w').write('b')"
    )
    two = await cluster.turn(
        "b",
        "s3",
        "import os\nopen('a.txt', 'w').write('v2')\nos.remove('b.txt')\n"
        "open('c.txt', 'w').write('c')",
    )
    assert two.exit_code == 0, two.output
    three = await cluster.turn(
        "a",
        "s3",
        pid + "\nimport os\nprint(open('a.txt').read(), os.path.exists('b.txt'), "
        "open('c.txt').read())",
    )
    assert three.output.splitlines() == [one.output.strip(), "v2 False c"]
    manifest = await SessionFiles(cluster.store).load("s3")
    assert sorted(manifest.files) == ["a.txt", "c.txt"]
    assert manifest.generation == 2  # turn 3 changed nothing: nothing written
    ttl = await redis_client.ttl(Keys(cluster.namespace).state(AGENT_TYPE, "s3", "files"))
    assert 0 < ttl <= 600


async def test_the_common_case_reads_only_the_generation(cluster: Cluster) -> None:
    await cluster.turn("a", "s4", "open('n.txt', 'w').write('1')")
    assert CountingSessionFiles.loads == 0  # no manifest yet: nothing to read
    for expected in ("2", "3"):
        result = await cluster.turn(
            "a", "s4", "n = int(open('n.txt').read()) + 1\nopen('n.txt', 'w').write(str(n))\n"
            "print(n)",
        )  # fmt: skip
        assert result.output == f"{expected}\n"
    assert CountingSessionFiles.loads == 0  # same replica, warm sandbox: never a full read
    assert (await cluster.turn("b", "s4", "print(open('n.txt').read())")).output == "3\n"
    assert CountingSessionFiles.loads == 1


async def test_input_files_reach_the_code_on_any_replica(cluster: Cluster) -> None:
    uploaded = await cluster.store.input_file("data.csv", b"x\n3\n4\n")
    inline = InputFile(name="note.txt", content_b64=base64.b64encode(b"hello").decode())
    code = "print(sum(map(int, open('data.csv').read().split()[1:])), open('note.txt').read())"
    first = await cluster.turn("a", "s5", code, files=[uploaded, inline])
    assert first.output == "7 hello\n"
    assert first.artifacts == []  # inputs are not artifacts
    for replica in ("b", "c"):
        assert (await cluster.turn(replica, "s5", code)).output == "7 hello\n", replica


async def test_a_reaped_sandbox_comes_back_with_the_sessions_files(cluster: Cluster) -> None:
    await cluster.turn("a", "s6", "open('kept.txt', 'w').write('kept')")
    await cluster.replicas["a"].pool.close_session("s6")  # as the idle reaper does
    result = await cluster.turn("a", "s6", "print(open('kept.txt').read())")
    assert result.output == "kept\n"


async def test_named_code_files_carry_over(cluster: Cluster) -> None:
    helper = "# filename: helpers.py\ndef double(x):\n    return 2 * x\n"
    first = await cluster.turn("a", "s7", helper)
    assert first.exit_code == 0
    assert first.artifacts == []
    result = await cluster.turn("b", "s7", "from helpers import double\nprint(double(21))")
    assert result.output == "42\n"


async def test_a_file_over_the_cap_is_reported_where_made_and_where_missing(
    cluster: Cluster, redis_client: aioredis.Redis
) -> None:
    made = await cluster.turn(
        "a", "s8", f"open('big.bin', 'wb').write(bytes({FILE_CAP + 1}))\nopen('ok', 'w')"
    )
    assert [(r.name, r.stored) for r in made.artifacts] == [("big.bin", False), ("ok", True)]
    assert "big.bin is over a size cap and was not stored" in made.output
    elsewhere = await cluster.turn(
        "b", "s8", "import os\nprint(os.path.exists('big.bin'), os.path.exists('ok'))"
    )
    assert elsewhere.output.startswith("False True\n")
    assert "not brought into this sandbox" in elsewhere.output
    assert "big.bin (over a size cap" in elsewhere.output
    again = await cluster.turn("b", "s8", "print('again')")
    assert again.output == "again\n"  # said once per sandbox, not every turn
    home = await cluster.turn("a", "s8", "import os\nprint(os.path.getsize('big.bin'))")
    assert home.output == f"{FILE_CAP + 1}\n"  # the sandbox that made it still has it
    key = Keys(cluster.namespace).state(AGENT_TYPE, "s8", "files")
    assert await redis_client.hget(key, GENERATION) == b"1"
