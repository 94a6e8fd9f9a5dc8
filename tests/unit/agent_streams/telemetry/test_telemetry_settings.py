"""TelemetrySettings: off unless asked, the standard OTEL_* variables, empty means unset."""

from __future__ import annotations

import pytest

from agent_streams.telemetry import Telemetry, TelemetrySettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SDK_DISABLED",
        "OTEL_SERVICE_NAME",
        "AGENT_STREAMS_METRICS_PORT",
        "AGENT_STREAMS_METRICS_HOST",
    ):
        monkeypatch.delenv(name, raising=False)


def test_everything_is_off_by_default_and_the_runtime_gets_no_hooks() -> None:
    settings = TelemetrySettings()
    assert settings.traces_url is None
    assert not settings.metrics
    assert settings.metrics_host == "127.0.0.1"
    with Telemetry(settings, service="test") as telemetry:
        assert telemetry.hooks is None


def test_the_otlp_endpoint_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert TelemetrySettings().traces_url == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:4318/x")
    assert TelemetrySettings().traces_url == "http://other:4318/x"
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert TelemetrySettings().traces_url is None


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    monkeypatch.setenv("AGENT_STREAMS_METRICS_PORT", "")
    settings = TelemetrySettings()
    assert settings.traces_url is None
    assert not settings.metrics


def test_port_zero_is_off_and_a_port_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_STREAMS_METRICS_PORT", "0")
    assert not TelemetrySettings().metrics
    monkeypatch.setenv("AGENT_STREAMS_METRICS_PORT", "9464")
    assert TelemetrySettings().metrics_port == 9464
