"""Running a service process: start the runtime, run until SIGTERM/SIGINT, drain, exit.

A service's ``main()`` is wiring only::

    settings = ExecutorSettings()
    configure_logging(settings.log_level, service="executor")
    runtime = RedisStreamsRuntime(settings.runtime)
    await Executor.register(runtime, "executor", lambda: Executor(...))
    await serve(runtime)
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import structlog

from ._runtime import AgentRuntime
from .messages import CONTRACT_MESSAGES
from .streams.runtime import RedisStreamsRuntime

__all__ = ["know_contract", "serve"]

log = structlog.get_logger("agent_streams")


def know_contract(runtime: AgentRuntime) -> None:
    """Make every message of the contract (``messages.CONTRACT_MESSAGES``) known to ``runtime``,
    handled by its agents or not: a contract message none of them handles is then acknowledged
    as someone else's, not reported as unknown input. ``serve`` does it; a service's second
    runtime (the executor's canceller) calls it itself."""
    for cls in CONTRACT_MESSAGES:
        runtime.register_message_type(cls)


async def serve(
    runtime: RedisStreamsRuntime,
    *,
    on_stop: Callable[[], Awaitable[None]] | None = None,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Start ``runtime`` and run until SIGTERM/SIGINT (or ``stop_event``); then stop reading,
    drain in-flight handlers within the runtime's grace period, run ``on_stop``, and return."""
    stop = stop_event or asyncio.Event()
    know_contract(runtime)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not runtime.started:
        runtime.start()
    await runtime.ready()
    log.info(
        "service_ready",
        consumer=runtime.settings.consumer_name,
        namespace=runtime.settings.namespace,
    )
    try:
        await stop.wait()
        log.info("service_stopping", grace_s=runtime.settings.drain_grace_s)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runtime.stop()
        if on_stop is not None:
            await on_stop()
        log.info("service_stopped")
