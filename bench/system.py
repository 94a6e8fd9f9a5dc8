"""The whole system's speed with 1, 2 and 3 executor replicas, side by side.

    uv run python bench/system.py [--replicas 1 2 3] [--tasks 40] [--sessions 6 --turns 6]
    uv run python bench/system.py --workload latency     # only the latency-bound series
    make bench-system

Two workloads, in one run by default: the CPU-bound one described here (bound by the machine's
two cores), and the latency-bound one of ``_latency_workload.py`` (1, 2, 4 executors and 1, 2
assistants on work that waits: there replicas scale on one machine).

Runs the production compose stack (``tests/e2e/stack.py``: the real images, Redis, Assistant,
Executors and sandbox containers) with the scripted FAKE model over HTTP in place of the LLM, so
that what is measured is the system, not the model. For each replica count, starting from fresh
executors (each with its one warm spare sandbox):

* **new-session tasks**: ``--tasks`` one-turn tasks (``print(i)``), each a new session (so each
  starts a sandbox), submitted at once. Tasks/s = tasks / (first TaskRequest -> last TaskResult).
  Task latency = its TaskRequest -> its TaskResult; "system latency" is that minus the code's
  run time and the fake model's time.
* **warm turns**: ``--sessions`` tasks at once of ``--turns`` code turns each. Per turn, the
  system's own overhead is ExecutionRequest published -> ExecutionResult published, minus the
  code's run time (``duration_s``): XREADGROUP, the per-session lock, input files, the round trip
  to the sandbox's runner, storing the result and publishing it. A turn counts as *warm* when it
  ran in the same sandbox as the session's previous turn (each turn prints the sandbox's PID 1
  start time); the share of turns that moved to another sandbox is printed too.
* **CPU per task**, by part (cgroup counters of the containers; the host's /proc/stat): where
  the two cores go, and so what a second replica can add.

Every time comes from the session logs' entry ids (Redis' clock, millisecond resolution), so
client-side scheduling does not count. The targets printed beside the figures are the issue's:
>= 1.7x tasks/s from 1 to 2 replicas, and warm-turn overhead p50 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the stack driver is shared with the e2e tests

from tests.e2e.stack import Stack  # noqa: E402

import _latency_workload as latency  # noqa: E402
from agent_streams.client import AgentStreamsClient  # noqa: E402
from agent_streams.messages import ExecutionRequest, ExecutionResult, TaskRequest, TaskResult  # noqa: E402

TARGET_SPEEDUP = 1.7
TARGET_OVERHEAD_MS = 100.0
PROBE = "print({k}, open('/proc/1/stat').read().split()[21])"  # PID 1 start time: which sandbox


def scripted(*blocks: str) -> str:
    """A task whose code blocks the fake model replies with, one per turn."""
    return "Benchmark task." + "".join(f"\n\n```python\n{b}\n```" for b in blocks)


def entry_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- CPU accounting --------------------------------------------------------------------------
def host_busy_s() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def container_cpu_s(container_id: str) -> float | None:
    """Cumulative CPU seconds of a running container, from its cgroup (v1 or v2)."""
    candidates = [
        (Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage"), 1e-9),
        (Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat"), 1e-6),
        (Path(f"/sys/fs/cgroup/docker/{container_id}/cpu.stat"), 1e-6),
    ]
    for path, unit in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name == "cpu.stat":
            usage = dict(line.split() for line in text.splitlines())
            return int(usage["usage_usec"]) * unit
        return int(text) * unit
    return None


def docker_ids(*args: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "--no-trunc", "--quiet", *args], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


ENGINE_PROCESSES = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc",
                    "docker-proxy", "docker-init")  # fmt: skip


def engine_cpu_s() -> dict[int, float]:
    """CPU seconds per Docker engine process (pid), its reaped children included (runc)."""
    found: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        if comm.startswith(ENGINE_PROCESSES):
            fields = text[text.rindex(")") + 2 :].split()
            ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
            found[int(stat.parent.name)] = ticks / os.sysconf("SC_CLK_TCK")
    return found


@dataclass
class CpuSnapshot:
    host_s: float
    by_part: dict[str, float]
    engine: dict[int, float] = field(default_factory=dict)

    @staticmethod
    def take(stack: Stack) -> CpuSnapshot:
        parts: dict[str, float] = {}
        project = f"label=com.docker.compose.project={stack.project}"
        for service in ("executor", "assistant", "redis", "fake-model"):
            ids = docker_ids(
                "--filter", project, "--filter", f"label=com.docker.compose.service={service}"
            )
            parts[service] = sum(container_cpu_s(i) or 0.0 for i in ids)
        sandboxes = docker_ids("--filter", f"label=agent-streams.sandbox={stack.namespace}")
        parts["sandboxes"] = sum(container_cpu_s(i) or 0.0 for i in sandboxes)
        return CpuSnapshot(host_busy_s(), parts, engine_cpu_s())

    def minus(self, before: CpuSnapshot) -> CpuSnapshot:
        parts = {k: v - before.by_part.get(k, 0.0) for k, v in self.by_part.items()}
        # Per process: a shim that exited in between takes its last seconds with it (so this
        # is a floor), but never makes the sum go negative.
        parts["engine"] = sum(v - before.engine.get(pid, 0.0) for pid, v in self.engine.items())
        return CpuSnapshot(self.host_s - before.host_s, parts)


# -- the workloads ---------------------------------------------------------------------------
@dataclass
class PhaseResult:
    replicas: int
    tasks: int = 0
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    idle_ms: list[float] = field(default_factory=list)
    system_ms: list[float] = field(default_factory=list)
    first_turn_ms: list[float] = field(default_factory=list)
    warm_turn_ms: list[float] = field(default_factory=list)
    assistant_ms: list[float] = field(default_factory=list)
    moved_turns: int = 0
    later_turns: int = 0
    cpu: CpuSnapshot | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def tasks_per_s(self) -> float:
        return self.tasks / self.wall_s if self.wall_s else float("nan")


def fake_model_s(stack: Stack) -> float:
    """Seconds the fake model spent answering so far (its /stats)."""
    code = (
        "import json, urllib.request; "
        "print(json.load(urllib.request.urlopen('http://127.0.0.1:8080/stats'))['busy_s'])"
    )
    return float(stack.compose("exec", "-T", "fake-model", "python", "-c", code).strip())


async def new_session_tasks(
    client: AgentStreamsClient, stack: Stack, n: int, r: PhaseResult, code: str = "print({i})"
) -> None:
    """``n`` one-turn tasks at once, each a new session running ``code`` (``{i}``: its index)."""
    model_before = fake_model_s(stack)
    sessions = [await client.submit(scripted(code.format(i=i)), timeout_s=600) for i in range(n)]
    results = await asyncio.gather(*(client.wait(s, timeout=600) for s in sessions))
    model_s = fake_model_s(stack) - model_before
    starts, ends = [], []
    for session, result in zip(sessions, results, strict=True):
        if result.status != "completed":
            r.failures.append(f"{session}: {result.status} {result.error or ''}")
            continue
        events = await client.replay(session)
        start = next(entry_ms(e.entry_id) for e in events if isinstance(e.message, TaskRequest))
        end = next(entry_ms(e.entry_id) for e in events if isinstance(e.message, TaskResult))
        run_ms = sum(
            e.message.duration_s * 1000 for e in events if isinstance(e.message, ExecutionResult)
        )
        starts.append(start)
        ends.append(end)
        r.latencies_ms.append(end - start)
        r.system_ms.append(end - start - run_ms - model_s * 1000 / n)
    r.tasks = len(ends)
    r.wall_s = (max(ends) - min(starts)) / 1000 if ends else 0.0


async def one_at_a_time(client: AgentStreamsClient, stack: Stack, n: int, r: PhaseResult) -> None:
    """``n`` one-turn tasks on an idle system, each submitted when the previous one ended and
    the spare it took was replaced (every task makes its executor start one spare)."""
    await asyncio.to_thread(wait_for_spares, stack, r.replicas)
    base = await asyncio.to_thread(spares_started, stack)
    for i in range(n):
        if i:
            await asyncio.to_thread(wait_for_spares, stack, base + i)
        session = await client.submit(scripted(f"print({i})"), timeout_s=600)
        result = await client.wait(session, timeout=600)
        if result.status != "completed":
            r.failures.append(f"{session}: {result.status} {result.error or ''}")
            continue
        events = await client.replay(session)
        start = next(entry_ms(e.entry_id) for e in events if isinstance(e.message, TaskRequest))
        end = next(entry_ms(e.entry_id) for e in events if isinstance(e.message, TaskResult))
        run_ms = sum(
            e.message.duration_s * 1000 for e in events if isinstance(e.message, ExecutionResult)
        )
        r.idle_ms.append(end - start - run_ms)


async def warm_turns(
    client: AgentStreamsClient, sessions_n: int, turns: int, r: PhaseResult
) -> None:
    blocks = [PROBE.format(k=k) for k in range(1, turns + 1)]
    sessions = [
        await client.submit(scripted(*blocks), timeout_s=600, max_turns=turns + 2)
        for _ in range(sessions_n)
    ]
    await asyncio.gather(*(client.wait(s, timeout=600) for s in sessions))
    for session in sessions:
        events = await client.replay(session)
        requests = {e.message.turn: e for e in events if isinstance(e.message, ExecutionRequest)}
        results = {e.message.turn: e for e in events if isinstance(e.message, ExecutionResult)}
        previous_sandbox = None
        for turn in sorted(results):
            result = results[turn].message
            assert isinstance(result, ExecutionResult)
            if result.exit_code != 0 or turn not in requests:
                r.failures.append(f"{session} turn {turn}: exit {result.exit_code}")
                continue
            overhead = float(entry_ms(results[turn].entry_id) - entry_ms(requests[turn].entry_id))
            overhead -= result.duration_s * 1000
            sandbox = result.stdout.split()[-1] if result.stdout.split() else None
            if turn + 1 in requests:
                r.assistant_ms.append(
                    entry_ms(requests[turn + 1].entry_id) - entry_ms(results[turn].entry_id)
                )
            if previous_sandbox is None:
                r.first_turn_ms.append(overhead)
            else:
                r.later_turns += 1
                if sandbox == previous_sandbox:
                    r.warm_turn_ms.append(overhead)
                else:
                    r.moved_turns += 1
            previous_sandbox = sandbox


def spares_started(stack: Stack) -> int:
    """Warm spare sandboxes the executors have started and made ready (their log lines)."""
    total = 0
    for container in stack.containers("executor"):
        logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
        total += (logs.stdout + logs.stderr).count("started for (spare)")
    return total


def wait_for_spares(stack: Stack, count: int, timeout_s: float = 60) -> None:
    """Until ``count`` spares were started since the executors started."""
    deadline = time.monotonic() + timeout_s
    while spares_started(stack) < count:
        if time.monotonic() > deadline:
            print(f"warning: the executors did not start {count} warm spares in {timeout_s} s;")
            for container in stack.containers("executor"):
                logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True)
                for line in (logs.stdout + logs.stderr).splitlines():
                    if "WARNING" in line or "ERROR" in line or '"warning"' in line:
                        print(f"  {container[:12]}: {line[:300]}")
            return
        time.sleep(0.2)


def fresh_executors(stack: Stack, replicas: int) -> None:
    """Replace the executors (their sandboxes go with them); wait for each one's warm spare."""
    stack.compose("up", "--detach", "--no-build", "--wait", "--scale", "executor=0")
    stack.up(executors=replicas)


