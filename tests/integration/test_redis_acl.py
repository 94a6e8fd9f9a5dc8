"""Least privilege on a real Redis: each service's real code path under its own ACL user.

The test starts its own ``redis-server`` (own port) with the ACL file that
``deploy/redis/acl.py render`` writes from passwords in the environment. Then:

* the real Assistant agent (``assistant`` user; scripted fake model), an executor stand-in
  (``executor`` user; the same Redis calls as the executor: blobs, ``done:`` keys, results)
  and the real client (``client`` user) run whole tasks: submit with a blob input, follow,
  artifacts, status, dead letters, cancel, a deadline;
* the runtime's delivery machinery (publish script, consume, ack, heartbeat, reclaim, retry,
  dead letter, bad input, queue limit, the per-agent lock) works under the ``executor`` user;
* forbidden actions are refused with NOPERM and leave no trace;
* ``rediss://`` (TLS) works by configuration alone, when this redis-server was built with TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict
from redis.exceptions import NoPermissionError, ResponseError

from agent_streams import (
    AgentId,
    MessageContext,
    QueueFullError,
    RoutedAgent,
    TopicId,
    message_handler,
    type_subscription,
)
from agent_streams.acl import ASSISTANT_TYPES, EXECUTOR_TYPES, new_password
from agent_streams.admin import Admin
from agent_streams.artifacts import ArtifactStore
from agent_streams.client import INLINE_FILE_BYTES, AgentStreamsClient
from agent_streams.keys import Keys
from agent_streams.messages import (
    CODE_TOPIC,
    RESULTS_TOPIC,
    TASKS_TOPIC,
    CancelTask,
    ExecutionResult,
    TaskRequest,
)
from agent_streams.service import know_contract
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from agent_streams_assistant.agent import AGENT_TYPE, Assistant
from agent_streams_assistant.endings import DeadlineSweeper, Endings
from agent_streams_assistant.fake import ScriptedFakeChatClient
from agent_streams_assistant.models import LLMMessage, SystemMessage, UserMessage
from agent_streams_assistant.redis_store import RedisSessionStore
from agent_streams_assistant.session import Ending, SessionState
from agent_streams_executor.agent import AGENT_TYPE as EXECUTOR_TYPE
from agent_streams_executor.agent import (
    CANCELLER_TYPE,
    Executor,
    ExecutorCanceller,
    RunRegistry,
)
from agent_streams_executor.executors.base import CodeResult, OutputFile
from agent_streams_executor.executors.local import LocalExecutorPool
from agent_streams_executor.executors.session import WorkdirState
from agent_streams_executor.main import canceller_settings
from agent_streams_executor.session_files import SessionFiles
from agent_streams_executor.settings import ExecutorSettings

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
ACL_SCRIPT = ROOT / "deploy" / "redis" / "acl.py"
WAIT_S = 30.0
USERS = ("assistant", "executor", "client")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def render_acl_file(out: Path, namespace: str, passwords: dict[str, str]) -> None:
    """Run the real generator (``deploy/redis/acl.py render``) with passwords in its env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}
    env |= {
        "AGENT_STREAMS_NAMESPACE": namespace,
        "REDIS_ASSISTANT_PASSWORD": passwords["assistant"],
        "REDIS_EXECUTOR_PASSWORD": passwords["executor"],
        "REDIS_CLIENT_PASSWORD": passwords["client"],
        "REDIS_OPERATOR_PASSWORD": passwords["default"],
    }
    subprocess.run(
        [sys.executable, str(ACL_SCRIPT), "render", "--out", str(out), "--env-file", "/dev/null"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


@dataclass(frozen=True)
class AclRedis:
    """A redis-server started with the generated ACL file."""

    namespace: str
    port: int
    passwords: dict[str, str]
    workdir: Path
    tls_port: int | None = None

    def url(self, user: str) -> str:
        return f"redis://{user}:{self.passwords[user]}@127.0.0.1:{self.port}/0"

    def settings(self, user: str, **kw: Any) -> RuntimeSettings:
        kw.setdefault("read_block_ms", 100)
        kw.setdefault("retry_backoff_ms", 10)
        kw.setdefault("drain_grace_s", 5)
        return RuntimeSettings(redis_url=self.url(user), namespace=self.namespace, **kw)

    def connect(self, user: str) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.url(user), protocol=2)


def _start_redis(
    args: list[str], port: int, password: str, *, tls: bool = False
) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("the ACL tests start their own redis-server: install it (apt redis-server)")
    log = Path(args[args.index("--dir") + 1]) / "redis.log"
    proc = subprocess.Popen([binary, *args, "--logfile", str(log)])
    probe = redis.Redis(port=port, username="default", password=password)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                probe.ping()
                return proc
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    out = log.read_text(errors="replace") if log.exists() else ""
                    if tls and "tls" in out.lower() and "not supported" in out.lower():
                        pytest.skip(f"this redis-server was built without TLS: {out[-300:]}")
                    pytest.fail(f"redis-server with the ACL file did not start:\n{out[-2000:]}")
                time.sleep(0.02)
    finally:
        probe.close()


@pytest.fixture(scope="module")
def acl_redis() -> Iterator[AclRedis]:
    namespace = f"acl-{uuid.uuid4().hex[:10]}"
    passwords = {user: new_password() for user in (*USERS, "default")}
    workdir = Path(tempfile.mkdtemp(prefix="agent-streams-acl-"))
    acl_file = workdir / "users.acl"
    render_acl_file(acl_file, namespace, passwords)
    port = _free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(workdir), "--aclfile", str(acl_file)]
    proc = _start_redis(args, port, passwords["default"])
    yield AclRedis(namespace, port, passwords, workdir)
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def operator(acl_redis: AclRedis) -> AsyncIterator[aioredis.Redis]:
    client = acl_redis.connect("default")
    yield client
    await client.aclose()


