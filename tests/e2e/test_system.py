"""End to end: tasks through the whole compose stack (see conftest.py), as a user runs them.

The model is the scripted FAKE one (``fake_model_server.py``): each fenced code block in a
task's prompt is what the "model" replies on that turn, so every test knows exactly what code
runs; everything else is real (Redis, Assistant, three Executors, sandbox containers, CLI).

The tests share one stack and run in file order; each starts by bringing it back to three
healthy executors, so one that changes the stack (kill, down/up) leaves nothing to the next.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_streams.client import AgentStreamsClient
from agent_streams.messages import ExecutionResult, TaskResult

from .stack import EXECUTORS, ROOT, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

STOCKS = ROOT / "examples" / "data" / "stocks.csv"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

PLOT_CODE = """\
import matplotlib.pyplot as plt
import pandas as pd

prices = pd.read_csv("stocks.csv")
prices["date"] = pd.to_datetime(prices["date"], format="%b %d %Y")
wide = prices.pivot(index="date", columns="symbol", values="price")[["AAPL", "MSFT"]]
wide = wide.loc["2008-01-01":"2010-03-01"]
returns = (wide / wide.iloc[0] - 1) * 100
returns.plot(title="Cumulative return since Jan 2008 (%)")
plt.ylabel("%")
plt.savefig("plot.png")
print(returns.iloc[-1].round(1).to_dict())
"""


def scripted(*blocks: str, text: str = "Do the task.") -> str:
    """A task prompt whose code blocks the fake model replies with, one per turn."""
    return text + "".join(f"\n\n```python\n{block.rstrip()}\n```" for block in blocks)


def _cli() -> str:
    script = Path(sys.executable).with_name("agent-streams")
    return str(script) if script.exists() else "agent-streams"


async def _wait_all(
    client: AgentStreamsClient, sessions: list[str], timeout: float
) -> list[TaskResult]:
    return list(await asyncio.gather(*(client.wait(s, timeout=timeout) for s in sessions)))


async def _execution_results(
    client: AgentStreamsClient, session: str, *, described: bool = False
) -> list[ExecutionResult]:
    """The session's runs of the model's code; with ``described``, the input files'
    description (turn 0) first."""
    return [
        e.message
        for e in await client.replay(session)
        if isinstance(e.message, ExecutionResult) and (described or e.message.turn > 0)
    ]


def test_cli_task_on_real_data_returns_png(stack: Stack, tmp_path: Path) -> None:
    """`agent-streams submit --file stocks.csv`: followed live, exit 0, plot.png saved."""
    stack.up()
    out = tmp_path / "out"
    done = subprocess.run(
        [
            _cli(), "submit", scripted(PLOT_CODE, text="Plot AAPL vs MSFT returns."),
            "--file", str(STOCKS), "--out", str(out), "--timeout", "120", "--wait", "180",
        ],
        capture_output=True, text=True, env=stack.cli_env(), timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    pngs = list(out.glob("*/plot.png"))
    assert len(pngs) == 1, f"no plot.png under {out}: {list(out.rglob('*'))}\n{done.stdout}"
    assert pngs[0].read_bytes().startswith(PNG_MAGIC)
    assert pngs[0].stat().st_size > 10_000  # a real figure, not an empty canvas
    # The printed returns come from the real file: AAPL and MSFT from Jan 2008 to Mar 2010.
    assert "'AAPL'" in done.stdout
    assert "'MSFT'" in done.stdout


async def test_thirty_tasks_spread_over_three_executors(stack: Stack) -> None:
    stack.up()
    executors = stack.containers("executor")
    assert len(executors) == EXECUTORS
    before = {c: stack.handled_code_messages(c) for c in executors}
    async with stack.client() as client:
        sessions = [
            await client.submit(scripted(f"print({i} * {i})"), timeout_s=240) for i in range(30)
        ]
        results = await _wait_all(client, sessions, timeout=240)
        assert [r.status for r in results] == ["completed"] * 30
        for i, session in enumerate(sessions):
            runs = await _execution_results(client, session)
            assert [r.exit_code for r in runs] == [0]
            assert runs[0].stdout.strip() == str(i * i)
    handled = {c[:12]: stack.handled_code_messages(c) - before[c] for c in executors}
    assert sum(handled.values()) == 30, handled
    assert all(n > 0 for n in handled.values()), f"not every executor took work: {handled}"


async def test_session_files_carry_over_between_turns_on_any_replica(stack: Stack) -> None:
    """Turn 2 reads what turn 1 wrote, and the task's input file, whichever replica runs it."""
    stack.up()
    first = 'open("state.txt", "w").write("from turn 1")\nprint(len(open("stocks.csv").read()))'
    second = 'print(open("state.txt").read(), len(open("stocks.csv").read()))'
    async with stack.client() as client:
        sessions = [
            await client.submit(scripted(first, second), files=[STOCKS], timeout_s=240)
            for _ in range(9)
        ]
        results = await _wait_all(client, sessions, timeout=240)
        size = len(STOCKS.read_text())
        for session, result in zip(sessions, results, strict=True):
            described, *runs = await _execution_results(client, session, described=True)
            assert described.turn == 0
            assert described.output.startswith("stocks.csv ("), described.output
            outputs = [(r.exit_code, r.stdout.strip() or r.stderr.strip()[-200:]) for r in runs]
            assert outputs == [(0, str(size)), (0, f"from turn 1 {size}")], (session, outputs)
            assert result.status == "completed"


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(["docker", "stop", "--timeout", "25"], id="stop-drains"),
        pytest.param(["docker", "kill", "--signal", "KILL"], id="kill-9-is-taken-over"),
    ],
)
async def test_stopping_an_executor_mid_task_loses_nothing(stack: Stack, stop: list[str]) -> None:
    """Stop (SIGTERM: it drains) or kill -9 (its entries are taken over after the claim idle
    time) the executor that holds running code: every task still completes, once."""
    stack.up()
    executors = stack.containers("executor")
    code = 'import time\ntime.sleep(6)\nprint("slept")'
    async with stack.client() as client:
        sessions = [await client.submit(scripted(code), timeout_s=240) for _ in range(4)]
        victim = await _executor_holding_work(stack, executors)
        await asyncio.sleep(2)  # well inside the 6 s sleep of the code it runs
        await asyncio.to_thread(subprocess.run, [*stop, victim], check=True, timeout=60)
        # 6 s of code, a 6 s claim idle time, a new sandbox: well within 90 s
        results = await _wait_all(client, sessions, timeout=90)
        assert [r.status for r in results] == ["completed"] * 4
        for session in sessions:
            runs = await _execution_results(client, session)
            assert runs, f"no execution result in session {session}"
            assert runs[-1].exit_code == 0
            assert runs[-1].stdout.strip() == "slept"
            # one result per request: a redelivered request is answered, not run twice
            assert len({r.request_id for r in runs}) == len(runs)
        dead = [d for d in await client.dead_letters(100) if d.source in sessions]
        assert dead == []


