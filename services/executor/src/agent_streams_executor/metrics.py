"""The Executor's Prometheus metrics (served with the runtime's, see ``agent_streams.telemetry``).

    agent_streams_executions_total{exit_code}              requests run (not replayed from a
                                                           stored result), by exit code: 124
                                                           timeout, 125 cancelled
    agent_streams_execution_duration_seconds               one request: inputs placed, blocks
                                                           run, artifacts stored
    agent_streams_sandbox_start_duration_seconds           a session's sandbox coming up (a
                                                           warm spare taken, or a new start)
    agent_streams_sandboxes{state}                         sandboxes of this replica now: busy
                                                           (running code), idle (a session's,
                                                           waiting), spare (warm, no session)

Warm = idle + spare. Counted whether or not an endpoint serves them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agent_streams.telemetry.metrics import DURATION_BUCKETS_S

if TYPE_CHECKING:  # (the sandboxes' modules import this one)
    from .executors.pool import ExecutorPool

__all__ = ["EXECUTIONS", "EXECUTION_SECONDS", "SANDBOX_START_SECONDS", "SandboxesCollector"]

EXECUTIONS = Counter("agent_streams_executions", "Requests run, by exit code", ["exit_code"])
EXECUTION_SECONDS = Histogram(
    "agent_streams_execution_duration_seconds",
    "One request run: input files placed, blocks run, artifacts stored",
    buckets=DURATION_BUCKETS_S,
)
SANDBOX_START_SECONDS = Histogram(
    "agent_streams_sandbox_start_duration_seconds",
    "A session's sandbox coming up (a warm spare taken, or a new one started)",
    buckets=DURATION_BUCKETS_S,
)


class SandboxesCollector(Collector):
    """``agent_streams_sandboxes{state}`` read from ``pool`` at each scrape."""

    def __init__(self, pool: ExecutorPool) -> None:
        self._pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "agent_streams_sandboxes",
            "Sandboxes of this replica: busy (running code), idle (a session's), spare (warm)",
            labels=["state"],
        )
        for state, count in self._pool.sandbox_counts().items():
            family.add_metric([state], count)
        yield family