def session_id() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


# -- the whole loop, three users -----------------------------------------------------------------


class Job(BaseModel):
    """A test message for the runtime-mechanics test (the ACL is about keys, not types)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    n: int
    fail: bool = False
    hold_s: float = 0.0


ARTIFACT = "x,y\n0,0\n1,1\n2,4\n"
WORK = f"""
data = open("data.bin", "rb").read()
open("squares.csv", "w").write({ARTIFACT!r})
print("files: data.bin=%d" % len(data))
"""
FOREVER = "import time\nprint('started', flush=True)\ntime.sleep(120)"


def model_reply(conversation: Sequence[LLMMessage]) -> str:
    """The scripted fake model: code first, then the answer with what the code printed; for a
    task that says "forever", code that sleeps until it is killed."""
    task, last = conversation[1].content, conversation[-1].content
    if "files:" in last:
        return "Done: " + last.split("files:", 1)[1].splitlines()[0].strip()
    code = FOREVER if "forever" in task else WORK
    return f"Running it:\n\n```python\n{code}\n```\n"


@dataclass
class Stack:
    assistant: RedisStreamsRuntime
    executor: RedisStreamsRuntime
    pool: LocalExecutorPool
    stop: asyncio.Event
    sweeping: asyncio.Task[None]


@pytest.fixture
async def stack(acl_redis: AclRedis, tmp_path: Path) -> AsyncIterator[Stack]:
    """The real Assistant as user ``assistant`` (scripted fake model) and the real Executor
    and its canceller as user ``executor`` (local backend), each on its own runtime."""
    assistant = RedisStreamsRuntime(acl_redis.settings("assistant", consumer_name="a1"))
    store = RedisSessionStore(assistant.redis, assistant.keys, ttl_s=600)
    model = ScriptedFakeChatClient([model_reply], loop=True)
    endings = Endings(store, assistant, AGENT_TYPE)
    await Assistant.register(assistant, AGENT_TYPE, lambda: Assistant(model, store, endings))

    settings = ExecutorSettings(
        backend="local",
        local_root_dir=tmp_path / "executor",
        warm_spares=0,
        preload_modules=[],
        runtime=acl_redis.settings("executor", consumer_name="e1"),
    )
    executor = RedisStreamsRuntime(settings.runtime)
    artifacts = ArtifactStore(executor.redis, executor.keys, ttl_s=600)
    runs = RunRegistry(executor.redis, executor.keys, result_ttl_s=600)
    pool = LocalExecutorPool(settings)
    await pool.start()
    await Executor.register(executor, EXECUTOR_TYPE, lambda: Executor(pool, artifacts, runs))
    # As in the service's main(): the canceller on a runtime of its own, same user.
    canceller = RedisStreamsRuntime(canceller_settings(settings))
    know_contract(canceller)
    await ExecutorCanceller.register(canceller, CANCELLER_TYPE, lambda: ExecutorCanceller(runs))
    for rt in (assistant, executor, canceller):
        rt.start()
        await rt.ready()
    stop = asyncio.Event()
    sweeper = DeadlineSweeper(store, endings, interval_s=0.05)
    sweeping = asyncio.create_task(sweeper.run(stop))
    yield Stack(assistant, executor, pool, stop, sweeping)
    stop.set()
    await sweeping
    for rt in (assistant, executor, canceller):
        await rt.stop()
    await pool.aclose()


def test_the_acl_knows_the_services_agent_types() -> None:
    assert ASSISTANT_TYPES == (AGENT_TYPE,)
    assert EXECUTOR_TYPES == (EXECUTOR_TYPE, CANCELLER_TYPE)


async def test_a_whole_task_runs_with_each_service_under_its_own_user(
    acl_redis: AclRedis, stack: Stack, tmp_path: Path
) -> None:
    big = tmp_path / "data.bin"
    big.write_bytes(os.urandom(INLINE_FILE_BYTES + 1000))  # travels as a blob: client SETs it
    async with AgentStreamsClient(acl_redis.settings("client")) as client:
        session = await client.submit("square some numbers", files=[big])
        events = [e async for e in client.follow(session)]
        result = await client.wait(session, timeout=WAIT_S)
        saved = await client.save_artifacts(result, tmp_path / "out", session=session)
        replay = await client.replay(session)
        status = await client.status()
        letters = await client.dead_letters()

    assert result.status == "completed", result
    assert result.answer == f"Done: data.bin={INLINE_FILE_BYTES + 1000}"
    assert [p.read_text() for p in saved if p.name == "squares.csv"] == [ARTIFACT]
    assert [e.type for e in events] == [
        "TaskRequest",
        "ExecutionRequest",  # turn 0: the input file described, under the same users
        "ExecutionResult",
        "AssistantTurn",
        "ExecutionRequest",
        "ExecutionResult",
        "AssistantTurn",
        "TaskResult",
    ]
    assert [e.type for e in replay] == [e.type for e in events]
    by_key = {s.key: s for s in status.streams}
    code = by_key[Keys(acl_redis.namespace).topic(CODE_TOPIC)]
    assert sorted(g.name for g in code.groups) == sorted([EXECUTOR_TYPE, CANCELLER_TYPE])
    assert [d for d in letters if d.source == session] == []
    # The executor stored its result for redelivery under its done: key.
    [_described, request] = [e for e in events if e.type == "ExecutionRequest"]
    assert request.message_id is not None
    assert await stack.executor.redis.exists(
        Keys(acl_redis.namespace).done("executor", request.message_id)
    )


async def wait_for_log(redis_: aioredis.Redis, keys: Keys, session: str, type_: str) -> bytes:
    """Block on a session's log (as the client user) until an entry of ``type_``; its body."""
    cursor = "0-0"
    async with asyncio.timeout(WAIT_S):
        while True:
            response: Any = await redis_.xread({keys.session(session): cursor}, block=1000)
            for _stream, rows in response or ():
                for entry_id, fields in rows:
                    cursor = entry_id.decode()
                    if fields.get(b"type") == type_.encode():
                        return bytes(fields[b"body"])


