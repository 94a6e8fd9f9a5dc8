"""Hostile code: each attempt is contained, gives a clear result, and the executor goes on serving.

The Docker sandbox must contain all of them. The local executor is not a sandbox; it is held to
what it promises (timeouts, output caps, a scrubbed environment, no process left behind).
Network checks never send a packet anywhere: the code first checks that the sandbox has only a
loopback interface and stops if not, and with ``network none`` nothing can leave.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import docker
import pytest

from agent_streams import CancellationToken
from agent_streams_executor.executors.base import EXIT_TIMEOUT, CodeBlock, CodeResult
from agent_streams_executor.executors.session import SandboxExecutor

pytestmark = pytest.mark.timeout(180)

Make = Callable[..., Awaitable[SandboxExecutor]]


@pytest.fixture
def make(make_pool: Callable[..., Awaitable[object]]) -> Make:
    """A started executor with small limits, so that the bombs go off quickly."""

    async def build(kind: str, **overrides: object) -> SandboxExecutor:
        limits = {
            "memory_limit_mb": 256,
            "pids_limit": 64,
            "workdir_size_mb": 32,
            "workdir_max_files": 2000,
            "timeout_s": 5.0,
        }
        pool = await make_pool(kind, **{**limits, **overrides})
        executor: SandboxExecutor = await pool.executor("hostile")  # type: ignore[attr-defined]
        await executor.start()
        return executor

    return build


async def run(
    executor: SandboxExecutor, code: str, language: str = "python", timeout_s: float | None = None
) -> CodeResult:
    return await executor.execute_code_blocks(
        [CodeBlock(code, language)], CancellationToken(), timeout_s=timeout_s
    )


async def still_serving(executor: SandboxExecutor) -> None:
    result = await run(executor, "print('still serving')")
    assert (result.exit_code, result.output) == (0, "still serving\n"), result.output


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
    "print(others)\n"
)


# -- both executors ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["local", pytest.param("docker", marks=pytest.mark.docker)])
async def test_cpu_spin_past_the_timeout(make: Make, kind: str) -> None:
    executor = await make(kind)
    result = await run(executor, "while True:\n    pass", timeout_s=1)
    assert result.exit_code == EXIT_TIMEOUT
    assert "Timeout" in result.output
    await still_serving(executor)


@pytest.mark.parametrize("kind", ["local", pytest.param("docker", marks=pytest.mark.docker)])
async def test_sleep_past_the_timeout_ignoring_sigterm(make: Make, kind: str) -> None:
    executor = await make(kind)
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)"
    result = await run(executor, code, timeout_s=1)
    assert result.exit_code == EXIT_TIMEOUT
    assert result.timed_out
    assert result.duration_s < 5
    await still_serving(executor)


@pytest.mark.parametrize("kind", ["local", pytest.param("docker", marks=pytest.mark.docker)])
async def test_reading_the_service_environment(
    make: Make, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-do-not-leak")
    monkeypatch.setenv("REDIS_URL", "redis://canary-secret@127.0.0.1:6379/0")
    executor = await make(kind)
    code = (
        "import os\nprint(dict(os.environ))\n"
        "for pid in ('1', str(os.getppid())):\n"
        "    try:\n        print(open(f'/proc/{pid}/environ', 'rb').read())\n"
        "    except OSError as exc:\n        print('unreadable', exc)\n"
    )
    result = await run(executor, code)
    assert result.exit_code == 0, result.output
    assert "canary" not in result.output
    assert "OPENAI_API_KEY" not in result.output
    await still_serving(executor)


@pytest.mark.parametrize("kind", ["local", pytest.param("docker", marks=pytest.mark.docker)])
async def test_huge_stdout(make: Make, kind: str) -> None:
    executor = await make(kind, timeout_s=30.0)
    code = (
        "import sys\nchunk = 'x' * 1_000_000 + '\\n'\n"
        "for _ in range(200):\n    sys.stdout.write(chunk)"
    )
    result = await run(executor, code)
    assert result.exit_code == 0
    assert len(result.output) < 70_000
    assert "bytes cut" in result.output
    await still_serving(executor)


@pytest.mark.parametrize("kind", ["local", pytest.param("docker", marks=pytest.mark.docker)])
async def test_a_child_process_left_running_is_killed(make: Make, kind: str) -> None:
    executor = await make(kind)
    code = (
        "import os, subprocess, time\n"
        "subprocess.Popen(['sh', '-c', 'sleep 300; echo HOSTILE-MARKER'])\n"
        "if os.fork() == 0:\n"  # a daemon: its own session, its parent gone
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.execvp('sh', ['sh', '-c', 'sleep 300; touch late; echo HOSTILE-MARKER'])\n"
        "    os._exit(0)\n"
        "time.sleep(0.5)\n" + LIST_PROCESSES.replace("print(others)", "print('alive', len(others))")
    )
    result = await run(executor, code)
    assert "alive 2" in result.output, result.output
    after = await run(executor, LIST_PROCESSES)
    assert after.output == "[]\n", after.output
    await still_serving(executor)


# -- the Docker sandbox -----------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.parametrize(
    "bomb",
    [
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        ":(){ :|:& };:",
    ],
    ids=["python", "bash"],
)
async def test_fork_bomb(make: Make, bomb: str) -> None:
    executor = await make("docker")
    language = "bash" if bomb.startswith(":") else "python"
    result = await run(executor, bomb, language, timeout_s=3)
    assert result.exit_code in (EXIT_TIMEOUT, 0, 1, 2, 126, 128 + 9), result.output
    after = await run(
        executor, "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    )
    pids = eval(after.output)
    assert len(pids) == 2, pids  # the runner (PID 1) and this block
    await still_serving(executor)


@pytest.mark.docker
async def test_memory_bomb(make: Make) -> None:
    executor = await make("docker")
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 2**20))"
    result = await run(executor, code, timeout_s=30)
    assert result.exit_code == 137, result.output
    assert "out of memory" in result.output
    await still_serving(executor)


@pytest.mark.docker
async def test_network_egress_and_dns(make: Make) -> None:
    executor = await make("docker")
    code = (
        "import os, socket, sys\n"
        "interfaces = sorted(os.listdir('/sys/class/net'))\n"
        "print('interfaces', interfaces)\n"
        "if interfaces != ['lo']:\n"
        "    sys.exit(99)  # never send anything from a sandbox that has a network\n"
        "try:\n    socket.getaddrinfo('example.com', 443)\n    print('dns ok')\n"
        "except OSError as exc:\n    print('dns failed', type(exc).__name__)\n"
        "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
        "    print('connect ok')\n"
        "except OSError as exc:\n    print('connect failed', exc.errno)\n"
    )
    result = await run(executor, code)
    assert result.exit_code == 0, result.output
    assert "interfaces ['lo']" in result.output
    assert "dns failed" in result.output
    assert "connect failed" in result.output
    await still_serving(executor)


@pytest.mark.docker
async def test_network_only_where_the_operator_allows_it(
    make_pool: Callable[..., Awaitable[object]],
) -> None:
    interfaces = "import os; print(sorted(os.listdir('/sys/class/net')))"
    denied = await make_pool("docker", allow_network=False)
    result = await denied.run("s", [CodeBlock(interfaces)], CancellationToken(), network=True)  # type: ignore[attr-defined]
    assert "['lo']" in result.output
    assert "does not allow" in result.output
    allowed = await make_pool("docker", allow_network=True)
    result = await allowed.run("s", [CodeBlock(interfaces)], CancellationToken(), network=True)  # type: ignore[attr-defined]
    assert "eth0" in result.output  # an interface; no traffic is sent


@pytest.mark.docker
async def test_reading_host_files(make: Make, tmp_path: Path) -> None:
    canary = tmp_path / "host-canary.txt"
    canary.write_text("host secret")
    executor = await make("docker")
    code = (
        "import os\n"
        f"paths = [{str(canary)!r}, '/var/run/docker.sock', '/run/docker.sock', '/root/.ssh']\n"
        "for path in paths:\n"
        "    print(path, os.path.exists(path))\n"
        "print(open('/etc/hostname').read().strip())\n"
    )
    result = await run(executor, code)
    assert "True" not in result.output, result.output
    assert "sandbox" in result.output
    await still_serving(executor)


@pytest.mark.docker
async def test_privileges(make: Make) -> None:
    executor = await make("docker")
    code = (
        "import os\nprint(os.getuid(), os.getgid())\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
        "print(status['CapEff'].strip(), status['NoNewPrivs'].strip())\n"
    )
    result = await run(executor, code)
    assert result.output == "10001 10001\n0000000000000000 1\n"


@pytest.mark.docker
async def test_writing_outside_the_work_dir(make: Make) -> None:
    executor = await make("docker")
    code = (
        "for path in ['/etc/evil', '/usr/local/lib/evil.py', '/home/sandbox/evil', '/evil']:\n"
        "    try:\n        open(path, 'w').write('x')\n        print(path, 'WRITTEN')\n"
        "    except OSError as exc:\n        print(path, exc.strerror)\n"
    )
    result = await run(executor, code)
    assert "WRITTEN" not in result.output, result.output
    assert "Read-only file system" in result.output
    await still_serving(executor)


@pytest.mark.docker
async def test_filling_the_disk(make: Make) -> None:
    executor = await make("docker", artifact_max_file_bytes=1 * 2**20)
    code = (
        "block = b'x' * 2**20\n"
        "try:\n    with open('fill.bin', 'wb') as f:\n"
        "        while True:\n            f.write(block)\n"
        "except OSError as exc:\n    print('stopped:', exc.strerror)\n"
    )
    result = await run(executor, code)
    assert "No space left on device" in result.output, result.output
    [big] = result.files
    assert (big.name, big.content) == ("fill.bin", None)
    assert big.size > 2**20
    assert "cap" in (big.note or "")
    await still_serving(executor)  # runs although the work dir is full
    cleanup = await run(
        executor, "import os; os.remove('fill.bin'); open('small', 'w').write('ok')"
    )
    assert cleanup.exit_code == 0, cleanup.output


@pytest.mark.docker
async def test_many_files(make: Make) -> None:
    executor = await make("docker")
    code = (
        "import os\nmade = 0\n"
        "try:\n    while True:\n        open(f'f{made}', 'w').close()\n        made += 1\n"
        "except OSError as exc:\n    print('stopped after', made, exc.strerror)\n"
    )
    result = await run(executor, code, timeout_s=30)
    assert "No space left on device" in result.output, result.output
    assert len(result.files) == 64
    assert any("more changed files not returned" in note for note in result.notes)
    await still_serving(executor)


@pytest.mark.docker
async def test_cancelling_during_a_fork_bomb(make: Make) -> None:
    executor = await make("docker")
    token = CancellationToken()
    asyncio.get_running_loop().call_later(1.0, token.cancel)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = await executor.execute_code_blocks([CodeBlock(bomb)], token, timeout_s=20)
    assert result.cancelled
    await still_serving(executor)


@pytest.mark.docker
async def test_a_frozen_sandbox_is_replaced_by_the_outer_timeout(
    make: Make, docker_engine: docker.DockerClient
) -> None:
    """The wall clock is enforced from outside too: a sandbox that stops answering is dropped."""
    executor = await make("docker", timeout_grace_s=1.0)
    container_id = executor._sandbox.container_id  # type: ignore[union-attr]
    running = asyncio.ensure_future(run(executor, "import time\ntime.sleep(30)", timeout_s=1))
    docker_engine.api.pause(container_id)  # every process in it stops, the runner too
    result = await running
    assert (result.exit_code, result.timed_out) == (EXIT_TIMEOUT, True)
    assert "did not answer" in result.output
    with pytest.raises(docker.errors.NotFound):
        docker_engine.containers.get(container_id)
    await still_serving(executor)
