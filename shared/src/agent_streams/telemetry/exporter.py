"""``agent-streams-exporter``: the deployment's streams as Prometheus metrics, one process.

Serves ``/metrics`` on ``AGENT_STREAMS_METRICS_HOST``:``AGENT_STREAMS_METRICS_PORT`` (default
127.0.0.1:9464) with the ``StreamsCollector`` (length, lag, pending, consumers per stream and
group; errors and dead letters waiting), read from Redis at each scrape as the connection's
user (Redis ACL user ``client`` in compose: it may read stream status); while Redis does not
answer, the endpoint still does, with ``agent_streams_status_up 0``. Runs until SIGTERM.

    AGENT_STREAMS_REDIS_URL=redis://client:...@redis:6379/0 agent-streams-exporter
"""

from __future__ import annotations

import asyncio
import signal
import sys

import structlog
from prometheus_client import REGISTRY
from pydantic import ValidationError

from ..admin import Admin
from ..connection import redis_client
from ..keys import Keys
from ..logging import configure_logging
from ..streams.settings import RuntimeSettings
from .metrics import serve_metrics
from .settings import TelemetrySettings
from .streams import StreamsCollector

__all__ = ["DEFAULT_PORT", "main", "run"]

DEFAULT_PORT = 9464
log = structlog.get_logger("agent_streams")


async def main(runtime: RuntimeSettings, telemetry: TelemetrySettings) -> None:
    configure_logging("INFO", service="exporter")
    port = telemetry.metrics_port or DEFAULT_PORT
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # No ping first: while Redis is unreachable the endpoint answers agent_streams_status_up 0.
    redis = redis_client(runtime.redis_url, protocol=2, socket_connect_timeout=5, socket_timeout=10)
    admin = Admin(redis, Keys(runtime.namespace), stream_maxlen=runtime.stream_maxlen)
    collector = StreamsCollector(admin, loop)
    REGISTRY.register(collector)
    try:
        server = serve_metrics(telemetry.metrics_host, port)
        log.info(
            "exporter_ready",
            url=f"http://{telemetry.metrics_host}:{port}/metrics",
            namespace=runtime.namespace,
        )
        try:
            await stop.wait()
        finally:
            await asyncio.to_thread(server.shutdown)
    finally:
        REGISTRY.unregister(collector)
        await redis.aclose()
    log.info("exporter_stopped")


def run() -> None:
    """Console-script entry point."""
    try:
        runtime, telemetry = RuntimeSettings(), TelemetrySettings()
    except ValidationError as exc:
        sys.exit(f"agent-streams-exporter: invalid settings:\n{exc}")
    try:
        asyncio.run(main(runtime, telemetry))
    except OSError as exc:
        sys.exit(f"agent-streams-exporter: {exc}")