async def test_cancel_and_deadline_kill_running_code_under_acl_users(
    acl_redis: AclRedis, stack: Stack, operator: aioredis.Redis
) -> None:
    keys = Keys(acl_redis.namespace)
    cancel_me, too_slow = session_id(), session_id()
    reader = acl_redis.connect("client")
    async with AgentStreamsClient(acl_redis.settings("client")) as client:
        await client.submit("run forever", session=cancel_me)
        await wait_for_log(reader, keys, cancel_me, "ExecutionRequest")
        await client.cancel(cancel_me, "changed my mind")
        cancelled = await client.wait(cancel_me, timeout=WAIT_S)
        await client.submit("also forever", session=too_slow, timeout_s=2.0)
        late = await client.wait(too_slow, timeout=WAIT_S)
    await reader.aclose()

    assert cancelled.status == "cancelled"
    assert late.status == "deadline"
    # Both endings put a CancelTask on `code`; the executor's canceller forwarded it on the
    # cancel channel and the code (a 120 s sleep) was killed: the run's request is acked and
    # the running mark gone well before the sleep could end.
    runs = RunRegistry(operator, keys, result_ttl_s=60)
    async with asyncio.timeout(WAIT_S):
        while True:
            pending = await operator.xpending(keys.topic(CODE_TOPIC), EXECUTOR_TYPE)
            marks = [await runs.running(s) for s in (cancel_me, too_slow)]
            if pending["pending"] == 0 and marks == [None, None]:
                break
            await asyncio.sleep(0.05)


async def test_services_answer_bad_input_and_requests_under_their_users(
    acl_redis: AclRedis, stack: Stack, operator: aioredis.Redis
) -> None:
    keys = Keys(acl_redis.namespace)
    s = session_id()
    # Bad input on `tasks`: the assistant user writes the error, the dead letter, the log entry.
    await operator.xadd(keys.topic(TASKS_TOPIC), {"type": "TaskRequest", "body": "{", "source": s})
    reader = acl_redis.connect("client")
    await wait_for_dead_letters(reader, keys, {s})
    await reader.aclose()
    async with AgentStreamsClient(acl_redis.settings("client")) as client:
        [letter] = [d for d in await client.dead_letters(50) if d.source == s]
        log = await client.replay(s)
    assert (letter.group, letter.code) == (AGENT_TYPE, "invalid_message")
    assert [e.type for e in log] == ["Error"]
    # A request (send_message) to the executor's canceller: answered on the caller's reply
    # stream under the executor user. Only the operator may write inboxes.
    caller = RedisStreamsRuntime(acl_redis.settings("default"))
    caller.start()
    try:
        reply = await caller.send_message(CancelTask(), AgentId(CANCELLER_TYPE, s), timeout=10)
    finally:
        await caller.stop()
    assert reply is None


