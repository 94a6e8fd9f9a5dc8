"""Bad-input suite: malformed and hostile entries against the REAL services, as processes.

``agent-streams-assistant`` (talking to the scripted FAKE model server of the e2e tests over
HTTP) and ``agent-streams-executor`` (local backend) run as child processes in a namespace of
their own. Each case below is one stream entry written with ``redis-cli`` (a subprocess) or raw
redis-py straight onto a topic (``tasks``, ``code``, ``results``) or an agent inbox: bad JSON,
wrong types, unknown types, missing and extra fields, huge bodies, deep nesting, invalid UTF-8,
forged senders, replayed ids, absurd limits. The suite then checks that each one got the answer
the submitter can read that it expects (an error on the errors stream with a code, a dead letter,
an ``Error`` in the session's log when the entry names a valid session; or, for valid but odd
input, the task's own ending), that both services still run with the same pid, and that a good
task submitted afterwards completes. The table of results is printed (``make bad-input``) and
written to ``.build/bad-input.md``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from agent_streams.client import AgentStreamsClient
from agent_streams.keys import Keys
from agent_streams.messages import ExecutionResult
from agent_streams.streams import RuntimeSettings
from tests.integration._bad_inputs import ERROR_CODES, GOOD_CODE, GROUPS, Case, Fields, cases

pytestmark = [pytest.mark.redis, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FAKE_MODEL = ROOT / "tests" / "e2e" / "fake_model_server.py"
REPORT = ROOT / ".build" / "bad-input.md"
WAIT_S = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the services as processes --------------------------------------------------------------------


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    pid: int = 0

    def __post_init__(self) -> None:
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Services:
    namespace: str
    redis_url: str
    procs: list[Service] = field(default_factory=list)

    @property
    def keys(self) -> Keys:
        return Keys(self.namespace)


def _start(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> Service:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    return Service(name, proc, log)


async def _wait_ready(services: Services) -> None:
    """Until every consumer group of the services exists (they create them when ready)."""
    client = aioredis.Redis.from_url(services.redis_url, protocol=2)
    keys = services.keys
    want = {
        keys.topic("tasks"): {"assistant"},
        keys.topic("results"): {"assistant"},
        keys.topic("code"): {"executor", "executor-cancel"},
    }
    try:
        async with asyncio.timeout(60):
            while True:
                for svc in services.procs:
                    if not svc.alive():
                        pytest.fail(f"{svc.name} exited at start:\n{svc.tail()}")
                ready = True
                for stream, groups in want.items():
                    try:
                        rows = await client.xinfo_groups(stream)
                    except aioredis.ResponseError:
                        rows = []
                    ready &= groups <= {r["name"].decode() for r in rows}
                if ready:
                    return
                await asyncio.sleep(0.1)
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def services(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    namespace = f"bad-{uuid.uuid4().hex[:10]}"
    workdir = tmp_path_factory.mktemp("bad-input")
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_STREAMS_", "OPENAI"))}
    base |= {
        "AGENT_STREAMS_REDIS_URL": redis_url,
        "AGENT_STREAMS_NAMESPACE": namespace,
        "AGENT_STREAMS_RETRY_BACKOFF_MS": "20",
        "AGENT_STREAMS_LOG_JSON": "true",
        "PYTHONUNBUFFERED": "1",
    }
    services = Services(namespace, redis_url)
    model = _start(
        "fake-model", [sys.executable, str(FAKE_MODEL), "--port", str(port)], base, workdir
    )
    services.procs.append(model)
    assistant_env = base | {
        "AGENT_STREAMS_MODEL_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "AGENT_STREAMS_MODEL_NAME": "fake-model",
        "AGENT_STREAMS_MODEL_MAX_RETRIES": "2",
    }
    executor_env = base | {
        "EXECUTOR_BACKEND": "local",
        "EXECUTOR_LOCAL_ROOT_DIR": str(workdir / "sandboxes"),
        "EXECUTOR_WARM_SPARES": "0",
        "EXECUTOR_PRELOAD_MODULES": "[]",
        "EXECUTOR_TIMEOUT_S": "20",
    }
    services.procs.append(
        _start("assistant", [str(BIN / "agent-streams-assistant")], assistant_env, workdir)
    )
    services.procs.append(
        _start("executor", [str(BIN / "agent-streams-executor")], executor_env, workdir)
    )
    try:
        asyncio.run(_wait_ready(services))
        yield services
    finally:
        for svc in services.procs:
            if svc.alive():
                svc.proc.send_signal(signal.SIGTERM)
        for svc in services.procs:
            try:
                svc.proc.wait(40)
            except subprocess.TimeoutExpired:
                svc.proc.kill()
                svc.proc.wait()
        asyncio.run(_cleanup(redis_url, namespace))


async def _cleanup(redis_url: str, namespace: str) -> None:
    client = aioredis.Redis.from_url(redis_url, protocol=2)
    keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


# -- sending --------------------------------------------------------------------------------------


@dataclass
class Sent:
    case: Case
    session: str
    stream: str
    entry_ids: list[str]


def _stream(keys: Keys, target: str) -> str:
    if target.startswith("inbox:"):
        return keys.inbox(target.removeprefix("inbox:"))
    return keys.topic(target)


def _fill(fields: Fields, session: str, namespace: str) -> Fields:
    return [
        (k, v.replace(b"{S}", session.encode()).replace(b"{NS}", namespace.encode()))
        for k, v in fields
    ]


def _send_cli(redis_url: str, stream: str, fields: Fields) -> str:
    """``redis-cli XADD``; a value over 100 KB (too long for one argv string) goes last, read
    from stdin (``redis-cli -x``)."""
    binary = shutil.which("redis-cli")
    assert binary is not None, "the bad-input suite sends with redis-cli: install it"
    big = [(k, v) for k, v in fields if len(v) > 100_000]
    small = [(k, v) for k, v in fields if len(v) <= 100_000]
    assert len(big) <= 1, "redis-cli -x reads one value"
    argv: list[bytes] = [binary.encode(), b"-u", redis_url.encode()]
    argv += [b"-x"] if big else []
    argv += [b"XADD", stream.encode(), b"*", *(part for pair in small for part in pair)]
    argv += [big[0][0]] if big else []
    stdin = big[0][1] if big else None
    out = subprocess.run(argv, input=stdin, capture_output=True, check=True, timeout=30)
    text = out.stdout.decode(errors="replace").strip()
    assert "ERR" not in text, f"redis-cli XADD failed: {text} {out.stderr!r}"
    assert "-" in text, f"redis-cli XADD gave no entry id: {text} {out.stderr!r}"
    return text


async def _send(redis_: aioredis.Redis, services: Services, case: Case, n: int) -> Sent:
    session = f"bi{n:02d}-{uuid.uuid4().hex[:8]}"
    stream = _stream(services.keys, case.target)
    fields = _fill(case.fields, session, services.namespace)
    ids = []
    for _ in range(case.repeat):
        if case.via == "redis-cli":
            ids.append(await asyncio.to_thread(_send_cli, services.redis_url, stream, fields))
        else:
            flat = [part for pair in fields for part in pair]
            raw = await redis_.execute_command("XADD", stream, "*", *flat)  # type: ignore[no-untyped-call]
            ids.append(raw.decode())
    return Sent(case, session, stream, ids)


# -- observing ------------------------------------------------------------------------------------


@dataclass
class Seen:
    errors: list[dict[str, str]] = field(default_factory=list)
    dead: list[dict[str, str]] = field(default_factory=list)
    log: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (type, body)

    def codes(self) -> list[str]:
        return [e["code"] for e in self.errors]


def _decode(fields: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}


async def observe(redis_: aioredis.Redis, keys: Keys, sent: list[Sent]) -> dict[int, Seen]:
    rows: Any = await redis_.xrange(keys.errors)
    errors = [_decode(f) for _id, f in rows]
    rows = await redis_.xrange(keys.dead_letters)
    dead = [_decode(f) for _id, f in rows]
    seen: dict[int, Seen] = {}
    for i, s in enumerate(sent):
        mine = {(s.stream, e) for e in s.entry_ids}
        obs = Seen(
            errors=[e for e in errors if (e.get("stream"), e.get("entry")) in mine],
            dead=[d for d in dead if (d.get("stream"), d.get("entry")) in mine],
        )
        rows = await redis_.xrange(keys.session(s.session))
        for _id, f in rows:
            d = _decode(f)
            try:
                body = json.loads(d.get("body", "null"))
            except ValueError:
                body = None
            obs.log.append((d.get("type", ""), body if isinstance(body, dict) else {}))
        seen[i] = obs
    return seen


def satisfied(s: Sent, obs: Seen) -> bool:
    expect, groups = s.case.expect, GROUPS[s.case.target]
    log_types = [t for t, _b in obs.log]
    if expect in ERROR_CODES:
        per_group = Counter(e["group"] for e in obs.errors if e["code"] == expect)
        dead_groups = Counter(d["group"] for d in obs.dead)
        return all(per_group[g] >= 1 and dead_groups[g] >= 1 for g in groups)
    if expect.startswith("result:"):
        status = expect.removeprefix("result:")
        return any(t == "TaskResult" and b.get("status") == status for t, b in obs.log)
    if expect.startswith("exec:"):
        text = expect.removeprefix("exec:")
        return any(t == "ExecutionResult" and text in b.get("output", "") for t, b in obs.log)
    if expect == "once":
        return "TaskResult" in log_types
    if expect == "replayed":
        return log_types.count("ExecutionResult") >= 2
    return expect == "ignored"


async def drained(redis_: aioredis.Redis, keys: Keys) -> bool:
    """Every consumer group of the namespace has nothing undelivered and nothing pending."""
    streams = [keys.topic(t) for t in ("tasks", "code", "results")]
    streams += [keys.inbox(a) for a in ("assistant", "executor", "executor-cancel")]
    for stream in streams:
        try:
            groups = await redis_.xinfo_groups(stream)
        except aioredis.ResponseError:
            continue
        for g in groups:
            if g["pending"] or g.get("lag"):
                return False
    return True


def where(s: Sent, obs: Seen) -> tuple[str, str]:
    """(where the answer appeared, its code or status) for the table."""
    places = []
    if obs.errors:
        groups = sorted({e["group"] for e in obs.errors})
        places.append(f"errors ({'+'.join(groups)})")
    if obs.dead:
        places.append(f"dead-letters x{len(obs.dead)}")
    log_types = Counter(t for t, _b in obs.log)
    if log_types:
        places.append("session log: " + ", ".join(f"{t}x{n}" for t, n in sorted(log_types.items())))
    codes = sorted(set(obs.codes()))
    results = [b.get("status", "") for t, b in obs.log if t == "TaskResult"]
    runs = [b for t, b in obs.log if t == "ExecutionResult"]
    if codes:
        code = ",".join(codes)
    elif results:
        code = "TaskResult " + ",".join(results)
    elif runs:
        code = f"ExecutionResult exit {runs[0].get('exit_code')}"
    else:
        code = "-"
    return ("; ".join(places) or "nowhere (service log only)"), code


def table(sent: list[Sent], seen: dict[int, Seen], ok: dict[int, bool]) -> str:
    rows = ["| # | input | target | via | where the answer appeared | code | ok |"]
    rows.append("|---|---|---|---|---|---|---|")
    notes: list[str] = []
    for i, s in enumerate(sent):
        place, code = where(s, seen[i])
        mark = "yes" if ok[i] else "NO"
        case = s.case
        if case.note:
            notes.append(f"[{len(notes) + 1}] {case.note}")
            place += f" [{len(notes)}]"
        rows.append(
            f"| {i + 1} | {case.name} | {case.target} | {case.via} | {place} | {code} | {mark} |"
        )
    return "\n".join([*rows, "", *notes])


# -- the test -------------------------------------------------------------------------------------


@pytest.fixture
async def raw(services: Services) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(services.redis_url, protocol=2)
    yield client
    await client.aclose()


async def test_every_bad_input_is_answered_and_the_services_live_on(
    services: Services, raw: aioredis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    all_cases = cases()
    assert len(all_cases) >= 40
    assert {c.via for c in all_cases} == {"redis-cli", "redis-py"}
    assert set(GROUPS) == {c.target for c in all_cases}
    pids = {svc.name: svc.pid for svc in services.procs}
    keys = services.keys
    started = time.monotonic()
    sent = [await _send(raw, services, case, n) for n, case in enumerate(all_cases, 1)]

    # Wait until every case has its answer and the services have nothing left to do; on a
    # timeout go on anyway, so that the table shows which cases did not get theirs.
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        seen = await observe(raw, keys, sent)
        done = all(satisfied(s, seen[i]) for i, s in enumerate(sent))
        if done and await drained(raw, keys):
            break
        await asyncio.sleep(0.2)
    seen = await observe(raw, keys, sent)
    elapsed = time.monotonic() - started

    # The next good task still completes, through the same processes.
    settings = RuntimeSettings(redis_url=services.redis_url, namespace=services.namespace)
    async with AgentStreamsClient(settings) as client:
        good = await client.submit("compute 6 * 7:\n" + GOOD_CODE)
        result = await client.wait(good, timeout=60)
        outputs = [
            e.message.output.strip()
            for e in await client.replay(good)
            if isinstance(e.message, ExecutionResult)
        ]

    ok = {i: _check(s, seen[i]) for i, s in enumerate(sent)}
    text = table(sent, seen, ok)
    alive = {svc.name: (svc.alive(), svc.pid == pids[svc.name]) for svc in services.procs}
    crashes = {
        svc.name: svc.log.read_text(errors="replace").count("background_loop_failed")
        for svc in services.procs
    }
    summary = (
        f"{len(sent)} bad inputs ({sum(c.via == 'redis-cli' for c in all_cases)} via redis-cli, "
        f"{sum(c.via == 'redis-py' for c in all_cases)} via redis-py) answered in "
        f"{elapsed:.1f} s; {sum(ok.values())}/{len(ok)} as expected; services alive with the "
        f"same pid: {all(a and p for a, p in alive.values())}; next good task: {result.status}"
    )
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(f"{text}\n\n{summary}\n")
    with capsys.disabled():
        print(f"\n\nBad-input suite (namespace {services.namespace})\n\n{text}\n\n{summary}\n")

    assert [s.case.name for i, s in enumerate(sent) if not ok[i]] == []
    # Hostile reply_to values made no service write outside its namespace or into a topic.
    assert await raw.exists("elsewhere:stream") == 0
    rows: Any = await raw.xrange(keys.topic("tasks"))
    assert [f for _id, f in rows if b"status" in f] == []
    assert alive == {name: (True, True) for name in pids}, {
        svc.name: svc.tail() for svc in services.procs
    }
    assert crashes == {name: 0 for name in pids}
    assert result.status == "completed", result
    assert outputs == ["42"]


def _check(s: Sent, obs: Seen) -> bool:
    """The expected answer, and nothing contradicting it."""
    if not satisfied(s, obs):
        return False
    expect, groups = s.case.expect, GROUPS[s.case.target]
    source_ok = any(k == b"source" and b"{S}" in v for k, v in s.case.fields)
    if expect in ERROR_CODES:
        # one error and one dead letter per group and delivery, and the session hears of it
        if source_ok and not any(t == "Error" for t, _b in obs.log):
            return False
        return {e["group"] for e in obs.errors} == set(groups)
    if expect == "once":
        types = [t for t, _b in obs.log]
        return types.count("TaskResult") == 1 and types.count("ExecutionRequest") == 1
    if expect == "replayed":
        runs = [json.dumps(b, sort_keys=True) for t, b in obs.log if t == "ExecutionResult"]
        return len(runs) == 2 and runs[0] == runs[1]
    if expect == "ignored":
        return not obs.errors and not obs.dead
    return not obs.errors
