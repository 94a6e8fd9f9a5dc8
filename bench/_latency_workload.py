"""The latency-bound workload of ``bench/system.py``: how tasks/s scale with replicas when
waiting, not the two cores, bounds the work.

The CPU-bound burst of ``system.py`` cannot show replicas scaling on a 2-core machine: one
replica already keeps both cores busy. Real agent work mostly waits (on a model, on I/O), and
that is where replicas pay off. Here:

* the code waits: each task is one turn of ``time.sleep(code_sleep_s)`` in its sandbox;
* the model waits: the FAKE model answers every call after a fixed ``model_delay_s``;
* each replica takes **one entry at a time** (``AGENT_STREAMS_MAX_INFLIGHT=1``, compose's
  ``EXECUTOR_MAX_INFLIGHT`` / ``ASSISTANT_MAX_INFLIGHT``), as a replica sized to a pod of its own
  would; without a cap, one replica would run every sandbox at once and more replicas could add
  nothing on one machine.

Two series, each starting from fresh replicas (executors with a warm spare sandbox each):
executor-bound (1, 2, 4 executors, 2 assistants, a long sleep and a short model delay) and
assistant-bound (1, 2 assistants, 4 executors, a long model delay and a short sleep). Tasks/s =
tasks / (first TaskRequest -> last TaskResult), from the session logs' entry ids (Redis' clock).
The host's busy cores over each phase are printed with it, to show the two cores were not what
bounded it (each new session still starts a sandbox: ~1 CPU-s).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.stack import Stack

from agent_streams.messages import TaskRequest, TaskResult

TARGETS = {2: 1.8, 4: 3.2}
"""Executor replicas -> the tasks/s speed-up over 1 replica the issue asks for."""


@dataclass(frozen=True)
class Setup:
    """One phase: replica counts, what bounds it, and the waits."""

    bound: str  # "executors" or "assistants": the series this phase belongs to
    executors: int
    assistants: int
    model_delay_s: float
    code_sleep_s: float
    tasks: int


@dataclass
class Outcome:
    setup: Setup
    tasks: int = 0
    wall_s: float = 0.0
    busy_cores: float = 0.0
    load: str = ""
    failures: list[str] = field(default_factory=list)

    @property
    def tasks_per_s(self) -> float:
        return self.tasks / self.wall_s if self.wall_s else float("nan")


def setups(executor_tasks: int, assistant_tasks: int) -> list[Setup]:
    """The two series (see the module docstring)."""
    by_executors = [Setup("executors", e, 2, 0.2, 6.0, executor_tasks) for e in (1, 2, 4)]
    by_assistants = [Setup("assistants", 4, a, 2.0, 0.2, assistant_tasks) for a in (1, 2)]
    return by_executors + by_assistants


SPARES = 1
"""Warm sandboxes per executor: a task takes one, a new one starts while its code waits."""


def stack_settings() -> dict[str, str]:
    """Compose variables of the latency stack: one entry per replica at a time, and spares."""
    return {
        "EXECUTOR_MAX_INFLIGHT": "1",
        "ASSISTANT_MAX_INFLIGHT": "1",
        "EXECUTOR_WARM_SPARES": str(SPARES),
    }


def _busy_s() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _prepare(stack: Stack, setup: Setup, spares_ready: Callable[[Stack, int], None]) -> None:
    """Fresh replicas at the setup's counts, the fake model at its delay, spares ready."""
    if stack.env.get("FAKE_MODEL_LATENCY_S") != str(setup.model_delay_s):
        stack.env["FAKE_MODEL_LATENCY_S"] = str(setup.model_delay_s)
        stack.compose("up", "--detach", "--no-build", "--wait", "fake-model")
    scale = ("--scale", f"assistant={setup.assistants}")
    stack.compose("up", "--detach", "--no-build", "--wait", "--scale", "executor=0", *scale)
    # One executor at a time, each after the previous one's spare is up: an executor starting
    # removes the namespace's sandboxes that are not running yet, a sibling's spare included.
    for count in range(1, setup.executors + 1):
        stack.compose(
            "up", "--detach", "--no-build", "--wait", "--wait-timeout", "180", "--no-recreate",
            "--scale", f"executor={count}", *scale,
        )  # fmt: skip
        spares_ready(stack, SPARES * count)