async def phase(stack: Stack, replicas: int, args: argparse.Namespace) -> PhaseResult:
    await asyncio.to_thread(fresh_executors, stack, replicas)
    result = PhaseResult(replicas)
    async with stack.client() as client:
        await one_at_a_time(client, stack, args.idle_tasks, result)
        before = CpuSnapshot.take(stack)
        await new_session_tasks(client, stack, args.tasks, result)
        result.cpu = CpuSnapshot.take(stack).minus(before)
        await warm_turns(client, args.sessions, args.turns, result)
    return result


# -- report ----------------------------------------------------------------------------------
def report(results: list[PhaseResult], args: argparse.Namespace) -> None:
    base = results[0].tasks_per_s if results else float("nan")
    ms = "ms"
    print("\nCPU-bound (bound by the two cores: a new session costs ~1 CPU-s)")
    print(
        f"{os.cpu_count()} cores, load average at start {args.load_at_start}; "
        f"burst: {args.tasks} one-turn tasks at once (a new session and sandbox each); "
        f"idle: {args.idle_tasks} tasks one at a time, a warm spare ready; "
        f"turns: {args.sessions} sessions x {args.turns} code turns at once"
    )
    print(
        f"{'executors':>9} | {'burst t/s':>9} {'speedup':>7} {'p50':>7} {'p95':>7} | "
        f"{'idle p50':>8} {'p95':>6} | {'turn p50':>8} {'p95':>6} {'moved':>6} "
        f"{'1st p50':>7} | {'assistant p50':>13}"
    )
    for r in results:
        speedup = r.tasks_per_s / base if base else float("nan")
        print(
            f"{r.replicas:>9} | {r.tasks_per_s:>9.2f} {speedup:>6.2f}x "
            f"{pct(r.latencies_ms, 0.5) / 1000:>6.1f}s {pct(r.latencies_ms, 0.95) / 1000:>6.1f}s | "
            f"{pct(r.idle_ms, 0.5):>6.0f}{ms} {pct(r.idle_ms, 0.95):>4.0f}{ms} | "
            f"{pct(r.warm_turn_ms, 0.5):>6.0f}{ms} {pct(r.warm_turn_ms, 0.95):>4.0f}{ms} "
            f"{r.moved_turns:>3}/{r.later_turns:<2} {pct(r.first_turn_ms, 0.5):>5.0f}{ms} | "
            f"{pct(r.assistant_ms, 0.5):>11.0f}{ms}"
        )
    print(f"{'target':>9} | {'':>9} {'>=1.7x':>7} {'':>15} | {'':>15} | {'<100ms':>8} (p50, warm)")
    print(
        "\nCPU seconds per burst task, by part (engine: dockerd, containerd, shims, runc; "
        "other: the rest of the machine, not ours)"
    )
    parts = ["sandboxes", "engine", "executor", "assistant", "redis", "fake-model"]
    print(f"{'executors':>9} | " + " ".join(f"{p:>10}" for p in parts)
          + f" {'other':>8} | {'host':>6} {'2-core bound':>13}")  # fmt: skip
    for r in results:
        if r.cpu is None or not r.tasks:
            continue
        per = {p: r.cpu.by_part.get(p, 0.0) / r.tasks for p in parts}
        host = r.cpu.host_s / r.tasks
        other = host - sum(per.values())
        bound = (os.cpu_count() or 2) / sum(per.values())
        print(
            f"{r.replicas:>9} | " + " ".join(f"{per[p]:>10.3f}" for p in parts)
            + f" {other:>8.3f} | {host:>6.3f} {bound:>9.2f} t/s"
        )  # fmt: skip
    failures = [f for r in results for f in r.failures]
    if failures:
        print(f"\n{len(failures)} failure(s):", *failures[:10], sep="\n  ")
    print(
        "\nburst p50/p95: a task's latency in the burst (queueing included); idle: a task's "
        "latency alone on the system minus its code's run time (model time ~0: the fake); "
        "turn: the overhead of one code turn in the sandbox of the session's previous turn "
        "(publish -> result, run time excluded); moved: later turns another replica took, in a "
        "sandbox of its own; 1st: a session's first turn; assistant: result -> next code "
        "request (the fake model's HTTP round trip included); 2-core bound: the tasks/s two "
        "cores allow at our own CPU per task (other processes left out)."
    )


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--idle-tasks", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument(
        "--workload", nargs="+", choices=["cpu", "latency"], default=["cpu", "latency"],
        help="cpu: the bursts above (bound by the two cores); latency: _latency_workload.py",
    )  # fmt: skip
    parser.add_argument("--latency-tasks", type=int, default=12, help="executor-bound series")
    parser.add_argument("--assistant-tasks", type=int, default=8, help="assistant-bound series")
    parser.add_argument(
        "--series", nargs="+", choices=["executors", "assistants"],
        default=["executors", "assistants"], help="which latency-bound series to run",
    )  # fmt: skip
    args = parser.parse_args()
    args.load_at_start = load_average()
    if "cpu" in args.workload:
        await cpu_bound(args)
    if "latency" in args.workload:
        await latency_bound(args)


