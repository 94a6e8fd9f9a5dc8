"""Measuring for ``bench/runtime.py``: rounds, percentiles, CPU accounting, peer processes, the
Redis for the run, and the report.

CPU is counted from ``/proc/PID/stat`` (user + system, every thread) for this process, its peers
and a local redis-server: on a shared 2-core machine wall-clock rates swing with the neighbours'
load, while CPU per message says what the code costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
import redis.asyncio as aioredis
from rich.console import Console
from rich.table import Table

PEERS = Path(__file__).with_name("_runtime_peers.py")
TARGET_MSG_S = 20_000
TARGET_VS_GRPC = 4.0
TARGET_P50_VS_RAW = 1.3
_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


@dataclass
class Config:
    redis_url: str
    namespace: str
    rounds: int
    messages: int
    grpc_messages: int
    calls: int
    grpc_calls: int


@dataclass
class Result:
    system: str
    how: str
    rates: list[float] = field(default_factory=list)  # msg/s per round
    cpu_msg: list[float] = field(default_factory=list)  # CPU us per message, all processes
    p50s: list[float] = field(default_factory=list)  # ms per round
    p99s: list[float] = field(default_factory=list)
    cpu_call: list[float] = field(default_factory=list)  # CPU us per send_message

    @staticmethod
    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S


class CpuMeter:
    """CPU seconds used by this process plus the given processes, read at round boundaries."""

    def __init__(self, *pids: int) -> None:
        self.pids = [os.getpid(), *pids]

    def read(self) -> float:
        total = 0.0
        for pid in self.pids:
            with contextlib.suppress(OSError):  # a peer that already exited
                total += proc_cpu_s(pid)
        return total


def local_redis_pid(url: str) -> int | None:
    """The redis-server behind ``url`` when it runs on this machine (its CPU is counted too)."""
    info = redis.Redis.from_url(url).info("server")
    pid = int(info.get("process_id", 0))
    try:
        with open(f"/proc/{pid}/comm") as f:
            return pid if f.read().strip().startswith("redis-server") else None
    except OSError:
        return None


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples_s, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_average() -> float:
    return os.getloadavg()[0]


RoundFn = Callable[[int], Awaitable[tuple[int, float]]]


async def throughput_rounds(cfg: Config, result: Result, meter: CpuMeter, one: RoundFn) -> None:
    """Round 0 warms up; ``one(r)`` returns (messages, seconds from first publish to the last
    handled)."""
    for r in range(cfg.rounds + 1):
        cpu0 = meter.read()
        n, elapsed = await one(r)
        cpu1 = meter.read()
        if r:
            result.rates.append(n / elapsed)
            result.cpu_msg.append((cpu1 - cpu0) / n * 1e6)
    print(f"  done: {result.system} publish -> handle", file=sys.stderr)


async def call_rounds(
    cfg: Config,
    result: Result,
    meter: CpuMeter,
    calls: int,
    call: Callable[[int], Awaitable[object]],
) -> None:
    """Sequential round trips: p50 / p99 and CPU per call, per round (round 0 warms up)."""
    for r in range(cfg.rounds + 1):
        samples: list[float] = []
        cpu0 = meter.read()
        for i in range(calls):
            t0 = time.perf_counter()
            await call(i)
            samples.append(time.perf_counter() - t0)
        cpu1 = meter.read()
        if r:
            p50, p99 = percentiles(samples)
            result.p50s.append(p50)
            result.p99s.append(p99)
            result.cpu_call.append((cpu1 - cpu0) / calls * 1e6)
    print(f"  done: {result.system} request/reply", file=sys.stderr)


@contextlib.asynccontextmanager
async def peer(
    *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A peer process (``_runtime_peers.py``), ready when it says so; stopped by SIGTERM.
    ``env``: variables added to this process's environment for it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PEERS),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=PEERS.parent,
        env={**os.environ, **env} if env else None,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"peer {args[0]} did not start (exit {proc.returncode})")
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def wait_marker(client: aioredis.Redis, stream: str, last: str) -> tuple[str, float]:
    """The next end-of-round marker a peer wrote: (entry id, its monotonic timestamp). Blocks in
    1 s reads: redis-py's default socket timeout (5 s) would cut a longer block."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        response = await client.xread({stream: last}, block=1000, count=1)
        if response:
            entry_id, fields = response[0][1][0]
            return entry_id.decode(), float(fields[b"t"])
    raise TimeoutError(f"no end-of-round marker on {stream}")