async def test_the_assistant_store_works_under_the_assistant_user(acl_redis: AclRedis) -> None:
    client = acl_redis.connect("assistant")
    store = RedisSessionStore(client, Keys(acl_redis.namespace), ttl_s=60)
    s = session_id()
    state = SessionState(task_id="t1", max_turns=3, deadline=time.time() - 1, timeout_s=1)
    system = SystemMessage(content="be brief")
    await store.create(s, state, [system])
    await store.save(s, state, [UserMessage(content="hi", source="user")])
    loaded = await store.load(s)
    history = await store.history(s)
    due = await store.claim_due(time.time(), lease_s=30)
    ended = await store.finish(s, Ending(task_id="t1", result=state.result("deadline")))
    await store.mark_announced(s)
    ending = await store.ending(s)
    await store.drop_deadline(s)
    await client.aclose()

    assert loaded == state
    assert [m.content for m in history] == ["be brief", "hi"]
    assert s in due
    assert ended
    assert ending is not None
    assert ending[1] is True


async def test_blobs_and_done_keys_work_under_the_executor_user(acl_redis: AclRedis) -> None:
    keys = Keys(acl_redis.namespace)
    client = acl_redis.connect("executor")
    artifacts = ArtifactStore(client, keys, ttl_s=60)
    runs = RunRegistry(client, keys, result_ttl_s=60)
    ref = await artifacts.put("plot.png", b"\x89PNG not really")
    again = await artifacts.put("plot.png", b"\x89PNG not really")  # refreshes the TTL
    got = await artifacts.get(ref.digest)
    result = ExecutionResult(turn=1, request_id="m1", exit_code=0, output="ok", artifacts=[ref])
    await runs.store_result("m1", result)
    await runs.mark_running("s1", "m1", 30)
    running = await runs.running("s1")
    await runs.clear_running("s1")
    stored = await runs.stored_result("m1")
    after = await runs.running("s1")
    await client.aclose()

    assert again == ref
    assert got == b"\x89PNG not really"
    assert stored == result
    assert (running, after) == ("m1", None)


async def test_session_file_manifests_work_under_the_executor_user(acl_redis: AclRedis) -> None:
    """Every Redis call of a session's file manifest: record, read, resync, delete."""
    client = acl_redis.connect("executor")
    store = ArtifactStore(client, Keys(acl_redis.namespace), ttl_s=60)
    files = SessionFiles(store, EXECUTOR_TYPE)
    code = OutputFile("tool.py", 5, hashlib.sha256(b"print").hexdigest(), b"print")
    ref = await store.put("out.csv", b"a,b")
    for run in (CodeResult(0, "", code_files=(code,)), CodeResult(0, "", deleted=("in.txt",))):
        turn = await files.turn("s1", {"in.txt": b"input"} if not run.deleted else {})
        async with client.pipeline(transaction=False) as pipe:
            turn.queue_read(pipe)(await pipe.execute())
        await turn(WorkdirState(), _fake_writer)  # a new sandbox: a full read (HGETALL)
        async with client.pipeline(transaction=False) as pipe:
            turn.queue_record(pipe, run, [ref] if not run.deleted else [])(await pipe.execute())
    manifest = await files.load("s1")
    blobs = await store.get_many([manifest.files["tool.py"].digest])
    await client.aclose()

    assert manifest.generation == 2
    assert sorted(manifest.files) == ["out.csv", "tool.py"]
    assert blobs == [b"print"]


async def _fake_writer(
    files: Mapping[str, bytes], delete: Sequence[str]
) -> tuple[list[str], set[str]]:
    """A FAKE sandbox writer: the ACL is about Redis, not the work dir."""
    return [], set()


# -- the runtime's delivery machinery under the executor user -----------------------------------


@dataclass
class JobsSeen:
    handled: list[tuple[int, int, str]] = field(default_factory=list)  # n, delivery, consumer
    event: asyncio.Event = field(default_factory=asyncio.Event)
    want: int = 1

    def record(self, n: int, delivery: int, consumer: str) -> None:
        self.handled.append((n, delivery, consumer))
        if len(self.handled) >= self.want:
            self.event.set()