async def latency_bound(args: argparse.Namespace) -> None:
    """The latency-bound series (bench/_latency_workload.py) on a stack of their own."""
    stack = Stack.create("aslat", **latency.stack_settings(), EXECUTOR_IDLE_TIMEOUT_S="600")
    missing = stack.missing_images()
    if missing:
        sys.exit(f"images missing: {', '.join(missing)} (make images)")
    try:
        stack.up(executors=1)
        plan = [
            s
            for s in latency.setups(args.latency_tasks, args.assistant_tasks)
            if s.bound in args.series
        ]
        outcomes = await latency.run(stack, plan, wait_for_spares)
    finally:
        leaked = stack.destroy()
        if leaked:
            print(f"warning: removed {len(leaked)} leaked sandbox container(s)", file=sys.stderr)
    latency.report(outcomes)


async def cpu_bound(args: argparse.Namespace) -> None:
    """The CPU-bound bursts, idle tasks and warm turns with 1, 2, 3 executors."""
    stack = Stack.create(
        "asbench",
        EXECUTOR_MAX_SESSIONS=str(args.tasks + args.sessions + 8),
        EXECUTOR_IDLE_TIMEOUT_S="600",
    )
    missing = stack.missing_images()
    if missing:
        sys.exit(f"images missing: {', '.join(missing)} (make images)")
    results: list[PhaseResult] = []
    try:
        stack.up(executors=1)
        async with stack.client() as client:  # warm-up: page cache, first imports, pools
            warm = PhaseResult(0)
            await new_session_tasks(client, stack, 4, warm)
        for replicas in args.replicas:
            print(f"... {replicas} executor replica(s)", flush=True)
            results.append(await phase(stack, replicas, args))
    finally:
        leaked = stack.destroy()
        if leaked:
            print(f"warning: removed {len(leaked)} leaked sandbox container(s)", file=sys.stderr)
    report(results, args)
    if args.json:
        raw = [
            {k: v for k, v in vars(r).items() if k != "cpu"}
            | {"cpu": vars(r.cpu) if r.cpu else None}
            for r in results
        ]
        args.json.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