@contextlib.contextmanager
def redis_for_run(url: str) -> Iterator[str]:
    """``url`` if a Redis answers there, else a private redis-server on a free loopback port."""
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        yield url
        return
    except redis.ConnectionError:
        if shutil.which("redis-server") is None:
            raise SystemExit(f"no Redis at {url} and no redis-server binary to start") from None
    with private_redis() as private:
        print(f"  (started redis-server at {private} for this run)", file=sys.stderr)
        yield private


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A throw-away redis-server on a free loopback port, no persistence; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no redis-server binary: install one or pass a Redis URL")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # a new server binds within milliseconds
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


async def delete_namespace(redis_url: str, namespace: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match=f"{namespace}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


# -- the report -------------------------------------------------------------------------------
def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _spread(values: list[float], spec: str) -> str:
    return f"{format(min(values), spec)}-{format(max(values), spec)}" if values else ""


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def report(cfg: Config, results: dict[str, Result], loads: tuple[float, float]) -> None:
    console = Console(width=160)
    m = Result.median
    table = Table(
        title=f"median of {cfg.rounds} rounds after a warm-up round; publish -> handle: "
        f"N={cfg.messages:,} (gRPC {cfg.grpc_messages:,}); send_message: {cfg.calls:,} "
        f"sequential calls (gRPC {cfg.grpc_calls:,}); load average {loads[0]:.1f} at start, "
        f"{loads[1]:.1f} at end (2 cores)",
        title_justify="left",
    )
    for col in (
        "system",
        "setup",
        "msg/s",
        "range",
        "CPU us/msg",
        "send p50 ms",
        "p50 range",
        "send p99 ms",
        "CPU us/call",
    ):
        table.add_column(col, justify="left" if col in ("system", "setup") else "right")
    for res in results.values():
        table.add_row(
            res.system,
            res.how,
            _fmt(m(res.rates), ",.0f"),
            _spread(res.rates, ",.0f"),
            _fmt(m(res.cpu_msg), ".1f"),
            _fmt(m(res.p50s), ".3f"),
            _spread(res.p50s, ".3f"),
            _fmt(m(res.p99s), ".3f"),
            _fmt(m(res.cpu_call), ".0f"),
        )
    console.print(table)
    console.print(
        "CPU = user + system seconds of every process taking part (publisher, consumer or "
        "workers, the gRPC host, a local redis-server), per message or per call."
    )

    ours, grpc, raw_rpc = results.get("ours"), results.get("grpc"), results.get("raw_rpc")
    if ours is None:
        return
    checks = Table(title="targets (same run)", title_justify="left")
    for col in ("target", "measured", "met"):
        checks.add_column(col)
    rate = m(ours.rates)
    checks.add_row(
        f"cross-process publish -> handle >= {TARGET_MSG_S:,} msg/s",
        _fmt(rate, ",.0f"),
        _met(rate is not None and rate >= TARGET_MSG_S),
    )
    if grpc is not None:
        vs_grpc = _ratio(rate, m(grpc.rates))
        checks.add_row(
            f"... >= {TARGET_VS_GRPC:g}x AutoGen gRPC publish -> handle",
            _fmt(vs_grpc, ".2f") + "x",
            _met(vs_grpc is not None and vs_grpc >= TARGET_VS_GRPC),
        )
        checks.add_row(
            "(info) AutoGen gRPC CPU per message / ours",
            _fmt(_ratio(m(grpc.cpu_msg), m(ours.cpu_msg)), ".2f") + "x",
            "",
        )
    if raw_rpc is not None:
        vs_raw = _ratio(m(ours.p50s), m(raw_rpc.p50s))
        checks.add_row(
            f"send_message p50 <= {TARGET_P50_VS_RAW:g}x raw redis-py request/reply p50",
            _fmt(vs_raw, ".2f") + "x",
            _met(vs_raw is not None and vs_raw <= TARGET_P50_VS_RAW),
        )
        checks.add_row(
            "(info) send_message CPU per call / raw request/reply",
            _fmt(_ratio(m(ours.cpu_call), m(raw_rpc.cpu_call)), ".2f") + "x",
            "",
        )
    cpu = m(ours.cpu_msg)
    if cpu:
        checks.add_row(
            "(info) CPU-bound ceiling on 2 idle cores: 2 s / CPU per message",
            f"{2e6 / cpu:,.0f} msg/s",
            "",
        )
    console.print(checks)


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"