async def _executor_holding_work(stack: Stack, executors: list[str]) -> str:
    """The executor container whose consumer holds pending entries of the code stream (read
    as the operator: XPENDING is not the client user's)."""
    async with AgentStreamsClient(stack.settings()) as operator:
        stream = operator.keys.topic("code")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for group in await operator.redis.xinfo_groups(stream):
                if group["name"] not in (b"executor", "executor"):
                    continue  # the canceller's group sees the same entries
                pending = await operator.redis.xpending(stream, group["name"])
                for consumer in pending["consumers"]:
                    name = consumer["name"]
                    name = name.decode() if isinstance(name, bytes) else str(name)
                    for container in executors:
                        if name.startswith(container[:12]):
                            return container
            await asyncio.sleep(0.1)
    raise AssertionError("no executor took the code requests within 60 s")


async def test_queued_tasks_survive_down_and_up(stack: Stack) -> None:
    """`docker compose down` (volumes kept) then `up`: tasks queued before are done after."""
    stack.up()
    stack.compose("stop", "assistant", "executor")
    async with stack.client() as client:
        sessions = [await client.submit(scripted(f"print('kept {i}')")) for i in range(3)]
        assert await client.redis.xlen(client.keys.topic("tasks")) >= 3
    stack.compose("down", "--timeout", "30")  # no --volumes: Redis' AOF volume stays
    assert stack.containers("redis") == []
    stack.up()
    async with stack.client() as client:
        results = await _wait_all(client, sessions, timeout=180)
        assert [r.status for r in results] == ["completed"] * 3
        for i, session in enumerate(sessions):
            runs = await _execution_results(client, session)
            assert runs[-1].stdout.strip() == f"kept {i}"


def test_no_sandbox_outlives_its_session_after_scale_down(stack: Stack) -> None:
    """Scaling the executors down stops them gracefully: their sandboxes go with them."""
    stack.up()
    assert stack.sandboxes(), "the executors should have sandboxes (spares, sessions)"
    stack.compose("up", "--detach", "--no-build", "--wait", "--scale", "executor=1")
    remaining = set(stack.containers("executor"))
    assert len(remaining) == 1
    owners = _sandbox_owners(stack)
    assert owners <= {c[:12] for c in remaining}, owners
    stack.up()


def _sandbox_owners(stack: Stack) -> set[str]:
    """Host names (container ids) of the executors that own the namespace's sandboxes."""
    deadline = time.monotonic() + 20
    while True:
        ids = stack.sandboxes()
        owners = set()
        for container in ids:
            label = subprocess.run(
                ["docker", "inspect", "--format", '{{index .Config.Labels "agent-streams.owner"}}',
                 container],
                capture_output=True, text=True, check=False,
            ).stdout.strip()  # fmt: skip
            if label:
                owners.add(label.split(":", 1)[0])
        if len(owners) <= 1 or time.monotonic() > deadline:
            return owners
        time.sleep(0.5)