def job_agent(seen: JobsSeen, consumer: str) -> type[RoutedAgent]:
    @type_subscription(CODE_TOPIC)
    class JobAgent(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("a test agent registered as the executor's agent type")

        @message_handler
        async def on_job(self, message: Job, ctx: MessageContext) -> None:
            if message.hold_s:
                await asyncio.sleep(message.hold_s)
            if message.fail:
                raise ValueError(f"job {message.n} always fails")
            seen.record(message.n, ctx.delivery, consumer)

    return JobAgent


async def start_jobs(acl_redis: AclRedis, seen: JobsSeen, name: str) -> RedisStreamsRuntime:
    rt = RedisStreamsRuntime(
        acl_redis.settings(
            "executor",
            consumer_name=name,
            claim_idle_ms=600,
            heartbeat_ms=150,
            max_deliveries=2,
        )
    )
    rt.register_message_type(Job)
    cls = job_agent(seen, name)
    await cls.register(rt, "executor", cls)
    rt.start()
    await rt.ready()
    return rt


async def wait_for_dead_letters(redis_: aioredis.Redis, keys: Keys, sources: set[str]) -> None:
    """Block on the dead-letter stream (read by the client user) until ``sources`` show up."""
    found: set[str] = set()
    cursor = "0-0"
    async with asyncio.timeout(WAIT_S):
        while not sources <= found:
            response: Any = await redis_.xread({keys.dead_letters: cursor}, block=1000)
            for _stream, rows in response or ():
                for entry_id, fields in rows:
                    cursor = entry_id.decode()
                    found.add(fields.get(b"source", b"").decode())


async def test_runtime_delivery_works_under_the_executor_user(
    acl_redis: AclRedis, operator: aioredis.Redis
) -> None:
    keys = Keys(acl_redis.namespace)
    code = keys.topic(CODE_TOPIC)
    seen = JobsSeen(want=3)
    s = session_id()
    # A consumer that takes an entry and dies: the executor user reads as "ghost", never acks.
    ghost = acl_redis.connect("executor")
    with contextlib.suppress(ResponseError):  # BUSYGROUP: an earlier test made it
        await ghost.xgroup_create(code, "executor", id="$", mkstream=True)
    await operator.xadd(code, {"type": "Job", "body": '{"n": 1}', "source": s, "id": "j1"})
    taken: Any = await ghost.xreadgroup("executor", "ghost", {code: ">"}, count=1)
    assert len(taken[0][1]) == 1
    await ghost.aclose()
    first = await start_jobs(acl_redis, seen, "first")
    second = await start_jobs(acl_redis, seen, "second")
    # The assistant user publishes on `code` (the executor user may not).
    publisher = RedisStreamsRuntime(acl_redis.settings("assistant"))
    publisher.register_message_type(Job)
    publisher.start()
    # Held past claim_idle_ms: the heartbeat must keep it from being reclaimed mid-run.
    await publisher.publish_message(Job(n=2, hold_s=1.5), TopicId(CODE_TOPIC, s + "-hold"))
    await publisher.publish_message(Job(n=3, fail=True), TopicId(CODE_TOPIC, s + "-fail"))
    await publisher.publish_message(Job(n=4), TopicId(CODE_TOPIC, s + "-ok"))
    # Bad input on the consumed stream: an error the submitter can read, and a dead letter.
    await operator.xadd(code, {"type": "Job", "body": "{not json", "source": s + "-bad"})
    await asyncio.wait_for(seen.event.wait(), WAIT_S)
    reader = acl_redis.connect("client")
    await wait_for_dead_letters(reader, keys, {s + "-fail", s + "-bad"})
    await reader.aclose()
    for rt in (first, second, publisher):
        await rt.stop()

    by_n = {n: (delivery, who) for n, delivery, who in seen.handled}
    assert sorted(by_n) == [1, 2, 4]
    assert by_n[1][0] == 2  # reclaimed from the dead ghost: second delivery
    assert by_n[2][0] == 1  # heartbeat: never reclaimed while running
    assert len([n for n, _d, _w in seen.handled if n == 2]) == 1
    async with AgentStreamsClient(acl_redis.settings("client")) as client:
        letters = await client.dead_letters(50)
        bad = await client.replay(s + "-bad")
        mine = {d.source: d for d in letters if d.source.startswith(s)}
        # Retrying a dead letter writes to any stream: the operator's job, not the client's.
        with pytest.raises(NoPermissionError):
            await client.retry_dead_letter(mine[s + "-fail"].entry_id)
    admin = Admin(operator, keys, stream_maxlen=1000)
    assert await admin.retry_dead_letter(mine[s + "-fail"].entry_id)
    assert mine[s + "-fail"].code == "handler_failed"
    assert "job 3 always fails" in mine[s + "-fail"].error
    assert mine[s + "-bad"].code == "invalid_message"
    assert [e.type for e in bad] == ["Error"]
    pending = await operator.xpending(code, "executor")
    assert pending["pending"] == 0
    assert await operator.exists(keys.lock("executor", s + "-hold")) == 0  # lock released


async def test_the_queue_limit_holds_under_the_client_user(
    acl_redis: AclRedis, operator: aioredis.Redis
) -> None:
    # The limit check runs XINFO GROUPS inside the publish script under pcall: had the client
    # user lacked XINFO there, the check would pass silently and the limit vanish.
    ns = acl_redis.namespace
    tasks = Keys(ns).topic(TASKS_TOPIC)
    # A group with nothing undelivered yet, and nobody reading it: the next 3 tasks fill it.
    await operator.xgroup_create(tasks, "limit-probe", id="$", mkstream=True)
    length = await operator.xlen(tasks)
    async with AgentStreamsClient(acl_redis.settings("client", queue_limit=3)) as client:
        for _ in range(3):
            await client.submit("queued")
        with pytest.raises(QueueFullError):
            await client.submit("one too many")
    assert await operator.xlen(tasks) == length + 3
    await operator.xgroup_destroy(tasks, "limit-probe")


# -- what each user must not do ------------------------------------------------------------------


def forbidden(ns: str) -> list[tuple[str, str, tuple[Any, ...]]]:
    k = Keys(ns)
    entry = ("type", "TaskRequest", "body", "{}", "source", "x")
    everyone = [
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "GET", "*"),
        ("CONFIG", "SET", "appendonly", "no"),
        ("KEYS", "*"),
        ("ACL", "LIST"),
        ("BGSAVE",),
        ("REPLICAOF", "NO", "ONE"),
        ("SWAPDB", "0", "1"),
        ("SHUTDOWN", "NOSAVE"),
        ("SCRIPT", "FLUSH"),
        ("EVAL", "return 1", "0"),
        ("MONITOR",),
        ("CLIENT", "KILL", "TYPE", "normal"),
        ("XGROUP", "DESTROY", k.topic(TASKS_TOPIC), "assistant"),
        ("GET", "other-namespace:blob:abc"),
        ("XADD", "other-namespace:topic:tasks", "*", *entry),
        ("SET", f"{ns}-evil:blob:abc", "x"),
    ]
    rows = [(user, cmd[0], cmd) for user in USERS for cmd in everyone]
    rows += [
        ("client", "delete a stream", ("DEL", k.topic(TASKS_TOPIC))),
        ("client", "delete a session log", ("UNLINK", k.session("x"))),
        ("client", "trim tasks", ("XTRIM", k.topic(TASKS_TOPIC), "MAXLEN", "0")),
        ("client", "expire tasks", ("EXPIRE", k.topic(TASKS_TOPIC), "1")),
        ("client", "delete a dead letter", ("XDEL", k.dead_letters, "0-1")),
        ("client", "write code", ("XADD", k.topic(CODE_TOPIC), "*", *entry)),
        ("client", "write results", ("XADD", k.topic(RESULTS_TOPIC), "*", *entry)),
        ("client", "write an inbox", ("XADD", k.inbox("executor"), "*", *entry)),
        ("client", "forge an error", ("XADD", k.errors, "*", "code", "x")),
        (
            "client",
            "steal tasks",
            ("XREADGROUP", "GROUP", "assistant", "c", "STREAMS", k.topic(TASKS_TOPIC), ">"),
        ),
        ("client", "ack tasks", ("XACK", k.topic(TASKS_TOPIC), "assistant", "0-1")),
        ("client", "publish a cancel", ("PUBLISH", k.cancel_channel, "some-id")),
        ("client", "read assistant state", ("GET", k.state("assistant", "s", "state"))),
        ("client", "write a done key", ("SET", k.done("executor", "m"), "{}")),
        ("client", "take a lock", ("SET", k.lock("assistant", "s"), "x")),
        ("client", "read a session's files", ("HGETALL", k.state("executor", "s", "files"))),
        ("executor", "write tasks", ("XADD", k.topic(TASKS_TOPIC), "*", *entry)),
        ("executor", "write code", ("XADD", k.topic(CODE_TOPIC), "*", *entry)),
        ("executor", "write outcomes", ("XADD", k.topic(OUTCOMES), "*", *entry)),
        (
            "executor",
            "consume tasks",
            ("XREADGROUP", "GROUP", "assistant", "e", "STREAMS", k.topic(TASKS_TOPIC), ">"),
        ),
        (
            "executor",
            "read assistant state",
            ("LRANGE", k.state("assistant", "s", "history"), "0", "-1"),
        ),
        ("executor", "move deadlines", ("ZADD", k.deadlines("assistant"), "0", "s")),
        ("executor", "delete a session log", ("DEL", k.session("x"))),
        ("executor", "delete code", ("DEL", k.topic(CODE_TOPIC))),
        ("executor", "another agent's lock", ("SET", k.lock("assistant", "s"), "x")),
        ("assistant", "write results", ("XADD", k.topic(RESULTS_TOPIC), "*", *entry)),
        ("assistant", "read blobs", ("GET", k.blob("0" * 64))),
        ("assistant", "write a done key", ("SET", k.done("executor", "m"), "{}")),
        (
            "assistant",
            "rewrite a session's files",
            ("HSET", k.state("executor", "s", "files"), "x.py", "0" * 64 + " 1"),
        ),
        (
            "assistant",
            "consume code",
            ("XREADGROUP", "GROUP", "executor", "a", "STREAMS", k.topic(CODE_TOPIC), ">"),
        ),
        ("assistant", "delete tasks", ("DEL", k.topic(TASKS_TOPIC))),
        ("assistant", "write tasks", ("XADD", k.topic(TASKS_TOPIC), "*", *entry)),
        ("assistant", "publish a cancel", ("PUBLISH", k.cancel_channel, "some-id")),
    ]
    return rows


