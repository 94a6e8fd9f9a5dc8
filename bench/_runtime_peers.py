"""The other process of each cross-process measurement in ``bench/runtime.py``.

    python bench/_runtime_peers.py ROLE ARG...

Each role prints ``ready`` on stdout once it can take work and runs until SIGTERM (or until
its stdin closes, so a benchmark that dies does not leave peers behind). With
``BENCH_PROFILE=/tmp/prof`` set, each peer runs under cProfile and writes
``/tmp/prof.ROLE.prof`` when it stops. Roles:

    ours REDIS_URL NAMESPACE          agent-streams runtime hosting Sink + Echoer (telemetry
                                      from the environment, as a service: OTEL_* and
                                      AGENT_STREAMS_METRICS_PORT; none by default)
    raw-echo REDIS_URL NAMESPACE      XREAD request stream -> XADD reply stream
    raw-group REDIS_URL NAMESPACE     XREADGROUP + XACK the work stream, XADD a done marker
    grpc-host PORT                    AutoGen GrpcWorkerAgentRuntimeHost on 127.0.0.1:PORT
    grpc-worker PORT                  AutoGen GrpcWorkerAgentRuntime hosting AgSink + AgEchoer
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from agent_streams.logging import configure_logging

ROUND_DONE = "done"  # stream suffix of the end-of-round markers (Redis-based roles)


def raw_keys(namespace: str) -> dict[str, str]:
    """The raw-redis streams live under the benchmark's namespace too (one cleanup)."""
    return {
        "req": f"{namespace}:raw:req",
        "rep": f"{namespace}:raw:rep",
        "work": f"{namespace}:raw:work",
        "done": f"{namespace}:raw:{ROUND_DONE}",
        "ours_done": f"{namespace}:bench:{ROUND_DONE}",
    }


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    print("ready", flush=True)
    await stop.wait()


async def ours(redis_url: str, namespace: str) -> None:
    from _runtime_agents import Done, Echoer, Sink
    from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
    from agent_streams.telemetry import Telemetry, TelemetrySettings

    client = aioredis.Redis.from_url(redis_url)
    done_stream = raw_keys(namespace)["ours_done"]

    async def report(done: Done) -> None:
        await client.xadd(done_stream, {"round": done.round, "t": repr(done.t)})

    with Telemetry(TelemetrySettings(), service="bench-peer") as telemetry:
        runtime = RedisStreamsRuntime(
            RuntimeSettings(redis_url=redis_url, namespace=namespace), hooks=telemetry.hooks
        )
        telemetry.watch(runtime)
        await Sink.register(runtime, "sink", lambda: Sink(report))
        await Echoer.register(runtime, "echo", Echoer)
        runtime.start()
        await runtime.ready()
        try:
            await _until_stopped()
        finally:
            await runtime.stop()
            await client.aclose()


async def raw_echo(redis_url: str, namespace: str) -> None:
    keys = raw_keys(namespace)
    client = aioredis.Redis.from_url(redis_url)

    async def serve() -> None:
        last = "0"
        while True:
            response = await client.xread({keys["req"]: last}, block=1000, count=100)
            for _stream, entries in response or ():
                for entry_id, fields in entries:
                    last = entry_id
                    await client.xadd(keys["rep"], fields)

    await _run_with(serve, client)


async def raw_group(redis_url: str, namespace: str) -> None:
    keys = raw_keys(namespace)
    client = aioredis.Redis.from_url(redis_url)

    async def serve() -> None:
        import time

        counts: dict[int, int] = {}
        while True:
            response = await client.xreadgroup(
                "g", "c", {keys["work"]: ">"}, count=1000, block=1000
            )
            for _stream, entries in response or ():
                ids = []
                finished = []
                for entry_id, fields in entries:
                    ids.append(entry_id)
                    rnd = int(fields[b"round"])
                    n = counts[rnd] = counts.get(rnd, 0) + 1
                    if n == int(fields[b"total"]):
                        finished.append(rnd)
                await client.xack(keys["work"], "g", *ids)
                for rnd in finished:
                    await client.xadd(keys["done"], {"round": rnd, "t": repr(time.monotonic())})

    await _run_with(serve, client)


async def _run_with(serve: Callable[[], Awaitable[None]], client: aioredis.Redis) -> None:
    task = asyncio.create_task(serve())
    try:
        await _until_stopped()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()


async def grpc_host(port: str) -> None:
    from autogen_ext.runtimes.grpc import GrpcWorkerAgentRuntimeHost

    host = GrpcWorkerAgentRuntimeHost(address=f"127.0.0.1:{port}")
    host.start()
    try:
        await _until_stopped()
    finally:
        await host.stop(grace=1)


async def grpc_worker(port: str) -> None:
    from autogen_core import TopicId
    from autogen_ext.runtimes.grpc import GrpcWorkerAgentRuntime

    from _runtime_agents import DONE_TOPIC, AgEchoer, AgSink, Done, ag_serializers

    runtime = GrpcWorkerAgentRuntime(host_address=f"127.0.0.1:{port}")
    runtime.add_message_serializer(ag_serializers())
    await runtime.start()

    async def report(done: Done) -> None:
        await runtime.publish_message(done, TopicId(DONE_TOPIC, "main"))

    await AgSink.register(runtime, "sink", lambda: AgSink(report))
    await AgEchoer.register(runtime, "echo", AgEchoer)
    try:
        await _until_stopped()
    finally:
        await runtime.stop()


ROLES: dict[str, Callable[..., Awaitable[None]]] = {
    "ours": ours,
    "raw-echo": raw_echo,
    "raw-group": raw_group,
    "grpc-host": grpc_host,
    "grpc-worker": grpc_worker,
}


def main() -> None:
    configure_logging("WARNING")
    logging.getLogger().setLevel(logging.WARNING)
    role, *args = sys.argv[1:]
    profile = os.environ.get("BENCH_PROFILE")  # a path prefix: cProfile each peer into it
    if not profile:
        asyncio.run(ROLES[role](*args))
        return
    import cProfile

    with cProfile.Profile() as prof:
        asyncio.run(ROLES[role](*args))
    prof.dump_stats(f"{profile}.{role}.prof")


if __name__ == "__main__":
    main()
