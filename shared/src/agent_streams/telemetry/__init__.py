"""Traces (OpenTelemetry, OTLP) and metrics (Prometheus) for the services; off unless asked.

A service's ``main()``::

    with Telemetry(settings.telemetry, service="executor") as telemetry:
        runtime = RedisStreamsRuntime(settings.runtime, hooks=telemetry.hooks)
        telemetry.watch(runtime)            # dead letters counted
        ...

``Telemetry`` installs OpenTelemetry's SDK (a global tracer provider exporting OTLP/HTTP) when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, serves ``/metrics`` when ``AGENT_STREAMS_METRICS_PORT``
is, and gives the runtime hooks only when one of them is on (``hooks`` is None otherwise: the
runtime then calls nothing). Modules:

    settings   TelemetrySettings: the switches (AGENT_STREAMS_METRICS_*, OTEL_*)
    tracing    the SDK set-up, trace context in stream entries, ``span()`` for service code
    metrics    the runtime's Prometheus metrics, the /metrics endpoint
    hooks      TelemetryHooks: the runtime's publish and delivery hooks as spans and metrics
    streams    StreamsCollector: the admin view (length, lag, pending) as gauges
    exporter   ``agent-streams-exporter``: one process serving the StreamsCollector
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import structlog
from opentelemetry import trace

from ..streams.runtime import RedisStreamsRuntime
from .hooks import TelemetryHooks
from .metrics import serve_metrics
from .settings import TelemetrySettings
from .tracing import mark_error, parent_based, span, tracer_provider

__all__ = ["Telemetry", "TelemetryHooks", "TelemetrySettings", "mark_error", "span"]

log = structlog.get_logger("agent_streams")


class Telemetry:
    """What one process exports; a context manager (``close()`` flushes the last spans).

    Args:
        settings: the switches.
        service: ``assistant``, ``executor``...: the trace's service name is
            ``agent-streams-<service>`` unless ``OTEL_SERVICE_NAME`` says otherwise.
    """

    def __init__(self, settings: TelemetrySettings, *, service: str) -> None:
        self.settings = settings
        self.service = service
        self.hooks: TelemetryHooks | None = None
        """The runtime's hooks; None when traces and metrics are both off."""
        self._provider: Any = None
        self._server: Any = None

    def start(self) -> Telemetry:
        s = self.settings
        url = s.traces_url
        tracer = None
        if url:
            self._provider = tracer_provider(url, s.service_name or f"agent-streams-{self.service}")
            trace.set_tracer_provider(self._provider)  # the services' own spans use it too
            tracer = self._provider.get_tracer("agent_streams")
        if s.metrics_port:
            self._server = serve_metrics(s.metrics_host, s.metrics_port)
        if tracer is not None or self._server is not None:
            self.hooks = TelemetryHooks(
                tracer,
                metrics_on=self._server is not None,
                parent_based=self._provider is None or parent_based(self._provider),
            )
        log.info(
            "telemetry",
            traces=url or "off",
            sampler=self._provider.sampler.get_description() if self._provider else None,
            metrics=f"http://{s.metrics_host}:{s.metrics_port}/metrics"
            if s.metrics_port
            else "off",
        )
        return self

    def watch(self, runtime: RedisStreamsRuntime) -> None:
        """Count ``runtime``'s dead letters (and bad input) by group and code."""
        if self.hooks is not None:
            runtime.add_dead_letter_listener(self.hooks.dead_lettered)

    def close(self) -> None:
        """Export the spans still queued (bounded by the exporter's timeout), stop serving."""
        if self._provider is not None:
            provider, self._provider = self._provider, None
            provider.shutdown()
        if self._server is not None:
            server, self._server = self._server, None
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Telemetry:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
