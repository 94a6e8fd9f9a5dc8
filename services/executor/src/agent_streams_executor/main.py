"""The Executor service: ``agent-streams-executor`` (settings: ``settings.ExecutorSettings``).

Wiring only: settings -> logging -> telemetry (traces, metrics: off unless set) -> Redis
runtime, artifact store, sandbox pool (Docker, or local with ``EXECUTOR_BACKEND=local``) -> the
Executor and its canceller -> run until SIGTERM, drain, then stop every sandbox.
"""

from __future__ import annotations

import asyncio
import sys

import structlog
from prometheus_client import REGISTRY
from pydantic import ValidationError

from agent_streams.artifacts import ArtifactStore
from agent_streams.logging import configure_logging
from agent_streams.service import know_contract, serve
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from agent_streams.telemetry import Telemetry

from .agent import (
    AGENT_TYPE,
    CANCELLER_TYPE,
    Executor,
    ExecutorCanceller,
    RunRegistry,
    answer_dead_letters,
)
from .executors.base import SandboxStartError
from .executors.docker import DockerExecutorPool
from .executors.local import LocalExecutorPool
from .executors.pool import ExecutorPool
from .metrics import SandboxesCollector
from .settings import ExecutorSettings

__all__ = ["main", "run"]


async def main(settings: ExecutorSettings) -> None:
    configure_logging(settings.log_level, json=settings.log_json, service="executor")
    with Telemetry(settings.telemetry, service="executor") as telemetry:
        await _serve(settings, telemetry)


async def _serve(settings: ExecutorSettings, telemetry: Telemetry) -> None:
    runtime = RedisStreamsRuntime(settings.runtime, hooks=telemetry.hooks)
    telemetry.watch(runtime)
    artifacts = ArtifactStore(
        runtime.redis,
        runtime.keys,
        ttl_s=settings.artifact_ttl_s,
        max_file_bytes=settings.artifact_max_file_bytes,
        max_run_bytes=settings.artifact_max_run_bytes,
    )
    runs = RunRegistry(runtime.redis, runtime.keys, result_ttl_s=settings.artifact_ttl_s)
    pool: ExecutorPool = (
        LocalExecutorPool(settings)
        if settings.backend == "local"
        else DockerExecutorPool(settings, namespace=runtime.keys.namespace)
    )
    await pool.start()  # Docker: engine and image checked, orphans removed, spares starting
    await Executor.register(runtime, AGENT_TYPE, lambda: Executor(pool, artifacts, runs))
    answer_dead_letters(runtime, runs)  # a request given up on still gets a result
    # The canceller gets a runtime of its own so that it keeps reading cancels while the
    # executor's runtime drains its runs after SIGTERM; it stops last.
    canceller = RedisStreamsRuntime(canceller_settings(settings), hooks=telemetry.hooks)
    know_contract(canceller)
    await ExecutorCanceller.register(canceller, CANCELLER_TYPE, lambda: ExecutorCanceller(runs))
    canceller.start()
    await canceller.ready()
    structlog.get_logger("agent_streams_executor").info(
        "executor_configured",
        backend=settings.backend,
        image=settings.image,
        memory_limit_mb=settings.memory_limit_mb,
        cpu_limit_cores=settings.cpu_limit_cores,
        allow_network=settings.allow_network,
    )
    sandboxes = SandboxesCollector(pool)  # agent_streams_sandboxes{state}
    REGISTRY.register(sandboxes)
    try:
        await serve(runtime, on_stop=canceller.stop)  # after SIGTERM and a drain of runs
    finally:
        await canceller.stop()
        await pool.aclose()
        REGISTRY.unregister(sandboxes)


def canceller_settings(settings: ExecutorSettings) -> RuntimeSettings:
    runtime = settings.runtime
    return runtime.model_copy(update={"consumer_name": f"{runtime.consumer_name}-cancel"})


def run() -> None:
    """Console-script entry point."""
    try:
        settings = ExecutorSettings()
    except ValidationError as exc:
        sys.exit(f"agent-streams-executor: invalid settings:\n{exc}")
    try:
        asyncio.run(main(settings))
    except SandboxStartError as exc:
        sys.exit(f"agent-streams-executor: {exc}")
