"""Runtime benchmark: agent-streams across two processes, next to raw redis-py (the floor) and
AutoGen's own runtimes (the anchor), in one run.

    make bench-runtime
    uv run python bench/runtime.py [--rounds 5] [--messages 20000] [--calls 1000] [--only ours,raw]

Measured, each as the median of ``--rounds`` rounds after one warm-up round:

* agent-streams, publisher here and a consumer process (``bench/_runtime_peers.py``):
  publish -> handle throughput of N small dataclass messages, published concurrently (so the
  runtime's automatic pipelining batches them), from the first publish to the consumer's
  handler taking the last one; and sequential ``send_message`` round trips (p50 / p99).
* raw redis-py (asyncio, as the runtime uses): XADD request -> other process XREAD -> XADD
  reply -> XREAD (p50 / p99), and XADD pipelines -> XREADGROUP + XACK (the throughput floor).
* AutoGen: ``SingleThreadedAgentRuntime`` in process, and the gRPC worker runtime with its
  host and two workers in three processes (publish -> handle, send_message p50 / p99).
* agent-streams with traces and metrics on vs off (``--only observe``): the first
  measurement in four set-ups, rounds alternating (``bench/_runtime_observe.py``).

Next to each figure: CPU per message / per call over all processes taking part, which holds
still when the neighbours' load does not (see ``_runtime_harness``). Every process logs at
WARNING. Redis: ``AGENT_STREAMS_REDIS_URL`` / ``REDIS_URL`` (default 127.0.0.1:6379); when
nothing answers there and ``redis-server`` is installed, a private one is started on a free
loopback port. Keys live under a fresh ``bench-*`` namespace, deleted at the end; only loopback
addresses are used. Profile with ``BENCH_PROFILE=/tmp/prof`` (peers write cProfile files).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from _runtime_agents import (
    BENCH_TOPIC,
    AgDoneWatcher,
    AgEchoer,
    AgSink,
    Done,
    Echo,
    Echoer,
    Ping,
    Sink,
    ag_serializers,
)
from _runtime_harness import (
    Config,
    CpuMeter,
    Result,
    call_rounds,
    delete_namespace,
    free_port,
    load_average,
    local_redis_pid,
    peer,
    redis_for_run,
    report,
    throughput_rounds,
    wait_marker,
)
from _runtime_observe import bench_observe, observe_report
from _runtime_peers import raw_keys
from agent_streams import AgentId, InProcessRuntime, TopicId
from agent_streams.logging import configure_logging
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings


def _redis_meter(cfg: Config, *pids: int) -> CpuMeter:
    redis_pid = local_redis_pid(cfg.redis_url)
    return CpuMeter(*pids, *([redis_pid] if redis_pid else []))


# -- agent-streams ----------------------------------------------------------------------------
async def bench_ours(cfg: Config) -> Result:
    result = Result("agent-streams", "2 processes over Redis Streams")
    client = aioredis.Redis.from_url(cfg.redis_url)
    marker_stream = raw_keys(cfg.namespace)["ours_done"]
    runtime = RedisStreamsRuntime(RuntimeSettings(redis_url=cfg.redis_url, namespace=cfg.namespace))
    runtime.start()
    await runtime.ready()
    last = "0"
    try:
        async with peer("ours", cfg.redis_url, cfg.namespace) as proc:
            meter = _redis_meter(cfg, proc.pid)
            topic = TopicId(BENCH_TOPIC, "s")

            async def one(r: int) -> tuple[int, float]:
                nonlocal last
                n = cfg.messages
                t0 = time.monotonic()
                await asyncio.gather(
                    *(runtime.publish_message(Ping(r, i, n), topic) for i in range(n))
                )
                last, t_end = await wait_marker(client, marker_stream, last)
                return n, t_end - t0

            await throughput_rounds(cfg, result, meter, one)
            echo = AgentId("echo", "k")
            await call_rounds(
                cfg,
                result,
                meter,
                cfg.calls,
                lambda i: runtime.send_message(Echo(i, "hello"), echo, timeout=30),
            )
    finally:
        await runtime.stop()
        await client.aclose()
    return result


async def bench_inprocess(cfg: Config) -> Result:
    result = Result("agent-streams", "InProcessRuntime (1 process)")
    runtime = InProcessRuntime()
    await _local_rounds(
        cfg,
        result,
        runtime,
        register=lambda report: _register_ours(runtime, report),
        topic=TopicId(BENCH_TOPIC, "s"),
        echo=AgentId("echo", "k"),
    )
    return result


async def _register_ours(runtime: Any, report: Callable[[Done], Awaitable[None]]) -> None:
    await Sink.register(runtime, "sink", lambda: Sink(report))
    await Echoer.register(runtime, "echo", Echoer)


async def _local_rounds(
    cfg: Config,
    result: Result,
    runtime: Any,
    *,
    register: Callable[[Callable[[Done], Awaitable[None]]], Awaitable[None]],
    topic: Any,
    echo: Any,
) -> None:
    """One process (ours in-process, AutoGen's SingleThreadedAgentRuntime): the same shape."""
    finished: dict[int, asyncio.Future[Done]] = {}

    async def report(done: Done) -> None:
        finished[done.round].set_result(done)

    await register(report)
    runtime.start()
    meter = CpuMeter()

    async def one(r: int) -> tuple[int, float]:
        finished[r] = asyncio.get_running_loop().create_future()
        t0 = time.monotonic()
        for i in range(cfg.messages):
            await runtime.publish_message(Ping(r, i, cfg.messages), topic)
        done = await finished[r]
        return cfg.messages, done.t - t0

    await throughput_rounds(cfg, result, meter, one)
    await call_rounds(
        cfg, result, meter, cfg.calls, lambda i: runtime.send_message(Echo(i, "hello"), echo)
    )
    await runtime.stop()


# -- raw redis-py -----------------------------------------------------------------------------
async def bench_raw(cfg: Config) -> tuple[Result, Result]:
    rpc = Result("raw redis-py", "XADD -> XREAD -> XADD -> XREAD (2 processes)")
    flow = Result("raw redis-py", "XADD pipelines -> XREADGROUP + XACK (2 processes)")
    keys = raw_keys(cfg.namespace)
    client = aioredis.Redis.from_url(cfg.redis_url)
    try:
        async with peer("raw-echo", cfg.redis_url, cfg.namespace) as proc:
            last = "0"

            async def call(i: int) -> None:
                nonlocal last
                await client.xadd(keys["req"], {"i": i, "body": '{"seq":1,"text":"hello"}'})
                response = None
                while not response:
                    response = await client.xread({keys["rep"]: last}, block=1000, count=1)
                last = response[0][1][0][0]

            await call_rounds(cfg, rpc, _redis_meter(cfg, proc.pid), cfg.calls, call)

        await client.xgroup_create(keys["work"], "g", id="0", mkstream=True)
        async with peer("raw-group", cfg.redis_url, cfg.namespace) as proc:
            marker_last = "0"

            async def one(r: int) -> tuple[int, float]:
                nonlocal marker_last
                n = cfg.messages
                body = json.dumps({"round": r, "seq": 0, "total": n})
                t0 = time.monotonic()
                for start in range(0, n, 1000):
                    async with client.pipeline(transaction=False) as pipe:
                        for _ in range(start, min(start + 1000, n)):
                            pipe.xadd(keys["work"], {"round": r, "total": n, "body": body})
                        await pipe.execute()
                marker_last, t_end = await wait_marker(client, keys["done"], marker_last)
                return n, t_end - t0

            await throughput_rounds(cfg, flow, _redis_meter(cfg, proc.pid), one)
    finally:
        await client.aclose()
    return rpc, flow


# -- AutoGen ----------------------------------------------------------------------------------
async def bench_autogen_local(cfg: Config) -> Result:
    from autogen_core import AgentId as AgAgentId
    from autogen_core import SingleThreadedAgentRuntime
    from autogen_core import TopicId as AgTopicId

    result = Result("AutoGen core", "SingleThreadedAgentRuntime (1 process)")
    runtime = SingleThreadedAgentRuntime()

    async def register(report: Callable[[Done], Awaitable[None]]) -> None:
        await AgSink.register(runtime, "sink", lambda: AgSink(report))
        await AgEchoer.register(runtime, "echo", AgEchoer)

    await _local_rounds(
        cfg,
        result,
        runtime,
        register=register,
        topic=AgTopicId(BENCH_TOPIC, "s"),
        echo=AgAgentId("echo", "k"),
    )
    return result


async def bench_autogen_grpc(cfg: Config) -> Result:
    from autogen_core import AgentId as AgAgentId
    from autogen_core import TopicId as AgTopicId
    from autogen_ext.runtimes.grpc import GrpcWorkerAgentRuntime

    result = Result("AutoGen gRPC", "host + 2 workers (3 processes)")
    port = str(free_port())
    finished: dict[int, asyncio.Future[Done]] = {}

    async def report(done: Done) -> None:
        finished[done.round].set_result(done)

    async with peer("grpc-host", port) as host, peer("grpc-worker", port) as worker:
        meter = CpuMeter(host.pid, worker.pid)
        runtime = GrpcWorkerAgentRuntime(host_address=f"127.0.0.1:{port}")
        runtime.add_message_serializer(ag_serializers())
        await runtime.start()
        await AgDoneWatcher.register(runtime, "done-watcher", lambda: AgDoneWatcher(report))
        topic = AgTopicId(BENCH_TOPIC, "s")
        try:

            async def one(r: int) -> tuple[int, float]:
                n = cfg.grpc_messages
                finished[r] = asyncio.get_running_loop().create_future()
                t0 = time.monotonic()
                for i in range(n):
                    await runtime.publish_message(Ping(r, i, n), topic)
                done = await asyncio.wait_for(finished[r], 300)
                return n, done.t - t0

            await throughput_rounds(cfg, result, meter, one)
            echo = AgAgentId("echo", "k")
            await call_rounds(
                cfg,
                result,
                meter,
                cfg.grpc_calls,
                lambda i: runtime.send_message(Echo(i, "hello"), echo),
            )
        finally:
            await runtime.stop()
    return result


# -- main ---------------------------------------------------------------------------------------
STEPS: dict[str, Callable[[Config], Awaitable[Any]]] = {
    "ours": bench_ours,
    "raw": bench_raw,
    "inprocess": bench_inprocess,
    "autogen": bench_autogen_local,
    "grpc": bench_autogen_grpc,
    "observe": bench_observe,
}


async def run(cfg: Config, only: set[str]) -> dict[str, Result]:
    results: dict[str, Result] = {}
    try:
        for name, step in STEPS.items():
            if only and name not in only:
                continue
            print(f"running {name} ...", file=sys.stderr)
            out = await step(cfg)
            if name == "raw":
                results["raw_rpc"], results["raw_flow"] = out
            elif name == "observe":
                results.update(out)
            else:
                results[name] = out
    finally:
        await delete_namespace(cfg.redis_url, cfg.namespace)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--grpc-messages", type=int, default=5_000)
    parser.add_argument("--calls", type=int, default=1_000)
    parser.add_argument("--grpc-calls", type=int, default=500)
    parser.add_argument("--only", default="", help=f"comma list of: {','.join(STEPS)}")
    parser.add_argument("--json", type=Path, help="also write the per-round figures here")
    args = parser.parse_args()
    only = {s for s in args.only.split(",") if s}
    if only - set(STEPS):
        parser.error(f"--only takes {','.join(STEPS)}")

    configure_logging("WARNING")
    logging.getLogger().setLevel(logging.WARNING)
    with redis_for_run(RuntimeSettings().redis_url) as redis_url:
        cfg = Config(
            redis_url=redis_url,
            namespace=f"bench-{uuid.uuid4().hex[:10]}",
            rounds=args.rounds,
            messages=args.messages,
            grpc_messages=args.grpc_messages,
            calls=args.calls,
            grpc_calls=args.grpc_calls,
        )
        load_start = load_average()
        results = asyncio.run(run(cfg, only))
        loads = (load_start, load_average())
    if args.json:
        args.json.write_text(json.dumps({k: vars(v) for k, v in results.items()}, indent=2))
    report(cfg, results, loads)
    observe_report(results)


if __name__ == "__main__":
    main()