OUTCOMES = "outcomes"


async def test_forbidden_actions_are_refused_with_noperm(
    acl_redis: AclRedis, operator: aioredis.Redis
) -> None:
    ns = acl_redis.namespace
    k = Keys(ns)
    # Things to protect exist, so a refusal is not just an absent key.
    await operator.xadd(k.topic(TASKS_TOPIC), {"type": "X", "body": "{}", "source": "x"})
    await operator.xadd(k.session("x"), {"type": "X", "body": "{}"})
    await operator.xgroup_create(k.topic(TASKS_TOPIC), "probe", id="0")
    before = {key: await operator.xlen(key) for key in (k.topic(TASKS_TOPIC), k.session("x"))}
    clients = {user: acl_redis.connect(user) for user in USERS}
    refused: list[str] = []
    allowed: list[str] = []
    try:
        for user, what, command in forbidden(ns):
            try:
                await clients[user].execute_command(*command)  # type: ignore[no-untyped-call]
            except NoPermissionError:
                refused.append(f"{user}: {what}")
                continue
            allowed.append(f"{user}: {what} {command}")
    finally:
        for c in clients.values():
            await c.aclose()
    assert allowed == []
    assert len(refused) == len(forbidden(ns))
    after = {key: await operator.xlen(key) for key in before}
    assert after == before
    assert await operator.ping()


