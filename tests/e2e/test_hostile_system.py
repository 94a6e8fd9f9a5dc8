"""Hostile code through the whole system: a task's turn carries the attack into the executor.

The same attacks as ``tests/docker/test_executor_hostile.py`` (which drives the sandbox
directly), here as tasks on the compose stack (``conftest.stack``): the scripted FAKE model
replies with the hostile block, the Assistant sends it to an Executor replica, the Executor runs
it in the session's sandbox, the result comes back through Redis and the task ends. Each case
checks the ``ExecutionResult`` the session's log holds (exit code, ``timed_out``, output); then
a normal task still completes on every replica, and no sandbox container is left in a bad state
(the stack's teardown looks for leaks by label).

All attacks are submitted at once (their own sessions, execution timeout 5 s; 60 s for the
memory bomb and the search for another session's files) and checked one
test per case; the table is printed and written to ``.build/hostile.md``. Network checks never
send a packet anywhere: the code first checks that the sandbox has only a loopback interface
and stops if not.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from agent_streams import TopicId
from agent_streams.messages import (
    TASKS_TOPIC,
    ExecutionOptions,
    ExecutionResult,
    TaskRequest,
    TaskResult,
)
from agent_streams.streams.runtime import RedisStreamsRuntime

from .stack import EXECUTORS, ROOT, SANDBOX_LABEL, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

EXIT_TIMEOUT = 124  # agent_streams_executor.executors.base.EXIT_TIMEOUT
TIMEOUT_S = 5.0
ONLY_LOOPBACK = (
    "import os, socket, sys\n"
    "interfaces = sorted(os.listdir('/sys/class/net'))\n"
    "print('interfaces', interfaces)\n"
    "if interfaces != ['lo']:\n"
    "    sys.exit(99)  # never send anything from a sandbox that has a network\n"
)
LIST_PROCESSES = (
    "import os\n"
    "me = os.getpid()\n"
    "others = []\n"
    "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
    "    try:\n"
    "        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode()\n"
    "    except OSError:\n"
    "        continue\n"
    "    if 'HOSTILE-MARKER' in cmd and int(pid) != me:\n"
    "        others.append(cmd)\n"
    "print('left', others)\n"
)
SECRET = f"cross-session-secret-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Attack:
    """One hostile task: its code turns (language, code) and the check of its last result."""

    name: str
    tried: str
    turns: list[tuple[str, str]]
    check: Callable[[ExecutionResult, str], None]
    """Gets the last turn's result and the stack's namespace (a canary); asserts."""
    timeout_s: float = TIMEOUT_S
    """The execution timeout the task asks for (the memory bomb needs time to fill 1 GiB)."""


def _timed_out(r: ExecutionResult, _ns: str) -> None:
    assert (r.exit_code, r.timed_out) == (EXIT_TIMEOUT, True), r.output
    assert r.duration_s < TIMEOUT_S + 10, r.duration_s


def _fork_bomb(r: ExecutionResult, _ns: str) -> None:
    assert r.timed_out or r.exit_code in (1, 2, 126, 137), r.output


def _memory_bomb(r: ExecutionResult, _ns: str) -> None:
    assert r.exit_code == 137, r.output
    assert "out of memory" in r.output


def _network(r: ExecutionResult, _ns: str) -> None:
    assert r.exit_code == 0, r.output
    assert "interfaces ['lo']" in r.output
    assert "dns failed" in r.output
    assert "connect failed" in r.output


def _secrets(r: ExecutionResult, namespace: str) -> None:
    assert r.exit_code == 0, r.output
    for canary in (namespace, "AGENT_STREAMS", "redis://", "DOCKER_HOST", "EXECUTOR_"):
        assert canary not in r.output, canary


def _host_files(r: ExecutionResult, _ns: str) -> None:
    assert "True" not in r.output, r.output
    assert "hostname sandbox" in r.output


def _read_only(r: ExecutionResult, _ns: str) -> None:
    assert "WRITTEN" not in r.output, r.output
    assert "Read-only file system" in r.output


def _docker_socket(r: ExecutionResult, _ns: str) -> None:
    assert r.exit_code == 0, r.output
    assert "CONNECTED" not in r.output, r.output
    assert r.output.count("refused:") == 3, r.output


def _redis(r: ExecutionResult, _ns: str) -> None:
    assert r.exit_code == 0, r.output
    assert "CONNECTED" not in r.output, r.output
    assert r.output.count("refused:") == 3, r.output


def _huge_output(r: ExecutionResult, _ns: str) -> None:
    assert r.exit_code == 0, r.exit_code
    assert len(r.output) < 70_000, len(r.output)
    assert "bytes cut" in r.output


def _disk_fill(r: ExecutionResult, _ns: str) -> None:
    if r.timed_out and "the sandbox was replaced" in r.output:
        return  # seen at load 140 on 2 cores: the outer wall clock contained it instead
    assert "No space left on device" in r.output, r.output
    big = [a for a in r.artifacts if a.name == "fill.bin"]
    assert big, r.artifacts
    assert not big[0].stored, big[0]


def _setuid(r: ExecutionResult, _ns: str) -> None:
    assert r.exit_code == 0, r.output
    assert "uid 10001 10001" in r.output
    assert "caps 0000000000000000 nnp 1" in r.output
    assert "setuid: Operation not permitted" in r.output
    assert "setuid-binary: Operation not permitted" in r.output or "no setuid" in r.output


def _process_left(r: ExecutionResult, _ns: str) -> None:
    assert r.output.strip() == "left []", r.output


def _other_session(r: ExecutionResult, _ns: str) -> None:
    assert r.exit_code == 0, r.output
    assert "FOUND" not in r.output, r.output
    assert "searched" in r.output


SOCKET_TRIES = (
    "import socket\n"
    "def attempt(family, address):\n"
    "    s = socket.socket(family, socket.SOCK_STREAM)\n"
    "    s.settimeout(2)\n"
    "    try:\n        s.connect(address)\n        print(address, 'CONNECTED')\n"
    "    except OSError as exc:\n        print(address, 'refused:', type(exc).__name__)\n"
)

ATTACKS = [
    Attack(
        "fork bomb",
        "os.fork() forever",
        [
            (
                "python",
                "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
                "        pass",
            )
        ],
        _fork_bomb,
    ),
    Attack(
        "memory bomb",
        "16 MiB chunks until killed",
        [("python", "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 2**20))")],
        _memory_bomb,
        timeout_s=60,
    ),
    Attack("CPU spin", "while True: pass", [("python", "while True:\n    pass")], _timed_out),
    Attack(
        "sleep forever",
        "ignore SIGTERM, sleep 1 h",
        [
            (
                "python",
                "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "time.sleep(3600)",
            )
        ],
        _timed_out,
    ),
    Attack(
        "network egress + DNS",
        "resolve a name, connect to a public address",
        [
            (
                "python",
                ONLY_LOOPBACK
                + "try:\n    socket.getaddrinfo('example.com', 443)\n    print('dns ok')\n"
                "except OSError as exc:\n    print('dns failed', type(exc).__name__)\n"
                "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
                "    print('connect ok')\n"
                "except OSError as exc:\n    print('connect failed', exc.errno)\n",
            )
        ],
        _network,
    ),
    Attack(
        "environment and secrets",
        "print os.environ, /proc/1 and parent environ",
        [
            (
                "python",
                "import os\nprint(dict(os.environ))\n"
                "for pid in ('1', str(os.getppid())):\n"
                "    try:\n        print(open(f'/proc/{pid}/environ', 'rb').read())\n"
                "    except OSError as exc:\n        print('unreadable', exc)\n",
            )
        ],
        _secrets,
    ),
    Attack(
        "host files",
        "the repository, /root/.ssh, /etc/shadow, the host name",
        [
            (
                "python",
                "import os\n"
                f"paths = [{str(ROOT / 'README.md')!r}, '/root/.ssh', '/var/lib/docker', '/host']\n"
                "for path in paths:\n    print(path, os.path.exists(path))\n"
                "try:\n    open('/etc/shadow').read()\n    print('shadow True')\n"
                "except OSError as exc:\n    print('shadow', exc.strerror)\n"
                "print('hostname', open('/etc/hostname').read().strip())\n",
            )
        ],
        _host_files,
    ),
    Attack(
        "write outside the work dir",
        "/etc, /usr/local/lib, /home/sandbox, /",
        [
            (
                "python",
                "for path in ['/etc/evil', '/usr/local/lib/evil.py', '/home/sandbox/evil', "
                "'/evil']:\n"
                "    try:\n        open(path, 'w').write('x')\n        print(path, 'WRITTEN')\n"
                "    except OSError as exc:\n        print(path, exc.strerror)\n",
            )
        ],
        _read_only,
    ),
    Attack(
        "Docker socket",
        "unix sockets at /var/run, /run; TCP 2375 on the bridge gateway",
        [
            (
                "python",
                ONLY_LOOPBACK + SOCKET_TRIES + "attempt(socket.AF_UNIX, '/var/run/docker.sock')\n"
                "attempt(socket.AF_UNIX, '/run/docker.sock')\n"
                "attempt(socket.AF_INET, ('172.17.0.1', 2375))\n",
            )
        ],
        _docker_socket,
    ),
    Attack(
        "Redis from the sandbox",
        "redis:6379 by name, 127.0.0.1:6379, the bridge gateway",
        [
            (
                "python",
                ONLY_LOOPBACK
                + SOCKET_TRIES
                + "try:\n    attempt(socket.AF_INET, ('redis', 6379))\n"
                "except OSError as exc:\n    print('redis refused:', type(exc).__name__)\n"
                "attempt(socket.AF_INET, ('127.0.0.1', 6379))\n"
                "attempt(socket.AF_INET, ('172.17.0.1', 6379))\n",
            )
        ],
        _redis,
    ),
    Attack(
        "huge output",
        "200 MB on stdout",
        [
            (
                "python",
                "import sys\nchunk = 'x' * 1_000_000 + '\\n'\n"
                "for _ in range(200):\n    sys.stdout.write(chunk)",
            )
        ],
        _huge_output,
    ),
    Attack(
        "disk fill",
        "write 1 MiB blocks to the work dir until it fails",
        [
            (
                "python",
                "block = b'x' * 2**20\n"
                "try:\n    with open('fill.bin', 'wb') as f:\n"
                "        while True:\n            f.write(block)\n"
                "except OSError as exc:\n    print('stopped:', exc.strerror)\n",
            )
        ],
        _disk_fill,
    ),
    Attack(
        "setuid",
        "setuid(0), a setuid-root copy of python, capabilities",
        [
            (
                "python",
                "import os, shutil\nprint('uid', os.getuid(), os.getgid())\n"
                "status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
                "print('caps', status['CapEff'].strip(), 'nnp', status['NoNewPrivs'].strip())\n"
                "try:\n    os.setuid(0)\n    print('setuid: ROOT')\n"
                "except OSError as exc:\n    print('setuid:', exc.strerror)\n"
                "try:\n    shutil.copy('/bin/sh', 'sh')\n    os.chown('sh', 0, 0)\n"
                "    os.chmod('sh', 0o4755)\n    print('setuid-binary: MADE')\n"
                "except OSError as exc:\n    print('setuid-binary:', exc.strerror)\n",
            )
        ],
        _setuid,
    ),
    Attack(
        "process left running",
        "a child and a setsid daemon outliving the turn; listed on the next turn",
        [
            (
                "python",
                "import os, subprocess, time\n"
                "subprocess.Popen(['sh', '-c', 'sleep 300; echo HOSTILE-MARKER'])\n"
                "if os.fork() == 0:\n"
                "    os.setsid()\n"
                "    if os.fork() == 0:\n"
                "        os.execvp('sh', ['sh', '-c', 'sleep 300; echo HOSTILE-MARKER'])\n"
                "    os._exit(0)\n"
                "time.sleep(0.5)\n" + LIST_PROCESSES,
            ),
            ("python", LIST_PROCESSES),
        ],
        _process_left,
    ),
]
WRITER = Attack(
    "another session's files (writer)",
    "",
    [("python", f"open('secret.txt', 'w').write({SECRET!r})\nprint('written')")],
    lambda r, _ns: None,
)
READER = Attack(
    "another session's files",
    "search the file system (not /proc, /sys, /dev, /usr...) for another session's secret",
    [
        (
            "python",
            # the secret is spelt backwards here: this code's own file must not match
            "import os\nfound = []\n"
            "SKIP = ('/proc', '/sys', '/dev', '/usr', '/lib', '/bin', '/sbin', '/opt')\n"
            "for top in ['/']:\n"
            "    for root, dirs, files in os.walk(top):\n"
            "        if os.path.abspath(root).startswith(SKIP):\n"
            "            dirs[:] = []\n            continue\n"
            "        for name in files:\n"
            "            try:\n"
            "                with open(os.path.join(root, name), 'rb') as f:\n"
            f"                    if {SECRET[::-1]!r}[::-1].encode() in f.read(1 << 20):\n"
            "                        found.append(os.path.join(root, name))\n"
            "            except OSError:\n                pass\n"
            "print('FOUND' if found else 'searched', found)\n",
        )
    ],
    _other_session,
    timeout_s=60,
)


def scripted(attack: Attack) -> str:
    blocks = "".join(f"\n\n```{lang}\n{code.rstrip()}\n```" for lang, code in attack.turns)
    return f"Hostile case: {attack.name}.{blocks}"


@dataclass
class Outcome:
    attack: Attack
    session: str
    task: TaskResult
    runs: list[ExecutionResult]


async def _run_attacks(stack: Stack, attacks: list[Attack]) -> dict[str, Outcome]:
    """Submit every attack as its own task (execution timeout TIMEOUT_S); their outcomes."""
    runtime = RedisStreamsRuntime(stack.settings())
    runtime.start()
    await runtime.ready()
    sessions = {a.name: f"hostile-{uuid.uuid4().hex[:10]}" for a in attacks}
    try:
        for attack in attacks:
            request = TaskRequest(
                prompt=scripted(attack),
                timeout_s=300,
                execution=ExecutionOptions(timeout_s=attack.timeout_s),
            )
            await runtime.publish_message(request, TopicId(TASKS_TOPIC, sessions[attack.name]))
    finally:
        await runtime.stop()
    async with stack.client() as client:
        results = await asyncio.gather(
            *(client.wait(sessions[a.name], timeout=300) for a in attacks)
        )
        outcomes = {}
        for attack, task in zip(attacks, results, strict=True):
            events = await client.replay(sessions[attack.name])
            runs = [e.message for e in events if isinstance(e.message, ExecutionResult)]
            outcomes[attack.name] = Outcome(attack, sessions[attack.name], task, runs)
    return outcomes


@pytest.fixture(scope="module")
def outcomes(stack: Stack) -> Iterator[dict[str, Outcome]]:
    stack.up()
    found = asyncio.run(_run_attacks(stack, [*ATTACKS, WRITER]))
    # The reader runs once the writer's sandbox holds the secret (and still exists: idle).
    found.update(asyncio.run(_run_attacks(stack, [READER])))
    yield found
    rows = ["| attack | what the code tried | result | contained |", "|---|---|---|---|"]
    for attack in [*ATTACKS, READER]:
        outcome = found[attack.name]
        last = outcome.runs[-1] if outcome.runs else None
        try:
            assert last is not None
            attack.check(last, stack.namespace)
            verdict = "yes"
        except AssertionError:
            verdict = "NO"
        rows.append(f"| {attack.name} | {attack.tried} | {_summary(last)} | {verdict} |")
    table = "\n".join(rows)
    print("\n" + table)
    out = ROOT / ".build" / "hostile.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table + "\n")


def _summary(r: ExecutionResult | None) -> str:
    if r is None:
        return "no ExecutionResult"
    # the last line that says something (not a run of one character, as in "huge output")
    lines = [line for line in r.output.strip().splitlines() if len(set(line.strip())) > 2]
    tail = lines[-1][:90] if lines else ""
    tail = tail.replace("|", "/")
    flag = ", timed out" if r.timed_out else ""
    return f"exit {r.exit_code}{flag}, {r.duration_s:.1f} s: `{tail}`"


@pytest.mark.parametrize("attack", [*ATTACKS, READER], ids=lambda a: a.name)
def test_attack_is_contained(outcomes: dict[str, Outcome], attack: Attack, stack: Stack) -> None:
    outcome = outcomes[attack.name]
    assert outcome.task.status == "completed", outcome.task
    assert len(outcome.runs) == len(attack.turns), outcome.runs
    attack.check(outcome.runs[-1], stack.namespace)


async def test_every_replica_still_serves_and_no_sandbox_is_left_broken(
    outcomes: dict[str, Outcome], stack: Stack
) -> None:
    executors = stack.containers("executor")
    assert len(executors) == EXECUTORS, "an executor replica died"
    before = {c: stack.handled_code_messages(c) for c in executors}
    async with stack.client() as client:
        sessions = [await client.submit(f"```python\nprint({i} + 1)\n```") for i in range(9)]
        results = await asyncio.gather(*(client.wait(s, timeout=180) for s in sessions))
    assert [r.status for r in results] == ["completed"] * 9
    handled = {c[:12]: stack.handled_code_messages(c) - before[c] for c in executors}
    assert sum(handled.values()) == 9, handled
    # Every sandbox of the namespace is running (none exited or dead), and
    # each hostile session has at most one per replica.
    broken = _sandbox_ids(stack, "status=exited", "status=dead")
    assert broken == [], f"sandboxes not running: {broken}"
    for outcome in outcomes.values():
        per_session = _sandbox_ids(stack, f"label=agent-streams.session={outcome.session}")
        assert len(per_session) <= EXECUTORS, (outcome.attack.name, per_session)


def _sandbox_ids(stack: Stack, *filters: str) -> list[str]:
    """The namespace's sandbox containers matching every ``docker ps`` filter."""
    args = [
        "docker",
        "ps",
        "--all",
        "--quiet",
        "--filter",
        f"label={SANDBOX_LABEL}={stack.namespace}",
    ]
    for value in filters:
        args += ["--filter", value]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
