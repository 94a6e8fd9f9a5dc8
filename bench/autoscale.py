"""Lag-driven scale-up, simulated on one machine: how long a burst takes to drain with and
without an autoscaler that watches the streams as KEDA's Redis Streams scaler does.

    uv run python bench/autoscale.py [--tasks 200] [--max-replicas 6]
    make bench-autoscale

The production compose stack (``tests/e2e/stack.py``) with the FAKE model (fixed delay per
reply), one-turn tasks whose code waits (``time.sleep``), and each replica taking one entry at a
time (``*_MAX_INFLIGHT=1``, as a replica sized to a pod). Two runs on fresh replicas, 1 assistant
and 1 executor at the start of each:

* **without**: the burst of ``--tasks`` tasks drains on the one replica of each type;
* **with**: ``LagScaler`` polls every ``--interval`` s, per agent type, what KEDA's triggers read
  (deploy/k8s/base/scaling.yaml): the group's lag (``XINFO GROUPS``) and pending count
  (``XPENDING``) on each stream the type consumes, as the service's own ACL user; the wanted
  count is the HPA's, ``max(ceil(lag / lagCount), ceil(pending / pendingEntriesCount))`` over the
  triggers, within [1, ``--max-replicas``]; a higher count is applied at once with
  ``docker compose up --scale`` (scale-down is left out: it happens after the drain, at KEDA's
  cool-down).

Reported: burst -> drained (first TaskRequest -> last TaskResult, Redis' clock), tasks/s, and
the scaler's decisions. The executors use the local backend (code as a subprocess in the
executor container, **not a sandbox**): 200 sandbox starts cost ~200 CPU-s, which on two cores
would measure the cores, not the scaling loop; bench/system.py measures the sandboxes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the stack driver is shared with the e2e tests

import redis.asyncio as aioredis  # noqa: E402
from tests.e2e.stack import Stack  # noqa: E402

from agent_streams.keys import Keys  # noqa: E402
from agent_streams.messages import (  # noqa: E402
    CODE_TOPIC,
    RESULTS_TOPIC,
    TASKS_TOPIC,
    TaskRequest,
    TaskResult,
)

# Per agent type: its compose service, the streams its group consumes, and the per-replica
# targets of deploy/k8s/base/scaling.yaml scaled to one entry per replica at a time.
SCALED = {
    "executor": ((CODE_TOPIC,), 2, 1),
    "assistant": ((TASKS_TOPIC, RESULTS_TOPIC), 2, 1),
}


@dataclass
class LagScaler:
    """Polls lag and pending per agent type and scales the compose services up (module doc)."""

    stack: Stack
    max_replicas: int
    interval_s: float
    replicas: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SCALED, 1))
    decisions: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    async def metrics(self, agent_type: str) -> tuple[int, int]:
        """(lag, pending) summed over the type's streams, read as the type's own user."""
        keys = Keys(self.stack.namespace)
        lag = pending = 0
        conn = aioredis.Redis.from_url(self.stack.url(agent_type), protocol=2)
        try:
            await conn.info("server")  # what KEDA's lag trigger runs first (version check)
            for topic in SCALED[agent_type][0]:
                stream = keys.topic(topic)
                for group in await conn.xinfo_groups(stream):
                    if group["name"].decode() == agent_type:
                        lag += int(group["lag"] or 0)
                pending += int((await conn.xpending(stream, agent_type))["pending"])
        finally:
            await conn.aclose()
        return lag, pending

    async def step(self) -> None:
        wanted = {}
        for agent_type, (_streams, lag_target, pending_target) in SCALED.items():
            lag, pending = await self.metrics(agent_type)
            count = max(math.ceil(lag / lag_target), math.ceil(pending / pending_target), 1)
            wanted[agent_type] = min(count, self.max_replicas)
            if wanted[agent_type] > self.replicas[agent_type]:
                self.decisions.append(
                    f"{time.monotonic() - self.started:6.1f}s {agent_type}: lag {lag}, "
                    f"pending {pending} -> {self.replicas[agent_type]} to {wanted[agent_type]}"
                )
        if any(wanted[t] > self.replicas[t] for t in SCALED):
            self.replicas = {t: max(wanted[t], self.replicas[t]) for t in SCALED}
            await asyncio.to_thread(scale, self.stack, self.replicas, wait=False)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):  # KEDA's pollingInterval
                await asyncio.wait_for(stop.wait(), self.interval_s)


def scale(stack: Stack, replicas: dict[str, int], *, wait: bool) -> None:
    """``docker compose up --scale`` for both types (compose resets a service it is not told)."""
    args = ["up", "--detach", "--no-build", "--no-recreate"]
    if wait:
        args += ["--wait", "--wait-timeout", "180"]
    for service, count in replicas.items():
        args += ["--scale", f"{service}={count}"]
    stack.compose(*args, *replicas)


def fresh(stack: Stack) -> None:
    """One assistant and one executor, new containers, healthy."""
    scale(stack, {"executor": 0, "assistant": 0}, wait=True)
    scale(stack, {"executor": 1, "assistant": 1}, wait=True)


async def burst(stack: Stack, tasks: int, sleep_s: float) -> float:
    """Submit ``tasks`` tasks at once; seconds from the first TaskRequest to the last
    TaskResult (entry ids). Raises when a task did not complete."""
    prompt = "Benchmark task.\n\n```python\nimport time\ntime.sleep({s})\nprint({i})\n```"
    async with stack.client() as client:
        sessions = [
            await client.submit(prompt.format(s=sleep_s, i=i), timeout_s=1800) for i in range(tasks)
        ]
        results = await asyncio.gather(*(client.wait(s, timeout=1800) for s in sessions))
        bad = [f"{s}: {r.status}" for s, r in zip(sessions, results, strict=True)]
        bad = [b for b, r in zip(bad, results, strict=True) if r.status != "completed"]
        if bad:
            raise RuntimeError(f"{len(bad)} task(s) did not complete: {bad[:5]}")
        starts, ends = [], []
        for session in sessions:
            ids = {type(e.message): e.entry_id for e in await client.replay(session)}
            starts.append(int(ids[TaskRequest].split("-")[0]))
            ends.append(int(ids[TaskResult].split("-")[0]))
    return (max(ends) - min(starts)) / 1000


async def measure(
    stack: Stack, args: argparse.Namespace, *, autoscale: bool
) -> tuple[float, LagScaler]:
    await asyncio.to_thread(fresh, stack)
    scaler = LagScaler(stack, args.max_replicas, args.interval)
    stop = asyncio.Event()
    watcher = asyncio.create_task(scaler.run(stop)) if autoscale else None
    try:
        drained_s = await burst(stack, args.tasks, args.sleep)
    finally:
        stop.set()
        if watcher is not None:
            await watcher
    return drained_s, scaler


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--max-replicas", type=int, default=6, help="per agent type")
    parser.add_argument("--interval", type=float, default=5.0, help="KEDA's pollingInterval")
    parser.add_argument("--sleep", type=float, default=1.0, help="each task's code waits so long")
    parser.add_argument("--model-delay", type=float, default=0.5, help="per fake-model reply")
    args = parser.parse_args()
    stack = Stack.create(
        "asscale",
        EXECUTOR_MAX_INFLIGHT="1",
        ASSISTANT_MAX_INFLIGHT="1",
        EXECUTOR_BACKEND="local",
        FAKE_MODEL_LATENCY_S=str(args.model_delay),
    )
    missing = stack.missing_images()
    if missing:
        sys.exit(f"images missing: {', '.join(missing)} (make images)")
    rows = []
    try:
        stack.up(executors=1)
        for autoscale in (False, True):
            print(f"... {args.tasks} tasks, autoscaler {'on' if autoscale else 'off'}", flush=True)
            load = load_average()
            drained_s, scaler = await measure(stack, args, autoscale=autoscale)
            rows.append((autoscale, drained_s, scaler, load))
    finally:
        stack.destroy()
    print(
        f"\nBurst of {args.tasks} one-turn tasks (code: time.sleep({args.sleep}); fake model: "
        f"{args.model_delay} s per reply; one entry per replica at a time; local backend)"
    )
    print(f"{'autoscaler':>10} | {'drained in':>10} {'tasks/s':>8} | {'replicas at the end':>24} |")
    for autoscale, drained_s, scaler, load in rows:
        end = ", ".join(f"{t} {n}" for t, n in scaler.replicas.items())
        print(
            f"{'on' if autoscale else 'off':>10} | {drained_s:>9.1f}s "
            f"{args.tasks / drained_s:>8.2f} | {end:>24} | load at start {load}"
        )
    if len(rows) == 2:
        print(f"\nspeed-up of the drain: {rows[0][1] / rows[1][1]:.2f}x; the scaler's decisions:")
        print(*(f"  {d}" for d in rows[1][2].decisions), sep="\n")


if __name__ == "__main__":
    asyncio.run(main())