async def test_the_runtime_cannot_publish_outside_its_grants(acl_redis: AclRedis) -> None:
    """The publish Lua script runs under the caller's ACL: no way around the rules."""
    s = session_id()
    executor = RedisStreamsRuntime(acl_redis.settings("executor"))
    client = RedisStreamsRuntime(acl_redis.settings("client"))
    for rt in (executor, client):
        rt.start()
        await rt.ready()
    try:
        with pytest.raises(NoPermissionError):
            await executor.publish_message(TaskRequest(prompt="forged"), TopicId(TASKS_TOPIC, s))
        with pytest.raises(NoPermissionError):
            await client.publish_message(CancelTask(), TopicId(CODE_TOPIC, s))
        # A script of one's own cannot reach a forbidden key either.
        forged = client.redis.register_script(
            "return redis.call('XADD', KEYS[1], '*', 'type', 'CancelTask', 'body', '{}')"
        )
        with pytest.raises(ResponseError, match=r"NOPERM|no permissions"):
            await forged(keys=[client.keys.topic(CODE_TOPIC)])
        sneaky = client.redis.register_script(
            f"return redis.call('DEL', '{client.keys.topic(TASKS_TOPIC)}')"
        )
        with pytest.raises(ResponseError, match=r"NOPERM|no permissions|can't (access|run)"):
            await sneaky(keys=[client.keys.session(s)])
    finally:
        await executor.stop()
        await client.stop()


async def test_wrong_password_and_unauthenticated_connections_are_refused(
    acl_redis: AclRedis,
) -> None:
    anonymous = aioredis.Redis(port=acl_redis.port, protocol=2)
    with pytest.raises(redis.AuthenticationError, match="Authentication required"):
        await anonymous.get("x")
    await anonymous.aclose()
    wrong = aioredis.Redis(port=acl_redis.port, username="client", password="x" * 32)
    with pytest.raises(redis.AuthenticationError):
        await wrong.ping()
    await wrong.aclose()


# -- TLS -------------------------------------------------------------------------------------------


def _make_certs(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 / localhost (openssl CLI)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl binary to make test certificates")
    ca_key, ca, key, csr, crt = (
        directory / n for n in ("ca.key", "ca.crt", "s.key", "s.csr", "s.crt")
    )
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        str(ext),
        "-out",
        str(crt),
    )
    return ca, crt, key


@pytest.fixture(scope="module")
def tls_redis() -> Iterator[tuple[AclRedis, Path, Path, Path]]:
    """A redis-server with the generated ACL file on a TLS port that wants client certs."""
    namespace = f"acl-tls-{uuid.uuid4().hex[:8]}"
    passwords = {user: new_password() for user in (*USERS, "default")}
    workdir = Path(tempfile.mkdtemp(prefix="agent-streams-tls-"))
    ca, crt, key = _make_certs(workdir)
    acl_file = workdir / "users.acl"
    render_acl_file(acl_file, namespace, passwords)
    port, tls_port = _free_port(), _free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(workdir), "--aclfile", str(acl_file), "--tls-port", str(tls_port)]
    args += ["--tls-cert-file", str(crt), "--tls-key-file", str(key)]
    args += ["--tls-ca-cert-file", str(ca), "--tls-auth-clients", "yes"]
    proc = _start_redis(args, port, passwords["default"], tls=True)
    yield AclRedis(namespace, port, passwords, workdir, tls_port), ca, crt, key
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)