async def _burst(stack: Stack, setup: Setup, out: Outcome) -> None:
    code = f"import time\ntime.sleep({setup.code_sleep_s})\nprint({{i}})"
    prompt = "Benchmark task.\n\n```python\n{code}\n```"
    async with stack.client() as client:
        sessions = [
            await client.submit(prompt.format(code=code.format(i=i)), timeout_s=900)
            for i in range(setup.tasks)
        ]
        results = await asyncio.gather(*(client.wait(s, timeout=900) for s in sessions))
        starts, ends = [], []
        for session, result in zip(sessions, results, strict=True):
            if result.status != "completed":
                out.failures.append(f"{session}: {result.status} {result.error or ''}")
                continue
            events = await client.replay(session)
            ids = {type(e.message): e.entry_id for e in events}
            starts.append(int(ids[TaskRequest].split("-")[0]))
            ends.append(int(ids[TaskResult].split("-")[0]))
    out.tasks = len(ends)
    out.wall_s = (max(ends) - min(starts)) / 1000 if ends else 0.0


async def run(
    stack: Stack, plan: list[Setup], spares_ready: Callable[[Stack, int], None]
) -> list[Outcome]:
    """Every phase of ``plan`` on ``stack`` (started with ``stack_settings()``), in order."""
    outcomes = []
    for setup in plan:
        print(
            f"... latency-bound: {setup.executors} executor(s), {setup.assistants} "
            f"assistant(s), {setup.tasks} tasks",
            flush=True,
        )
        await asyncio.to_thread(_prepare, stack, setup, spares_ready)
        out = Outcome(setup, load=_load())
        busy = _busy_s()
        await _burst(stack, setup, out)
        out.busy_cores = (_busy_s() - busy) / out.wall_s if out.wall_s else float("nan")
        outcomes.append(out)
    return outcomes


def report(outcomes: list[Outcome]) -> None:
    print(
        "\nLatency-bound: one-turn tasks that wait (code: time.sleep; the fake model: a fixed "
        "delay per reply), all submitted at once; each replica takes one entry at a time"
    )
    print(
        f"{'series':>10} | {'executors':>9} {'assistants':>10} | {'sleep':>5} {'model':>5} "
        f"{'tasks':>5} | {'tasks/s':>7} {'speed-up':>8} {'target':>7} | "
        f"{'busy cores':>10} {'load at start':>15}"
    )
    for bound in ("executors", "assistants"):
        series = [o for o in outcomes if o.setup.bound == bound]
        if not series:
            continue
        base = series[0].tasks_per_s
        for o in series:
            s = o.setup
            replicas = s.executors if bound == "executors" else s.assistants
            target = TARGETS.get(replicas) if bound == "executors" else None
            wanted = f">={target}x" if target else ""
            print(
                f"{bound:>10} | {s.executors:>9} {s.assistants:>10} | {s.code_sleep_s:>4.1f}s "
                f"{s.model_delay_s:>4.1f}s {o.tasks:>5} | {o.tasks_per_s:>7.3f} "
                f"{o.tasks_per_s / base:>7.2f}x {wanted:>7} | {o.busy_cores:>10.2f} "
                f"{o.load:>15}"
            )
    failures = [f for o in outcomes for f in o.failures]
    if failures:
        print(f"\n{len(failures)} failure(s):", *failures[:10], sep="\n  ")
    print(
        "\nspeed-up: over the series' first row. Ideal: the replica ratio, less the first and "
        "last model reply of the burst (not parallel) and the tail of the last wave. busy "
        "cores: the whole machine's over the phase, other work included."
    )
    saturated = [o for o in outcomes if o.busy_cores >= 0.9 * (os.cpu_count() or 2)]
    if saturated:
        print(
            f"warning: the machine's cores were saturated in {len(saturated)} of "
            f"{len(outcomes)} phases (busy cores near {os.cpu_count()}): there the figures "
            "are bound by CPU (other work on the machine included), not by waiting."
        )
