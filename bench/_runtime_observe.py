"""What traces and metrics cost the runtime: ``bench/runtime.py --only observe`` (and by default).

The agent-streams measurement of ``bench/runtime.py`` (publish -> handle msg/s across two
processes, ``send_message`` p50, CPU per message) in four set-ups at once, each with its own
publisher runtime here, its own consumer process and its own namespace, rounds alternating
between them (the order rotates every round) so that the machine's drift hits them alike:

    off          no hooks (the default: what the rest of the benchmark measures)
    metrics      /metrics served in both processes (never scraped during a round)
    traces 1%    metrics + OTLP export, sampler parentbased_traceidratio 0.01
    traces 100%  metrics + OTLP export, sampler parentbased_always_on (the SDK's default)

Spans go over OTLP/HTTP to a receiver process (``tests/integration/_otlp_receiver.py``), which
decodes them; its CPU is not counted (a collector runs elsewhere in a deployment). What each
message costs with tracing on: the publisher publishes outside any trace, as a client does, so
it makes no span; the consumer's delivery starts the trace (one ``handle`` span per message,
sampled or not by the sampler). Figures: medians of the rounds, and each set-up against ``off``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from _runtime_agents import BENCH_TOPIC, Echo, Ping
from _runtime_harness import (
    Config,
    CpuMeter,
    Result,
    free_port,
    local_redis_pid,
    peer,
    percentiles,
    wait_marker,
)
from _runtime_peers import raw_keys
from agent_streams import AgentId, TopicId
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from agent_streams.telemetry import TelemetryHooks
from agent_streams.telemetry.metrics import serve_metrics
from agent_streams.telemetry.tracing import tracer_provider

RECEIVER = Path(__file__).resolve().parents[1] / "tests" / "integration" / "_otlp_receiver.py"
TARGET_COST = 0.10  # throughput cost with traces and metrics on, at most


@dataclass
class Mode:
    key: str
    label: str
    metrics: bool
    sampler: str | None = None  # OTEL_TRACES_SAMPLER; None: no traces
    sampler_arg: str | None = None


MODES = [
    Mode("off", "off (no hooks)", metrics=False),
    Mode("metrics", "metrics", metrics=True),
    Mode("traces-1", "metrics + traces 1%", True, "parentbased_traceidratio", "0.01"),
    Mode("traces-all", "metrics + traces 100%", True, "parentbased_always_on"),
]


@dataclass
class _Setup:
    mode: Mode
    runtime: RedisStreamsRuntime
    namespace: str
    meter: CpuMeter
    provider: Any
    metrics_port: int | None
    result: Result
    last: str = "0"


@contextlib.asynccontextmanager
async def _receiver() -> AsyncIterator[str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(RECEIVER), "--port", str(port), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        if (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() != b"ready":
            raise RuntimeError("the OTLP receiver did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        await proc.wait()


def _sampler(mode: Mode) -> Any:
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased

    if mode.sampler == "parentbased_traceidratio":
        return ParentBased(TraceIdRatioBased(float(mode.sampler_arg or 1)))
    return ParentBased(ALWAYS_ON)


async def bench_observe(cfg: Config) -> dict[str, Result]:
    redis_pid = local_redis_pid(cfg.redis_url)
    client = aioredis.Redis.from_url(cfg.redis_url)
    setups: list[_Setup] = []
    async with _receiver() as endpoint, contextlib.AsyncExitStack() as stack:
        metrics_server = serve_metrics("127.0.0.1", free_port())  # the publishers' endpoint
        stack.callback(metrics_server.shutdown)
        for mode in MODES:
            namespace = f"{cfg.namespace}-{mode.key}"
            env = {"AGENT_STREAMS_METRICS_PORT": "", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
            port = None
            if mode.metrics:
                port = free_port()
                env["AGENT_STREAMS_METRICS_PORT"] = str(port)
            provider = None
            if mode.sampler:
                env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
                env["OTEL_TRACES_SAMPLER"] = mode.sampler
                env["OTEL_TRACES_SAMPLER_ARG"] = mode.sampler_arg or ""
                provider = tracer_provider(f"{endpoint}/v1/traces", "bench", _sampler(mode))
                stack.callback(provider.shutdown)
            hooks = (
                TelemetryHooks(
                    provider.get_tracer("bench") if provider else None, metrics_on=mode.metrics
                )
                if mode.metrics or provider
                else None
            )
            runtime = RedisStreamsRuntime(
                RuntimeSettings(redis_url=cfg.redis_url, namespace=namespace), hooks=hooks
            )
            runtime.start()
            await runtime.ready()
            stack.push_async_callback(runtime.stop)
            proc = await stack.enter_async_context(peer("ours", cfg.redis_url, namespace, env=env))
            meter = CpuMeter(proc.pid, *([redis_pid] if redis_pid else []))
            result = Result("agent-streams", mode.label)
            setups.append(_Setup(mode, runtime, namespace, meter, provider, port, result))
        try:
            await _throughput(cfg, client, setups)
            await _calls(cfg, setups)
            _check_on(setups, endpoint)
        finally:
            await client.aclose()
    return {f"observe:{s.mode.key}": s.result for s in setups}


def _rotation(setups: list[_Setup], r: int) -> list[_Setup]:
    k = r % len(setups)
    return setups[k:] + setups[:k]


async def _throughput(cfg: Config, client: aioredis.Redis, setups: list[_Setup]) -> None:
    """Round 0 warms every set-up up; then each round runs each set-up once, rotated."""
    n = cfg.messages
    for r in range(cfg.rounds + 1):
        for s in _rotation(setups, r):
            topic = TopicId(BENCH_TOPIC, "s")
            cpu0 = s.meter.read()
            t0 = time.monotonic()
            publish = s.runtime.publish_message
            await asyncio.gather(*(publish(Ping(r, i, n), topic) for i in range(n)))
            s.last, t_end = await wait_marker(client, raw_keys(s.namespace)["ours_done"], s.last)
            cpu1 = s.meter.read()
            if r:
                s.result.rates.append(n / (t_end - t0))
                s.result.cpu_msg.append((cpu1 - cpu0) / n * 1e6)
    print("  done: observe publish -> handle", file=sys.stderr)


async def _calls(cfg: Config, setups: list[_Setup]) -> None:
    echo = AgentId("echo", "k")
    for r in range(cfg.rounds + 1):
        for s in _rotation(setups, r):
            samples: list[float] = []
            cpu0 = s.meter.read()
            for i in range(cfg.calls):
                t0 = time.perf_counter()
                await s.runtime.send_message(Echo(i, "hello"), echo, timeout=30)
                samples.append(time.perf_counter() - t0)
            cpu1 = s.meter.read()
            if r:
                p50, p99 = percentiles(samples)
                s.result.p50s.append(p50)
                s.result.p99s.append(p99)
                s.result.cpu_call.append((cpu1 - cpu0) / cfg.calls * 1e6)
    print("  done: observe request/reply", file=sys.stderr)


def _check_on(setups: list[_Setup], endpoint: str) -> None:
    """The 'on' set-ups were on: their consumers counted the messages, spans came in."""
    for s in setups:
        if s.metrics_port is None:
            continue
        url = f"http://127.0.0.1:{s.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        handled = [
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "agent_streams_messages_handled_total"
            and sample.labels.get("type") == "Ping"
        ]
        if not handled or not handled[0]:
            raise RuntimeError(f"{s.mode.label}: the consumer's /metrics counted no Ping")
    with urllib.request.urlopen(f"{endpoint}/count", timeout=10) as response:
        counts = json.loads(response.read())
    spans, requests = counts["spans"], counts["requests"]
    print(f"  OTLP receiver: {spans:,} spans in {requests:,} requests", file=sys.stderr)
    if not counts["spans"]:
        raise RuntimeError("no span reached the OTLP receiver")


def observe_report(results: dict[str, Result]) -> None:
    rows = {k.removeprefix("observe:"): v for k, v in results.items() if k.startswith("observe:")}
    off = rows.get("off")
    if off is None:
        return
    m = Result.median
    table = Table(
        title="traces and metrics vs off (same run, rounds alternating; ratio = on / off)",
        title_justify="left",
    )
    columns = ("set-up", "msg/s", "ratio", "CPU us/msg", "+CPU us", "send p50 ms", "ratio")
    for col in (*columns, "cost <= 10%"):
        table.add_column(col, justify="left" if col == "set-up" else "right")
    for key, res in rows.items():
        rate_ratio = (m(res.rates) or 0) / (m(off.rates) or 1)
        p50_ratio = (m(res.p50s) or 0) / (m(off.p50s) or 1)
        cost = 1 - rate_ratio
        table.add_row(
            res.how,
            f"{m(res.rates):,.0f}",
            f"{rate_ratio:.3f}",
            f"{m(res.cpu_msg):.1f}",
            f"{(m(res.cpu_msg) or 0) - (m(off.cpu_msg) or 0):+.1f}",
            f"{m(res.p50s):.3f}",
            f"{p50_ratio:.3f}",
            "" if key == "off" else ("yes" if cost <= TARGET_COST else f"NO ({cost:.0%})"),
        )
    Console(width=160).print(table)