async def test_tls_is_configuration_only(
    tls_redis: tuple[AclRedis, Path, Path, Path], tmp_path: Path
) -> None:
    server, ca, crt, key = tls_redis
    assert server.tls_port is not None
    base = f"127.0.0.1:{server.tls_port}/0"

    def url(user: str, query: str) -> str:
        return f"rediss://{user}:{server.passwords[user]}@{base}?{query}"

    mtls = f"ssl_ca_certs={ca}&ssl_certfile={crt}&ssl_keyfile={key}"
    s = session_id()
    settings = RuntimeSettings(redis_url=url("client", mtls), namespace=server.namespace)
    async with AgentStreamsClient(settings) as client:
        await client.submit("over TLS", session=s)
        events = await client.replay(s)
    assert [e.type for e in events] == ["TaskRequest"]

    executor = RedisStreamsRuntime(
        RuntimeSettings(redis_url=url("executor", mtls), namespace=server.namespace)
    )
    executor.start()
    await executor.ready()
    result = ExecutionResult(turn=1, request_id="r", exit_code=0, output="ok")
    await executor.publish_message(result, TopicId(RESULTS_TOPIC, s))
    with pytest.raises(NoPermissionError):  # the ACL still applies over TLS
        await executor.publish_message(TaskRequest(prompt="x"), TopicId(TASKS_TOPIC, s))
    await executor.stop()

    # Without the CA the server's certificate is not trusted; without a client certificate
    # the server refuses the handshake (tls-auth-clients yes).
    for query in (f"ssl_certfile={crt}&ssl_keyfile={key}", f"ssl_ca_certs={ca}"):
        bad = aioredis.Redis.from_url(url("client", query), protocol=2, socket_timeout=5)
        with pytest.raises(redis.ConnectionError):
            await bad.ping()
        await bad.aclose()


def run_k8s_group_job(server: AclRedis) -> str:
    """deploy/k8s's group-creating Job script, as the Job runs it (redis-cli, each service's
    user and password), against this server under its namespace instead of ``agents``."""
    import yaml  # the k8s dependency group's

    docs = yaml.safe_load_all((ROOT / "deploy/k8s/base/groups-job.yaml").read_text())
    (script,) = [d["data"]["create-groups.sh"] for d in docs if d and d["kind"] == "ConfigMap"]
    script = script.replace(" agents:", f" {server.namespace}:")
    if shutil.which("redis-cli") is None:
        pytest.fail("the Job's script runs redis-cli: install it (apt redis-tools)")
    env = {
        "PATH": os.environ["PATH"],
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(server.port),
        "REDIS_EXECUTOR_PASSWORD": server.passwords["executor"],
        "REDIS_ASSISTANT_PASSWORD": server.passwords["assistant"],
    }
    done = subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_the_k8s_group_job_and_keda_scaler_commands_work_under_the_service_users(
    acl_redis: AclRedis, operator: aioredis.Redis
) -> None:
    """The Job creates every group under the services' users (twice: the second run finds
    them), and the commands KEDA's redis-streams scaler runs with each service's user (INFO,
    XINFO GROUPS for lagCount, XPENDING for pendingEntriesCount) are allowed."""
    keys = Keys(acl_redis.namespace)
    # earlier tests of this module's server may have made some of the groups already
    first = run_k8s_group_job(acl_redis)
    assert first.count(": created") + first.count(": exists") == 7, first
    second = run_k8s_group_job(acl_redis)
    assert second.count(": exists") == 7, second

    expected = {
        keys.topic(CODE_TOPIC): {EXECUTOR_TYPE, "executor-cancel"},
        keys.topic(TASKS_TOPIC): {AGENT_TYPE},
        keys.topic(RESULTS_TOPIC): {AGENT_TYPE},
    }
    for stream, groups in expected.items():
        found = {g["name"].decode() for g in await operator.xinfo_groups(stream)}
        assert groups <= found  # other tests of this module's server add groups of their own

    for user, stream, group in (
        ("executor", keys.topic(CODE_TOPIC), EXECUTOR_TYPE),
        ("assistant", keys.topic(TASKS_TOPIC), AGENT_TYPE),
        ("assistant", keys.topic(RESULTS_TOPIC), AGENT_TYPE),
    ):
        scaler = acl_redis.connect(user)
        try:
            assert str((await scaler.info("server"))["redis_version"]).startswith(("7", "8"))
            (info,) = [g for g in await scaler.xinfo_groups(stream) if g["name"].decode() == group]
            assert isinstance(info["lag"], int)
            assert isinstance((await scaler.xpending(stream, group))["pending"], int)
        finally:
            await scaler.aclose()
