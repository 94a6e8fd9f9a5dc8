"""The client API and the ``agent-streams`` CLI against a real Redis and a fake assistant."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent_streams.client import AgentStreamsClient
from agent_streams.exceptions import (
    ArtifactError,
    QueueFullError,
    RedisUnavailableError,
    TaskRejectedError,
    UnknownSessionError,
)
from agent_streams.files import INLINE_FILE_BYTES
from agent_streams.messages import ArtifactRef, AssistantTurn, CancelTask, TaskRequest, TaskResult
from agent_streams.session_log import ErrorEvent
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from tests.integration._fake_assistant import ARTIFACT, FakeControl, fake_assistant_class

pytestmark = pytest.mark.redis

CLI = Path(sys.executable).with_name("agent-streams")


def settings(redis_url: str, namespace: str, **kw: Any) -> RuntimeSettings:
    return RuntimeSettings(redis_url=redis_url, namespace=namespace, **kw)


StartFake = Callable[..., Awaitable[FakeControl]]


@pytest.fixture
async def start_fake(
    redis_url: str, namespace: str, redis_client: aioredis.Redis
) -> AsyncIterator[StartFake]:
    """Start a FakeAssistant on its own RedisStreamsRuntime (settings overridable)."""
    runtimes: list[RedisStreamsRuntime] = []

    async def start(**kw: Any) -> FakeControl:
        kw.setdefault("retry_backoff_ms", 10)
        runtime = RedisStreamsRuntime(settings(redis_url, namespace, **kw))
        control = FakeControl()
        cls = fake_assistant_class(runtime, control)
        await cls.register(runtime, "fake_assistant", cls)
        runtime.start()
        await runtime.ready()
        runtimes.append(runtime)
        return control

    yield start
    for runtime in runtimes:
        await runtime.stop()


@pytest.fixture
async def client(
    redis_url: str, namespace: str, redis_client: aioredis.Redis
) -> AsyncIterator[AgentStreamsClient]:
    async with AgentStreamsClient(settings(redis_url, namespace)) as c:
        yield c


@dataclass
class Run:
    code: int
    out: str
    err: str


async def cli(redis_url: str, namespace: str, *args: str, env: dict[str, str] | None = None) -> Run:
    """Run the installed console script (a real process) while this loop keeps serving."""
    env = {
        **os.environ,
        "AGENT_STREAMS_REDIS_URL": redis_url,
        "AGENT_STREAMS_NAMESPACE": namespace,
        "COLUMNS": "120",
        **(env or {}),
    }
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


# -- the client API ------------------------------------------------------------------------


async def test_submit_follow_save_artifacts(
    client: AgentStreamsClient, start_fake: StartFake, tmp_path: Path
) -> None:
    await start_fake()
    small = tmp_path / "small.csv"
    small.write_text("a,b\n1,2\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(INLINE_FILE_BYTES + 1))

    session = await client.submit("compute squares", files=[small, big], max_turns=3)
    events = [e async for e in client.follow(session)]

    assert [type(e.message) for e in events] == [TaskRequest, AssistantTurn, TaskResult]
    assert [e.topic for e in events] == ["tasks", "events", "outcomes"]
    request = events[0].message
    assert isinstance(request, TaskRequest)
    inline, blob = request.files
    assert inline.content_b64 is not None
    assert inline.digest is None
    assert blob.digest == hashlib.sha256(big.read_bytes()).hexdigest()
    assert blob.content_b64 is None
    result = events[-1].message
    assert isinstance(result, TaskResult)
    assert result.status == "completed"
    assert f"small.csv=8, big.bin={INLINE_FILE_BYTES + 1}" in result.answer
    assert await client.wait(session, timeout=10) == result

    paths = await client.save_artifacts(result, tmp_path / "out", session=session)
    assert paths == [tmp_path / "out" / session / "result.csv"]
    assert paths[0].read_bytes() == ARTIFACT


async def test_follow_resumes_after_a_position_and_replay_has_everything(
    client: AgentStreamsClient, start_fake: StartFake
) -> None:
    await start_fake()
    session = await client.submit("first")
    first = await client.wait(session, timeout=30)
    position = await client.log_position(session)
    await client.submit("second", session=session)
    second = [e async for e in client.follow(session, after=position)]
    assert [e.type for e in second] == ["TaskRequest", "AssistantTurn", "TaskResult"]
    assert isinstance(second[0].message, TaskRequest)
    assert second[0].message.prompt == "second"

    replayed = await client.replay(session)
    assert [e.type for e in replayed] == ["TaskRequest", "AssistantTurn", "TaskResult"] * 2
    assert replayed[2].message == first
    assert all(e.session == session for e in replayed)
    assert [e.entry_id for e in replayed] == sorted(
        (e.entry_id for e in replayed), key=lambda i: tuple(map(int, i.split("-")))
    )


async def test_cancel_ends_the_task_as_cancelled(
    client: AgentStreamsClient, start_fake: StartFake
) -> None:
    await start_fake()
    session = await client.submit("wait for cancel")
    async for event in client.follow(session):
        if isinstance(event.message, AssistantTurn):
            await client.cancel(session, "user changed their mind")
        if event.is_final:
            break
    events = await client.replay(session)
    assert [e.type for e in events] == ["TaskRequest", "AssistantTurn", "CancelTask", "TaskResult"]
    cancel = events[2].message
    assert isinstance(cancel, CancelTask)
    assert cancel.reason == "user changed their mind"
    result = events[-1].message
    assert isinstance(result, TaskResult)
    assert result.status == "cancelled"


async def test_rejected_task_ends_follow_and_wait(
    client: AgentStreamsClient, start_fake: StartFake, redis_client: aioredis.Redis, namespace: str
) -> None:
    await start_fake()
    await redis_client.xadd(
        f"{namespace}:topic:tasks",
        {"type": "TaskRequest", "source": "bad-1", "body": '{"prompt": ""}'},
    )
    # A raw XADD is not mirrored into the session log; the log starts with the runtime's answer.
    assert await redis_client.xread({f"{namespace}:errors": "0"}, block=30_000)
    with pytest.raises(TaskRejectedError, match="invalid_message"):
        await client.wait("bad-1", timeout=30)
    events = await client.replay("bad-1")
    assert isinstance(events[-1].message, ErrorEvent)
    assert events[-1].is_final


async def test_unknown_session_and_unreachable_redis(
    client: AgentStreamsClient, namespace: str
) -> None:
    with pytest.raises(UnknownSessionError, match="nope"):
        await client.cancel("nope")
    with pytest.raises(UnknownSessionError):
        [e async for e in client.follow("nope")]
    with pytest.raises(UnknownSessionError):
        await client.replay("not:a:valid:name")
    dead = settings("redis://127.0.0.1:1/0", namespace)
    with pytest.raises(RedisUnavailableError, match="Redis unreachable"):
        async with AgentStreamsClient(dead):
            pass


async def test_queue_full_is_refused_clearly(
    redis_url: str, namespace: str, redis_client: aioredis.Redis
) -> None:
    # An assistant group that is not consuming (its service is down): the backlog grows.
    await redis_client.xgroup_create(f"{namespace}:topic:tasks", "assistant", mkstream=True)
    tight = settings(redis_url, namespace, queue_limit=2, stream_maxlen=10)
    async with AgentStreamsClient(tight) as c:
        await c.submit("one")
        await c.submit("two")
        with pytest.raises(QueueFullError, match="queue full"):
            await c.submit("three")
        assert await redis_client.xlen(f"{namespace}:topic:tasks") == 2


async def test_status_shows_length_lag_pending_and_consumers(
    client: AgentStreamsClient, start_fake: StartFake, namespace: str
) -> None:
    control = await start_fake(max_inflight=1, consumer_name="fake-1")
    blocked = await client.submit("block")
    await control.started.wait()
    waiting = [await client.submit("queued") for _ in range(3)]

    status = await client.status()
    tasks = next(s for s in status.streams if s.key == f"{namespace}:topic:tasks")
    assert tasks.kind == "topic"
    assert tasks.name == "tasks"
    assert tasks.length == 4
    (group,) = tasks.groups
    assert group.name == "fake_assistant"
    assert group.pending == 1
    assert group.lag == 3
    (consumer,) = group.consumers
    assert consumer.name == "fake-1"
    assert consumer.pending == 1
    assert consumer.idle_ms >= 0
    assert {s.name for s in status.streams} >= {"tasks", "events", "outcomes", "code", "results"}
    assert any(s.kind == "inbox" and s.name == "fake_assistant" for s in status.streams)

    control.release.set()
    for session in [blocked, *waiting]:
        assert (await client.wait(session, timeout=30)).status == "completed"
    tasks = next(s for s in (await client.status()).streams if s.name == "tasks")
    assert tasks.groups[0].lag == 0


async def test_dead_letters_list_and_retry(
    client: AgentStreamsClient, start_fake: StartFake, namespace: str
) -> None:
    control = await start_fake(max_deliveries=2)
    session = await client.submit("explode")
    with pytest.raises(TaskRejectedError, match="handler_failed"):
        await client.wait(session, timeout=30)

    (letter,) = await client.dead_letters()
    assert letter.stream == f"{namespace}:topic:tasks"
    assert letter.group == "fake_assistant"
    assert letter.code == "handler_failed"
    assert "fake assistant exploded" in letter.error
    assert letter.source == session
    assert letter.type == "TaskRequest"
    assert json.loads(letter.fields["body"])["prompt"] == "explode"
    assert (await client.dead_letter(letter.entry_id)) == letter
    assert (await client.status()).dead_letters == 1

    control.explode = False
    position = await client.log_position(session)
    new_id = await client.retry_dead_letter(letter.entry_id)
    assert new_id != letter.entry
    result = await client.wait(session, timeout=30, after=position)
    assert result.status == "completed"
    assert await client.dead_letters() == []
    assert (await client.status()).dead_letters == 0


async def test_save_artifacts_verifies_digest_and_confines_names(
    client: AgentStreamsClient, tmp_path: Path
) -> None:
    good = await client.artifacts.put_blob(b"good")
    corrupt = hashlib.sha256(b"expected").hexdigest()
    await client.redis.set(client.keys.blob(corrupt), b"tampered")
    refs = [
        ArtifactRef(name="plots/a.txt", size=4, digest=good),
        ArtifactRef(name="../escape.txt", size=4, digest=good),
        ArtifactRef(name="/etc/passwd", size=4, digest=good),
        ArtifactRef(name="bad.txt", size=8, digest=corrupt),
        ArtifactRef(name="gone.txt", size=1, digest="0" * 64),
        ArtifactRef(name="huge.bin", size=10**9, digest="1" * 64, stored=False, note="too big"),
    ]
    with pytest.raises(ArtifactError) as info:
        await client.save_artifacts(refs, tmp_path, session="s1")
    assert info.value.saved == [tmp_path / "s1" / "plots" / "a.txt"]
    assert (tmp_path / "s1" / "plots" / "a.txt").read_bytes() == b"good"
    problems = " | ".join(info.value.problems)
    for needle in (
        "'../escape.txt': unsafe",
        "'/etc/passwd': unsafe",
        "bad.txt: blob",
        "gone.txt: blob",
        "huge.bin: not stored (too big)",
    ):
        assert needle in problems
    assert not (tmp_path / "escape.txt").exists()
    assert sorted(p.name for p in (tmp_path / "s1").rglob("*")) == ["a.txt", "plots"]


# -- the CLI -------------------------------------------------------------------------------


async def test_cli_submit_follows_saves_and_exits_0(
    redis_url: str, namespace: str, start_fake: StartFake, tmp_path: Path
) -> None:
    await start_fake()
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    out = tmp_path / "out"
    run = await cli(
        redis_url, namespace, "submit", "compute squares", "--file", str(data),
        "--out", str(out), "--max-turns", "3", "--timeout", "60", "--session", "cli-1",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert "session cli-1" in run.err
    assert "assistant, turn 1" in run.out
    assert "print([x * x for x in range(3)])" in run.out  # the turn's code block
    assert "result: completed" in run.out
    assert "data.csv=4" in run.out
    saved = out / "cli-1" / "result.csv"
    assert saved.read_bytes() == ARTIFACT
    assert str(saved) in run.out


@pytest.mark.parametrize(
    ("prompt", "code"),
    [("status:failed", 1), ("status:model_error", 1), ("status:deadline", 4),
     ("status:max_turns", 5)],
)  # fmt: skip
async def test_cli_exit_code_follows_the_task_status(
    redis_url: str, namespace: str, start_fake: StartFake, prompt: str, code: int
) -> None:
    await start_fake()
    run = await cli(redis_url, namespace, "submit", prompt)
    assert run.code == code, run.err
    assert f"result: {prompt.removeprefix('status:')}" in run.out


async def test_cli_no_follow_then_follow_cancel_and_replay(
    redis_url: str, namespace: str, start_fake: StartFake, tmp_path: Path
) -> None:
    await start_fake()
    run = await cli(redis_url, namespace, "submit", "wait for cancel", "--no-follow")
    assert run.code == 0, run.err
    session = run.out.strip()
    async with AgentStreamsClient(settings(redis_url, namespace)) as c:
        async for event in c.follow(session):
            if isinstance(event.message, AssistantTurn):
                break
    follow = asyncio.create_task(
        cli(redis_url, namespace, "follow", session, "--out", str(tmp_path))
    )
    cancel = await cli(redis_url, namespace, "cancel", session, "--reason", "enough")
    assert cancel.code == 0, cancel.err
    assert f"cancel requested for {session}" in cancel.out
    followed = await follow
    assert followed.code == 3, followed.err
    assert "cancel requested: enough" in followed.out
    assert "result: cancelled" in followed.out

    replay = await cli(redis_url, namespace, "replay", session, "--json")
    assert replay.code == 0, replay.err
    rows = [json.loads(line) for line in replay.out.splitlines()]
    assert [r["type"] for r in rows] == ["TaskRequest", "AssistantTurn", "CancelTask", "TaskResult"]
    assert rows[-1]["body"]["status"] == "cancelled"
    pretty = await cli(redis_url, namespace, "replay", session)
    assert "wait for cancel" in pretty.out
    assert "result: cancelled" in pretty.out


async def test_cli_client_wait_timeout_exit_6(
    redis_url: str, namespace: str, start_fake: StartFake
) -> None:
    await start_fake()
    run = await cli(redis_url, namespace, "submit", "wait for cancel", "--wait", "1")
    assert run.code == 6
    assert "may still be running" in run.err
    assert "Traceback" not in run.err


async def test_cli_status_and_dead_letters(
    redis_url: str, namespace: str, start_fake: StartFake
) -> None:
    await start_fake(max_deliveries=1)
    rejected = await cli(redis_url, namespace, "submit", "explode", "--session", "dl-1")
    assert rejected.code == 1
    assert "task dl-1 rejected (handler_failed)" in rejected.err

    status = await cli(redis_url, namespace, "status")
    assert status.code == 0, status.err
    assert "topic:tasks" in status.out
    assert "fake_assistant" in status.out
    assert "dead letters: 1" in status.out
    as_json = json.loads((await cli(redis_url, namespace, "status", "--json")).out)
    assert as_json["dead_letters"] == 1

    listed = await cli(redis_url, namespace, "dead-letters", "list", "--json")
    (letter,) = json.loads(listed.out)
    assert letter["source"] == "dl-1"
    default = await cli(redis_url, namespace, "dead-letters")
    assert letter["entry_id"] in default.out
    shown = await cli(redis_url, namespace, "dead-letters", "show", letter["entry_id"])
    assert "fake assistant exploded" in shown.out
    assert '"prompt": "explode"' in shown.out

    retried = await cli(redis_url, namespace, "dead-letters", "retry", letter["entry_id"])
    assert retried.code == 0, retried.err
    assert f"requeued {letter['entry_id']} on {namespace}:topic:tasks" in retried.out
    again = await cli(redis_url, namespace, "dead-letters", "retry", letter["entry_id"])
    assert again.code == 7
    assert "no dead letter" in again.err


async def test_cli_errors_are_one_line(
    redis_url: str, namespace: str, redis_client: aioredis.Redis
) -> None:
    unknown = await cli(redis_url, namespace, "follow", "no-such-session")
    assert unknown.code == 7
    assert unknown.err.strip().startswith("error: unknown session 'no-such-session'")

    down = await cli(redis_url, namespace, "--redis-url", "redis://127.0.0.1:1/0", "status")
    assert down.code == 7
    assert down.err.strip().startswith("error: Redis unreachable at redis://127.0.0.1:1/0")
    assert len(down.err.strip().splitlines()) == 1

    await redis_client.xgroup_create(f"{namespace}:topic:tasks", "assistant", mkstream=True)
    limit = {"AGENT_STREAMS_QUEUE_LIMIT": "1", "AGENT_STREAMS_STREAM_MAXLEN": "10"}
    first = await cli(redis_url, namespace, "submit", "one", "--no-follow", env=limit)
    full = await cli(redis_url, namespace, "submit", "two", "--no-follow", env=limit)
    assert first.code == 0, first.err
    assert full.code == 8
    assert full.err.strip().startswith("error: queue full")

    missing = await cli(redis_url, namespace, "submit", "x", "--file", "/nonexistent/in.csv")
    assert missing.code == 7
    assert "cannot read input file /nonexistent/in.csv" in missing.err


async def test_cli_ctrl_c_stops_following_and_says_how_to_resume(
    redis_url: str, namespace: str, start_fake: StartFake
) -> None:
    await start_fake()
    env = {**os.environ, "AGENT_STREAMS_REDIS_URL": redis_url, "AGENT_STREAMS_NAMESPACE": namespace}
    # As from a terminal: a process started in the background may inherit SIGINT ignored.
    as_from_a_terminal = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from agent_streams.cli import app; app()"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", as_from_a_terminal, "submit", "wait for cancel", "--session", "int-1",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    while b"assistant, turn 1" not in await asyncio.wait_for(proc.stdout.readline(), 30):
        pass  # the CLI printed the turn: it is following now
    proc.send_signal(signal.SIGINT)
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130
    assert "stopped following; session int-1 goes on: `agent-streams follow int-1`" in err.decode()
    assert "Traceback" not in err.decode()
