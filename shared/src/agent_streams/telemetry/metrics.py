"""The runtime's Prometheus metrics, and the endpoint that serves a process's metrics.

Every service process (with ``AGENT_STREAMS_METRICS_PORT`` set) serves ``/metrics`` with
prometheus-client's default registry: these, its own (``agent_streams_model_*`` in the
Assistant, ``agent_streams_execution_*`` and ``agent_streams_sandboxes`` in the Executor), and
prometheus-client's ``process_*`` / ``python_*``. Labels are bounded: ``group`` is an agent type,
``type`` a registered message type (an unknown one is bad input, counted as a dead letter),
``outcome`` one of the runtime's outcomes.

    agent_streams_messages_handled_total{group,type,outcome}   deliveries ended: ok,
        error_replied, dead_lettered, cancelled, skipped_cancelled, abandoned, interrupted
    agent_streams_messages_failed_total{group,type}            of those, ended without the
        handler's success: error_replied, dead_lettered, abandoned, interrupted
    agent_streams_delivery_retries_total{group,type}           deliveries beyond each first
    agent_streams_handle_duration_seconds{group,type}          a delivery, start to end
    agent_streams_dead_letters_total{group,code}               entries dead-lettered here:
        handler_failed, or the bad-input code (invalid_message, unknown_type...)

The streams themselves (length, lag, pending per group) are the exporter's
(``agent_streams.telemetry.streams``): one process reading Redis, not every replica.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server

__all__ = [
    "DEAD_LETTERS",
    "DURATION_BUCKETS_S",
    "HANDLED",
    "HANDLE_SECONDS",
    "MESSAGES_FAILED",
    "RETRIES",
    "serve_metrics",
]

DURATION_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip
"""Microsecond handlers to 5-minute model calls: one set of buckets for every duration."""

HANDLED = Counter(
    "agent_streams_messages_handled",
    "Deliveries of stream entries that ended, by consumer group, message type and outcome",
    ["group", "type", "outcome"],
)
MESSAGES_FAILED = Counter(
    "agent_streams_messages_failed",
    "Deliveries that ended without the handler's success (error replied, dead-lettered, "
    "abandoned, interrupted)",
    ["group", "type"],
)
RETRIES = Counter(
    "agent_streams_delivery_retries",
    "Deliveries of an entry beyond its first (a failed step retried, or a reclaim)",
    ["group", "type"],
)
HANDLE_SECONDS = Histogram(
    "agent_streams_handle_duration_seconds",
    "One delivery from its start to its end (handler, reply or ack, retries)",
    ["group", "type"],
    buckets=DURATION_BUCKETS_S,
)
DEAD_LETTERS = Counter(
    "agent_streams_dead_letters",
    "Entries this process dead-lettered, by consumer group and code",
    ["group", "code"],
)

FAILED_OUTCOMES = frozenset({"error_replied", "dead_lettered", "abandoned", "interrupted"})


def serve_metrics(host: str, port: int) -> Any:
    """Serve the default registry on ``http://host:port/metrics`` from a daemon thread;
    returns the server (``shutdown()`` stops it). Raises ``OSError`` naming the address."""
    try:
        server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as exc:
        raise OSError(
            exc.errno, f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    return server
