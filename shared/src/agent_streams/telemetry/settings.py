"""``TelemetrySettings``: whether a process exports traces and serves Prometheus metrics.

    AGENT_STREAMS_METRICS_PORT       serve /metrics on this port (unset or 0: no endpoint)
    AGENT_STREAMS_METRICS_HOST       the address it binds (default 127.0.0.1; compose: 0.0.0.0,
                                     on the stack's own network, no port published)
    OTEL_EXPORTER_OTLP_ENDPOINT      traces go to <it>/v1/traces over OTLP/HTTP (protobuf);
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT   or to this full URL; neither: no tracer provider
                                     at all (OpenTelemetry's no-op API)
    OTEL_SDK_DISABLED=true           no traces even with an endpoint
    OTEL_SERVICE_NAME                the service name in traces (default agent-streams-<service>)

An empty variable counts as unset. Everything else about the export (headers, timeout,
compression, the sampler: ``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` with
``OTEL_TRACES_SAMPLER_ARG=0.01``, the batch processor's queue and delays) is read by the
OpenTelemetry SDK itself from its standard variables.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["TelemetrySettings"]


class TelemetrySettings(BaseSettings):
    """Off unless asked for: no endpoint, no tracer (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix="AGENT_STREAMS_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    metrics_port: int | None = Field(default=None, ge=0, le=65_535)
    """Port of the Prometheus endpoint (``/metrics``); None or 0: none."""
    metrics_host: str = "127.0.0.1"
    """Address the endpoint binds; 0.0.0.0 inside a container, where the network is the fence."""
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint"),
    )
    """The collector's base URL: traces go to ``<it>/v1/traces``."""
    otlp_traces_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "otlp_traces_endpoint"),
    )
    """The full URL traces are posted to (wins over ``otlp_endpoint``)."""
    otel_sdk_disabled: bool = Field(
        default=False, validation_alias=AliasChoices("OTEL_SDK_DISABLED", "otel_sdk_disabled")
    )
    service_name: str | None = Field(
        default=None, validation_alias=AliasChoices("OTEL_SERVICE_NAME", "service_name")
    )

    @property
    def traces_url(self) -> str | None:
        """Where spans are posted; None: tracing is off."""
        if self.otel_sdk_disabled:
            return None
        if self.otlp_traces_endpoint:
            return self.otlp_traces_endpoint
        if self.otlp_endpoint:
            return self.otlp_endpoint.rstrip("/") + "/v1/traces"
        return None

    @property
    def metrics(self) -> bool:
        return bool(self.metrics_port)
