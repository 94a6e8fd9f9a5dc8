"""The ``redis-cli`` path, run exactly as ``docs/redis-cli.md`` shows it.

Each ``<!-- cmd: NAME -->`` block of the page is run through ``bash`` with ``REDIS_URL`` set to
the test's Redis, only the namespace swapped (``agents:`` -> the test's own), against a fake
assistant (``_fake_assistant``) on a real runtime. Without a local ``redis-cli`` the commands
run in the Redis image (``TEST_REDIS_IMAGE``) with host networking.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent_streams.session_log import ErrorEvent, decode_log_entry
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from tests.integration._fake_assistant import FakeControl, fake_assistant_class

pytestmark = pytest.mark.redis

DOC = Path(__file__).resolve().parents[2] / "docs" / "redis-cli.md"
_BLOCK = re.compile(r"<!-- cmd: ([\w-]+) -->\s*```sh\n(.*?)```", re.S)


def doc_commands() -> dict[str, str]:
    commands = dict(_BLOCK.findall(DOC.read_text()))
    assert commands, f"no <!-- cmd: ... --> blocks in {DOC}"
    return {name: text.strip() for name, text in commands.items()}


def _redis_cli_shim() -> str:
    """A bash prelude that makes ``redis-cli`` runnable here, or fail saying what is missing."""
    if shutil.which("redis-cli"):
        return ""
    if shutil.which("docker"):
        image = os.environ.get("TEST_REDIS_IMAGE", "local/redis:7")
        return f'redis-cli() {{ docker run --rm -i --network host {image} redis-cli "$@"; }}\n'
    pytest.fail("the redis-cli tests need redis-cli (or a Docker engine with the Redis image)")


class Shell:
    def __init__(self, redis_url: str, namespace: str) -> None:
        self.redis_url = redis_url
        self.namespace = namespace
        self.commands = doc_commands()
        self.prelude = _redis_cli_shim()

    async def run(self, name: str) -> str:
        """Run the page's command ``name``; returns its stdout (fails on a non-zero exit)."""
        command = self.commands[name].replace("agents:", f"{self.namespace}:")
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            self.prelude + command,
            env={**os.environ, "REDIS_URL": self.redis_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 0, f"{name}: {command}\n{err.decode()}"
        assert not err.strip(), err.decode()
        return out.decode()


@pytest.fixture
async def fake(
    redis_url: str, namespace: str, redis_client: aioredis.Redis
) -> AsyncIterator[FakeControl]:
    runtime = RedisStreamsRuntime(RuntimeSettings(redis_url=redis_url, namespace=namespace))
    control = FakeControl()
    cls = fake_assistant_class(runtime, control)
    await cls.register(runtime, "assistant", cls)
    runtime.start()
    await runtime.ready()
    yield control
    await runtime.stop()


async def read_until(
    client: aioredis.Redis, stream: str, done: int, what: str = "entries"
) -> list[tuple[str, dict[bytes, bytes]]]:
    """Block on ``stream`` until it holds ``done`` entries (waits on Redis, never sleeps)."""
    rows: list[tuple[str, dict[bytes, bytes]]] = []
    cursor = "0-0"
    while len(rows) < done:
        response: Any = await client.xread({stream: cursor}, block=30_000)
        assert response, f"timed out waiting for {done} {what} on {stream}"
        for _key, entries in response:
            for entry_id, fields in entries:
                cursor = entry_id.decode()
                rows.append((cursor, fields))
    return rows


def test_every_documented_command_is_tested() -> None:
    assert set(doc_commands()) == {
        "submit",
        "wait",
        "read",
        "last",
        "cancel",
        "bad-json",
        "unknown-type",
        "missing-prompt",
        "missing-body",
        "errors",
        "session-error",
        "dead-letters",
    }


async def test_submit_with_redis_cli_reaches_the_assistant_and_the_answer_is_readable(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, fake: FakeControl
) -> None:
    shell = Shell(redis_url, namespace)
    entry_id = (await shell.run("submit")).strip()
    assert re.fullmatch(r"\d+-\d+", entry_id)

    first = await shell.run("wait")  # blocks until the assistant wrote the first entry
    assert "AssistantTurn" in first or "TaskResult" in first

    log = f"{namespace}:session:demo-1"
    rows = await read_until(redis_client, log, 2, "session entries")
    assert [f[b"type"] for _id, f in rows] == [b"AssistantTurn", b"TaskResult"]
    ((session, request),) = fake.tasks
    assert session == "demo-1"
    assert request.prompt.startswith("Compute the squares of 0 to 9")

    read = await shell.run("read")
    assert "AssistantTurn" in read
    assert "TaskResult" in read
    assert '"status":"completed"' in read
    assert "outcomes" in read
    last = await shell.run("last")
    assert "TaskResult" in last
    assert "AssistantTurn" not in last

    await shell.run("cancel")
    rows = await read_until(redis_client, log, 3, "session entries")
    final = decode_log_entry("demo-1", *rows[-1])
    assert final.type == "TaskResult"
    assert getattr(final.message, "status", None) == "cancelled"


async def test_bad_input_through_redis_cli_is_answered_on_the_errors_stream(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, fake: FakeControl
) -> None:
    shell = Shell(redis_url, namespace)
    for name in ("bad-json", "unknown-type", "missing-prompt", "missing-body"):
        await shell.run(name)
    await read_until(redis_client, f"{namespace}:errors", 4, "errors")

    errors = await shell.run("errors")
    for expected in (
        "invalid_message",  # bad JSON, and the body without a prompt
        "unknown_type",
        "unknown message type 'TaskRequets'",
        "prompt: Field required",
        "missing field 'body'",
    ):
        assert expected in errors, f"{expected!r} not in:\n{errors}"
    for session in ("demo-2", "demo-3", "demo-4", "demo-5"):
        assert session in errors
    assert fake.tasks == []  # none of it reached the handler

    in_session = await shell.run("session-error")
    assert "Error" in in_session
    assert "invalid_message" in in_session
    rows: Any = await redis_client.xrange(f"{namespace}:session:demo-2")
    (event,) = [decode_log_entry("demo-2", i.decode(), f) for i, f in rows]
    assert isinstance(event.message, ErrorEvent)
    assert event.is_final  # the task itself was rejected: a follower stops here

    dead = await shell.run("dead-letters")
    assert dead.count("invalid_message") + dead.count("unknown_type") == 4
    assert '\\"prompt\\": \\"unterminated' in dead or '"prompt": "unterminated' in dead
